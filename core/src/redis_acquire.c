/*
 * Acquiring a Redis lock, all on the caller's thread: subscribe, count
 * the subscribers, and when we are not alone probe them (a ping on the
 * lock channel, answers on a private channel of the waiter connection),
 * reap the silent ones, and decide: readers share, writers elect the
 * lowest pending id (the probe itself is in redis_ask.c). Between
 * attempts, wait for a release notice or a change in the count. The handle and the overview are in
 * redis_lock_handle.h.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While waiting, the subscriber count is polled with a backoff from 1 ms
   up to this cap (or check_interval if smaller): a crashed holder's
   subscription vanishes at once and is noticed within the cap. */
#define PL_REDIS_POLL_FIRST 0.001
#define PL_REDIS_POLL_CAP 0.016
/* Woken by our blocker's release notice while another waiter comes first
   (a pending writer with a lower id, or for a reader any pending writer:
   it would win anyway), wait this long, or one slot (pl__redis_slot) if
   longer, before attempting: attempting before its attempt is over
   only changes the count under its probe and makes it inconclusive,
   the whole herd retrying in collisions. Pacing only: the attempt after
   it follows the protocol as ever. */
#define PL_REDIS_DEFER 0.004
/* An attempt on a contended channel is about this many round trips
   (subscribe, count, the probe's channel, count, ping, answers, count):
   the slot that pauses between attempts are measured in. */
#define PL_REDIS_SLOT_TRIPS 6

/* Every connection records the process that opened it: a forked child
   knows by this that the connections it sees are its parent's. */
static void note_conn(pl_redis_lock *l)
{
    l->conn_pid = pl__self_pid();
}

void pl__redis_free_answers(pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++)
        free(l->answers[i].id);
    l->nanswers = 0;
    l->nlegacy = 0;
}

/* ------------------------------------------------------------------ */
/* the command connection                                              */
/* ------------------------------------------------------------------ */

static int drain_cmd(pl_redis_lock *l)
{
    while (l->cmd && l->cmd_pending > 0) {
        void *r = NULL;
        if (pl__redis_get_reply(l->cmd, &r) != REDIS_OK) {
            pl__redis_close(&l->cmd);
            break;
        }
        freeReplyObject(r);
        l->cmd_pending--;
    }
    if (!l->cmd)
        l->cmd_pending = 0;
    return PL_OK;
}

static int ensure_cmd(pl_redis_lock *l)
{
    int rc;
    if (l->cmd && !pl__redis_cluster_current(&l->conf, l->cmd)) {
        pl__redis_close(&l->cmd); /* on a node the slot has left */
        l->cmd_pending = 0;
    }
    if (l->cmd)
        return drain_cmd(l);
    if ((rc = pl__redis_connect(&l->conf, NULL, &l->cmd)) != PL_OK)
        return rc;
    note_conn(l);
    return PL_OK;
}

/* A connection idle this long may have been closed by the server's idle
   timeout (Redis's `timeout` counts whole seconds, at least 1). */
#define PL_REDIS_IDLE_TIMEOUT_MIN 1.0

/* The peer closed the connection (an end of file, a reset), as opposed to
   a timeout or a refused command. */
static int closed_by_peer(const pl_redis_conn *c)
{
    return c->err == PL_CONN_EOF ||
           (c->err == PL_CONN_IO &&
            (c->errnum == ECONNRESET || c->errnum == EPIPE));
}

/* A command on cmd; a broken connection is dropped so that the next call
   reconnects. cmd is kept between acquisitions, so it may sit idle long
   enough for the server to close it (its `timeout` setting, a proxy's
   idle limit): found closed by the peer after PL_REDIS_IDLE_TIMEOUT_MIN
   or more of silence, it costs a reconnect and the command is sent again,
   once
   (every command sent here may be repeated: counts, publishes, CLIENT
   LIST/KILL, and INCR of the fence, whose tokens need only grow). One
   closed while in use, or a fresh one, is a failure of the call. */
