/*
 * Keeping a held Redis lock: one background thread per held lock owns sub
 * and cmd until release. It answers pings with the mode the lock was
 * taken in, checks the subscription with a PING now and then, and on a
 * loss sets the atomic flag that pl_redis_lock_check reads and calls the
 * lost callback once. It never resubscribes (that would be a silent
 * re-acquisition that skipped the election). The handle and the overview
 * are in redis_lock_handle.h.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

/* A held lock checks its subscription with a PING this often (the
   reference's health_check_interval). */
#define PL_REDIS_HEALTH_INTERVAL 10.0

static void mark_lost(pl_redis_lock *l, const char *why)
{
    char ep[300];
    pl__redis_endpoint(&l->conf, ep, sizeof ep);
    snprintf(l->lost_reason, sizeof l->lost_reason,
             "Redis lock '%s' was lost: %s (Redis at %s)", l->display, why, ep);
    atomic_store_explicit(&l->lost, 1, memory_order_release);
    if (l->lost_cb)
        l->lost_cb(l, l->lost_ud);
}

static void *holder_main(void *arg)
{
    pl_redis_lock *l = arg;
    double next_health = pl__os_now() + PL_REDIS_HEALTH_INTERVAL;
    double pong_due = 0; /* a health-check PING is out until then */
    int mode = l->mode;  /* fixed while held */

    for (;;) {
        pl__os_pollfd fds[2];
        redisReply *r;
        double now, until;
        int k, ms, ready, err;

        while ((k = pl__redis_buffered(l->sub, &r)) > 0) {
            int end = pl__redis_on_sub_push(l, r, mode);
            if (pl__redis_push(r, "pong", NULL, NULL))
                pong_due = 0;
            freeReplyObject(r);
            if (end < 0) {
                mark_lost(l, "the subscription was cancelled");
                return NULL;
            }
        }
        if (k < 0) {
            mark_lost(l, l->sub->errstr[0] ? l->sub->errstr
                                           : "the connection broke");
            return NULL;
        }
        now = pl__os_now();
        if (pong_due && now >= pong_due) {
            mark_lost(l, "no answer to a health check");
            return NULL;
        }
        if (!pong_due && now >= next_health) {
            const char *argv[1] = {"PING"};
            if (pl__redis_send(&l->conf, l->sub, "PING", 1, argv, NULL) !=
                PL_OK) {
                mark_lost(l, "the connection broke");
                return NULL;
            }
            pong_due = now + (l->conf.command_timeout > 0.5
                                  ? l->conf.command_timeout
                                  : 0.5);
            next_health = now + PL_REDIS_HEALTH_INTERVAL;
        }
        until = pong_due ? pong_due : next_health;
        ms = (int)ceil((until - now) * 1000.0);
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
            continue;
        }
        if (fds[0].revents)
            return NULL; /* release: the caller takes over sub */
        if (fds[1].revents && pl__redis_fill(l->sub) < 0) {
            mark_lost(l, l->sub->errstr[0] ? l->sub->errstr
                                           : "the connection broke");
            return NULL;
        }
    }
}

int pl__redis_start_holder(pl_redis_lock *l)
{
    int err;
    if (l->stop_pipe[0] < 0 && (err = pl__os_pipe(l->stop_pipe)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "create a pipe for",
                           "the Redis lock thread");
    atomic_store(&l->lost, 0);
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
