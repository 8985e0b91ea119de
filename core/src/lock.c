/*
 * The engine every file-lock handle shares: open the file (close-on-exec;
 * no symlinks or FIFOs for the files the library creates in shared
 * directories), lock it with the handle's mechanism, wait with the shared
 * retry policy, and release without ever unlocking a lock that belongs to
 * another process (a forked child only closes its copy). What differs
 * between Lock, RLock, TemporaryFileLock and PidFileLock comes from the
 * kind's operations table (lock_handle.h).
 */
#include "lock_handle.h"
#include "platform.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int pl__lock_new(pl_lock **out, const char *path, const pl_lock_kind *kind)
{
    pl_lock *l;
    int rc;
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    *out = NULL;
    if (!path)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "path must not be NULL");
    if (!*path)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "path must not be empty");
    l = calloc(1, sizeof *l);
    if (!l)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    l->kind = kind;
    l->fd = -1;
    pl__cancel_init(&l->cancel);
    pl__claim_init(&l->busy);
    l->flags = PL_DEFAULT_FLAGS;
    l->mechanism = PL_MECH_FLOCK;
    l->file_mode = PL_DEFAULT_FILE_MODE;
    l->wait.timeout = PL_DEFAULT_TIMEOUT;
    l->wait.check_interval = PL_DEFAULT_CHECK_INTERVAL;
    l->wait.fail_when_locked = kind->default_fail_when_locked;
    l->path = pl__strdup(path);
    l->mode = pl__strdup(kind->default_mode);
    if (!l->path || !l->mode) {
        pl_lock_free(l);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    rc = pl__parse_mode(l->mode, &l->oflags, &l->truncate_after);
    if (rc != PL_OK) {
        pl_lock_free(l);
        return rc;
    }
    *out = l;
    return pl__ok();
}

PL_EXPORT void pl_lock_free(pl_lock *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        l->count = 1; /* release fully, whatever the RLock depth */
        (void)pl_lock_release(l);
    }
    pl__exit_registry_remove(&l->exit_entry);
    if (l->kind->free_data)
        l->kind->free_data(l->data);
    pl__cancel_destroy(&l->cancel);
    free(l->path);
    free(l->mode);
    free(l);
}

PL_EXPORT pl_status pl_lock_cancel(pl_lock *l)
{
    /* No pl__fail/pl__ok: they write the thread's last error, which a
       signal handler must not touch. */
    if (!l)
        return PL_ERR_INVALID_ARGUMENT;
    pl__cancel_request(&l->cancel);
    return PL_OK;
}

/* Claim the handle for one acquire or release. */
static int enter(pl_lock *l, const char *call)
{
    if (pl__claim_enter(&l->busy) != PL_OK)
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "cannot %s the lock on '%s': another thread is "
                        "using this handle (one thread per handle)",
                        call, l->path);
    return PL_OK;
}

static void leave(pl_lock *l)
{
    pl__claim_leave(&l->busy);
}

/* ---- options ---- */

#define CHECK_HANDLE(l)                                                      \
    do {                                                                     \
        if (!(l))                                                            \
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,                      \
                            "lock handle must not be NULL");                 \
    } while (0)

PL_EXPORT pl_status pl_lock_set_timeout(pl_lock *l, double seconds)
{
    CHECK_HANDLE(l);
    return pl__wait_set_timeout(&l->wait, seconds);
}

PL_EXPORT pl_status pl_lock_set_check_interval(pl_lock *l, double seconds)
{
    CHECK_HANDLE(l);
    return pl__wait_set_check_interval(&l->wait, seconds);
}

PL_EXPORT pl_status pl_lock_set_fail_when_locked(pl_lock *l, int enabled)
{
    CHECK_HANDLE(l);
    return pl__wait_set_fail_when_locked(&l->wait, enabled);
}

