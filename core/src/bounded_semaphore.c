/*
 * BoundedSemaphore / NamedBoundedSemaphore: `maximum` slot files in a
 * directory, named by a pattern ("{name}.{number:02d}.lock"); holding any
 * one slot's lock is holding the semaphore. Acquire sweeps the slots in
 * order with non-blocking attempts and waits (retry.c) between sweeps.
 *
 * A waiter's cost is O(1) in `maximum`: slot paths are formatted when
 * needed (maximum = 2**31-1 costs nothing until slots are tried), a sweep
 * holds one descriptor at a time (opened, tried, closed: a waiter under a
 * low RLIMIT_NOFILE still reaches a free slot far away), and at most
 * PL_SEM_WATCHED slot files are watched.
 *
 * Wake-ups: every attempt closes a slot file, so close events (what wakes
 * a file-lock waiter) would make waiters wake each other forever. Slot
 * waiters watch attribute changes instead, and a releasing holder touches
 * its slot file (futimens) after unlocking it: a handoff within
 * microseconds. A holder that dies, or an older library or the Python
 * reference, does not touch: the backoff (at most check_interval) sees it.
 */
#include "internal.h"
#include "platform.h"
#include "wait_control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_DEFAULT_PATTERN "{name}.{number:02d}.lock"

struct pl_semaphore {
    int maximum;
    char *name;
    char *pattern;
    char *directory;
    int mechanism;
    int held_mechanism; /* the held slot's: release uses it (see lock.c) */
    unsigned int file_mode;
    pl_wait_opts wait;
    char *held_path; /* the held slot's path (for messages), or NULL */
    int slot;        /* held slot or -1 */
    int fd;
    long owner_pid;
    pl__cancel cancel; /* pl_semaphore_cancel */
    pl__claim busy;    /* an acquire or release runs (see lock_handle.h) */
};

/* ---- the filename pattern: {name}, {number[:spec]}, {{ and }} ---- */

/* Parse "{number...}" at p (just after '{'); *spec receives the printf
   width spec ("02" for ":02d"). Returns the length consumed or -1. */
static int parse_number_field(const char *p, char *spec, size_t spec_size)
{
    const char *q = p + 6; /* after "number" */
    size_t n = 0;
    spec[0] = '\0';
    if (*q == '}')
        return 7;
    if (*q != ':')
        return -1;
    q++;
    while ((*q >= '0' && *q <= '9') && n + 1 < spec_size && n < 3)
        spec[n++] = *q++;
    spec[n] = '\0';
    if (*q == 'd')
        q++;
    if (*q != '}')
        return -1;
    return (int)(q - p) + 1;
}

/* Format the pattern for one slot into a malloc'ed string; validates the
   pattern when out is NULL. */
static int format_pattern(const char *pattern, const char *name, int number,
                          char **out)
{
    size_t cap = strlen(pattern) + strlen(name) + 64, len = 0;
    char *buf = malloc(cap);
    const char *p = pattern;
    int has_number = 0;
    if (!buf)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
#define PUT(str, n)                                                          \
    do {                                                                     \
        size_t k_ = (n);                                                     \
        if (len + k_ + 1 > cap) {                                            \
            char *nb_;                                                       \
            cap = (len + k_ + 1) * 2;                                        \
            if (!(nb_ = realloc(buf, cap))) {                                \
                free(buf);                                                   \
                return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");  \
            }                                                                \
            buf = nb_;                                                       \
        }                                                                    \
        memcpy(buf + len, (str), k_);                                        \
        len += k_;                                                           \
    } while (0)
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            PUT("{", 1);
            p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            PUT("}", 1);
            p += 2;
        } else if (strncmp(p, "{name}", 6) == 0) {
            PUT(name, strlen(name));
            p += 6;
        } else if (strncmp(p, "{number", 7) == 0) {
            /* The width has up to 3 digits ({number:999}): num holds 999
               characters and any int. */
            char spec[8], fmt[16], num[1024];
            int used = parse_number_field(p + 1, spec, sizeof spec), k;
            if (used < 0)
                goto invalid;
            snprintf(fmt, sizeof fmt, "%%%sd", spec);
            k = snprintf(num, sizeof num, fmt, number);
            if (k < 0 || (size_t)k >= sizeof num)
                goto invalid;
            PUT(num, (size_t)k);
            p += used + 1;
            has_number = 1;
        } else if (*p == '{' || *p == '}' || strchr(PL__OS_NAME_SEPARATORS, *p)) {
            goto invalid;
        } else {
            PUT(p, 1);
            p++;
        }
    }
#undef PUT
    if (!has_number) {
        free(buf);
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "filename pattern '%s' has no {number} placeholder, "
                        "so every slot would share one file",
                        pattern);
    }
    buf[len] = '\0';
    if (out)
        *out = buf;
    else
        free(buf);
    return PL_OK;
invalid:
    free(buf);
    return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                    "invalid filename pattern '%s' (placeholders: {name}, "
                    "{number} or {number:02d}; no " PL__OS_NAME_SEPARATORS_TEXT ")",
                    pattern);
}

