/*
 * One acquire attempt of a Redis lock as portalocker 4.4.2 makes it
 * (shared/spec/redis-lock-protocol.md, 3.3-3.7 and 5): count, probe,
 * decide (readers share; writers elect the lowest pending id, defer to an
 * elected peer, an incumbent keeps its election), then, after every
 * exclusive promotion including the fast path, the confirm probe, the
 * fencing token, and a last round trip on the subscription that starts
 * the validity window. The subscription and probing are in
 * redis_acquire.c; the overview is in redis_lock_handle.h.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The reference's thread_sleep_time: the pace of confirm rounds. */
#define PL_REDIS_S 0.1

/* ------------------------------------------------------------------ */
/* reading the answers                                                 */
/* ------------------------------------------------------------------ */

static int is_self(const pl_redis_lock *l, const pl_redis_holder *h)
{
    return !h->legacy && strcmp(h->id, l->id) == 0;
}

/* An id below ours, by code point (legacy ids never win an election). */
static int lower(const pl_redis_lock *l, const pl_redis_holder *h)
{
    return !h->legacy && strcmp(h->id, l->id) < 0;
}

static int any_other(const pl_redis_lock *l, int mode)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++)
        if (!is_self(l, &l->answers[i]) && l->answers[i].mode == mode)
            return 1;
    return 0;
}

/* A fresh writer wins iff nobody is exclusive, no other record says
   elected, and its id is the lowest pending one. */
static int fresh_writer_wins(const pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        if (is_self(l, h))
            continue;
        if (h->mode == PL_RMODE_EXCLUSIVE || h->elected == 1)
            return 0;
        if (h->mode == PL_RMODE_PENDING && lower(l, h))
            return 0;
    }
    return 1;
}

/* An incumbent forfeits to an exclusive record, to an elected lower id,
   and to a lower-id pending peer that predates `elected` (4.0/4.1). */
static int incumbent_forfeits(const pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        if (is_self(l, h))
            continue;
        if (h->mode == PL_RMODE_EXCLUSIVE)
            return 1;
        if (h->elected == 1 && lower(l, h))
            return 1;
        if (h->mode == PL_RMODE_PENDING && h->elected == -1 && lower(l, h))
            return 1;
    }
    return 0;
}

/* It keeps waiting while readers drain, and for one round while a
   lower-id unelected pending peer is present (the hold-off). */
static int incumbent_waits(const pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        if (is_self(l, h))
            continue;
        if (h->mode == PL_RMODE_SHARED)
            return 1;
        if (h->mode == PL_RMODE_PENDING && h->elected == 0 && lower(l, h))
            return 1;
    }
    return 0;
}

enum { VERDICT_CONFIRM, VERDICT_ROUND, VERDICT_DEMOTE };

