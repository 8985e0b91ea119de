/*
 * The Redis lock handle: a lock held as a live SUBSCRIBE to a Redis
 * channel, speaking portalocker's protocol version 1
 * (shared/spec/redis-lock-protocol.md) so that this library and the
 * Python reference exclude each other. Private to the core.
 *
 * Files that share the handle:
 *  - redis_lock.c: the handle, the settings, check, the acquire loop,
 *    release and fork handling; redis_lock_info.c: the getters and the
 *    state queries;
 *  - redis_acquire.c: the subscription, the command and waiter
 *    connections, the wait between attempts; redis_ask.c: probes and
 *    reaping;
 *  - redis_decide.c: one attempt (election, confirm, fencing, the last
 *    check that starts the validity window);
 *  - redis_holder.c: the background thread that keeps a held lock and
 *    the validity window;
 *  - redis_probe.c: the read-only probe() on connections of its own.
 * The wire records and the connection helpers they all use are in
 * redis_internal.h.
 *
 * Connections of one handle:
 *  - cmd: commands (PUBSUB NUMSUB, PUBLISH of pings and answers, CLIENT
 *    LIST/KILL). Kept across acquisitions.
 *  - sub: the subscription that IS the lock, named "<C>-lock-<id>".
 *    Opened per attempt, UNSUBSCRIBEd and closed on release.
 *  - w: only while waiting: subscribed to this attempt's private response
 *    channel and to "<C>-pl-released", on which our holders publish as
 *    they release (an extension the reference ignores), so our waiters
 *    take over within a round trip instead of a polling interval.
 *
 * Threads: while acquiring, the caller's thread does everything,
 * multiplexing sub and w with poll(2): it answers pings (its own probe's
 * included) itself, so a mode switch and the answers it gives can never
 * be out of order. Once held, a background thread per held lock owns sub
 * and cmd: it answers pings, confirms the subscription with a PING on
 * sub several times per validity window, and records a loss (EOF, error,
 * a failed answer, a lapsed window) in an atomic flag and calls the lost
 * callback once. It never resubscribes: a lost lock stays
 * lost until the caller releases it. Release stops and joins the thread
 * (a pipe wakes it), then unsubscribes and closes on the caller's thread.
 *
 * Fork: a child never talks on the parent's connections (an UNSUBSCRIBE
 * from the child would release the parent's lock). Any call in a child
 * first drops the inherited connections by closing its copies of the
 * descriptors; an inherited held lock is not held in the child.
 */
#ifndef PL_REDIS_LOCK_HANDLE_H
#define PL_REDIS_LOCK_HANDLE_H

#include "platform.h"
#include "redis_internal.h"
#include "wait_control.h"

#include <stdatomic.h>

/* The channel our holders publish on as they release: "<C>-pl-released". */
#define PL_REDIS_NOTICE_SUFFIX "-pl-released"

struct pl_redis_lock {
    char *channel; /* channel_len bytes + NUL */
    size_t channel_len;
    char display[96]; /* printable, shortened channel for messages */
    char *notice;     /* "<C>-pl-released" */
    size_t notice_len;
    char id[PL_REDIS_ID_LEN + 1];
    long id_pid;       /* the process the id was drawn in */
    char *client_name; /* "<C>-lock-<id>", NULL if Redis would refuse it */

    pl_redis_conf conf;
    int flags; /* PL_LOCK_EX or PL_LOCK_SH */
    pl_wait_opts wait;
    double unavailable_timeout;
    pl_lost_callback lost_cb;
    void *lost_ud;
    double self_check_interval; /* 0: off */
    char *fence_key;            /* "<C>-fence" */
    size_t fence_key_len;
    long long fence_token; /* 0: none drawn */
    int fencing;
    /* The reference's `lost`: until next acquire. Atomic, as mode and
       elected below: pl_redis_lock_is_lost, _get_mode and _get_elected
       read them from any thread while the acquiring thread writes them
       (bindings ask for `lost` and `mode` without waiting for acquire). */
    atomic_int lost_sticky;