static int check_name(const char *name)
{
    if (!*name)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "semaphore name must not be empty");
    if (strpbrk(name, PL__OS_NAME_SEPARATORS) || strstr(name, ".."))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "semaphore name '%s' must not contain "
                        PL__OS_NAME_SEPARATORS_TEXT " or '..'",
                        name);
    return PL_OK;
}

/* Slot i's full path (malloc'ed) from directory + pattern. */
static int format_slot_path(const char *dir, const char *pattern,
                            const char *name, int i, char **out)
{
    char *file = NULL, *path;
    size_t n;
    int rc = format_pattern(pattern, name, i, &file);
    if (rc != PL_OK)
        return rc;
    if (!file) /* never: format_pattern sets it on success */
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    n = strlen(dir) + strlen(file) + 2;
    path = malloc(n);
    if (!path) {
        free(file);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    if (*dir)
        snprintf(path, n, "%s%s%s", dir,
                 strchr("/" PL__OS_DIR_SEPARATOR, dir[strlen(dir) - 1])
                     ? ""
                     : PL__OS_DIR_SEPARATOR,
                 file);
    else
        snprintf(path, n, "%s", file);
    free(file);
    *out = path;
    return PL_OK;
}

static int slot_path(const pl_semaphore *s, int i, char **out)
{
    return format_slot_path(s->directory, s->pattern, s->name, i, out);
}

PL_EXPORT pl_status pl_semaphore_new(pl_semaphore **out, int maximum,
                               const char *name)
{
    pl_semaphore *s;
    char random_name[64];
    int rc;
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    *out = NULL;
    if (maximum <= 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "semaphore maximum must be at least 1 (got %d)",
                        maximum);
    if (!name) {
        snprintf(random_name, sizeof random_name, "bounded_semaphore.%llu",
                 pl__os_random() % 1000001ULL);
        name = random_name;
    } else if ((rc = check_name(name)) != PL_OK) {
        return rc;
    }
    if (!(s = calloc(1, sizeof *s)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    s->maximum = maximum;
    s->slot = -1;
    pl__cancel_init(&s->cancel);
    pl__claim_init(&s->busy);
    s->fd = -1;
    s->mechanism = PL_MECH_FLOCK;
    s->file_mode = PL_DEFAULT_FILE_MODE;
    s->wait.timeout = PL_DEFAULT_TIMEOUT;
    s->wait.check_interval = PL_DEFAULT_CHECK_INTERVAL;
    s->wait.fail_when_locked = 1;
    s->name = pl__strdup(name);
    s->pattern = pl__strdup(PL_DEFAULT_PATTERN);
    s->directory = pl__strdup(pl__os_temp_dir());
    if (!s->name || !s->pattern || !s->directory) {
        pl_semaphore_free(s);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    *out = s;
    return pl__ok();
}

PL_EXPORT void pl_semaphore_free(pl_semaphore *s)
{
    if (!s)
        return;
    if (s->slot >= 0) /* only then: free leaves the last error alone */
        (void)pl_semaphore_release(s);
    free(s->held_path);
    free(s->name);
    free(s->pattern);
    free(s->directory);
    pl__cancel_destroy(&s->cancel);
    free(s);
}

PL_EXPORT pl_status pl_semaphore_cancel(pl_semaphore *s)
{
    /* Signal-safe: no last error written (see pl_lock_cancel). */
    if (!s)
        return PL_ERR_INVALID_ARGUMENT;
    pl__cancel_request(&s->cancel);
    return PL_OK;
}

#define CHECK_SEM(s)                                                         \
    do {                                                                     \
        if (!(s))                                                            \
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,                      \
                            "semaphore handle must not be NULL");            \
    } while (0)

/* Replace *field with a copy of value after rebuilding the slot paths. */
static int set_layout(pl_semaphore *s, char **field, const char *value,
                      const char *what)
{
    char *copy;
    int rc;
    CHECK_SEM(s);
    if (!value)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "%s must not be NULL", what);
    if (s->slot >= 0)
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "cannot change the %s while a slot is held", what);
    if (field == &s->pattern &&
        (rc = format_pattern(value, s->name, 0, NULL)) != PL_OK)
        return rc;
    if (!(copy = pl__strdup(value)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    return pl__ok();
}

PL_EXPORT pl_status pl_semaphore_set_directory(pl_semaphore *s, const char *dir)
{
    return set_layout(s, s ? &s->directory : NULL, dir, "directory");
}

PL_EXPORT pl_status pl_semaphore_set_filename_pattern(pl_semaphore *s,
                                                const char *pattern)
{
    return set_layout(s, s ? &s->pattern : NULL, pattern, "filename pattern");
}

PL_EXPORT pl_status pl_semaphore_set_timeout(pl_semaphore *s, double seconds)
{
    CHECK_SEM(s);
    return pl__wait_set_timeout(&s->wait, seconds);
}

PL_EXPORT pl_status pl_semaphore_set_check_interval(pl_semaphore *s,
                                                    double seconds)
{
    CHECK_SEM(s);
    return pl__wait_set_check_interval(&s->wait, seconds);
}

PL_EXPORT pl_status pl_semaphore_set_fail_when_locked(pl_semaphore *s,
                                                      int enabled)
{
    CHECK_SEM(s);
    return pl__wait_set_fail_when_locked(&s->wait, enabled);
}

PL_EXPORT pl_status pl_semaphore_set_mechanism(pl_semaphore *s, int mechanism)
{
    int rc;
    CHECK_SEM(s);
    if ((rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    s->mechanism = mechanism;
    return pl__ok();
}

PL_EXPORT pl_status pl_semaphore_set_file_mode(pl_semaphore *s, unsigned int mode)
{
    int rc;
    CHECK_SEM(s);
    if ((rc = pl__check_file_mode(mode)) != PL_OK)
        return rc;
    s->file_mode = mode;
    return pl__ok();
}

/* `type` is a type name, which cannot be parenthesized: the
   bugprone-macro-parentheses finding on the next line is suppressed. */
#define GETTER(name, type, expr) /* NOLINTNEXTLINE(bugprone-macro-parentheses) */ \
    PL_EXPORT pl_status pl_semaphore_get_##name(const pl_semaphore *s, type *out) \
    {                                                                        \
        int rc_;                                                             \
        CHECK_SEM(s);                                                        \
        if ((rc_ = pl__check_out(out)) != PL_OK)                             \
            return rc_;                                                      \
        *out = (expr);                                                       \
        return PL_OK;                                                        \
    }

GETTER(directory, const char *, s->directory)
GETTER(filename_pattern, const char *, s->pattern)
GETTER(timeout, double, s->wait.timeout)
GETTER(check_interval, double, s->wait.check_interval)
GETTER(fail_when_locked, int, s->wait.fail_when_locked)
GETTER(mechanism, int, s->mechanism)
GETTER(file_mode, unsigned int, s->file_mode)

PL_EXPORT const char *pl_semaphore_name(const pl_semaphore *s)
{
    return s ? s->name : "";
}

PL_EXPORT int pl_semaphore_maximum(const pl_semaphore *s)
{
    return s ? s->maximum : 0;
}

PL_EXPORT pl_status pl_semaphore_slot_path(const pl_semaphore *s, int slot,
                                           char *buf, size_t size)
{
    size_t n;
    char *path = NULL;
    int rc;
    CHECK_SEM(s);
    if (slot < 0 || slot >= s->maximum)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "slot %d is out of range 0..%d", slot, s->maximum - 1);
    if ((rc = slot_path(s, slot, &path)) != PL_OK)
        return rc;
    if (!path) /* never: slot_path sets it on success */
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    n = strlen(path);
    if (!buf || size <= n) {
        free(path);
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "buffer of %zu bytes is too small for %zu", size,
                        n + 1);
    }
    memcpy(buf, path, n + 1);
    free(path);
    return PL_OK;
}

PL_EXPORT int pl_semaphore_slot(const pl_semaphore *s)
{
    return s ? s->slot : -1;
}

PL_EXPORT int pl_semaphore_fd(const pl_semaphore *s)
{
    return s && s->slot >= 0 ? s->fd : -1;
}

/* ---- acquire / release ---- */

/* Try slot i: open, lock without waiting, keep on success, close on
   contention. PL_ERR_ALREADY_LOCKED when busy. */
static int try_slot(pl_semaphore *s, int i)
{
    char *path = NULL;
    int rc, err, fd = -1;
    if ((rc = slot_path(s, i, &path)) != PL_OK)
        return rc;
    err = pl__os_open(path,
                      PL_O_WRITE | PL_O_CREATE | PL_O_APPEND | PL_O_NOFOLLOW |
                          PL_O_REGULAR,
                      s->file_mode, &fd);
    if (err == EINVAL)
        rc = pl__fail(PL_ERR_INVALID_ARGUMENT, err,
                      "cannot lock semaphore slot '%s': not a regular file",
                      path);
    else if (err)
        rc = pl__fail_os(PL_ERR_IO, err, "open semaphore slot", path);
    else if ((err = pl__os_lock(fd, s->mechanism, 1, 0)) == 0)
        rc = PL_OK;
    else if (err == EAGAIN)
        rc = PL_ERR_ALREADY_LOCKED;
    else
        rc = pl__fail_os(PL_ERR_LOCK_FAILED, err, "lock semaphore slot", path);
    if (rc == PL_OK) {
        s->slot = i;
        s->fd = fd;
        s->held_path = path;
        return PL_OK;
    }
    /* Closing a slot we only tried raises IN_CLOSE_WRITE, which slot
       waiters do not watch (see the top of this file). */
    if (fd >= 0)
        (void)pl__os_close(fd);
    free(path);
    return rc;
}

/* One sweep over the slots, one descriptor at a time. */
static int sweep(void *ctx)
{
    pl_semaphore *s = ctx;
    int i;
    for (i = 0; i < s->maximum; i++) {
        int rc = try_slot(s, i);
        if (rc != PL_ERR_ALREADY_LOCKED)
            return rc;
    }
    return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                    "all %d slots of semaphore '%s' are taken", s->maximum,
                    s->name);
}

/* Watch the first PL_SEM_WATCHED slot files (a release of a later slot
   is seen by the backoff): the waiter's watches stay O(1) in maximum. */
#define PL_SEM_WATCHED 32

static void watch_slots(void *ctx, pl__os_waiter *waiter)
{
    pl_semaphore *s = ctx;
    int i;
    for (i = 0; i < s->maximum && i < PL_SEM_WATCHED; i++) {
        char *path = NULL;
        if (slot_path(s, i, &path) != PL_OK)
            return; /* out of memory: the backoff carries the wait */
        pl__os_waiter_watch_changes(waiter, path);
        free(path);
    }
}

/* Claim the handle for one acquire or release (see lock.c). */
static int enter(pl_semaphore *s, const char *call)
{
    if (pl__claim_enter(&s->busy) != PL_OK)
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "cannot %s semaphore '%s': another thread is using "
                        "this handle (one thread per handle)",
                        call, s->name);
    return PL_OK;
}

static void leave(pl_semaphore *s)
{
    pl__claim_leave(&s->busy);
}

static int acquire(pl_semaphore *s, double timeout, double check_interval,
                   int *slot_out);
static int release(pl_semaphore *s);

PL_EXPORT pl_status pl_semaphore_acquire_with(pl_semaphore *s, double timeout,
                                              double check_interval,
                                              int *slot_out)
{
    int rc;
    CHECK_SEM(s);
    if ((rc = enter(s, "acquire")) != PL_OK)
        return rc;
    rc = acquire(s, timeout, check_interval, slot_out);
    leave(s);
    return rc;
}

static int acquire(pl_semaphore *s, double timeout, double check_interval,
                   int *slot_out)
{
    pl_wait_opts opts;
    int rc;
    if (s->slot >= 0 && s->owner_pid == pl__self_pid())
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "semaphore '%s' already holds slot %d", s->name,
                        s->slot);
    if (s->slot >= 0)
        (void)release(s); /* the parent's, inherited by fork */
    /* The semaphore's fail_when_locked decides what happens after the
       timeout (raise or return nothing, in the bindings); every sweep
       waits out the timeout, as the reference does. */
    if ((rc = pl__merge_wait_opts(&s->wait, timeout, check_interval, 0,
                                  &opts)) != PL_OK)
        return rc;
    rc = pl__retry(&opts, sweep, watch_slots, s, &s->cancel, s->name);
    if (rc != PL_OK)
        return rc;
    s->owner_pid = pl__self_pid();
    s->held_mechanism = s->mechanism;
    if (slot_out)
        *slot_out = s->slot;
    return pl__ok();
}