int pl__redis_cmd_call(pl_redis_lock *l, const char *what, int argc,
                       const char **argv, const size_t *lens,
                       redisReply **out)
{
    int idle, rc = ensure_cmd(l);
    if (rc == PL_OK && !l->cmd)
        rc = ensure_cmd(l); /* drain found it broken */
    if (rc != PL_OK)
        return rc;
    idle = pl__os_now() - l->cmd->used_at >= PL_REDIS_IDLE_TIMEOUT_MIN;
    rc = pl__redis_call(&l->conf, l->cmd, what, argc, argv, lens, out);
    if (rc != PL_OK && l->cmd && l->cmd->err) {
        int again = idle && closed_by_peer(l->cmd);
        pl__redis_close(&l->cmd);
        l->cmd_pending = 0; /* (drained before the call: none) */
        if (again && ensure_cmd(l) == PL_OK) {
            rc = pl__redis_call(&l->conf, l->cmd, what, argc, argv, lens, out);
            if (rc != PL_OK && l->cmd && l->cmd->err)
                pl__redis_close(&l->cmd);
        }
    }
    return rc;
}

/* Smooth the round-trip samples (one in eight), a slow one counting
   less than a fast one: a busy machine's hiccup must not stretch every
   pause for long. */
static void note_rtt(pl_redis_lock *l, double sample)
{
    if (l->rtt <= 0 || sample < l->rtt)
        l->rtt = l->rtt <= 0 ? sample : (l->rtt + sample) / 2;
    else
        l->rtt += (sample - l->rtt) / 8;
}

double pl__redis_slot(const pl_redis_lock *l)
{
    return PL_REDIS_POLL_FIRST + PL_REDIS_SLOT_TRIPS * l->rtt;
}

int pl__redis_numsub(pl_redis_lock *l, long long *count)
{
    const char *argv[3] = {"PUBSUB", pl__redis_cmd_numsub(&l->conf), l->channel};
    size_t lens[3] = {6, strlen(argv[1]), l->channel_len};
    redisReply *r = NULL;
    int fresh = !l->cmd || l->cmd_pending > 0;
    double sent = pl__os_now();
    int rc = pl__redis_cmd_call(l, "PUBSUB NUMSUB", 3, argv, lens, &r);
    if (rc != PL_OK)
        return rc;
    /* A connect or replies still owed make the sample longer than the
       round trip: skip it. */
    if (!fresh)
        note_rtt(l, pl__os_now() - sent);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "unexpected reply to PUBSUB NUMSUB for Redis lock "
                        "'%s'",
                        l->display);
    }
    *count = r->element[1]->integer;
    freeReplyObject(r);
    return PL_OK;
}

/* Answer a ping with our record (mode and elected as one snapshot: the
   caller's thread is the only one that changes them). One reconnect of
   cmd if it broke (a reconnect of the publisher is harmless: it holds
   nothing). PL_OK once the server took the answer. */
static int answer_ping(pl_redis_lock *l, const char *resp, size_t resp_len,
                       int mode, int elected)
{
    char *answer = pl__redis_build_answer(l->id, mode, elected);
    const char *argv[3];
    size_t lens[3];
    int tries, rc = PL_ERR_NO_MEMORY;
    if (!answer)
        return rc; /* out of memory: we look unavailable for one probe */
    argv[0] = pl__redis_cmd_publish(&l->conf);
    argv[1] = resp;
    argv[2] = answer;
    lens[0] = strlen(argv[0]);
    lens[1] = resp_len;
    lens[2] = strlen(answer);
    for (tries = 0; tries < 2; tries++)
        if ((rc = pl__redis_cmd_call(l, "PUBLISH (answer to a ping)", 3, argv,
                                     lens, NULL)) == PL_OK)
            break;
    free(answer);
    return rc;
}

