/*
 * Ending waits early: the per-thread wait hook and the per-handle cancel
 * (see wait_control.h and "Interrupting and cancelling waits" in
 * portalocker.h).
 *
 * Why both: a hook is what an interpreter needs (run its signal handlers
 * on the waiting thread, in normal context, then resume or stop), and it
 * needs no handle, so it also covers pl_lock_fd; a cancel is what another
 * thread or a signal handler needs to end one handle's wait at once, not
 * at the next hook call. The cancel is a flag plus a wake-up channel the
 * wait polls, so it takes effect within microseconds.
 */
#include "wait_control.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static _Thread_local pl_wait_hook thread_hook;
static _Thread_local void *thread_hook_data;
static _Thread_local double thread_hook_interval;
/* When the hook is due again (monotonic seconds). */
static _Thread_local double thread_hook_due;

PL_EXPORT pl_status pl_set_wait_hook(pl_wait_hook hook, void *userdata,
                                     double interval)
{
    if (hook && !(interval > 0 && isfinite(interval)))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "wait hook interval must be a positive finite "
                        "number of seconds (got %g)",
                        interval);
    thread_hook = hook;
    thread_hook_data = hook ? userdata : NULL;
    thread_hook_interval = hook ? interval : 0;
    thread_hook_due = 0;
    /* PL_OK without clearing the thread's last error: a binding swaps
       hooks around its calls, between a failure and reporting it. */
    return PL_OK;
}

PL_EXPORT pl_status pl_get_wait_hook(pl_wait_hook *hook, void **userdata,
                                     double *interval)
{
    if (hook)
        *hook = thread_hook;
    if (userdata)
        *userdata = thread_hook_data;
    if (interval)
        *interval = thread_hook_interval;
    return PL_OK;
}

int pl__wait_have_hook(double *interval)
{
    if (interval)
        *interval = thread_hook_interval;
    return thread_hook != NULL;
}

/* Run the hook now; PL_ERR_INTERRUPTED if it asks to stop. */
static int run_hook(int errnum)
{
    pl_wait_hook hook = thread_hook;
    if (!hook)
        return PL_OK;
    thread_hook_due = pl__os_now() + thread_hook_interval;
    if (hook(thread_hook_data) == 0)
        return PL_OK;
    return pl__fail(PL_ERR_INTERRUPTED, errnum,
                    errnum ? "the wait was interrupted by a signal and the "
                             "wait hook ended it"
                           : "the wait hook ended the wait");
}

void pl__claim_init(pl__claim *c)
{
    atomic_init(c, 0);
}

int pl__claim_enter(pl__claim *c)
{
    long self = pl__self_pid(), seen = 0;
    if (atomic_compare_exchange_strong(c, &seen, self))
        return PL_OK;
    /* Claimed by a thread of the process we were forked from. */
    if (seen != self && atomic_compare_exchange_strong(c, &seen, self))
        return PL_OK;
    return PL_ERR_INVALID_STATE;
}

void pl__claim_leave(pl__claim *c)
{
    atomic_store(c, 0);
}

int pl__wait_interrupted(void)
{
    return run_hook(EINTR);
}

void pl__cancel_init(pl__cancel *c)
{
    atomic_init(&c->pending, 0);
    atomic_init(&c->wake_wr, -1);
    atomic_init(&c->wake_rd, -1);
    atomic_init(&c->signalling, 0);
}

void pl__wait_done(pl__cancel *c)
{
    int rd, wr;
    if (!c)
        return;
    /* Unpublish first; then wait out any cancel that read the old value
       and has not written yet, so it never writes to a closed (or
       reused) descriptor. A cancel from a signal handler on this very
       thread has finished before we get here again. */
    wr = atomic_exchange(&c->wake_wr, -1);
    rd = atomic_exchange(&c->wake_rd, -1);
    while (atomic_load(&c->signalling) > 0)
        pl__os_sleep(0.0001);
    if (rd >= 0 || wr >= 0)
        pl__os_wake_close(rd, wr);
}

void pl__cancel_destroy(pl__cancel *c)
{
    pl__wait_done(c);
}

