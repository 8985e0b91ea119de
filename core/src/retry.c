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
 * later than check_interval. A waiter without a deadline uses the kernel's
 * blocking call instead.
 */
#include "internal.h"
#include "platform.h"

#include <math.h>

#define PL_FIRST_BACKOFF 0.001

int pl__retry(const pl_wait_opts *opts, pl_attempt_fn attempt, void *ctx,
              const char *const *paths, size_t npaths, int can_block)
{
    pl__os_waiter *waiter;
    double deadline, backoff, cap;
    int rc;
    size_t i;

    rc = attempt(ctx, 0);
    if (rc != PL_ERR_ALREADY_LOCKED || opts->fail_when_locked ||
        opts->timeout <= 0)
        return rc;

    if (isinf(opts->timeout) && can_block) {
        do {
            rc = attempt(ctx, 1);
        } while (rc == PL_ERR_ALREADY_LOCKED);
        return rc;
    }

    deadline = pl__os_now() + opts->timeout;
    cap = opts->check_interval > PL_FIRST_BACKOFF ? opts->check_interval
                                                  : PL_FIRST_BACKOFF;
    backoff = PL_FIRST_BACKOFF;
    waiter = pl__os_waiter_open();
    for (;;) {
        double remaining, wait;
        /* Watch before attempting: a release between a failed attempt and
           the wait still leaves an event behind. */
        for (i = 0; i < npaths; i++)
            pl__os_waiter_watch(waiter, paths[i]);
        rc = attempt(ctx, 0);
        if (rc != PL_ERR_ALREADY_LOCKED)
            break;
        remaining = deadline - pl__os_now();
        if (remaining <= 0)
            break;
        wait = backoff < remaining ? backoff : remaining;
        if (pl__os_waiter_wait(waiter, wait))
            /* The kernel raises the close event of a holder that exits
               (or closes without unlocking) just BEFORE it drops the
               lock (__fput: fsnotify_close, then locks_remove_file): an
               attempt right after an event can lose that race, so look
               again soon rather than after a long backoff. */
            backoff = PL_FIRST_BACKOFF;
        else
            backoff = backoff * 2 < cap ? backoff * 2 : cap;
    }
    pl__os_waiter_close(waiter);
    if (rc == PL_ERR_ALREADY_LOCKED && pl_last_error_code() == PL_OK)
        pl__fail(PL_ERR_ALREADY_LOCKED, 0, "timed out after %g s", opts->timeout);
    return rc;
}
