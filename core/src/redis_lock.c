/*
 * RedisLock: a lock held as a live SUBSCRIBE to a Redis channel, speaking
 * portalocker's protocol version 1 (shared/spec/redis-lock-protocol.md)
 * so that this library and the Python reference exclude each other.
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
 * and cmd: it answers pings, sends a health-check PING on sub now and
 * then, and records a loss (EOF, error, no pong) in an atomic flag and
 * calls the lost callback once. It never resubscribes: a lost lock stays
 * lost until the caller releases it. Release stops and joins the thread
 * (a pipe wakes it), then unsubscribes and closes on the caller's thread.
 *
 * Fork: a child never talks on the parent's connections (an UNSUBSCRIBE
 * from the child would release the parent's lock). Any call in a child
 * first drops the inherited connections by closing its copies of the
 * descriptors; an inherited held lock is not held in the child.
 */
#include "redis_internal.h"
#include "platform.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_REDIS_DEFAULT_CONNECT_TIMEOUT 1.0
#define PL_REDIS_DEFAULT_COMMAND_TIMEOUT 2.0
#define PL_REDIS_DEFAULT_UNAVAILABLE 1.0
/* A held lock checks its subscription with a PING this often (the
   reference's health_check_interval). */
#define PL_REDIS_HEALTH_INTERVAL 10.0
/* While waiting, the subscriber count is polled with a backoff from 1 ms
   up to this cap (or check_interval if smaller): a crashed holder's
   subscription vanishes at once and is noticed within the cap. */
#define PL_REDIS_POLL_FIRST 0.001
#define PL_REDIS_POLL_CAP 0.016
/* While collecting answers, the subscriber count is re-checked this often
   (a changed count makes the probe inconclusive at once). */
#define PL_REDIS_PROBE_RECHECK 0.05
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

    long conn_pid; /* the process that opened the connections below */
    redisContext *cmd;
    int cmd_pending; /* replies of sent commands not read yet */
    redisContext *sub;
    redisContext *w;

    /* acquiring (caller's thread only) */
    int mode;
    int elected;
    int hard_locked; /* fail_when_locked met conclusive contention */
    int deaf; /* a poll failed during this probe: silence proves nothing */
    int sub_dead;
    int notice_seen;
    char *probe_chan;
    size_t probe_len;
    int probe_confirmed;
    pl_redis_holder *answers;
    size_t nanswers, answers_cap;
    int nlegacy;

    /* holding */
    int held;
    long owner_pid;
    pl__os_thread thread;
    int thread_running;
    int stop_pipe[2];
    atomic_int lost;
    char lost_reason[1024]; /* written before `lost` is set */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

#define CHECK_HANDLE(l)                                                      \
    do {                                                                     \
        if (!(l))                                                            \
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,                      \
                            "Redis lock handle must not be NULL");           \
    } while (0)

#define CHECK_NOT_HELD(l, what)                                              \
    do {                                                                     \
        if ((l)->held && (l)->owner_pid == pl__self_pid())                   \
            return pl__fail(PL_ERR_INVALID_STATE, 0,                         \
                            "cannot change the %s of Redis lock '%s' while " \
                            "it is held",                                    \
                            what, (l)->display);                             \
    } while (0)

static void make_display(pl_redis_lock *l)
{
    size_t i, o = 0, max = sizeof l->display - 8;
    for (i = 0; i < l->channel_len && o < max; i++) {
        unsigned char c = (unsigned char)l->channel[i];
        if (c >= ' ' && c <= '~' && c != '\\')
            l->display[o++] = (char)c;
        else
            o += (size_t)snprintf(l->display + o, sizeof l->display - o,
                                  "\\x%02x", c);
    }
    if (i < l->channel_len)
        memcpy(l->display + o, "...", 4);
    else
        l->display[o] = '\0';
}

/* Draw a holder id (again in a forked child, which must not share its
   parent's) and name the subscription connection after it. */
static int new_identity(pl_redis_lock *l)
{
    char suffix[8 + PL_REDIS_ID_LEN];
    char *name = NULL;
    pl__redis_new_id(l->id);
    l->id_pid = pl__self_pid();
    if (pl__redis_nameable(l->channel, l->channel_len)) {
        int n = snprintf(suffix, sizeof suffix, "-lock-%s", l->id);
        name = pl__concat(l->channel, l->channel_len, suffix, (size_t)n);
        if (!name)
            return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    free(l->client_name);
    l->client_name = name;
    return PL_OK;
}

static void free_answers(pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++)
        free(l->answers[i].id);
    l->nanswers = 0;
    l->nlegacy = 0;
}

static void close_ctx(redisContext **c)
{
    if (*c)
        redisFree(*c);
    *c = NULL;
}

/* In a forked child: forget the parent's connections without a byte of
   traffic. Closing our copies of the descriptors leaves the parent's
   sockets open. A context a holder thread was using at fork time may be
   mid-update in our copy of memory, so it is abandoned, not freed. */
