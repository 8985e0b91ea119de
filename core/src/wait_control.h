/*
 * What ends a wait early, shared by every waiting call of the core (file
 * locks, semaphores, pl_lock_fd, the Redis lock): the calling thread's
 * wait hook (pl_set_wait_hook) and a handle's cancel (pl__cancel). Private
 * to the core.
 *
 * A wait is a loop of pl__wait_poll calls (each no longer than the time
 * the caller wants to sleep before its next attempt); pl__wait_check comes
 * before a first attempt. Both return PL_OK or PL_ERR_INTERRUPTED (last
 * error set); the caller then gives up with nothing held.
 */
#ifndef PL_WAIT_CONTROL_H
#define PL_WAIT_CONTROL_H

#include "internal.h"
#include "platform.h"

#include <stdatomic.h>
#include <stddef.h>

/* A handle's cancel state: embed one per handle, pl__cancel_init at
   creation, pl__cancel_destroy at free. The wake-up channel exists only
   while a wait sleeps (pl__wait_poll creates it, pl__wait_done closes it),
   so an idle handle costs no descriptor. */
typedef struct pl__cancel {
    atomic_int pending; /* a cancel no wait has consumed yet */
    atomic_int wake_wr; /* -1 when no wait has a channel open */
    atomic_int wake_rd;
    atomic_int signalling; /* cancels between reading wake_wr and writing
                              to it: the channel is not closed under them */
} pl__cancel;

void pl__cancel_init(pl__cancel *c);
void pl__cancel_destroy(pl__cancel *c);
/* Request a cancel: async-signal-safe and thread-safe (an atomic store
   and one write(2) to a non-blocking channel; no lock, no allocation). */
void pl__cancel_request(pl__cancel *c);

/* Consume a pending cancel of c (NULL: none): PL_ERR_INTERRUPTED, else
   PL_OK. Does not run the hook. */
int pl__wait_check(pl__cancel *c);

/* Wait up to `seconds` (INFINITY: no limit) until one of fds (n may be 0;
   an fd of -1 is skipped) is readable, c is cancelled, or the calling
   thread's hook asks to stop. The hook runs whenever poll(2) is
   interrupted by a signal and at least every hook interval. PL_OK with
   *ready the number of fds readable (0: the time ran out), or
   PL_ERR_INTERRUPTED, or PL_ERR_IO if poll itself failed. */
int pl__wait_poll(pl__os_pollfd *fds, size_t n, double seconds, pl__cancel *c,
                  int *ready);

/* A wait of c is over (it slept with pl__wait_poll, or not): close the
   wake-up channel. NULL is fine. */
void pl__wait_done(pl__cancel *c);

/* A handle's "one call at a time" claim: 0 when free, else the PID of
   the process whose thread is inside a call. A claim made by the parent
   before fork() means nothing in the child (that thread does not exist
   there), so the child takes it over instead of being locked out. */
typedef atomic_long pl__claim;
void pl__claim_init(pl__claim *c);
/* PL_OK, or PL_ERR_INVALID_STATE if another thread of this process is
   inside a call of the handle (no last error set: the caller says what). */
int pl__claim_enter(pl__claim *c);
void pl__claim_leave(pl__claim *c);

/* After a blocking OS call returned EINTR: run the hook. PL_OK: resume;
   PL_ERR_INTERRUPTED: stop. */
int pl__wait_interrupted(void);

/* Whether the calling thread has a hook; *interval (may be NULL) its
   interval. */
int pl__wait_have_hook(double *interval);

#endif
