/*
 * Keeping a held Redis lock: one background thread per held lock owns sub
 * and cmd until release. It answers pings with the record the lock was
 * taken with, confirms the subscription with a PING several times per
 * validity window (each pong moves the window on), and on a loss or a
 * lapse sets the atomic flag that pl_redis_lock_check reads and calls the
 * lost callback once. It never resubscribes (that would be a silent
 * re-acquisition that skipped the election). The handle and the overview
 * are in redis_lock_handle.h.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdio.h>

/* ---- validity ---- */

double pl__redis_window(double t)
{
    double margin = t / 2 < 1.0 ? t / 2 : 1.0;
    return t - margin;
}

void pl__redis_confirmed(pl_redis_lock *l, double sent)
{
    atomic_store_explicit(&l->confirmed_us, (long long)(sent * 1e6),
                          memory_order_release);
}

static double confirmed_age(const pl_redis_lock *l)
{
    long long at = atomic_load_explicit(
        (atomic_llong *)&l->confirmed_us, memory_order_acquire);
    return pl__os_now_boot() - (double)at / 1e6;
}

int pl__redis_valid(const pl_redis_lock *l)
{
    return confirmed_age(l) <= l->window;
}

int pl__redis_claim_lost(pl_redis_lock *l, const char *why)
{
    int expected = 0;
    char ep[300];
    if (!atomic_compare_exchange_strong(&l->lost_claim, &expected, 1)) {
        /* The winner is writing its message: microseconds. */
        while (!atomic_load_explicit(&l->lost, memory_order_acquire))
            pl__os_sleep(0.0001);
        return 0;
    }
    pl__redis_endpoint(&l->conf, ep, sizeof ep);
    snprintf(l->lost_reason, sizeof l->lost_reason,
             "Redis lock '%s' was lost: %s (Redis at %s)", l->display, why, ep);
    atomic_store_explicit(&l->lost, 1, memory_order_release);
    return 1;
}

int pl__redis_lost_now(pl_redis_lock *l)
{
    char why[400];
    double age;
    if (atomic_load_explicit(&l->lost, memory_order_acquire))
        return 1;
    age = confirmed_age(l);
    if (age <= l->window)
        return 0;
    snprintf(why, sizeof why,
             "its subscription was last confirmed %.3f s ago, longer than "
             "the validity window of %.3f s (a stalled connection, or this "
             "process was stopped); another process may hold it now",
             age, l->window);
    (void)pl__redis_claim_lost(l, why);
    return 1;
}

/* ---- the thread ---- */

/* The thread confirms its subscription this many times per window, so a
   healthy holder is confirmed long before the window ends. */
#define PL_REDIS_CONFIRMS_PER_WINDOW 3.0

/* Record the loss (unless a check() claimed a lapse first) and call the
   lost callback: only this thread calls it, once, then it exits. */
static void *lost(pl_redis_lock *l, const char *why)
{
    (void)pl__redis_claim_lost(l, why);
    if (l->lost_cb)
        l->lost_cb(l, l->lost_ud);
    return NULL;
}

static const char *broke(const pl_redis_lock *l)
{
    return l->sub->errstr[0] ? l->sub->errstr : "the connection broke";
}

/* What the holder thread keeps between turns. */
typedef struct holder_state {
    double period;    /* between confirmation PINGs */
    double next_ping; /* boot clock */
    double ping_sent; /* a PING is out since then (boot clock), or 0 */
    int mode, elected; /* fixed while held: the record we answer with */
    pl_redis_selfcheck sc;
} holder_state;

static char keep_going;
#define CONTINUE ((void *)&keep_going)