PL_EXPORT pl_status pl_lock_set_flags(pl_lock *l, int flags)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = pl__check_lock_flags(flags)) != PL_OK)
        return rc;
    if (flags & PL_LOCK_UN)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "UNBLOCK is not a way to acquire a lock");
    l->flags = flags;
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_set_mode(pl_lock *l, const char *mode)
{
    int oflags, truncate_after, rc;
    char *copy;
    CHECK_HANDLE(l);
    if (l->kind->fixed_mode)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "the open mode is fixed for %s locks", l->kind->name);
    if ((rc = pl__parse_mode(mode, &oflags, &truncate_after)) != PL_OK)
        return rc;
    if (!(copy = pl__strdup(mode)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    free(l->mode);
    l->mode = copy;
    l->oflags = oflags;
    l->truncate_after = truncate_after;
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_set_mechanism(pl_lock *l, int mechanism)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    l->mechanism = mechanism;
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_set_file_mode(pl_lock *l, unsigned int mode)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = pl__check_file_mode(mode)) != PL_OK)
        return rc;
    l->file_mode = mode;
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_set_raise_on_release_error(pl_lock *l, int enabled)
{
    CHECK_HANDLE(l);
    l->raise_on_release_error = enabled != 0;
    return pl__ok();
}

/* `type` is a type name, which cannot be parenthesized: the
   bugprone-macro-parentheses finding on the next line is suppressed. */
#define GETTER(name, type, expr) /* NOLINTNEXTLINE(bugprone-macro-parentheses) */ \
    PL_EXPORT pl_status pl_lock_get_##name(const pl_lock *l, type *out)            \
    {                                                                        \
        CHECK_HANDLE(l);                                                     \
        if (!out)                                                            \
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,                      \
                            "out must not be NULL");                         \
        *out = (expr);                                                       \
        return PL_OK;                                                        \
    }

GETTER(timeout, double, l->wait.timeout)
GETTER(check_interval, double, l->wait.check_interval)
GETTER(fail_when_locked, int, l->wait.fail_when_locked)
GETTER(flags, int, l->flags)
GETTER(mode, const char *, l->mode)
GETTER(mechanism, int, l->mechanism)
GETTER(file_mode, unsigned int, l->file_mode)
GETTER(raise_on_release_error, int, l->raise_on_release_error)

PL_EXPORT const char *pl_lock_path(const pl_lock *l)
{
    if (!l)
        return "";
    return l->kind->public_path ? l->kind->public_path(l) : l->path;
}

PL_EXPORT int pl_lock_is_held(const pl_lock *l)
{
    return l && l->held;
}

PL_EXPORT int pl_lock_held_fd(const pl_lock *l)
{
    return l && l->held ? l->fd : -1;
}

PL_EXPORT int pl_lock_count(const pl_lock *l)
{
    if (!l || !l->held)
        return 0;
    return l->kind->reentrant ? l->count : 1;
}

PL_EXPORT long pl_lock_holder_pid(const pl_lock *l)
{
    return l ? l->holder_pid : 0;
}

/* ---- acquiring ---- */

static void close_fd(pl_lock *l)
{
    if (l->fd >= 0)
        (void)pl__os_close(l->fd);
    l->fd = -1;
}

static int open_file(pl_lock *l, int oflags)
{
    int err;
    /* Files the library creates in shared directories: no symlink
       (CVE-2025-68146's truncation attack). No kind opens a FIFO or a
       device: open(2) of a FIFO blocks until a writer comes, ignoring
       the timeout and every cancel (anyone can plant one in /tmp). */
    oflags |= PL_O_REGULAR;
    if (l->kind->owns_file)
        oflags |= PL_O_NOFOLLOW;
    err = pl__os_open(l->path, oflags, l->file_mode, &l->fd);
    if (err == EINVAL && (oflags & PL_O_REGULAR))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, err,
                        "cannot lock '%s': not a regular file", l->path);
    if (err == EBUSY)
        return pl__fail(PL_ERR_ALREADY_LOCKED, err,
                        "'%s' is being removed by its last holder", l->path);
    if (err) {
        if (err == ELOOP && (oflags & PL_O_NOFOLLOW))
            return pl__fail(PL_ERR_IO, err,
                            "cannot open '%s': it is a symbolic link, which a "
                            "%s lock refuses to follow",
                            l->path, l->kind->name);
        return pl__fail_os(PL_ERR_IO, err, "open", l->path);
    }
    /* A writable open of a directory already fails with EISDIR. */
    if (!(oflags & PL_O_WRITE) && (err = pl__os_check_regular(l->fd)) != 0) {
        close_fd(l);
        /* The same answer as a writable open of a directory (and the
           reference's IsADirectoryError), whatever the mode. */
        if (err == EISDIR)
            return pl__fail_os(PL_ERR_IO, err, "open", l->path);
        if (err == EINVAL) /* pl__os_check_regular: not a regular file */
            return pl__fail_os(PL_ERR_INVALID_ARGUMENT, err,
                               "lock a non-regular file", l->path);
        /* fstat itself failed: an I/O error, not a bad argument. */
        return pl__fail_os(PL_ERR_IO, err, "stat", l->path);
    }
    return PL_OK;
}