static void drop_inherited(pl_redis_lock *l)
{
    int abandon = l->thread_running;
    redisContext **cs[3];
    int i;
    cs[0] = &l->cmd;
    cs[1] = &l->sub;
    cs[2] = &l->w;
    for (i = 0; i < 3; i++) {
        if (!*cs[i])
            continue;
        if (abandon) {
            if ((*cs[i])->fd >= 0)
                (void)pl__os_close((*cs[i])->fd);
            *cs[i] = NULL;
        } else {
            close_ctx(cs[i]);
        }
    }
    l->cmd_pending = 0;
    l->thread_running = 0; /* the thread does not exist in this process */
    l->held = 0;
    l->conn_pid = 0;
}

static void fork_check(pl_redis_lock *l)
{
    if (l->conn_pid && l->conn_pid != pl__self_pid())
        drop_inherited(l);
}

static void note_conn(pl_redis_lock *l)
{
    l->conn_pid = pl__self_pid();
}

/* ------------------------------------------------------------------ */
/* the command connection                                              */
/* ------------------------------------------------------------------ */

static int drain_cmd(pl_redis_lock *l)
{
    while (l->cmd && l->cmd_pending > 0) {
        void *r = NULL;
        if (redisGetReply(l->cmd, &r) != REDIS_OK) {
            close_ctx(&l->cmd);
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
    if (l->cmd)
        return drain_cmd(l);
    if ((rc = pl__redis_connect(&l->conf, NULL, &l->cmd)) != PL_OK)
        return rc;
    note_conn(l);
    return PL_OK;
}

/* A command on cmd; a broken connection is dropped so that the next call
   reconnects. */
static int cmd_call(pl_redis_lock *l, const char *what, int argc,
                    const char **argv, const size_t *lens, redisReply **out)
{
    int rc = ensure_cmd(l);
    if (rc == PL_OK && !l->cmd)
        rc = ensure_cmd(l); /* drain found it broken */
    if (rc != PL_OK)
        return rc;
    rc = pl__redis_call(&l->conf, l->cmd, what, argc, argv, lens, out);
    if (rc != PL_OK && l->cmd && l->cmd->err)
        close_ctx(&l->cmd);
    return rc;
}

static int numsub(pl_redis_lock *l, long long *count)
{
    const char *argv[3] = {"PUBSUB", "NUMSUB", l->channel};
    size_t lens[3] = {6, 6, l->channel_len};
    redisReply *r = NULL;
    int rc = cmd_call(l, "PUBSUB NUMSUB", 3, argv, lens, &r);
    if (rc != PL_OK)
        return rc;
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

/* Answer a ping with our current record; one reconnect of cmd if it
   broke (a reconnect of the publisher is harmless: it holds nothing). */
static void answer_ping(pl_redis_lock *l, const char *resp, size_t resp_len,
                        int mode)
{
    char *answer = pl__redis_build_answer(l->id, mode);
    const char *argv[3];
    size_t lens[3];
    int tries;
    if (!answer)
        return; /* out of memory: we look unavailable for one probe */
    argv[0] = "PUBLISH";
    argv[1] = resp;
    argv[2] = answer;
    lens[0] = 7;
    lens[1] = resp_len;
    lens[2] = strlen(answer);
    for (tries = 0; tries < 2; tries++)
        if (cmd_call(l, "PUBLISH (answer to a ping)", 3, argv, lens, NULL) ==
            PL_OK)
            break;
    free(answer);
}

/* A push read on sub: answer it if it is a ping. Returns -1 when it says
   that our subscription ended. */
static int on_sub_push(pl_redis_lock *l, const redisReply *r, int mode)
{
    const redisReply *ch, *payload;
    if (pl__redis_push(r, "message", &ch, &payload)) {
        char *resp = NULL;
        size_t resp_len = 0;
        if (payload && payload->type == REDIS_REPLY_STRING &&
            pl__redis_parse_ping(payload->str, payload->len, &resp,
                                 &resp_len) == 1)
            answer_ping(l, resp, resp_len, mode);
        free(resp);
        return 0;
    }
    if (pl__redis_push(r, "unsubscribe", &ch, NULL))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the subscription                                                    */
/* ------------------------------------------------------------------ */

static int subscribe(pl_redis_lock *l)
{
    const char *argv[2] = {"SUBSCRIBE", l->channel};
    size_t lens[2] = {9, l->channel_len};
    redisReply *r = NULL;
    int rc = pl__redis_connect(&l->conf, l->client_name, &l->sub);
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
        close_ctx(&l->sub);
        return rc;
    }
    l->sub_dead = 0;
    l->mode = l->flags & PL_LOCK_SH ? PL_RMODE_SHARED : PL_RMODE_PENDING;
    return PL_OK;
}

/* UNSUBSCRIBE and close. With `confirm`, wait for Redis to confirm (so a
   release notice sent afterwards can only arrive once we are gone). */
static void unsubscribe(pl_redis_lock *l, int confirm)
{
    const char *argv[2] = {"UNSUBSCRIBE", l->channel};
    size_t lens[2] = {11, l->channel_len};
    double deadline;
    if (!l->sub)
        return;
    if (!l->sub->err &&
        pl__redis_send(&l->conf, l->sub, "UNSUBSCRIBE", 2, argv, lens) ==
            PL_OK &&
        confirm) {
        deadline = pl__os_now() + l->conf.command_timeout;
        for (;;) {
            void *r = NULL;
            int done;
            /* Blocking read (command timeout on the socket); pings that
               race with the unsubscribe are left unanswered: we leave. */
            if (redisGetReply(l->sub, &r) != REDIS_OK)
                break;
            done = pl__redis_push(r, "unsubscribe", NULL, NULL);
            freeReplyObject(r);
            if (done || pl__os_now() > deadline)
                break;
        }
    }
    close_ctx(&l->sub);
    l->elected = 0;
}

/* ------------------------------------------------------------------ */
/* the waiter connection: probe answers and release notices            */
/* ------------------------------------------------------------------ */

static int ensure_w(pl_redis_lock *l)
{
    const char *argv[2] = {"SUBSCRIBE", l->notice};
    size_t lens[2] = {9, l->notice_len};
    int rc;
    if (l->w)
        return PL_OK;
    if ((rc = pl__redis_connect(&l->conf, NULL, &l->w)) != PL_OK)
        return rc;
    note_conn(l);
    /* The confirmation is read by pump() like any other push. */
    rc = pl__redis_send(&l->conf, l->w, "SUBSCRIBE", 2, argv, lens);
    if (rc != PL_OK)
        close_ctx(&l->w);
    return rc;
}

static int same(const redisReply *r, const char *s, size_t n)
{
    return r && r->type == REDIS_REPLY_STRING && r->len == n &&
           memcmp(r->str, s, n) == 0;
}

static int add_answer(pl_redis_lock *l, const redisReply *payload)
{
    pl_redis_holder h;
    size_t i;
    int rc;
    if (!payload || payload->type != REDIS_REPLY_STRING)
        return PL_OK;
    rc = pl__redis_parse_answer(payload->str, payload->len, l->nlegacy, &h);
    if (rc != PL_OK)
        return rc;
    for (i = 0; i < l->nanswers; i++)
        if (strcmp(l->answers[i].id, h.id) == 0) {
            free(h.id); /* answered twice: counted once */
            return PL_OK;
        }
    if (l->nanswers == l->answers_cap) {
        size_t cap = l->answers_cap ? l->answers_cap * 2 : 8;
        pl_redis_holder *grown = realloc(l->answers, cap * sizeof *grown);
        if (!grown) {
            free(h.id);
            return PL_ERR_NO_MEMORY;
        }
        l->answers = grown;
        l->answers_cap = cap;
    }
    l->nlegacy += h.legacy;
    l->answers[l->nanswers++] = h;
    return PL_OK;
}

static void on_w_push(pl_redis_lock *l, const redisReply *r)
{
    const redisReply *ch, *payload;
    if (pl__redis_push(r, "message", &ch, &payload)) {
        if (same(ch, l->notice, l->notice_len))
            l->notice_seen = 1;
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
        if (k < 0 || on_sub_push(l, r, l->mode) < 0) {
            if (r)
                freeReplyObject(r);
            close_ctx(&l->sub);
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
            close_ctx(&l->w);
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
static int pump(pl_redis_lock *l, double seconds)
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
    if (n == 0) {
        pl__os_sleep((double)ms / 1000.0);
        return PL_OK;
    }
    if (pl__os_poll(fds, (size_t)n, ms, &ready) != 0) {
        /* EINTR, ENOMEM: nothing was read. Wait the time asked (no spin)
           and let a probe know that missing answers prove nothing. */
        l->deaf = 1;
        pl__os_sleep((double)ms / 1000.0);
        return PL_OK;
    }
    if (ready == 0)
        return PL_OK; /* timeout: the caller re-checks */
    if (isub >= 0 && fds[isub].revents && pl__redis_fill(l->sub) < 0) {
        /* Handle what was read before the end, then mark it dead. */
        (void)dispatch_buffered(l);
        close_ctx(&l->sub);
        l->sub_dead = 1;
        l->elected = 0;
    }
    if (iw >= 0 && l->w && fds[iw].revents && pl__redis_fill(l->w) < 0) {
        char ep[300];
        pl__redis_endpoint(&l->conf, ep, sizeof ep);
        close_ctx(&l->w);
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "lost the connection to Redis at %s while waiting "
                        "for Redis lock '%s'",
                        ep, l->display);
    }
    return dispatch_buffered(l);
}

/* ------------------------------------------------------------------ */
/* probing                                                             */
/* ------------------------------------------------------------------ */

/* CLIENT KILL the subscribers counted by NUMSUB that did not answer. */
static void reap(pl_redis_lock *l)
{
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    long long *ids = NULL;
    size_t n = 0, i;
    argv[0] = "CLIENT";
    argv[1] = "LIST";
    if (cmd_call(l, "CLIENT LIST", 2, argv, NULL, &r) != PL_OK)
        return;
    if (r->type == REDIS_REPLY_STRING)
        (void)pl__redis_reap_targets(r->str, r->len, l->channel,
                                     l->channel_len, l->answers, l->nanswers,
                                     &ids, &n);
    freeReplyObject(r);
    for (i = 0; i < n; i++) {
        char idbuf[24];
        snprintf(idbuf, sizeof idbuf, "%lld", ids[i]);
        argv[0] = "CLIENT";
        argv[1] = "KILL";
        argv[2] = "ID";
        argv[3] = idbuf;
        lens[0] = 6;
        lens[1] = 4;
        lens[2] = 2;
        lens[3] = strlen(idbuf);
        /* "No such client" when it died meanwhile: fine. */
        (void)cmd_call(l, "CLIENT KILL", 4, argv, lens, NULL);
    }
    free(ids);
}

static int new_probe_channel(pl_redis_lock *l)
{
    char hex[PL_REDIS_ID_LEN + 1];
    char tail[PL_REDIS_ID_LEN + 2];
    pl__redis_new_id(hex);
    free(l->probe_chan);
    /* "<C>-<32 hex>" as the reference; a channel that cannot travel in a
       JSON string gets a private name of its own. */
    if (pl__redis_json_safe(l->channel, l->channel_len)) {
        snprintf(tail, sizeof tail, "-%s", hex);
        l->probe_chan = pl__concat(l->channel, l->channel_len, tail,
                                   PL_REDIS_ID_LEN + 1);
    } else {
        l->probe_chan =
            pl__concat("portalocker-probe-", 18, hex, PL_REDIS_ID_LEN);
    }
    if (!l->probe_chan)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    l->probe_len = strlen(l->probe_chan);
    l->probe_confirmed = 0;
    l->deaf = 0;
    free_answers(l);
    return PL_OK;
}

static void end_probe(pl_redis_lock *l)
{
    if (l->probe_chan && l->w) {
        const char *argv[2] = {"UNSUBSCRIBE", l->probe_chan};
        size_t lens[2] = {11, l->probe_len};
        if (pl__redis_send(&l->conf, l->w, "UNSUBSCRIBE", 2, argv, lens) !=
            PL_OK)
            close_ctx(&l->w);
    }
    free(l->probe_chan);
    l->probe_chan = NULL; /* late answers are ignored from now on */
}

static int publish_ping(pl_redis_lock *l)
{
    char *ping = pl__redis_build_ping(l->probe_chan);
    const char *argv[3];
    size_t lens[3];
    int rc;
    if (!ping)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    argv[0] = "PUBLISH";
    argv[1] = l->channel;
    argv[2] = ping;
    lens[0] = 7;
    lens[1] = l->channel_len;
    lens[2] = strlen(ping);
    rc = cmd_call(l, "PUBLISH (ping)", 3, argv, lens, NULL);
    free(ping);
    return rc;
}

/* Ask every subscriber who it is (protocol step 3). *conclusive is set
   when exactly `expected` holders answered and the count held still. */
static int probe(pl_redis_lock *l, long long expected, int *conclusive)
{
    const char *argv[2];
    size_t lens[2];
    double deadline, recheck;
    long long now_count = 0;
    int rc;

    *conclusive = 0;
    if ((rc = ensure_w(l)) != PL_OK || (rc = new_probe_channel(l)) != PL_OK)
        return rc;
    argv[0] = "SUBSCRIBE";
    argv[1] = l->probe_chan;
    lens[0] = 9;
    lens[1] = l->probe_len;
    if ((rc = pl__redis_send(&l->conf, l->w, "SUBSCRIBE", 2, argv, lens)) !=
        PL_OK) {
        close_ctx(&l->w);
        goto out;
    }
    deadline = pl__os_now() + l->unavailable_timeout;
    /* Listen before asking, or fast answers are lost. */
    while (!l->probe_confirmed && pl__os_now() < deadline && !l->sub_dead)
        if ((rc = pump(l, deadline - pl__os_now())) != PL_OK)
            goto out;
    if (l->sub_dead)
        goto out;
    if ((rc = numsub(l, &now_count)) != PL_OK || now_count != expected)
        goto out;
    if ((rc = publish_ping(l)) != PL_OK)
        goto out;
    recheck = pl__os_now() + PL_REDIS_PROBE_RECHECK;
    while ((long long)l->nanswers < expected) {
        double now = pl__os_now(), until = deadline < recheck ? deadline : recheck;
        if (now >= deadline)
            break;
        if ((rc = pump(l, until - now)) != PL_OK)
            goto out;
        if (l->sub_dead)
            goto out;
        if ((long long)l->nanswers < expected && pl__os_now() >= recheck) {
            /* Someone left or joined: stop waiting for answers that may
               never come (no reaping: that is churn, not a crash). */
            if ((rc = numsub(l, &now_count)) != PL_OK || now_count != expected)
                goto out;
            recheck = pl__os_now() + PL_REDIS_PROBE_RECHECK;
        }
    }
    if ((rc = numsub(l, &now_count)) != PL_OK || now_count != expected)
        goto out;
    if ((long long)l->nanswers < expected) {
        /* Silent subscribers are dead ones, unless we could not listen:
           our own poll failure must never get a live holder killed. */
        if (!l->deaf)
            reap(l);
        goto out;
    }
    *conclusive = 1;
out:
    end_probe(l);
    return rc;
}

/* ------------------------------------------------------------------ */
/* deciding (protocol step 4)                                          */
/* ------------------------------------------------------------------ */

static int any_mode(const pl_redis_lock *l, int mode)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++)
        if (l->answers[i].mode == mode)
            return 1;
    return 0;
}

/* Writers: elected when nobody is exclusive and our id sorts first among
   the pending ids (every contender computes the same winner). */
static int writer_elected(const pl_redis_lock *l)
{
    const char *first = NULL;
    size_t i;
    if (any_mode(l, PL_RMODE_EXCLUSIVE))
        return 0;
    for (i = 0; i < l->nanswers; i++)
        if (l->answers[i].mode == PL_RMODE_PENDING &&
            (!first || strcmp(l->answers[i].id, first) < 0))
            first = l->answers[i].id;
    return first && strcmp(first, l->id) == 0;
}

/* One attempt. PL_OK: held. PL_ERR_ALREADY_LOCKED: try again later (or
   stop, when l->hard_locked). Anything else: give up. *count is the
   subscriber count seen. */
static int attempt(pl_redis_lock *l, int fail_when_locked, long long *count)
{
    int rc, conclusive;
    long long n = 0;

    if (!l->sub && (rc = subscribe(l)) != PL_OK)
        return rc;
    if ((rc = numsub(l, &n)) != PL_OK)
        return rc;
    *count = n;
    if (n <= 1) {
        /* Alone on the channel: ours. The switch happens on this thread,
           which answers every ping, so no answer can show the old mode
           to anybody who subscribed after this count. */
        if (l->mode == PL_RMODE_PENDING)
            l->mode = PL_RMODE_EXCLUSIVE;
        return PL_OK;
    }
    if ((rc = probe(l, n, &conclusive)) != PL_OK)
        return rc;
    if (l->sub_dead) /* our own subscription went away (reaped?): retry */
        return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                        "the subscription of Redis lock '%s' ended while "
                        "acquiring; retrying",
                        l->display);
    if (conclusive) {
        if (l->flags & PL_LOCK_SH) {
            size_t i;
            int all_shared = 1;
            for (i = 0; i < l->nanswers; i++)
                all_shared &= l->answers[i].mode == PL_RMODE_SHARED;
            if (all_shared)
                return PL_OK;
        } else if (writer_elected(l)) {
            if (!any_mode(l, PL_RMODE_SHARED)) {
                l->mode = PL_RMODE_EXCLUSIVE;
                return PL_OK;
            }
            if (!fail_when_locked) {
                /* Stay subscribed as pending: keeps new readers out while
                   the current ones drain. */
                l->elected = 1;
                return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                                "Redis lock '%s' has readers; waiting as the "
                                "elected writer",
                                l->display);
            }
        }
        unsubscribe(l, 0);
        if (fail_when_locked)
            l->hard_locked = 1;
        return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                        "Redis lock '%s' is held by another holder",
                        l->display);
    }
    if (!l->elected)
        unsubscribe(l, 0); /* a waiter must not inflate the count */
    return pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                    "Redis lock '%s': probe inconclusive; retrying",
                    l->display);
}