/* A push read on sub: answer it if it is a ping. Returns -1 when it says
   that our subscription ended, -2 when an answer could not be sent. */
int pl__redis_on_sub_push(pl_redis_lock *l, const redisReply *r, int mode,
                          int elected)
{
    const redisReply *ch, *payload;
    if (pl__redis_push(r, "message", &ch, &payload)) {
        char *resp = NULL;
        size_t resp_len = 0;
        int rc = 0;
        if (payload && payload->type == REDIS_REPLY_STRING &&
            pl__redis_parse_ping(payload->str, payload->len, &resp,
                                 &resp_len) == 1 &&
            answer_ping(l, resp, resp_len, mode, elected) != PL_OK)
            rc = -2;
        else if (resp && l->held)
            l->contended = 1;
        free(resp);
        return rc;
    }
    if (pl__redis_push(r, "unsubscribe", &ch, NULL))
        return -1;
    if (pl__redis_push(r, "pong", NULL, NULL))
        l->pongs++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the subscription                                                    */
/* ------------------------------------------------------------------ */

/* SETNAME and SUBSCRIBE on the idle connection; PL_OK when subscribed.
   Anything else (the server dropped the idle connection, a reaper killed
   it) closes it: the caller connects afresh. */
static int resubscribe(pl_redis_lock *l)
{
    const char *argv[3] = {"CLIENT", "SETNAME", l->client_name};
    size_t lens[3] = {6, 7, l->client_name ? strlen(l->client_name) : 0};
    const char *sargv[2] = {pl__redis_cmd_subscribe(&l->conf), l->channel};
    size_t slens[2] = {strlen(sargv[0]), l->channel_len};
    int i, n = l->client_name ? 3 : 2, ok = 1;
    l->sub = l->idle_sub;
    l->idle_sub = NULL;
    if ((l->client_name &&
         pl__redis_send(&l->conf, l->sub, "CLIENT SETNAME", 3, argv, lens) != PL_OK) ||
        pl__redis_send(&l->conf, l->sub, "SUBSCRIBE", 2, sargv, slens) != PL_OK)
        ok = 0;
    /* the release's SETNAME "", ours, then the confirmation */
    for (i = 0; ok && i < n; i++) {
        void *v = NULL;
        redisReply *r;
        if (pl__redis_get_reply(l->sub, &v) != REDIS_OK) {
            ok = 0;
            break;
        }
        r = v;
        ok = i < n - 1 ? r->type == REDIS_REPLY_STATUS
                       : pl__redis_push(r, "subscribe", NULL, NULL);
        freeReplyObject(r);
    }
    if (!ok) {
        pl__redis_close(&l->sub);
        return PL_ERR_CONNECTION;
    }
    return PL_OK;
}

int pl__redis_subscribe(pl_redis_lock *l)
{
    const char *argv[2] = {pl__redis_cmd_subscribe(&l->conf), l->channel};
    size_t lens[2] = {strlen(argv[0]), l->channel_len};
    redisReply *r = NULL;
    int rc, redirects = 0;
    if (l->idle_sub && l->conn_pid == pl__self_pid() &&
        pl__redis_cluster_current(&l->conf, l->idle_sub) && resubscribe(l) == PL_OK)
        goto subscribed;
    pl__redis_close(&l->idle_sub);
again:
    /* Sentinel: the subscription and the commands (the count) must be on
       the master found now, not on one a failover demoted since. */
    if (l->conf.sentinel_service) {
        pl__redis_close(&l->cmd);
        l->cmd_pending = 0;
    }
    rc = pl__redis_connect(&l->conf, l->client_name, &l->sub);
    if (rc != PL_OK)
        return rc;
    note_conn(l);
    /* The first reply is the subscribe confirmation: from here on the
       lock channel counts us. */
    rc = pl__redis_call(&l->conf, l->sub, "SUBSCRIBE", 2, argv, lens, &r);
    if (rc == PL_OK && !pl__redis_push(r, "subscribe", NULL, NULL))
        rc = pl__fail(PL_ERR_CONNECTION, 0,
                      "unexpected reply to SUBSCRIBE for Redis lock '%s'",
                      l->display);
    if (r)
        freeReplyObject(r);
    if (rc != PL_OK) {
        /* Cluster: MOVED named the slot's new node (follow it a few
           times; a slot moving on and on is an attempt lost). */
        int moved = l->conf.cluster && l->sub &&
                    !pl__redis_cluster_current(&l->conf, l->sub);
        pl__redis_close(&l->sub);
        if (moved && ++redirects <= 3)
            goto again;
        return rc;
    }
subscribed:
    /* Cluster: the count and the answers must come from the node that
       holds our subscription. */
    if (l->cmd && !pl__redis_cluster_current(&l->conf, l->cmd)) {
        pl__redis_close(&l->cmd);
        l->cmd_pending = 0;
    }
    l->sub_dead = 0;
    l->mode = l->flags & PL_LOCK_SH ? PL_RMODE_SHARED : PL_RMODE_PENDING;
    return PL_OK;
}

/* UNSUBSCRIBE and close. With `confirm`, wait for Redis to confirm (so a
   release notice sent afterwards can only arrive once we are gone); a
   confirmation that leaves the connection on no channel keeps it, its name
   cleared, for the next acquire. */
void pl__redis_unsubscribe(pl_redis_lock *l, int confirm)
{
    const char *argv[2] = {pl__redis_cmd_unsubscribe(&l->conf), l->channel};
    size_t lens[2] = {strlen(argv[0]), l->channel_len};
    static const char *unname[3] = {"CLIENT", "SETNAME", ""};
    static const size_t unname_lens[3] = {6, 7, 0};
    double deadline;
    int keep = 0;
    if (!l->sub)
        return;
    if (!l->sub->err &&
        pl__redis_send(&l->conf, l->sub, "UNSUBSCRIBE", 2, argv, lens) ==
            PL_OK &&
        confirm) {
        deadline = pl__os_now() + l->conf.command_timeout;
        for (;;) {
            void *r = NULL;
            const redisReply *count = NULL;
            int done;
            /* Blocking read (command timeout); pings that race with the
               unsubscribe are left unanswered: we leave. */
            if (pl__redis_get_reply(l->sub, &r) != REDIS_OK)
                break;
            done = pl__redis_push(r, "unsubscribe", NULL, &count);
            keep = done && count && count->type == REDIS_REPLY_INTEGER &&
                   count->integer == 0;
            freeReplyObject(r);
            if (done || pl__os_now() > deadline)
                break;
        }
    }
    /* (Not with Sentinel: the next acquire asks who the master is.) */
    if (keep && !l->sub->err && l->conn_pid == pl__self_pid() &&
        !l->conf.sentinel_service &&
        pl__redis_send(&l->conf, l->sub, "CLIENT SETNAME", 3, unname,
                       unname_lens) == PL_OK) {
        pl__redis_close(&l->idle_sub);
        l->idle_sub = l->sub;
        l->sub = NULL;
    } else {
        pl__redis_close(&l->sub);
    }
    l->elected = 0;
}

/* ------------------------------------------------------------------ */
/* the waiter connection: probe answers and release notices            */
/* ------------------------------------------------------------------ */

int pl__redis_ensure_w(pl_redis_lock *l)
{
    const char *argv[2] = {pl__redis_cmd_subscribe(&l->conf), l->notice};
    size_t lens[2] = {strlen(argv[0]), l->notice_len};
    int rc;
    if (l->w && !pl__redis_cluster_current(&l->conf, l->w))
        pl__redis_close(&l->w);
    if (l->w)
        return PL_OK;
    if ((rc = pl__redis_connect(&l->conf, NULL, &l->w)) != PL_OK)
        return rc;
    note_conn(l);
    /* The confirmation is read by pump() like any other push. */
    rc = pl__redis_send(&l->conf, l->w, "SUBSCRIBE", 2, argv, lens);
    if (rc != PL_OK)
        pl__redis_close(&l->w);
    return rc;
}

static int same(const redisReply *r, const char *s, size_t n)
{
    return r && r->type == REDIS_REPLY_STRING && r->len == n &&
           memcmp(r->str, s, n) == 0;
}

static int add_answer(pl_redis_lock *l, const redisReply *payload)
{
    if (!payload || payload->type != REDIS_REPLY_STRING)
        return PL_OK;
    /* A notice read before an answer of the same holder (its notices and
       answers both leave on its command connection, so they arrive in
       order): it released and holds again; the notice is stale. (hiredis
       ends every string reply with a NUL.) */
    if (l->notice_seen && l->notice_from[0] &&
        strstr(payload->str, l->notice_from))
        l->notice_seen = 0;
    return pl__redis_holders_add(&l->answers, &l->nanswers, &l->answers_cap,
                                 &l->nlegacy, payload->str, payload->len);
}

static void on_w_push(pl_redis_lock *l, const redisReply *r)
{
    const redisReply *ch, *payload;
    if (pl__redis_push(r, "message", &ch, &payload)) {
        if (same(ch, l->notice, l->notice_len)) {
            /* "released:<id>": a waiter blocked by one holder wakes only
               for that holder's release (else the whole herd of waiters
               probes at once and every probe is inconclusive); a bare
               "released" (older versions of ours) wakes everybody. */
            size_t bl = strlen(l->blocker);
            if (!bl || !payload || payload->type != REDIS_REPLY_STRING ||
                payload->len != 9 + bl ||
                memcmp(payload->str, "released:", 9) != 0 ||
                memcmp(payload->str + 9, l->blocker, bl) == 0) {
                l->notice_seen = 1;
                l->notice_from[0] = '\0';
                if (payload && payload->type == REDIS_REPLY_STRING &&
                    payload->len == 9 + PL_REDIS_ID_LEN &&
                    memcmp(payload->str, "released:", 9) == 0)
                    memcpy(l->notice_from, payload->str + 9,
                           PL_REDIS_ID_LEN + 1);
            }
        }
        else if (l->probe_chan && same(ch, l->probe_chan, l->probe_len))
            (void)add_answer(l, payload); /* no memory: one answer short */
    } else if (pl__redis_push(r, "subscribe", &ch, NULL)) {
        if (l->probe_chan && same(ch, l->probe_chan, l->probe_len))
            l->probe_confirmed = 1;
    }
}

/* Handle every complete push already read on sub and w. */
static int dispatch_buffered(pl_redis_lock *l)
{
    redisReply *r;
    int k;
    while (l->sub && (k = pl__redis_buffered(l->sub, &r)) != 0) {
        if (k < 0 || pl__redis_on_sub_push(l, r, l->mode, l->elected) == -1) {
            if (r)
                freeReplyObject(r);
            pl__redis_close(&l->sub);
            l->sub_dead = 1;
            l->elected = 0;
            break;
        }
        freeReplyObject(r);
    }
    while (l->w && (k = pl__redis_buffered(l->w, &r)) != 0) {
        if (k < 0) {
            char ep[300];
            pl__redis_endpoint(&l->conf, ep, sizeof ep);
            pl__redis_close(&l->w);
            return pl__fail(PL_ERR_CONNECTION, 0,
                            "lost the connection to Redis at %s while "
                            "waiting for Redis lock '%s'",
                            ep, l->display);
        }
        on_w_push(l, r);
        freeReplyObject(r);
    }
    return PL_OK;
}

/* Wait up to `seconds` for traffic on sub (pings to answer) and w
   (answers, notices) and handle it. Returns after one wake-up. */
int pl__redis_pump(pl_redis_lock *l, double seconds)
{
    pl__os_pollfd fds[2];
    int n = 0, isub = -1, iw = -1, ms, rc, ready = 0;
    if ((rc = dispatch_buffered(l)) != PL_OK)
        return rc;
    if (l->sub) {
        fds[n].fd = l->sub->fd;
        fds[n].events = PL__OS_READABLE;
        isub = n++;
    }
    if (l->w) {
        fds[n].fd = l->w->fd;
        fds[n].events = PL__OS_READABLE;
        iw = n++;
    }
    if (seconds < 0)
        seconds = 0;
    ms = seconds > 3600 ? 3600000 : (int)ceil(seconds * 1000.0);
    /* The wait ends early for a cancel or the thread's wait hook. */
    rc = pl__wait_poll_deaf(fds, (size_t)n, (double)ms / 1000.0, &l->cancel,
                            &ready, &l->deaf);
    if (rc == PL_ERR_INTERRUPTED)
        return rc;
    if (rc != PL_OK) {
        /* poll itself failed (ENOMEM): nothing was read. Wait the time
           asked (no spin) and let a probe know that missing answers prove
           nothing. */
        l->deaf = 1;
        pl__os_sleep((double)ms / 1000.0);
        return PL_OK;
    }
    if (n == 0)
        return PL_OK;
    if (ready == 0)
        return PL_OK; /* timeout: the caller re-checks */
    if (isub >= 0 && fds[isub].revents && pl__redis_fill(l->sub) < 0) {
        /* Handle what was read before the end, then mark it dead. */
        (void)dispatch_buffered(l);
        pl__redis_close(&l->sub);
        l->sub_dead = 1;
        l->elected = 0;
    }
    if (iw >= 0 && l->w && fds[iw].revents && pl__redis_fill(l->w) < 0) {
        char ep[300];
        pl__redis_endpoint(&l->conf, ep, sizeof ep);
        pl__redis_close(&l->w);
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "lost the connection to Redis at %s while waiting "
                        "for Redis lock '%s'",
                        ep, l->display);
    }
    return dispatch_buffered(l);
}