/* Lock l->fd; EBADF from a descriptor that lacks the access the lock
   needs (NFS wants write access for exclusive locks, fcntl locks want it
   for exclusive and read access for shared) is fixed by reopening
   read-write once, as util-linux and gofrs/flock do. */
static int lock_fd(pl_lock *l)
{
    int exclusive = (l->flags & PL_LOCK_EX) != 0;
    int err = pl__os_lock(l->fd, l->mechanism, exclusive, 0);
    if (err == EBADF && (l->oflags & (PL_O_READ | PL_O_WRITE)) !=
                            (PL_O_READ | PL_O_WRITE)) {
        int rc;
        close_fd(l);
        rc = open_file(l, l->oflags | PL_O_READ | PL_O_WRITE);
        if (rc != PL_OK)
            return rc;
        err = pl__os_lock(l->fd, l->mechanism, exclusive, 0);
    }
    if (err == 0)
        return PL_OK;
    if (err == EAGAIN)
        return pl__fail(PL_ERR_ALREADY_LOCKED, err,
                        "'%s' is locked by another holder", l->path);
    close_fd(l);
    return pl__fail_os(PL_ERR_LOCK_FAILED, err, "lock", l->path);
}

/* Whether the file we locked is still the one at the path (a releasing
   holder of an owned file unlinks it while we may have it open). */
static int file_replaced(pl_lock *l, int *replaced)
{
    pl__os_file_id held, current;
    int err = pl__os_fd_id(l->fd, &held);
    if (err)
        return pl__fail_os(PL_ERR_IO, err, "stat", l->path);
    err = pl__os_path_id(l->path, &current);
    if (err == ENOENT) {
        *replaced = 1;
        return PL_OK;
    }
    if (err)
        return pl__fail_os(PL_ERR_IO, err, "stat", l->path);
    *replaced = held.dev != current.dev || held.ino != current.ino;
    return PL_OK;
}

int pl__lock_unlink_if_ours(pl_lock *l, const char *path)
{
    pl__os_file_id held, current;
    int err;
    if (pl__os_fd_id(l->fd, &held) == 0 &&
        pl__os_path_id(path, &current) == 0 &&
        (held.dev != current.dev || held.ino != current.ino))
        return PL_OK;
    err = pl__os_unlink(path);
    if (err && err != ENOENT)
        return pl__fail_os(PL_ERR_IO, err, "remove", path);
    return PL_OK;
}

/* Up to this many immediate re-opens when an owned lock file keeps
   being replaced under us (each replacement means a holder just left). */
#define PL_MAX_REPLACED 64

static int attempt(void *ctx)
{
    pl_lock *l = ctx;
    int tries;
    for (tries = 0; tries < PL_MAX_REPLACED; tries++) {
        int rc, replaced = 0;
        if (l->fd < 0 && (rc = open_file(l, l->oflags)) != PL_OK)
            return rc;
        /* On contention the descriptor stays open for the next attempt:
           a waiter that re-opened each time would wake every other waiter
           with its own close events. */
        if ((rc = lock_fd(l)) != PL_OK)
            return rc;
        if (!l->kind->owns_file)
            return PL_OK;
        if ((rc = file_replaced(l, &replaced)) != PL_OK || !replaced)
            return rc;
        /* Locked a file that is no longer at the path: a releasing holder
           unlinked it. Drop it and lock the current one instead. */
        (void)pl__os_unlock(l->fd, l->mechanism);
        close_fd(l);
    }
    return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                    "'%s' kept being replaced while locking (split-brain)",
                    l->path);
}