/* Between attempts: sleep on the waiter connection (a release notice
   wakes us at once), polling the subscriber count with a short capped
   backoff (a crashed holder leaves no notice), and attempt again when the
   channel looks free, a notice came, or check_interval has passed. */
static int wait_for_change(pl_redis_lock *l, const pl_wait_opts *opts,
                           double deadline, double last_attempt)
{
    double backoff = PL_REDIS_POLL_FIRST;
    double cap = opts->check_interval < PL_REDIS_POLL_CAP
                     ? opts->check_interval
                     : PL_REDIS_POLL_CAP;
    int rc;
    if (cap < PL_REDIS_POLL_FIRST)
        cap = PL_REDIS_POLL_FIRST;
    if ((rc = ensure_w(l)) != PL_OK)
        return rc;
    for (;;) {
        double now = pl__os_now();
        long long n = 0;
        if (now >= deadline)
            return PL_OK;
        if ((rc = pump(l, backoff < deadline - now ? backoff
                                                   : deadline - now)) != PL_OK)
            return rc;
        if (l->notice_seen || l->sub_dead) {
            l->notice_seen = 0;
            return PL_OK;
        }
        if ((rc = numsub(l, &n)) != PL_OK)
            return rc;
        if (n <= (l->sub ? 1 : 0))
            return PL_OK;
        if (pl__os_now() - last_attempt >= opts->check_interval)
            return PL_OK;
        backoff = backoff * 2 < cap ? backoff * 2 : cap;
    }
}