    long conn_pid; /* the process that opened the connections below */
    pl_redis_conn *cmd;
    int cmd_pending; /* replies of sent commands not read yet */
    pl_redis_conn *sub;
    pl_redis_conn *w;
    /* The last subscription's connection, left by a confirmed release with
       no channel subscribed and its name cleared (one reply pending):
       the next acquire subscribes on it instead of connecting again (a
       TLS handshake costs more than the whole cycle). */
    pl_redis_conn *idle_sub;

    /* acquiring (written by the caller's thread only) */
    atomic_int mode;
    atomic_int elected;
    int hard_locked; /* fail_when_locked met conclusive contention */
    int deaf; /* a poll failed during this probe: silence proves nothing */
    int sub_dead;
    int notice_seen;
    char *probe_chan;
    size_t probe_len;
    int probe_confirmed;
    /* Someone else comes first once the blocker (below) releases: wake a
       moment later (redis_acquire.c, PL_REDIS_DEFER). */
    int defer;
    pl_redis_holder *answers;
    size_t nanswers, answers_cap;
    pl_redis_holder *heard; /* answers to earlier pings of this probe */
    size_t nheard, heard_cap;
    int nlegacy;
    int pongs;        /* PINGs answered on sub */
    int inconclusive; /* inconclusive probes in a row */
    /* Handing over: our acquire counted others on the channel, or
       somebody pinged us while we held (a waiter probing; also our own
       self-check's ping; the holder thread writes it, read once that
       thread is stopped). `released_at`: the time of our last release
       (0: none or handled); an acquire soon after a contended one lets
       the waiters our release notice woke go first (redis_acquire.c). */
    int contended;
    double released_at;
    /* The round trip to the server, smoothed over the subscriber counts
       (redis_acquire.c): the pauses between and inside attempts are
       measured in it, since an attempt costs several round trips and an
       answer to a ping at least one. */
    double rtt;

    /* holding */
    atomic_int held; /* read by check() on any thread */
    long owner_pid;
    pl__os_thread thread;
    int thread_running;
    int stop_pipe[2];
    /* Validity: the boot-clock time (microseconds) at which a PING was
       sent on sub whose answer came back, every ping before it answered.
       The hold is provable until confirmed_us + window. */
    atomic_llong confirmed_us;
    double window; /* seconds, fixed at acquire from unavailable_timeout */
    atomic_int lost;
    atomic_int lost_claim; /* whoever sets it 0->1 writes lost_reason */
    /* One call at a time (PL_REDIS_BUSY_*): another thread's call fails
       with PL_ERR_INVALID_STATE instead of racing on the connections. */
    atomic_int busy;
    /* pl_redis_lock_cancel: ends the acquire or probe in progress, or the
       next one (wait_control.h). */
    pl__cancel cancel;
    /* The holder the last conclusive attempt lost to ("" if none known):
       only its release notice wakes us. */
    char blocker[PL_REDIS_ID_LEN + 1];
    /* Whose release the pending notice_seen announced ("" for a bare
       notice): an answer of that holder read after it makes it stale (it
       holds again), and a waiter that then loses to someone else drops
       it (redis_acquire.c, redis_decide.c). */
    char notice_from[PL_REDIS_ID_LEN + 1];
    char lost_reason[1024]; /* written before `lost` is set */
};

enum {
    PL_REDIS_IDLE = 0,
    PL_REDIS_BUSY_ACQUIRE,
    PL_REDIS_BUSY_RELEASE,
    PL_REDIS_BUSY_PROBE,
    PL_REDIS_BUSY_SETTING,
    PL_REDIS_BUSY_FREE
};

/* Enter a call (PL_REDIS_BUSY_*) or fail with PL_ERR_INVALID_STATE naming
   what another thread is doing with the handle; leave it. */
int pl__redis_enter(pl_redis_lock *l, int what);
void pl__redis_leave(pl_redis_lock *l);

/* ---- validity (redis_holder.c) ---- */

