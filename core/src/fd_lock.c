/* The low-level calls: lock / unlock a descriptor the caller owns. */
#include "internal.h"
#include "platform.h"
#include "wait_control.h"

#include <errno.h>
#include <stdio.h>

#define PL_FD_FIRST_BACKOFF 0.001
/* The longest sleep between attempts of a hooked wait: what a release
   that raises no event (an unlock without close) may take to be seen. */
#define PL_FD_MAX_BACKOFF 0.05

/*
 * A blocking lock of a descriptor.
 *
 * Without a wait hook the kernel's blocking call is used: the handoff is
 * immediate, and a signal (EINTR) just resumes it, since there is nothing
 * to ask whether to stop. With a hook, the hook must run every interval
 * even when no signal comes (Lua bounds waits that way), which a call
 * blocked in the kernel cannot do; so the wait is non-blocking attempts,
 * woken by an inotify watch on the descriptor's file (a holder's close,
 * release by exit or SIGKILL, is seen within microseconds) and by a
 * backoff capped at the hook interval and PL_FD_MAX_BACKOFF (a bare
 * unlock raises no event).
 */
static int lock_blocking(int fd, int mechanism, int exclusive)
{
    pl__os_waiter *waiter;
    double interval, backoff = PL_FD_FIRST_BACKOFF, cap = PL_FD_MAX_BACKOFF;
    int err, rc = PL_OK;

    if (!pl__wait_have_hook(&interval)) {
        while ((err = pl__os_lock(fd, mechanism, exclusive, 1)) == EINTR)
            ;
        return err;
    }
    if (interval < cap)
        cap = interval;
    waiter = pl__os_waiter_open();
    for (;;) {
        pl__os_pollfd pfd;
        int ready;
        pl__os_waiter_watch_fd(waiter, fd);
        err = pl__os_lock(fd, mechanism, exclusive, 0);
        if (err != EAGAIN)
            break;
        pfd.fd = pl__os_waiter_fd(waiter);
        pfd.events = PL__OS_READABLE;
        pfd.revents = 0;
        if ((rc = pl__wait_poll(&pfd, 1, backoff, NULL, &ready)) != PL_OK)
            break;
        if (ready) {
            pl__os_waiter_drain(waiter);
            backoff = PL_FD_FIRST_BACKOFF;
        } else {
            backoff = backoff * 2 < cap ? backoff * 2 : cap;
        }
    }
    pl__os_waiter_close(waiter);
    return rc != PL_OK ? -1 : err;
}

PL_EXPORT pl_status pl_lock_fd_mechanism(int fd, int flags, int mechanism)
{
    int rc, err;
    if (fd < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, EBADF,
                        "invalid file descriptor %d", fd);
    if ((rc = pl__check_lock_flags(flags)) != PL_OK ||
        (rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    if (flags & PL_LOCK_UN)
        return pl_unlock_fd_mechanism(fd, mechanism);
    if (flags & PL_LOCK_NB)
        err = pl__os_lock(fd, mechanism, (flags & PL_LOCK_EX) != 0, 0);
    else
        err = lock_blocking(fd, mechanism, (flags & PL_LOCK_EX) != 0);
    if (err < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", pl_last_error_message());
        return pl__fail(PL_ERR_INTERRUPTED, pl_last_errno(),
                        "waiting to lock descriptor %d: %s", fd, msg);
    }
    if (err == 0)
        return pl__ok();
    if (err == EAGAIN)
        return pl__fail(PL_ERR_ALREADY_LOCKED, err,
                        "descriptor %d is locked by another holder", fd);
    {
        char buf[128];
        return pl__fail(pl__code_for_errno(err, PL_ERR_LOCK_FAILED), err,
                        "cannot lock descriptor %d: %s", fd,
                        pl__os_strerror(err, buf, sizeof buf));
    }
}

PL_EXPORT pl_status pl_unlock_fd_mechanism(int fd, int mechanism)
{
    int rc, err;
    if (fd < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, EBADF,
                        "invalid file descriptor %d", fd);
    if ((rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    err = pl__os_unlock(fd, mechanism);
    if (err) {
        char buf[128];
        return pl__fail(pl__code_for_errno(err, PL_ERR_LOCK_FAILED), err,
                        "cannot unlock descriptor %d: %s", fd,
                        pl__os_strerror(err, buf, sizeof buf));
    }
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_fd(int fd, int flags)
{
    return pl_lock_fd_mechanism(fd, flags, PL_MECH_FLOCK);
}

PL_EXPORT pl_status pl_unlock_fd(int fd)
{
    return pl_unlock_fd_mechanism(fd, PL_MECH_FLOCK);
}