/* A release closes (IN_CLOSE_*) or, for an owned file, unlinks the file
   at the path; a waiter already holding the file open watches that one
   too (it may no longer be at the path). */
static void watch(void *ctx, pl__os_waiter *waiter)
{
    pl_lock *l = ctx;
    pl__os_waiter_watch(waiter, l->path);
}

/* Remove the lock file if it is still the one we hold, keeping the last
   error (the caller is reporting another failure). */
static void unlink_lock_file_quietly(pl_lock *l)
{
    pl__os_file_id held, current;
    if (pl__os_fd_id(l->fd, &held) == 0 &&
        pl__os_path_id(l->path, &current) == 0 && held.dev == current.dev &&
        held.ino == current.ino)
        (void)pl__os_unlink(l->path);
}

/* The exit registry's callback: remove the files of a lock still held at
   exit; the kernel drops the lock itself when the process ends. */
static void at_exit(void *arg)
{
    pl_lock *l = arg;
    if (l->held && l->owner_pid == pl__self_pid())
        l->kind->at_exit(l);
}

/* Steps after the OS lock is taken; on failure the lock is dropped. */
static int prepare_locked(pl_lock *l)
{
    int rc = PL_OK, err;
    /* A 'w' mode was opened as 'a' so that waiting never wiped the
       holder's data; now that the lock is ours, truncate, and turn off
       O_APPEND so that seek + write behaves as with 'w' (as the
       reference 4.4 does). */
    if (l->truncate_after && (err = pl__os_truncate(l->fd)) != 0)
        rc = pl__fail_os(PL_ERR_IO, err, "truncate", l->path);
    else if (l->truncate_after && (err = pl__os_clear_append(l->fd)) != 0)
        rc = pl__fail_os(PL_ERR_IO, err, "clear O_APPEND on", l->path);
    if (rc == PL_OK && l->kind->after_lock)
        rc = l->kind->after_lock(l);
    if (rc != PL_OK) {
        /* An owned file exists only while held: remove it (if still
           ours) before unlocking, as release does. */
        if (l->kind->owns_file)
            unlink_lock_file_quietly(l);
        (void)pl__os_unlock(l->fd, l->mechanism);
        close_fd(l);
    }
    return rc;
}

static int acquire(pl_lock *l, double timeout, double check_interval,
                   int fail_when_locked, int *fd_out);
static int release(pl_lock *l);

PL_EXPORT pl_status pl_lock_acquire_with(pl_lock *l, double timeout,
                                         double check_interval,
                                         int fail_when_locked, int *fd_out)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = enter(l, "acquire")) != PL_OK)
        return rc;
    rc = acquire(l, timeout, check_interval, fail_when_locked, fd_out);
    leave(l);
    return rc;
}