void pl__cancel_request(pl__cancel *c)
{
    int wr;
    /* Flag first, then look for the channel: a wait publishes the channel
       and then checks the flag, so one of the two always sees the other
       (sequentially consistent atomics). */
    atomic_store(&c->pending, 1);
    atomic_fetch_add(&c->signalling, 1);
    wr = atomic_load(&c->wake_wr);
    if (wr >= 0)
        pl__os_wake_signal(wr);
    atomic_fetch_sub(&c->signalling, 1);
}

int pl__wait_check(pl__cancel *c)
{
    if (c && atomic_exchange(&c->pending, 0))
        return pl__fail(PL_ERR_INTERRUPTED, 0, "the wait was cancelled");
    return PL_OK;
}

/* The channel's read end, created on first use; -1 if it cannot be (the
   wait then looks at the flag at least every PL_CANCEL_POLL seconds). */
static int wake_fd(pl__cancel *c)
{
    int rd = atomic_load(&c->wake_rd), wr;
    if (rd >= 0)
        return rd;
    if (pl__os_wake_open(&rd, &wr) != 0)
        return -1;
    /* One wait per handle at a time (the handles refuse a second), so
       nobody else publishes a channel meanwhile. */
    atomic_store(&c->wake_rd, rd);
    atomic_store(&c->wake_wr, wr);
    return rd;
}

#define PL_CANCEL_POLL 0.05

int pl__wait_poll(pl__os_pollfd *fds, size_t n, double seconds, pl__cancel *c,
                  int *ready)
{
    return pl__wait_poll_deaf(fds, n, seconds, c, ready, NULL);
}

int pl__wait_poll_deaf(pl__os_pollfd *fds, size_t n, double seconds,
                       pl__cancel *c, int *ready, int *deaf)
{
    pl__os_pollfd stack[8], *all = stack;
    double end, now, last_eintr = -1.0;
    int wfd = -1, rc = PL_OK;
    size_t i;

    *ready = 0;
    if (n + 1 > sizeof stack / sizeof stack[0]) {
        /* No allocation for the common one-or-two-descriptor waits. */
        all = malloc((n + 1) * sizeof *all);
        if (!all)
            return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++)
        all[i] = fds[i];
    if (c)
        wfd = wake_fd(c);
    all[n].fd = wfd;
    all[n].events = PL__OS_READABLE;
    now = pl__os_now();
    end = isinf(seconds) ? INFINITY : now + (seconds > 0 ? seconds : 0);
    if (thread_hook && thread_hook_due <= 0)
        thread_hook_due = now + thread_hook_interval;
    for (;;) {
        double slice;
        int got, err, ms;
        if ((rc = pl__wait_check(c)) != PL_OK)
            break;
        if (thread_hook && now >= thread_hook_due &&
            (rc = run_hook(0)) != PL_OK)
            break;
        if (now >= end)
            break;
        slice = end - now;
        if (thread_hook && thread_hook_due - now < slice)
            slice = thread_hook_due - now;
        if (c && wfd < 0 && slice > PL_CANCEL_POLL)
            slice = PL_CANCEL_POLL;
        if (slice < 0)
            slice = 0;
        ms = isinf(slice) ? -1
             : slice > 2e6 ? 2000000000
                           : (int)ceil(slice * 1000.0);
        for (i = 0; i <= n; i++)
            all[i].revents = 0;
        err = pl__os_poll(all, n + 1, ms, &got);
        now = pl__os_now();
        if (err && deaf)
            *deaf = 1;
        if (err == EINTR) {
            if ((rc = run_hook(EINTR)) != PL_OK)
                break;
            /* A signal: look again at once. EINTR after EINTR with no
               time between them is no longer a signal but a failing poll
               (or a storm): sleep the slice as for other failures, or the
               wait spins and starves the process's other threads. */
            if (now - last_eintr >= 0.001) {
                last_eintr = now;
                continue;
            }
        }
        if (err) {
            /* ENOMEM and the like: no reason to give up the wait, but no
               reason to spin either; sleep the slice (it is no longer
               than the hook interval). */
            pl__os_sleep(slice < PL_CANCEL_POLL ? slice : PL_CANCEL_POLL);
            now = pl__os_now();
            continue;
        }
        if (wfd >= 0 && all[n].revents) {
            pl__os_wake_drain(wfd);
            got--;
        }
        if (got > 0) {
            for (i = 0; i < n; i++)
                fds[i].revents = all[i].revents;
            *ready = got;
            break;
        }
    }
    if (all != stack)
        free(all);
    return rc;
}
