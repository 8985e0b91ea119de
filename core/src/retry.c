/*
 * The waiting policy every lock type shares.
 *
 * The reference polls every check_interval (0.25 s), so a release is seen
 * ~125 ms late on average. Here a waiter sleeps on an inotify descriptor
 * watching the lock file(s): a holder's release closes its descriptor
 * (IN_CLOSE_*), a crash or SIGKILL closes it too, and a temporary lock's
 * unlink raises IN_ATTRIB/IN_DELETE_SELF, so the waiter wakes within
 * microseconds. Releases that raise no event (an unlock without close, a
 * lock on another machine over NFS) are caught by a capped exponential
 * backoff: 1 ms, 2 ms, ... up to check_interval, so no release is ever seen
 * later than check_interval.
 *
 * An infinite timeout uses the same loop without a deadline, not the
 * kernel's blocking lock call: a blocked flock(2) can be ended only by a
 * signal, while this wait also ends on a cancel from another thread and
 * runs the thread's wait hook on time (wait_control.c).
 */
#include "internal.h"
#include "platform.h"
#include "wait_control.h"

#include <math.h>
#include <stdio.h>

#define PL_FIRST_BACKOFF 0.001

int pl__retry(const pl_wait_opts *opts, pl_attempt_fn attempt,
              pl_watch_fn watch, void *ctx, pl__cancel *cancel,
              const char *what)
{
    pl__os_waiter *waiter;
    double deadline, backoff, cap;
    int rc;

    if ((rc = pl__wait_check(cancel)) != PL_OK)
        goto out;
    rc = attempt(ctx);
    if (rc != PL_ERR_ALREADY_LOCKED || opts->fail_when_locked ||
        opts->timeout <= 0)
        goto out;

    deadline = isinf(opts->timeout) ? INFINITY : pl__os_now() + opts->timeout;
    cap = opts->check_interval > PL_FIRST_BACKOFF ? opts->check_interval
                                                  : PL_FIRST_BACKOFF;
    backoff = PL_FIRST_BACKOFF;
    waiter = pl__os_waiter_open();
    for (;;) {
        double remaining, wait;
        pl__os_pollfd pfd;
        int ready, wrc;
        /* Watch before attempting: a release between a failed attempt and
           the wait still leaves an event behind. */
        watch(ctx, waiter);
        rc = attempt(ctx);
        if (rc != PL_ERR_ALREADY_LOCKED)
            break;
        remaining = deadline - pl__os_now();
        if (remaining <= 0)
            break;
        wait = backoff < remaining ? backoff : remaining;
        pfd.fd = pl__os_waiter_fd(waiter);
        pfd.events = PL__OS_READABLE;
        pfd.revents = 0;
        if ((wrc = pl__wait_poll(&pfd, 1, wait, cancel, &ready)) != PL_OK) {
            rc = wrc;
            break;
        }
        if (ready) {
            pl__os_waiter_drain(waiter);
            /* The kernel raises the close event of a holder that exits
               (or closes without unlocking) just BEFORE it drops the
               lock (__fput: fsnotify_close, then locks_remove_file): an
               attempt right after an event can lose that race, so look
               again soon rather than after a long backoff. */
            backoff = PL_FIRST_BACKOFF;
        } else {
            backoff = backoff * 2 < cap ? backoff * 2 : cap;
        }
    }
    pl__os_waiter_close(waiter);
    pl__wait_done(cancel);
    if (rc == PL_ERR_ALREADY_LOCKED && pl_last_error_code() == PL_OK)
        pl__fail(PL_ERR_ALREADY_LOCKED, 0, "timed out after %g s", opts->timeout);
out:
    if (rc == PL_ERR_INTERRUPTED) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", pl_last_error_message());
        pl__fail(PL_ERR_INTERRUPTED, pl_last_errno(), "waiting for '%s': %s",
                 what, msg);
    }
    return rc;
}