/* The confirm table (spec 3.7) over the other records. */
static int confirm_verdict(const pl_redis_lock *l)
{
    int v = VERDICT_CONFIRM;
    size_t i;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        if (is_self(l, h))
            continue;
        if (h->mode == PL_RMODE_SHARED)
            return VERDICT_DEMOTE;
        if (h->mode == PL_RMODE_EXCLUSIVE) {
            if (h->legacy || h->elected == -1 || lower(l, h))
                return VERDICT_DEMOTE;
            continue; /* higher id with a boolean elected: it demotes */
        }
        if (lower(l, h)) { /* pending */
            if (h->elected == -1)
                return VERDICT_DEMOTE;
            v = VERDICT_ROUND;
        }
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* after a promotion                                                   */
/* ------------------------------------------------------------------ */

/* Wait `seconds` answering pings on sub (and reading w). */
static int linger(pl_redis_lock *l, double seconds)
{
    double end = pl__os_now() + seconds;
    int rc;
    for (;;) {
        double left = end - pl__os_now();
        if (left <= 0 || l->sub_dead)
            return PL_OK;
        if ((rc = pl__redis_pump(l, left)) != PL_OK)
            return rc;
    }
}

/* Between confirm rounds: up to S (jittered) answering pings, but only
   until the subscriber count changes. A round is due when someone left or
   came (the peer that made the last round inconclusive or objected mostly
   just left after seeing our exclusive record); waiting a full S there is
   what made contended hand-offs cost ~100 ms each. The count is polled
   with a short capped backoff, as between attempts. */
static int between_rounds(pl_redis_lock *l, long long last_n, double until)
{
    double jitter = 0.5 + (double)(pl__os_random() % 1000) / 1000.0;
    double end = pl__os_now() + PL_REDIS_S * jitter, backoff = 0.001;
    int rc;
    if (end > until)
        end = until;
    for (;;) {
        long long n = 0;
        double left = end - pl__os_now();
        if (left <= 0 || l->sub_dead)
            return PL_OK;
        if ((rc = linger(l, backoff < left ? backoff : left)) != PL_OK)
            return rc;
        if ((rc = pl__redis_numsub(l, &n)) != PL_OK)
            return rc;
        if (n != last_n)
            return PL_OK;
        backoff = backoff * 2 < 0.016 ? backoff * 2 : 0.016;
    }
}

/* Confirm an exclusive promotion already advertised: 1 confirmed, 0
   demote, or an error. Rounds within a budget of T. */
static int confirm(pl_redis_lock *l)
{
    double budget_end = pl__os_now() + l->unavailable_timeout;
    long long last_n = -1;
    int round, rc;
    for (round = 0;; round++) {
        long long n = 0;
        int conclusive = 0;
        if (round > 0 &&
            (rc = between_rounds(l, last_n, budget_end)) != PL_OK)
            return rc;
        if (l->sub_dead || pl__os_now() >= budget_end)
            return 0;
        if ((rc = pl__redis_numsub(l, &n)) != PL_OK)
            return rc;
        if (n <= 1)
            return 1;
        last_n = n;
        if ((rc = pl__redis_probe(l, n, 1, &conclusive)) != PL_OK)
            return rc;
        if (l->sub_dead)
            return 0;
        if (!conclusive)
            continue;
        switch (confirm_verdict(l)) {
        case VERDICT_CONFIRM:
            return 1;
        case VERDICT_DEMOTE:
            return 0;
        default:
            break;
        }
    }
}

/* INCR the fence key: the token, or the attempt fails (a broken
   connection costs the attempt; an error reply such as WRONGTYPE is
   final). */
static int draw_fence(pl_redis_lock *l)
{
    const char *argv[2] = {"INCR", l->fence_key};
    size_t lens[2] = {4, l->fence_key_len};
    redisReply *r = NULL;
    int rc;
    pl__redis_cluster_forget_ask(&l->conf);
    rc = pl__redis_cmd_call(l, "INCR (fencing token)", 2, argv, lens, &r);
    /* Cluster, the slot migrating: the key may be on the new node (ASK). */
    if (rc != PL_OK && l->conf.cluster && l->conf.cluster_ask_host)
        rc = pl__redis_cluster_ask(&l->conf, "INCR (fencing token)", 2, argv,
                                   lens, &r);
    if (rc != PL_OK)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
        freeReplyObject(r);
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "unexpected reply to INCR of the fence key of Redis "
                        "lock '%s'",
                        l->display);
    }
    l->fence_token = r->integer;
    freeReplyObject(r);
    return PL_OK;
}

/* The last local check before reporting held: a PING on the subscription
   and its answer (pings to us answered meanwhile). It proves the
   subscription alive now and starts the validity window. */
static int final_check(pl_redis_lock *l)
{
    const char *argv[1] = {"PING"};
    double sent = pl__os_now_boot();
    double end = pl__os_now() + l->unavailable_timeout;
    int before = l->pongs, rc;
    if (!l->sub || pl__redis_send(&l->conf, l->sub, "PING", 1, argv, NULL) !=
                       PL_OK)
        return 0;
    while (l->pongs == before) {
        double left = end - pl__os_now();
        if (left <= 0 || l->sub_dead)
            return 0;
        if ((rc = pl__redis_pump(l, left)) != PL_OK)
            return rc;
    }
    pl__redis_confirmed(l, sent);
    return 1;
}

/* ------------------------------------------------------------------ */
/* one attempt                                                         */
/* ------------------------------------------------------------------ */

static int retry(pl_redis_lock *l, const char *why)
{
    return pl__fail(PL_ERR_ALREADY_LOCKED, 0, "Redis lock '%s': %s",
                    l->display, why);
}

/* Remember who we lost to: an exclusive record, else an elected one, else
   the lowest pending id (legacy peers send no notices: none). */
static void note_blocker(pl_redis_lock *l)
{
    const pl_redis_holder *best = NULL;
    int rank = 0;
    size_t i;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        int r = h->mode == PL_RMODE_EXCLUSIVE ? 3
                : h->elected == 1            ? 2
                : h->mode == PL_RMODE_PENDING ? 1
                                               : 0;
        if (is_self(l, h) || r == 0)
            continue;
        if (r > rank || (r == rank && strcmp(h->id, best->id) < 0)) {
            best = h;
            rank = r;
        }
    }
    l->blocker[0] = '\0';
    if (best && !best->legacy && strlen(best->id) == PL_REDIS_ID_LEN)
        memcpy(l->blocker, best->id, PL_REDIS_ID_LEN + 1);
    /* A notice that came during the attempt from someone else than the
       one we now wait for says nothing about it: acting on it started an
       attempt at once into the winner's (a collision). */
    if (l->notice_seen && l->blocker[0] && l->notice_from[0] &&
        strcmp(l->notice_from, l->blocker) != 0)
        l->notice_seen = 0;
    /* Once the blocker releases, does someone else come first? A reader
       waits for every pending writer (writer priority), a writer for a
       pending writer with a lower id (it wins the election). */
    l->defer = 0;
    for (i = 0; i < l->nanswers; i++) {
        const pl_redis_holder *h = &l->answers[i];
        if (is_self(l, h) || h == best || h->mode != PL_RMODE_PENDING)
            continue;
        if ((l->flags & PL_LOCK_SH) || lower(l, h))
            l->defer = 1;
    }
}