/* Our last hold was contended and ended a moment ago: our release
   notice woke its waiters, and the first of them is attempting now. A
   worker looping on the lock that attempted at once as well got there
   first (it needs no notice, and its idle connection resubscribes in one
   round trip) and, alone on the channel, took the lock again and again
   while the woken waiter found it held. So the first attempt after such
   a release waits until two slots (pl__redis_slot, one attempt's time)
   have passed since it: the first woken waiter attempts at once, one
   that defers to it a slot later, and by then they hold or wait, and we
   wait our turn behind them. (One slot had us collide with the one
   that deferred.)
   Contended means: our acquire counted others, or somebody pinged us
   while we held. (Also waiting for the reply of our notice's PUBLISH,
   which counts the waiters it woke, cost an uncontended cycle a round
   trip and made no difference to contended ones.)
   Not when the round trip is under a third of a millisecond: there the
   releaser's head start is microseconds, a woken waiter gets in well
   within PL_REDIS_DEFER, and the pause only cost loops of three writers
   and three readers a sixth of their holds per second.
   Pacing only; never past the deadline (timeout=0 does not wait). */
int pl__redis_hand_over(pl_redis_lock *l, double deadline)
{
    double until = l->released_at + 2 * pl__redis_slot(l), now = pl__os_now();
    int ready, rc;
    l->released_at = 0;
    if (!l->contended || 2 * PL_REDIS_SLOT_TRIPS * l->rtt < PL_REDIS_DEFER)
        return PL_OK;
    if (until > deadline)
        until = deadline;
    if (until <= now)
        return PL_OK;
    rc = pl__wait_poll(NULL, 0, until - now, &l->cancel, &ready);
    return rc == PL_ERR_INTERRUPTED ? rc : PL_OK;
}