static int acquire(pl_lock *l, double timeout, double check_interval,
                   int fail_when_locked, int *fd_out)
{
    pl_wait_opts opts;
    int rc;

    /* Validate the overrides first: a bad argument is an error whether
       or not the lock is held (and must not count as an RLock acquire). */
    if ((rc = pl__merge_wait_opts(&l->wait, timeout, check_interval,
                                  fail_when_locked, &opts)) != PL_OK)
        return rc;
    if (l->held && l->owner_pid == pl__self_pid()) {
        /* A lock file the library owns that someone unlinked or replaced
           while we held it: exclusion is already lost (anyone can lock
           the new file). Say so, as the reference does, and leave the
           held descriptor alone: only the caller knows what its pending
           writes mean. */
        if (l->kind->owns_file) {
            int replaced = 0;
            if ((rc = file_replaced(l, &replaced)) != PL_OK)
                return rc;
            if (replaced)
                return pl__fail(PL_ERR_LOCK_FAILED, 0,
                                "'%s' was unlinked or replaced externally "
                                "while the lock was held: the lock is "
                                "compromised, the held descriptor is "
                                "untouched",
                                l->path);
        }
        if (l->kind->reentrant)
            l->count++;
        if (fd_out)
            *fd_out = l->fd;
        return pl__ok();
    }
    if (l->fd >= 0) /* inherited across fork: that lock is the parent's */
        (void)release(l);

    l->holder_pid = 0;
    if (!(l->flags & PL_LOCK_NB)) {
        /* Blocking flags: wait until the lock is ours, whatever the
           timeout says (the reference's flock(LOCK_EX) blocks). Not in
           the kernel, so that a cancel or the wait hook can end it. */
        opts.timeout = INFINITY;
        opts.fail_when_locked = 0;
    }
    rc = pl__retry(&opts, attempt, watch, l, &l->cancel, l->path);
    if (rc == PL_OK)
        rc = prepare_locked(l);
    if (rc != PL_OK) {
        close_fd(l);
        if (l->kind->on_contention)
            rc = l->kind->on_contention(l, rc);
        return rc;
    }
    l->held = 1;
    l->held_mechanism = l->mechanism;
    l->count = 1;
    l->owner_pid = pl__self_pid();
    if (l->kind->at_exit)
        pl__exit_registry_add(&l->exit_entry, at_exit, l);
    if (fd_out)
        *fd_out = l->fd;
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_acquire(pl_lock *l, int *fd_out)
{
    return pl_lock_acquire_with(l, PL_INHERIT, PL_INHERIT, PL_INHERIT, fd_out);
}

/* ---- releasing ---- */

PL_EXPORT pl_status pl_lock_release(pl_lock *l)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = enter(l, "release")) != PL_OK)
        return rc;
    rc = release(l);
    leave(l);
    return rc;
}

static int release(pl_lock *l)
{
    int rc = PL_OK, err, swallowed = 0;
    if (!l->held || l->fd < 0) {
        close_fd(l);
        l->held = 0;
        if (l->kind->reentrant)
            return pl__fail(PL_ERR_NOT_HELD, 0,
                            "Cannot release more times than acquired");
        return pl__ok();
    }
    if (l->owner_pid != pl__self_pid()) {
        /* A forked child: the lock belongs to the parent, whatever the
           RLock depth. Closing our copy of the descriptor leaves it alone;
           unlocking (flock: shared open file description) or unlinking
           would break it. Keeping the copy (a nested RLock) would let a
           later acquire in the child lock the parent's descriptor again. */
        pl__exit_registry_remove(&l->exit_entry);
        close_fd(l);
        l->held = 0;
        l->count = 0;
        return pl__ok();
    }
    if (l->kind->reentrant && l->count > 1) {
        l->count--;
        return pl__ok();
    }
    pl__exit_registry_remove(&l->exit_entry);
    /* The kind's files go first, while the lock is still held: the
       reverse order lets two processes hold the lock at once. Then unlock
       and close, whatever happened. Their errors, and a file that could
       not be removed (on Windows another process may have it open
       without sharing delete: a waiter, which then holds it), are
       reported only with raise_on_release_error, as the reference does,
       but stay readable in the last error either way. */
    if (l->kind->before_unlock && (err = l->kind->before_unlock(l)) != PL_OK) {
        if (l->raise_on_release_error)
            rc = err;
        swallowed = 1;
    }
    err = pl__os_unlock(l->fd, l->held_mechanism);
    if (err) {
        int code = pl__fail_os(PL_ERR_LOCK_FAILED, err, "unlock", l->path);
        if (rc == PL_OK && l->raise_on_release_error)
            rc = code;
        swallowed = 1;
    }
    err = pl__os_close(l->fd);
    if (err) {
        int code = pl__fail_os(PL_ERR_IO, err, "close", l->path);
        if (rc == PL_OK && l->raise_on_release_error)
            rc = code;
        swallowed = 1;
    }
    l->fd = -1;
    l->held = 0;
    l->count = 0;
    if (rc != PL_OK || swallowed)
        return rc;
    return pl__ok();
}
