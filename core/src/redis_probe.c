/*
 * RedisLock: the read-only probe (the reference's RedisLock.probe()): who
 * holds the channel, changing nothing. It never subscribes to the lock
 * channel and never reaps. It works on connections of its own, so it can
 * run while this handle holds (its holder thread owns the handle's
 * connections and answers the ping like any other holder).
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pl_redis_holders {
    pl_redis_holder *v;
    size_t n, cap;
    int nlegacy;
};

typedef struct probe_ctx {
    pl_redis_lock *l;
    pl_redis_conn *c; /* NUMSUB, PUBLISH */
    pl_redis_conn *w; /* the response channel */
    char *resp;
    size_t resp_len;
    int confirmed;
    pl_redis_holders *h;
} probe_ctx;

static void clear(pl_redis_holders *h)
{
    size_t i;
    for (i = 0; i < h->n; i++)
        free(h->v[i].id);
    h->n = 0;
    h->nlegacy = 0;
}

/* Add an answer; a later record of the same id replaces the earlier. */
static int add(pl_redis_holders *h, const char *payload, size_t len)
{
    return pl__redis_holders_add(&h->v, &h->n, &h->cap, &h->nlegacy, payload,
                                 len);
}

static int numsub(probe_ctx *p, long long *n)
{
    const char *argv[3] = {"PUBSUB", pl__redis_cmd_numsub(&p->l->conf), p->l->channel};
    size_t lens[3] = {6, strlen(argv[1]), p->l->channel_len};
    redisReply *r = NULL;
    int rc = pl__redis_call(&p->l->conf, p->c, "PUBSUB NUMSUB", 3, argv, lens,
                            &r);
    if (rc != PL_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "unexpected reply to PUBSUB NUMSUB for Redis lock "
                        "'%s'",
                        p->l->display);
    }
    *n = r->element[1]->integer;
    freeReplyObject(r);
    return PL_OK;
}

/* Handle the pushes w has read: the confirmation, answers. */
static int drain_w(probe_ctx *p)
{
    redisReply *r;
    int k;
    while ((k = pl__redis_buffered(p->w, &r)) > 0) {
        const redisReply *ch, *payload;
        if (pl__redis_push(r, "subscribe", &ch, NULL))
            p->confirmed = 1;
        else if (pl__redis_push(r, "message", &ch, &payload) && payload &&
                 payload->type == REDIS_REPLY_STRING &&
                 add(p->h, payload->str, payload->len) != PL_OK) {
            freeReplyObject(r);
            return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
        }
        freeReplyObject(r);
    }
    return k < 0 ? -1 : PL_OK;
}

static int w_broke(const probe_ctx *p)
{
    return pl__fail(PL_ERR_CONNECTION, 0,
                    "lost the connection to Redis while probing Redis lock "
                    "'%s': %s",
                    p->l->display, p->w->errstr);
}

/* Read what w has for up to `seconds`. */
static int listen_w(probe_ctx *p, double seconds)
{
    pl__os_pollfd fd;
    int rc, ready = 0;
    if ((rc = drain_w(p)) != PL_OK)
        return rc == -1 ? w_broke(p) : rc;
    if (seconds <= 0)
        return PL_OK;
    fd.fd = p->w->fd;
    fd.events = PL__OS_READABLE;
    /* Ends early for a cancel or the thread's wait hook. */
    rc = pl__wait_poll(&fd, 1, seconds + 0.001, &p->l->cancel, &ready);
    if (rc == PL_ERR_INTERRUPTED)
        return rc;
    if (rc != PL_OK || ready == 0)
        return PL_OK;
    if (pl__redis_fill(p->w) < 0)
        return w_broke(p);
    rc = drain_w(p);
    return rc == -1 ? w_broke(p) : rc;
}

/* Collect answers until n came, the deadline passed, or the count
   changed (checked when answers stall: someone who left will never
   answer, so asking again beats waiting out the deadline). */
static int collect(probe_ctx *p, long long n, double deadline)
{
    double step = PL_REDIS_PROBE_RECHECK_FIRST;
    double recheck = pl__os_now() + step;
    long long now_n = 0;
    int rc;
    while ((long long)p->h->n < n) {
        double now = pl__os_now();
        double until = deadline < recheck ? deadline : recheck;
        size_t had = p->h->n;
        if (now >= deadline)
            break;
        if ((rc = listen_w(p, until - now)) != PL_OK)
            return rc;
        if (p->h->n != had) {
            recheck = pl__os_now() + step; /* answers flow: wait */
            continue;
        }
        if (pl__os_now() < recheck)
            continue;
        if ((rc = numsub(p, &now_n)) != PL_OK)
            return rc;
        if (now_n != n)
            break;
        step = step * 2 < PL_REDIS_PROBE_RECHECK ? step * 2
                                                 : PL_REDIS_PROBE_RECHECK;
        recheck = pl__os_now() + step;
    }
    return PL_OK;
}