/* Between attempts. After an inconclusive probe (subscribers came or
   went while we counted: usually other contenders probing at the same
   moment) retry after a random pause in a window that doubles with each
   collision (binary exponential backoff), so that contenders that
   collided do not collide again in lockstep. The window is counted in
   slots (pl__redis_slot: one attempt's time, which grows with the round
   trip; a window of milliseconds on a server 5 ms away kept three
   writers colliding for seconds) and stops growing at check_interval or
   four slots, whichever is longer; a release notice ends the nap.
   Otherwise sleep on the
   waiter connection (a release notice wakes us at once) polling the
   subscriber count with a short capped backoff (a crashed holder or a
   reference holder leaves no notice): attempt again when the channel
   looks free, when a notice came, or when check_interval has passed
   since the last attempt. An elected writer waiting for readers (it stays
   subscribed) also attempts again as soon as the count falls below the
   `seen` of its last attempt: the readers it waits for leave without a
   notice (waiting readers leave as soon as they see it pending), and
   waiting out check_interval there kept the lock idle. */
int pl__redis_wait_for_change(pl_redis_lock *l, const pl_wait_opts *opts,
                              double deadline, double last_attempt,
                              long long seen)
{
    double backoff = PL_REDIS_POLL_FIRST, now;
    double cap = opts->check_interval < PL_REDIS_POLL_CAP
                     ? opts->check_interval
                     : PL_REDIS_POLL_CAP;
    int rc;
    if (cap < PL_REDIS_POLL_FIRST)
        cap = PL_REDIS_POLL_FIRST;
    if ((rc = pl__redis_ensure_w(l)) != PL_OK)
        return rc;
    if (l->inconclusive > 0 && !l->blocker[0]) {
        int k = l->inconclusive < 6 ? l->inconclusive : 6;
        double slot = pl__redis_slot(l);
        double most = opts->check_interval > 4 * slot ? opts->check_interval
                                                      : 4 * slot;
        double window = slot * (double)(1 << k);
        double nap = (window < most ? window : most) *
                     (double)(pl__os_random() % 1000) / 1000.0;
        double end = pl__os_now() + nap;
        if (end > deadline)
            end = deadline;
        /* The whole nap, or until a release notice: pump() returns at
           the first push (the probe channel's unsubscribe confirmation,
           a late answer), and returning with it made every nap about one
           round trip, the herd retrying in lockstep. */
        l->notice_seen = 0;
        while (!l->sub_dead && !l->notice_seen && (now = pl__os_now()) < end)
            if ((rc = pl__redis_pump(l, end - now)) != PL_OK)
                return rc;
        l->notice_seen = 0;
        return PL_OK;
    }
    for (;;) {
        long long n = 0;
        now = pl__os_now();
        if (now >= deadline)
            return PL_OK;
        if ((rc = pl__redis_pump(l, backoff < deadline - now ? backoff
                                                   : deadline - now)) != PL_OK)
            return rc;
        if (l->notice_seen || l->sub_dead) {
            double until = pl__os_now() + (pl__redis_slot(l) > PL_REDIS_DEFER
                                               ? pl__redis_slot(l)
                                               : PL_REDIS_DEFER);
            l->notice_seen = 0;
            if (!l->defer || l->sub_dead || until > deadline)
                return PL_OK;
            while ((now = pl__os_now()) < until && !l->sub_dead)
                if ((rc = pl__redis_pump(l, until - now)) != PL_OK)
                    return rc;
            return PL_OK;
        }
        if ((rc = pl__redis_numsub(l, &n)) != PL_OK)
            return rc;
        if (n <= (l->sub ? 1 : 0) || (l->sub && l->elected && n < seen))
            return PL_OK;
        if (pl__os_now() - last_attempt >= opts->check_interval)
            return PL_OK;
        backoff = backoff * 2 < cap ? backoff * 2 : cap;
    }
}