/* Leave the channel (pending, not elected); with fail_when_locked the
   contention was conclusive and the acquire ends. */
static int give_up(pl_redis_lock *l, int fail_when_locked, const char *why)
{
    note_blocker(l);
    pl__redis_unsubscribe(l, 0);
    l->elected = 0;
    if (fail_when_locked)
        l->hard_locked = 1;
    return retry(l, why);
}

/* Exclusive is on the wire: confirm, fence, check, else demote. */
static int promoted(pl_redis_lock *l, int fail_when_locked)
{
    int rc = confirm(l);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        l->mode = PL_RMODE_PENDING;
        return give_up(l, fail_when_locked,
                       "another holder objected to the promotion");
    }
    if (l->fencing && (rc = draw_fence(l)) != PL_OK)
        return rc;
    return PL_OK;
}

static int finish(pl_redis_lock *l)
{
    int rc = final_check(l);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        l->fence_token = 0; /* a token of a refused grant is discarded */
        return retry(l, "the subscription did not answer its final check");
    }
    return PL_OK;
}

int pl__redis_attempt(pl_redis_lock *l, int fail_when_locked,
                      long long *count)
{
    int rc, conclusive = 0;
    long long n = 0;

    if (l->sub && l->sub_dead)
        pl__redis_unsubscribe(l, 0);
    if (!l->sub) {
        l->elected = 0;
        if ((rc = pl__redis_subscribe(l)) != PL_OK)
            return rc;
    }
    if ((rc = pl__redis_numsub(l, &n)) != PL_OK)
        return rc;
    *count = n;
    if (n > 1)
        l->contended = 1; /* others want it too: hand over at release */
    if (n <= 1) {
        /* Alone: a writer advertises exclusive (elected as it was; this
           thread answers every ping, so the switch is one snapshot) and
           still confirms. */
        if (l->flags & PL_LOCK_SH)
            return finish(l);
        l->mode = PL_RMODE_EXCLUSIVE;
        if ((rc = promoted(l, fail_when_locked)) != PL_OK)
            return rc;
        return finish(l);
    }
    if ((rc = pl__redis_probe(l, n, 1, &conclusive)) != PL_OK)
        return rc;
    if (l->sub_dead) /* our own subscription went away (reaped?): retry */
        return retry(l, "its subscription ended while acquiring; retrying");
    if (!conclusive) {
        if (!l->elected) /* a waiter must not inflate the count */
            pl__redis_unsubscribe(l, 0);
        l->inconclusive++;
        l->blocker[0] = '\0';
        l->defer = 0;
        /* The answers that did come may already show that we lose (for a
           reader a writer pending or holding, for a writer someone
           exclusive, elected or pending with a lower id): then wait for
           that one's release like after a conclusive loss. Retrying
           within milliseconds instead only changed the count under
           everybody's probes, and a reader doing so kept the elected
           writer waiting for readers that never held. Pacing only. */
        if (!l->elected && ((l->flags & PL_LOCK_SH)
                                ? any_other(l, PL_RMODE_PENDING) ||
                                      any_other(l, PL_RMODE_EXCLUSIVE)
                                : !fresh_writer_wins(l)))
            note_blocker(l);
        return retry(l, "probe inconclusive; retrying");
    }
    l->inconclusive = 0;
    if (l->flags & PL_LOCK_SH) {
        if (any_other(l, PL_RMODE_PENDING) ||
            any_other(l, PL_RMODE_EXCLUSIVE))
            return give_up(l, fail_when_locked,
                           "a writer holds or waits for it");
        return finish(l);
    }
    if (l->elected) {
        if (incumbent_forfeits(l))
            return give_up(l, fail_when_locked,
                           "the elected writer forfeited to another");
        if (incumbent_waits(l))
            return retry(l, "waiting as the elected writer");
    } else {
        if (!fresh_writer_wins(l))
            return give_up(l, fail_when_locked,
                           "held or awaited by another holder");
        if (any_other(l, PL_RMODE_SHARED)) {
            if (fail_when_locked) /* never advertising elected */
                return give_up(l, 1, "it has readers");
            l->elected = 1; /* stay subscribed as pending: writer priority */
            return retry(l, "it has readers; waiting as the elected writer");
        }
        l->elected = 1;
    }
    l->mode = PL_RMODE_EXCLUSIVE;
    if ((rc = promoted(l, fail_when_locked)) != PL_OK)
        return rc;
    return finish(l);
}
