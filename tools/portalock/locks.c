/* Taking and dropping the lock of each kind. The file and descriptor forms
   open and lock exactly as flock(1) does (same open flags, flock(2) on the
   descriptor) through pl_lock_fd_mechanism, so the locks exclude flock(1)'s
   and every binding's; the other kinds are the library's handles. */
#define _GNU_SOURCE
#include "portalock.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* flock(1)'s open: read-only with O_CREAT (so an unwritable file or a
   directory can be locked), retried without O_CREAT for a directory. */
static int open_lock_file(const char *path, int flags, int *fd_out)
{
    int fd = open(path, flags | O_NOCTTY | O_CREAT, 0666);
    if (fd < 0 && errno == EISDIR)
        fd = open(path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        warnx_("cannot open lock file %s: %s", path, strerror(err));
        return exit_for_errno(err, EXIT_NOINPUT);
    }
    *fd_out = fd;
    return 0;
}

/* The conflict exit code; -E 0 is CONFLICT_ZERO, since 0 means "taken". */
static int conflict(const cli *o)
{
    return o->conflict_code ? o->conflict_code : CONFLICT_ZERO;
}

static int wait_failed(const cli *o)
{
    if (waits_signal())
        return -1; /* the caller cleans up, then dies by the signal */
    if (o->verbose)
        warnx_("timeout while waiting to get lock");
    return conflict(o);
}

/* The exit code for a failed library call, the message printed. */
static int library_failure(const cli *o, int rc)
{
    int err = pl_last_errno();
    switch (rc) {
    case PL_ERR_ALREADY_LOCKED:
        if (o->verbose)
            warnx_("failed to get lock");
        return conflict(o);
    case PL_ERR_INTERRUPTED:
        return wait_failed(o);
    default:
        break;
    }
    warnx_("%s", pl_last_error_message()[0] ? pl_last_error_message()
                                            : pl_strerror(rc));
    switch (rc) {
    case PL_ERR_CONNECTION: return EXIT_UNAVAILABLE;
    case PL_ERR_INVALID_ARGUMENT:
    case PL_ERR_UNSUPPORTED: return EXIT_USAGE;
    case PL_ERR_NO_MEMORY: return EXIT_OSERR;
    case PL_ERR_LOCK_LOST: return EXIT_LOST;
    default:
        if (err == ENOENT || err == EACCES || err == ENOTDIR || err == EPERM)
            return EXIT_NOINPUT;
        return exit_for_errno(err, EXIT_DATAERR);
    }
}

static int take_fd_lock(const cli *o, held *h)
{
    int mech = o->fcntl ? PL_MECH_OFD : PL_MECH_FLOCK;
    int nb = o->nonblock || (o->have_timeout && o->timeout == 0);
    int reopened = 0, rc, err;
    for (;;) {
        if (o->type == PL_LOCK_UN)
            rc = pl_unlock_fd_mechanism(h->fd, mech);
        else
            rc = pl_lock_fd_mechanism(h->fd, o->type | (nb ? PL_LOCK_NB : 0), mech);
        if (rc == PL_OK)
            return 0;
        if (rc == PL_ERR_ALREADY_LOCKED || rc == PL_ERR_INTERRUPTED)
            return library_failure(o, rc);
        err = pl_last_errno();
        /* An exclusive OFD lock needs a writable descriptor (EBADF), and
           NFS emulates flock(2) with such locks (EIO): flock(1) reopens
           the file read-write once, and so do we. */
        if ((err == EBADF || err == EIO) && h->own_fd && !reopened) {
            int fd;
            reopened = 1;
            fd = open(o->filename, O_RDWR | O_NOCTTY | O_CREAT, 0666);
            if (fd >= 0) {
                close(h->fd);
                h->fd = fd;
                continue;
            }
        }
        if (o->filename)
            warnx_("%s: %s", o->filename, strerror(err));
        else
            warnx_("%d: %s", h->fd, strerror(err));
        return exit_for_errno(err, EXIT_DATAERR);
    }
}

static double wait_seconds(const cli *o)
{
    if (o->nonblock)
        return 0;
    return o->have_timeout ? o->timeout : INFINITY;
}