/* ------------------------------------------------------------------ */
/* holding: the background thread                                      */
/* ------------------------------------------------------------------ */

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
            int end = on_sub_push(l, r, mode);
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

static int start_holder(pl_redis_lock *l)
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

static void stop_holder(pl_redis_lock *l)
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

/* ------------------------------------------------------------------ */
/* public API                                                          */
/* ------------------------------------------------------------------ */

PL_EXPORT pl_status pl_redis_lock_new(pl_redis_lock **out, const char *channel,
                                      size_t channel_len)
{
    pl_redis_lock *l;
    int rc;
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    *out = NULL;
    if (!channel)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock channel must not be NULL");
    if (channel_len == 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock channel must not be empty");
    if (!(l = calloc(1, sizeof *l)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    l->stop_pipe[0] = l->stop_pipe[1] = -1;
    l->channel_len = channel_len;
    l->channel = pl__concat(channel, channel_len, "", 0);
    l->notice = l->channel ? pl__concat(channel, channel_len,
                                        PL_REDIS_NOTICE_SUFFIX,
                                        sizeof PL_REDIS_NOTICE_SUFFIX - 1)
                           : NULL;
    l->conf.host = pl__strdup("127.0.0.1");
    if (!l->channel || !l->notice || !l->conf.host) {
        pl_redis_lock_free(l);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    l->notice_len = channel_len + sizeof PL_REDIS_NOTICE_SUFFIX - 1;
    make_display(l);
    l->conf.port = 6379;
    l->conf.connect_timeout = PL_REDIS_DEFAULT_CONNECT_TIMEOUT;
    l->conf.command_timeout = PL_REDIS_DEFAULT_COMMAND_TIMEOUT;
    l->flags = PL_LOCK_EX;
    l->wait.timeout = PL_DEFAULT_TIMEOUT;
    l->wait.check_interval = PL_DEFAULT_CHECK_INTERVAL;
    l->unavailable_timeout = PL_REDIS_DEFAULT_UNAVAILABLE;
    atomic_init(&l->lost, 0);
    if ((rc = new_identity(l)) != PL_OK) {
        pl_redis_lock_free(l);
        return rc;
    }
    *out = l;
    return pl__ok();
}

/* Give up everything an acquisition or a hold left behind (same process). */
static void teardown(pl_redis_lock *l, int confirm)
{
    stop_holder(l);
    unsubscribe(l, confirm);
    end_probe(l);
    close_ctx(&l->w);
    free_answers(l);
    l->held = 0;
    l->elected = 0;
    l->notice_seen = 0;
}

PL_EXPORT void pl_redis_lock_free(pl_redis_lock *l)
{
    if (!l)
        return;
    fork_check(l);
    teardown(l, 0);
    close_ctx(&l->cmd);
    if (l->stop_pipe[0] >= 0) {
        (void)pl__os_close(l->stop_pipe[0]);
        (void)pl__os_close(l->stop_pipe[1]);
    }
    free(l->answers);
    free(l->probe_chan);
    free(l->channel);
    free(l->notice);
    free(l->client_name);
    free(l->conf.host);
    free(l->conf.unix_path);
    free(l->conf.username);
    free(l->conf.password);
    free(l);
}

/* Connection settings apply to the next connections: the open ones are
   closed (not while held: the holder thread uses them). */
static void settings_changed(pl_redis_lock *l)
{
    fork_check(l);
    close_ctx(&l->cmd);
    l->cmd_pending = 0;
    close_ctx(&l->w);
}

static int replace(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = pl__strdup(value)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_set_host(pl_redis_lock *l, const char *host,
                                     int port)
{
    int rc;
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "host");
    if (!host || !*host)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis host must not be NULL or empty");
    if (port < 1 || port > 65535)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis port %d is out of range (1-65535)", port);
    if ((rc = replace(&l->conf.host, host)) != PL_OK)
        return rc;
    free(l->conf.unix_path);
    l->conf.unix_path = NULL;
    l->conf.port = port;
    settings_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_unix_socket(pl_redis_lock *l, const char *path)
{
    int rc;
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "unix socket");
    if (!path || !*path)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis unix socket path must not be NULL or empty");
    if (strlen(path) >= 108)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis unix socket path '%s' is too long (max 107 "
                        "bytes)",
                        path);
    if ((rc = replace(&l->conf.unix_path, path)) != PL_OK)
        return rc;
    settings_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_db(pl_redis_lock *l, int db)
{
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "database");
    if (db < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis database must not be negative (got %d)", db);
    l->conf.db = db;
    settings_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_password(pl_redis_lock *l,
                                         const char *username,
                                         const char *password)
{
    char *u = NULL, *p = NULL;
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "password");
    if (username && !password)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "a Redis username needs a password");
    if ((username && !(u = pl__strdup(username))) ||
        (password && !(p = pl__strdup(password)))) {
        free(u);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    free(l->conf.username);
    free(l->conf.password);
    l->conf.username = u;
    l->conf.password = p;
    settings_changed(l);
    return pl__ok();
}

static int set_conn_seconds(pl_redis_lock *l, double *field, const char *what,
                            double seconds)
{
    int rc;
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, what);
    if ((rc = pl__check_seconds(what, seconds, 1)) != PL_OK)
        return rc;
    if (seconds == 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "%s must be positive (INFINITY for none)", what);
    *field = seconds;
    settings_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_connect_timeout(pl_redis_lock *l,
                                                double seconds)
{
    return set_conn_seconds(l, l ? &l->conf.connect_timeout : NULL,
                            "connect_timeout", seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_command_timeout(pl_redis_lock *l,
                                                double seconds)
{
    return set_conn_seconds(l, l ? &l->conf.command_timeout : NULL,
                            "command_timeout", seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_flags(pl_redis_lock *l, int flags)
{
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "flags");
    /* The reference accepts EXCLUSIVE or SHARED and nothing else. */
    if (flags != PL_LOCK_EX && flags != PL_LOCK_SH)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock flags must be EXCLUSIVE (%d) or SHARED "
                        "(%d), got 0x%x",
                        PL_LOCK_EX, PL_LOCK_SH, (unsigned)flags);
    l->flags = flags;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_timeout(pl_redis_lock *l, double seconds)
{
    CHECK_HANDLE(l);
    return pl__wait_set_timeout(&l->wait, seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_check_interval(pl_redis_lock *l,
                                                     double seconds)
{
    CHECK_HANDLE(l);
    return pl__wait_set_check_interval(&l->wait, seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_fail_when_locked(pl_redis_lock *l,
                                                       int enabled)
{
    CHECK_HANDLE(l);
    return pl__wait_set_fail_when_locked(&l->wait, enabled);
}

PL_EXPORT pl_status pl_redis_lock_set_unavailable_timeout(pl_redis_lock *l,
                                                    double seconds)
{
    int rc;
    CHECK_HANDLE(l);
    if ((rc = pl__check_seconds("unavailable_timeout", seconds, 0)) != PL_OK)
        return rc;
    if (seconds == 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "unavailable_timeout must be positive");
    l->unavailable_timeout = seconds;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_lost_callback(pl_redis_lock *l,
                                              pl_lost_callback callback,
                                              void *userdata)
{
    CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "lost callback"); /* the holder thread reads it */
    l->lost_cb = callback;
    l->lost_ud = userdata;
    return pl__ok();
}

/* `type` is a type name, which cannot be parenthesized.
   NOLINTNEXTLINE(bugprone-macro-parentheses) */
#define GETTER(name, type, expr)                                             \
    PL_EXPORT pl_status pl_redis_lock_get_##name(const pl_redis_lock *l,     \
                                                 type *out)                  \
    {                                                                        \
        int rc_;                                                             \
        CHECK_HANDLE(l);                                                     \
        if ((rc_ = pl__check_out(out)) != PL_OK)                             \
            return rc_;                                                      \
        *out = (expr);                                                       \
        return PL_OK;                                                        \
    }

GETTER(unix_socket, const char *, l->conf.unix_path ? l->conf.unix_path : "")
GETTER(db, int, l->conf.db)
GETTER(connect_timeout, double, l->conf.connect_timeout)
GETTER(command_timeout, double, l->conf.command_timeout)
GETTER(flags, int, l->flags)
GETTER(timeout, double, l->wait.timeout)
GETTER(check_interval, double, l->wait.check_interval)
GETTER(fail_when_locked, int, l->wait.fail_when_locked)
GETTER(unavailable_timeout, double, l->unavailable_timeout)

PL_EXPORT pl_status pl_redis_lock_get_host(const pl_redis_lock *l,
                                           const char **host, int *port)
{
    CHECK_HANDLE(l);
    if (!host || !port)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "host and port must not be NULL");
    *host = l->conf.host;
    *port = l->conf.port;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_password(const pl_redis_lock *l,
                                               const char **username,
                                               const char **password)
{
    CHECK_HANDLE(l);
    if (!username || !password)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "username and password must not be NULL");
    *username = l->conf.username;
    *password = l->conf.password;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_lost_callback(const pl_redis_lock *l,
                                                    pl_lost_callback *callback,
                                                    void **userdata)
{
    CHECK_HANDLE(l);
    if (!callback || !userdata)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "callback and userdata must not be NULL");
    *callback = l->lost_cb;
    *userdata = l->lost_ud;
    return PL_OK;
}

PL_EXPORT const char *pl_redis_lock_holder_id(const pl_redis_lock *l)
{
    return l ? l->id : "";
}

PL_EXPORT pl_status pl_redis_lock_check(pl_redis_lock *l)
{
    CHECK_HANDLE(l);
    fork_check(l);
    if (!l->held)
        return pl__fail(PL_ERR_NOT_HELD, 0, "Redis lock '%s' is not held",
                        l->display);
    if (atomic_load_explicit(&l->lost, memory_order_acquire))
        return pl__fail(PL_ERR_LOCK_LOST, 0, "%s", l->lost_reason);
    return pl__ok();
}

static int acquired(pl_redis_lock *l)
{
    int rc;
    end_probe(l);
    close_ctx(&l->w); /* a holder needs no notices */
    free_answers(l);
    l->elected = 0;
    if ((rc = start_holder(l)) != PL_OK) {
        unsubscribe(l, 1);
        return rc;
    }
    l->held = 1;
    l->owner_pid = pl__self_pid();
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_acquire_with(pl_redis_lock *l, double timeout,
                                         double check_interval,
                                         int fail_when_locked)
{
    pl_wait_opts opts;
    double start, deadline, last_attempt;
    long long count = 0;
    int rc;

    CHECK_HANDLE(l);
    fork_check(l);
    if (l->held) {
        if (!atomic_load(&l->lost))
            return pl__fail(PL_ERR_INVALID_STATE, 0,
                            "Redis lock '%s' is already held by this handle "
                            "(it is not reentrant)",
                            l->display);
        teardown(l, 0); /* a lost hold: start from scratch */
    }
    if ((rc = pl__merge_wait_opts(&l->wait, timeout, check_interval,
                                  fail_when_locked, &opts)) != PL_OK)
        return rc;
    if (l->id_pid != pl__self_pid() && (rc = new_identity(l)) != PL_OK)
        return rc;

    start = last_attempt = pl__os_now();
    deadline = start + opts.timeout;
    l->hard_locked = 0;
    l->elected = 0;
    l->notice_seen = 0;
    for (;;) {
        rc = attempt(l, opts.fail_when_locked, &count);
        if (rc == PL_OK)
            return acquired(l);
        if (rc != PL_ERR_ALREADY_LOCKED || l->hard_locked)
            break;
        if (pl__os_now() >= deadline) {
            rc = pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                          "timed out after %g s waiting for Redis lock '%s'",
                          opts.timeout, l->display);
            break;
        }
        if ((rc = wait_for_change(l, &opts, deadline, last_attempt)) != PL_OK)
            break;
        last_attempt = pl__os_now();
    }
    /* Keep the message of the failure across the teardown. */
    {
        char msg[512];
        int e = pl_last_errno();
        snprintf(msg, sizeof msg, "%s", pl_last_error_message());
        teardown(l, 0);
        return pl__fail(rc, e, "%s", msg);
    }
}

PL_EXPORT pl_status pl_redis_lock_acquire(pl_redis_lock *l)
{
    return pl_redis_lock_acquire_with(l, PL_INHERIT, PL_INHERIT, PL_INHERIT);
}

/* Tell our waiters the lock is free. Sent after the UNSUBSCRIBE was
   confirmed, so it cannot overtake the release; the reply is read with
   the next command. */
static void publish_notice(pl_redis_lock *l)
{
    const char *argv[3] = {"PUBLISH", l->notice, "released"};
    size_t lens[3] = {7, l->notice_len, 8};
    if (!l->cmd)
        return; /* waiters still see the count drop */
    if (pl__redis_send(&l->conf, l->cmd, "PUBLISH (release notice)", 3, argv,
                       lens) == PL_OK)
        l->cmd_pending++;
    else
        close_ctx(&l->cmd);
}

PL_EXPORT pl_status pl_redis_lock_release(pl_redis_lock *l)
{
    int was_lost;
    CHECK_HANDLE(l);
    fork_check(l);
    if (!l->held) {
        teardown(l, 0);
        return pl__ok();
    }
    stop_holder(l);
    was_lost = atomic_load_explicit(&l->lost, memory_order_acquire);
    if (was_lost) {
        char msg[sizeof l->lost_reason];
        memcpy(msg, l->lost_reason, sizeof msg);
        teardown(l, 0);
        return pl__fail(PL_ERR_LOCK_LOST, 0, "%s (released what was left)",
                        msg);
    }
    unsubscribe(l, 1);
    l->held = 0;
    publish_notice(l);
    return pl__ok();
}