/* One turn of the holder thread: CONTINUE, or what the thread returns. */
static void *turn(pl_redis_lock *l, holder_state *st)
{
    pl__os_pollfd fds[2];
    redisReply *r;
    double now, until, wake;
    int k, ms, ready, err, pongs = l->pongs;

    while ((k = pl__redis_buffered(l->sub, &r)) > 0) {
        int end = pl__redis_on_sub_push(l, r, st->mode, st->elected);
        pl__redis_selfcheck_push(l, &st->sc, r);
        freeReplyObject(r);
        if (end == -1)
            return lost(l, "the subscription was cancelled");
        if (end == -2)
            return lost(l, "an answer to a ping could not be sent");
        /* A pong: the subscription was alive after ping_sent, and every
           ping that came before it was answered. */
        if (l->pongs != pongs && st->ping_sent) {
            pl__redis_confirmed(l, st->ping_sent);
            st->ping_sent = 0;
        }
        pongs = l->pongs;
    }
    if (k < 0)
        return lost(l, broke(l));
    if (pl__redis_lost_now(l))
        return lost(l, "");
    now = pl__os_now_boot();
    if (pl__redis_selfcheck_tick(l, &st->sc, now) != PL_OK)
        return lost(l, "the self-check ping was not answered in time");
    if (!st->ping_sent && now >= st->next_ping) {
        const char *argv[1] = {"PING"};
        if (pl__redis_send(&l->conf, l->sub, "PING", 1, argv, NULL) !=
            PL_OK) {
            char why[400];
            snprintf(why, sizeof why,
                     "the connection broke sending a PING: %s", broke(l));
            return lost(l, why);
        }
        st->ping_sent = now;
        st->next_ping = now + st->period;
    }
    /* Wake for the next PING, the self-check, or when the window ends. */
    until = (double)atomic_load(&l->confirmed_us) / 1e6 + l->window + 0.001;
    if (!st->ping_sent && st->next_ping < until)
        until = st->next_ping;
    wake = pl__redis_selfcheck_wake(&st->sc);
    if (wake > 0 && wake < until)
        until = wake + 0.001;
    ms = (int)((until - now) * 1000.0) + 1;
    if (ms < 1)
        ms = 1;
    fds[0].fd = l->stop_pipe[0];
    fds[0].events = PL__OS_READABLE;
    fds[1].fd = l->sub->fd;
    fds[1].events = PL__OS_READABLE;
    if ((err = pl__os_poll(fds, 2, ms, &ready)) != 0) {
        /* ENOMEM (EINTR: at once): try again shortly, not in a spin. */
        if (err != EINTR)
            pl__os_sleep(ms < 10 ? (double)ms / 1000.0 : 0.01);
        return CONTINUE;
    }
    if (fds[0].revents) {
        /* release: the caller takes over sub. A loss it finds (a lapse
           while we were stopped) is still reported here, once. */
        if (pl__redis_lost_now(l) && l->lost_cb)
            l->lost_cb(l, l->lost_ud);
        return NULL;
    }
    if (fds[1].revents && pl__redis_fill(l->sub) < 0)
        return lost(l, broke(l));
    return CONTINUE;
}

static void *holder_main(void *arg)
{
    pl_redis_lock *l = arg;
    holder_state st;
    void *out;
    st.period = l->window / PL_REDIS_CONFIRMS_PER_WINDOW;
    st.next_ping = pl__os_now_boot() + st.period;
    st.ping_sent = 0;
    st.mode = l->mode;
    st.elected = l->elected;
    if (pl__redis_selfcheck_start(l, &st.sc) != PL_OK) {
        pl__redis_selfcheck_end(&st.sc);
        return lost(l, "the self-check could not listen for its answer");
    }
    while ((out = turn(l, &st)) == CONTINUE)
        ;
    pl__redis_selfcheck_end(&st.sc);
    return out;
}

int pl__redis_start_holder(pl_redis_lock *l)
{
    int err;
    if (l->stop_pipe[0] < 0 && (err = pl__os_pipe(l->stop_pipe)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "create a pipe for",
                           "the Redis lock thread");
    atomic_store(&l->lost, 0);
    atomic_store(&l->lost_claim, 0);
    l->lost_reason[0] = '\0';
    err = pl__os_thread_create(&l->thread, holder_main, l);
    if (err) {
        char buf[128];
        return pl__fail(PL_ERR_IO, err,
                        "cannot start the thread that keeps Redis lock '%s': "
                        "%s",
                        l->display, pl__os_strerror(err, buf, sizeof buf));
    }
    l->thread_running = 1;
    return PL_OK;
}

void pl__redis_stop_holder(pl_redis_lock *l)
{
    char b = 1, drain[16];
    size_t got;
    if (!l->thread_running)
        return;
    (void)pl__os_write_all(l->stop_pipe[1], &b, 1);
    pl__os_thread_join(l->thread);
    l->thread_running = 0;
    (void)pl__os_read(l->stop_pipe[0], drain, sizeof drain, &got);
}