/* The validity window for an unavailable_timeout: T minus a margin of
   min(T/2, 1 s). */
double pl__redis_window(double unavailable_timeout);
/* Record a confirmation made by a PING sent at boot-clock time `sent`. */
void pl__redis_confirmed(pl_redis_lock *l, double sent);
/* 1 while the last confirmation is younger than the window. */
int pl__redis_valid(const pl_redis_lock *l);
/* Record a loss (first caller wins the message); 1 if this call did. */
int pl__redis_claim_lost(pl_redis_lock *l, const char *why);
/* The hold lapsed or was lost (claims the loss on a lapse). */
int pl__redis_lost_now(pl_redis_lock *l);

/* ---- the public functions' argument checks ---- */

/* A NULL handle: PL_ERR_INVALID_ARGUMENT, returned from the caller. */
#define PL_REDIS_CHECK_HANDLE(l)                                             \
    do {                                                                     \
        if (!(l))                                                            \
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,                      \
                            "Redis lock handle must not be NULL");           \
    } while (0)

/* A getter's handle and out-parameter (redis_conn_settings.c). */
int pl__redis_get_check(const pl_redis_lock *l, const void *out);

/* ---- acquiring (redis_acquire.c, the caller's thread) ---- */

/* Commands on cmd (reconnects once broken), the subscriber count, the
   subscription, one wait for traffic on sub and w. */
int pl__redis_cmd_call(pl_redis_lock *l, const char *what, int argc,
                       const char **argv, const size_t *lens,
                       redisReply **out);
int pl__redis_numsub(pl_redis_lock *l, long long *count);
/* About one contended attempt's time on this server (1 ms plus six
   round trips as measured so far). */
double pl__redis_slot(const pl_redis_lock *l);
/* Before the first attempt after a release (released_at): if it was
   contended, wait until two slots have passed since it, within the
   deadline. */
int pl__redis_hand_over(pl_redis_lock *l, double deadline);
/* The subscriber count out of a PUBSUB (SHARD)NUMSUB reply, which it
   frees; a malformed reply is PL_ERR_CONNECTION naming the lock. */
int pl__redis_numsub_count(const pl_redis_lock *l, redisReply *r,
                           long long *count);
int pl__redis_subscribe(pl_redis_lock *l);
int pl__redis_pump(pl_redis_lock *l, double seconds);
/* Open the waiter connection w if it is not open (subscribed to the
   release notices). */
int pl__redis_ensure_w(pl_redis_lock *l);
/* Ask every subscriber who it is: *conclusive when exactly `expected`
   distinct holders answered one ping with a steady count. With may_reap,
   the silent ones are CLIENT KILLed (only then). Answers in l->answers
   (redis_ask.c). */
int pl__redis_probe(pl_redis_lock *l, long long expected, int may_reap,
                    int *conclusive);

/* One attempt. PL_OK: held. PL_ERR_ALREADY_LOCKED: try again later (or
   stop, when l->hard_locked). Anything else: give up. *count is the
   subscriber count seen. */
int pl__redis_attempt(pl_redis_lock *l, int fail_when_locked,
                      long long *count);

/* Between attempts: sleep on the waiter connection (a release notice
   wakes us at once), polling the subscriber count with a short capped
   backoff (a crashed holder leaves no notice), and return when the
   channel looks free, a notice came, check_interval has passed since
   last_attempt, or the deadline is reached; an elected writer also when
   the count falls below `seen`, the count of its last attempt. */
int pl__redis_wait_for_change(pl_redis_lock *l, const pl_wait_opts *opts,
                              double deadline, double last_attempt,
                              long long seen);

/* UNSUBSCRIBE and close sub. With `confirm`, wait for Redis to confirm
   (so a release notice sent afterwards can only arrive once we are
   gone). */
void pl__redis_unsubscribe(pl_redis_lock *l, int confirm);

/* Leave the probe's response channel; late answers are ignored. */
void pl__redis_end_probe(pl_redis_lock *l);

/* Forget the answers of the last probe. */
void pl__redis_free_answers(pl_redis_lock *l);