static void on_lost(pl_redis_lock *lock, void *userdata)
{
    const cli *o = userdata;
    int pid;
    (void)lock;
    atomic_store(&lost_flag, 1);
    /* kill(2) is safe from any thread; a command not started yet is
       never started (run.c checks the flag after the fork). */
    if ((pid = atomic_load(&child_pid)) > 0)
        kill(pid, o->on_lost_signal);
}

int lock_take(const cli *o, held *h)
{
    int rc, slot = -1;
    memset(h, 0, sizeof *h);
    h->fd = -1;
    switch (o->kind) {
    case T_FILE:
        if ((rc = open_lock_file(o->filename, O_RDONLY, &h->fd)) != 0)
            return rc;
        h->own_fd = 1;
        return take_fd_lock(o, h);
    case T_FD:
        h->fd = o->fd;
        return take_fd_lock(o, h);
    case T_SEMAPHORE:
        if ((rc = pl_semaphore_new(&h->sem, o->sem_max, o->sem_name)) != PL_OK ||
            (o->sem_dir && (rc = pl_semaphore_set_directory(h->sem, o->sem_dir)) != PL_OK) ||
            (o->fcntl && (rc = pl_semaphore_set_mechanism(h->sem, PL_MECH_OFD)) != PL_OK) ||
            (rc = pl_semaphore_set_timeout(h->sem, wait_seconds(o))) != PL_OK ||
            (rc = pl_semaphore_set_check_interval(h->sem, 0.05)) != PL_OK ||
            (rc = pl_semaphore_acquire(h->sem, &slot)) != PL_OK)
            return library_failure(o, rc);
        h->fd = pl_semaphore_fd(h->sem);
        return 0;
    case T_PIDFILE: {
        /* A PID file refuses at once while held (its purpose: one
           instance); -w asks to wait for it instead. */
        int wait = o->have_timeout && o->timeout > 0 && !o->nonblock;
        if ((rc = pl_pidfile_lock_new(&h->lock, o->pidfile)) != PL_OK ||
            (o->fcntl && (rc = pl_lock_set_mechanism(h->lock, PL_MECH_OFD)) != PL_OK) ||
            (rc = pl_lock_set_fail_when_locked(h->lock, !wait)) != PL_OK ||
            (rc = pl_lock_set_timeout(h->lock, wait ? o->timeout : 0)) != PL_OK ||
            (rc = pl_lock_set_check_interval(h->lock, 0.05)) != PL_OK)
            return library_failure(o, rc);
        rc = pl_lock_acquire(h->lock, &h->fd);
        if (rc == PL_ERR_ALREADY_LOCKED) {
            long pid = pl_lock_holder_pid(h->lock);
            if (pid > 0)
                warnx_("%s is held by PID %ld", o->pidfile, pid);
            else
                warnx_("%s is held by another process (no PID in the file yet)",
                       o->pidfile);
            return conflict(o);
        }
        return rc == PL_OK ? 0 : library_failure(o, rc);
    }
    case T_REDIS: {
        double t = wait_seconds(o);
        if ((rc = pl_redis_lock_new(&h->redis, o->channel, strlen(o->channel))) != PL_OK ||
            (rc = pl_redis_lock_set_url(h->redis, o->redis_url)) != PL_OK ||
            (rc = pl_redis_lock_set_flags(h->redis, o->type)) != PL_OK ||
            (o->fencing && (rc = pl_redis_lock_set_fencing(h->redis, 1)) != PL_OK) ||
            (rc = pl_redis_lock_set_timeout(h->redis, t)) != PL_OK ||
            (rc = pl_redis_lock_set_fail_when_locked(h->redis, t == 0)) != PL_OK ||
            (rc = pl_redis_lock_set_lost_callback(h->redis, on_lost, (void *)o)) != PL_OK)
            return library_failure(o, rc);
        rc = pl_redis_lock_acquire(h->redis);
        return rc == PL_OK ? 0 : library_failure(o, rc);
    }
    }
    return EXIT_USAGE;
}

void lock_drop(held *h)
{
    if (h->redis) {
        /* A loss was reported already; release cleans up either way. */
        pl_redis_lock_release(h->redis);
        pl_redis_lock_free(h->redis);
    }
    if (h->sem)
        pl_semaphore_free(h->sem);
    if (h->lock)
        pl_lock_free(h->lock);
    if (h->own_fd && h->fd >= 0)
        close(h->fd);
    memset(h, 0, sizeof *h);
    h->fd = -1;
}