/* One probe: 1 conclusive (answers in p->h), 0 not, or an error. */
static int one_probe(probe_ctx *p, long long n, double deadline)
{
    const char *argv[3];
    size_t lens[3];
    char hex[PL_REDIS_ID_LEN + 1];
    char *ping;
    long long now_n = 0;
    int rc;

    clear(p->h);
    pl__redis_new_id(hex);
    free(p->resp);
    p->resp = pl__redis_json_safe(p->l->channel, p->l->channel_len)
                  ? pl__concat(p->l->channel, p->l->channel_len, "-", 1)
                  : pl__strdup("portalocker-probe-");
    if (p->resp) {
        char *full = pl__concat(p->resp, strlen(p->resp), hex,
                                PL_REDIS_ID_LEN);
        free(p->resp);
        p->resp = full;
    }
    if (!p->resp)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    p->resp_len = strlen(p->resp);
    p->confirmed = 0;
    argv[0] = pl__redis_cmd_subscribe(&p->l->conf);
    argv[1] = p->resp;
    lens[0] = strlen(argv[0]);
    lens[1] = p->resp_len;
    if ((rc = pl__redis_send(&p->l->conf, p->w, "SUBSCRIBE", 2, argv,
                             lens)) != PL_OK)
        return rc;
    while (!p->confirmed && pl__os_now() < deadline)
        if ((rc = listen_w(p, deadline - pl__os_now())) != PL_OK)
            return rc;
    if ((rc = numsub(p, &now_n)) != PL_OK || now_n != n)
        return rc;
    if (!(ping = pl__redis_build_ping(p->resp)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    argv[0] = pl__redis_cmd_publish(&p->l->conf);
    argv[1] = p->l->channel;
    argv[2] = ping;
    lens[0] = strlen(argv[0]);
    lens[1] = p->l->channel_len;
    lens[2] = strlen(ping);
    rc = pl__redis_call(&p->l->conf, p->c, "PUBLISH (ping)", 3, argv, lens,
                        NULL);
    free(ping);
    if (rc != PL_OK)
        return rc;
    if ((rc = collect(p, n, deadline)) != PL_OK)
        return rc;
    if ((rc = numsub(p, &now_n)) != PL_OK)
        return rc;
    argv[0] = pl__redis_cmd_unsubscribe(&p->l->conf); /* late answers are ignored */
    argv[1] = p->resp;
    lens[0] = strlen(argv[0]);
    (void)pl__redis_send(&p->l->conf, p->w, "UNSUBSCRIBE", 2, argv, lens);
    return now_n == n && (long long)p->h->n == n;
}

static int run_probe(pl_redis_lock *l, double timeout, pl_redis_holders *h)
{
    probe_ctx p;
    double end;
    int rc;
    memset(&p, 0, sizeof p);
    p.l = l;
    p.h = h;
    if (timeout == PL_INHERIT)
        timeout = l->unavailable_timeout;
    if ((rc = pl__check_seconds("probe timeout", timeout, 0)) != PL_OK)
        return rc;
    end = pl__os_now() + timeout;
    /* Cluster: SHARDNUMSUB is never redirected, so a node the slot has
       left would count nobody: ask the seeds who serves it now. */
    if (l->conf.cluster && !l->conf.cluster_frozen)
        pl__redis_cluster_reroute(&l->conf);
    if ((rc = pl__redis_connect(&l->conf, NULL, &p.c)) != PL_OK ||
        (rc = pl__redis_connect(&l->conf, NULL, &p.w)) != PL_OK)
        goto out;
    for (;;) {
        long long n = 0;
        double round_end = pl__os_now() + l->unavailable_timeout;
        if ((rc = numsub(&p, &n)) != PL_OK)
            goto out;
        if (n == 0) {
            clear(h);
            break;
        }
        rc = one_probe(&p, n, round_end < end ? round_end : end);
        if (rc < 0)
            goto out;
        if (rc == 1) {
            rc = PL_OK;
            break;
        }
        if (pl__os_now() >= end) {
            clear(h);
            rc = pl__fail(PL_ERR_LOCK_FAILED, 0,
                          "Redis lock channel '%s' could not be probed "
                          "conclusively within %g s (subscribers came and "
                          "went, or one never answered)",
                          l->display, timeout);
            goto out;
        }
    }
out:
    pl__redis_close(&p.c);
    pl__redis_close(&p.w);
    free(p.resp);
    return rc;
}

PL_EXPORT pl_status pl_redis_lock_probe(pl_redis_lock *l, double timeout,
                                        pl_redis_holders **out)
{
    pl_redis_holders *h;
    int rc;
    if (out)
        *out = NULL;
    PL_REDIS_CHECK_HANDLE(l);
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    if (!(h = calloc(1, sizeof *h)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    if ((rc = pl__redis_enter(l, PL_REDIS_BUSY_PROBE)) != PL_OK) {
        free(h);
        return rc;
    }
    if ((rc = pl__wait_check(&l->cancel)) == PL_OK)
        rc = run_probe(l, timeout, h);
    pl__wait_done(&l->cancel);
    pl__redis_leave(l);
    if (rc != PL_OK) {
        pl_redis_holders_free(h);
        return rc;
    }
    *out = h;
    return pl__ok();
}

PL_EXPORT size_t pl_redis_holders_count(const pl_redis_holders *h)
{
    return h ? h->n : 0;
}

PL_EXPORT pl_status pl_redis_holders_get(const pl_redis_holders *h, size_t i,
                                         const char **holder_id, int *mode,
                                         int *elected)
{
    if (!h)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "holder list must not be NULL");
    if (i >= h->n)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "holder index %zu is out of range (%zu holders)", i,
                        h->n);
    if (holder_id)
        *holder_id = h->v[i].id;
    if (mode)
        *mode = h->v[i].mode;
    if (elected)
        *elected = h->v[i].elected;
    return PL_OK;
}

PL_EXPORT void pl_redis_holders_free(pl_redis_holders *h)
{
    if (!h)
        return;
    clear(h);
    free(h->v);
    free(h);
}