/* A push read on sub: answered (on cmd, with our record in `mode`) if it
   is a ping. -1 when it says that our subscription ended, else 0. The
   holder thread uses it too. */
int pl__redis_on_sub_push(pl_redis_lock *l, const redisReply *r, int mode,
                          int elected);

/* ---- the opt-in self-check (redis_selfcheck.c, holder thread) ---- */

typedef struct pl_redis_selfcheck {
    char *resp; /* its response channel; NULL: self-check off */
    size_t resp_len;
    double next; /* boot clock: the next ping */
    double due;  /* boot clock: our answer is due (0: no ping out) */
} pl_redis_selfcheck;
/* Listen to the response channel on sub (nothing when the interval is 0). */
int pl__redis_selfcheck_start(pl_redis_lock *l, pl_redis_selfcheck *sc);
void pl__redis_selfcheck_end(pl_redis_selfcheck *sc);
/* Publish the ping when due; PL_ERR_LOCK_LOST when our answer is late or
   the ping could not be sent. */
int pl__redis_selfcheck_tick(pl_redis_lock *l, pl_redis_selfcheck *sc,
                             double now);
/* A push read on sub: our answer on the response channel passes it. */
void pl__redis_selfcheck_push(pl_redis_lock *l, pl_redis_selfcheck *sc,
                              const redisReply *r);
/* When the thread must wake for it next (boot clock; 0: never). */
double pl__redis_selfcheck_wake(const pl_redis_selfcheck *sc);

/* ---- settings (redis_lock.c) ---- */

/* PL_OK when a connection setting (`what`, for the message) may change
   now: the handle is not NULL, not busy and not held. */
int pl__redis_setting_begin(pl_redis_lock *l, const char *what);
/* PL_OK, or PL_ERR_UNSUPPORTED where there are no unix-domain sockets
   (redis_conn_settings.c). */
int pl__redis_unix_socket_supported(void);
/* After it changed: the open connections and the loaded TLS settings are
   dropped, the next connection uses the new value. */
void pl__redis_setting_changed(pl_redis_lock *l);
/* Every connection setting a URL sets, copied into `saved` (its strings
   malloc'ed; PL_ERR_NO_MEMORY: nothing saved), put back as it was (after
   a setter refused part of a URL: the handle is left as before the call,
   but for its open connections, which are dropped), or freed once not
   needed (redis_conn_settings.c). */
int pl__redis_settings_save(const pl_redis_lock *l, pl_redis_conf *saved);
void pl__redis_settings_restore(pl_redis_lock *l, pl_redis_conf *saved);
void pl__redis_settings_discard(pl_redis_conf *saved);

/* ---- cluster mode (redis_cluster.c) ---- */

/* PL_OK when cluster mode may be turned on (on) for this lock's name and
   `list` is a well-formed node list (NULL: none), else
   PL_ERR_INVALID_ARGUMENT naming what is wrong; changes nothing. */
int pl__redis_cluster_check(const pl_redis_lock *l, int on, const char *list);
/* Free the cluster settings of a configuration. */
void pl__redis_cluster_free(pl_redis_conf *cf);

/* ---- holding (redis_holder.c) ---- */

/* Start the thread that keeps the lock just acquired (it takes over sub
   and cmd). */
int pl__redis_start_holder(pl_redis_lock *l);
/* Wake and join it (nothing when none runs); sub and cmd are the
   caller's again. */
void pl__redis_stop_holder(pl_redis_lock *l);

/* While collecting answers (acquire's probe, redis_ask.c, and the
   read-only one, redis_probe.c), the subscriber count is re-checked when
   the answers stall: first 2 ms after the last one, then backing off to
   50 ms. A changed count makes the probe inconclusive at once; someone
   leaving mid-probe is the usual reason for a missing answer, and a fixed
   50 ms re-check made every such probe cost 50 ms. */
#define PL_REDIS_PROBE_RECHECK_FIRST 0.002
#define PL_REDIS_PROBE_RECHECK 0.05

#endif