PL_EXPORT pl_status pl_semaphore_acquire(pl_semaphore *s, int *slot_out)
{
    return pl_semaphore_acquire_with(s, PL_INHERIT, PL_INHERIT, slot_out);
}

PL_EXPORT pl_status pl_semaphore_release(pl_semaphore *s)
{
    int rc;
    CHECK_SEM(s);
    if ((rc = enter(s, "release")) != PL_OK)
        return rc;
    rc = release(s);
    leave(s);
    return rc;
}

static int release(pl_semaphore *s)
{
    int err, rc = PL_OK;
    if (s->slot < 0)
        return pl__ok();
    /* A forked child only closes its copy (see lock.c). */
    if (s->owner_pid == pl__self_pid()) {
        (void)pl__os_unlock(s->fd, s->held_mechanism);
        /* The wake-up of the slot's waiters (see the top of this file),
           after the unlock so that they find the slot free. */
        (void)pl__os_touch(s->fd);
    }
    err = pl__os_close(s->fd);
    if (err)
        rc = pl__fail_os(PL_ERR_IO, err, "close semaphore slot",
                         s->held_path ? s->held_path : s->name);
    free(s->held_path);
    s->held_path = NULL;
    s->slot = -1;
    s->fd = -1;
    return rc == PL_OK ? pl__ok() : rc;
}
