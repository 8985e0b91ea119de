/*
 * Probing a Redis lock channel during an acquire (protocol 3.4-3.5), on the
 * caller's thread: a ping on the lock channel, the answers on a private
 * response channel of the waiter connection, the count checks, and
 * reaping of the silent. The handle and the overview are in
 * redis_lock_handle.h; pumping the connections is in redis_acquire.c.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* probing                                                             */
/* ------------------------------------------------------------------ */

/* CLIENT KILL the subscribers counted by NUMSUB that answered none of the
   pings of this probe (l->heard). */
static void reap(pl_redis_lock *l)
{
    const char *argv[4];
    size_t lens[4];
    redisReply *r = NULL;
    long long *ids = NULL;
    size_t n = 0, i;
    argv[0] = "CLIENT";
    argv[1] = "LIST";
    if (pl__redis_cmd_call(l, "CLIENT LIST", 2, argv, NULL, &r) != PL_OK)
        return;
    if (r->type == REDIS_REPLY_STRING)
        (void)pl__redis_reap_targets(r->str, r->len, l->channel,
                                     l->channel_len, l->heard, l->nheard,
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
        (void)pl__redis_cmd_call(l, "CLIENT KILL", 4, argv, lens, NULL);
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
    pl__redis_free_answers(l);
    return PL_OK;
}

void pl__redis_end_probe(pl_redis_lock *l)
{
    if (l->probe_chan && l->w) {
        const char *argv[2] = {pl__redis_cmd_unsubscribe(&l->conf), l->probe_chan};
        size_t lens[2] = {strlen(argv[0]), l->probe_len};
        if (pl__redis_send(&l->conf, l->w, "UNSUBSCRIBE", 2, argv, lens) !=
            PL_OK)
            pl__redis_close(&l->w);
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
    argv[0] = pl__redis_cmd_publish(&l->conf);
    argv[1] = l->channel;
    argv[2] = ping;
    lens[0] = strlen(argv[0]);
    lens[1] = l->channel_len;
    lens[2] = strlen(ping);
    rc = pl__redis_cmd_call(l, "PUBLISH (ping)", 3, argv, lens, NULL);
    free(ping);
    return rc;
}

/* Keep the answers of a ping that is being replaced: for reaping, a
   subscriber that answered any ping of this probe is alive. */
static int keep_heard(pl_redis_lock *l)
{
    size_t i;
    if (l->nanswers == 0)
        return PL_OK;
    if (l->nheard + l->nanswers > l->heard_cap) {
        size_t cap = (l->nheard + l->nanswers) * 2;
        pl_redis_holder *grown = realloc(l->heard, cap * sizeof *grown);
        if (!grown)
            return PL_ERR_NO_MEMORY;
        l->heard = grown;
        l->heard_cap = cap;
    }
    for (i = 0; i < l->nanswers; i++)
        l->heard[l->nheard++] = l->answers[i];
    l->nanswers = 0;
    l->nlegacy = 0;
    return PL_OK;
}

static void free_heard(pl_redis_lock *l)
{
    size_t i;
    for (i = 0; i < l->nheard; i++)
        free(l->heard[i].id);
    l->nheard = 0;
}

/* One ping of a probe: a fresh response channel, confirmed, the count
   still `expected`, the ping published. *asked is 0 when the count had
   changed (inconclusive, nothing published). The first ping waits up to T
   for the confirmation and then publishes anyway (as the reference); a
   ping asked again waits only until `confirm_by` and is not published
   unconfirmed: a probe must not grow by another T for it. */
static int ask(pl_redis_lock *l, long long expected, double confirm_by,
               int *asked)
{
    const char *argv[2];
    size_t lens[2];
    double deadline;
    long long now_count = 0;
    int rc;
    *asked = 0;
    if ((rc = new_probe_channel(l)) != PL_OK)
        return rc;
    argv[0] = pl__redis_cmd_subscribe(&l->conf);
    argv[1] = l->probe_chan;
    lens[0] = strlen(argv[0]);
    lens[1] = l->probe_len;
    if ((rc = pl__redis_send(&l->conf, l->w, "SUBSCRIBE", 2, argv, lens)) !=
        PL_OK) {
        pl__redis_close(&l->w);
        return rc;
    }
    deadline = confirm_by ? confirm_by : pl__os_now() + l->unavailable_timeout;
    /* Listen before asking, or fast answers are lost. */
    while (!l->probe_confirmed && pl__os_now() < deadline && !l->sub_dead)
        if ((rc = pl__redis_pump(l, deadline - pl__os_now())) != PL_OK)
            return rc;
    if (l->sub_dead || (confirm_by && !l->probe_confirmed))
        return PL_OK;
    if ((rc = pl__redis_numsub(l, &now_count)) != PL_OK ||
        now_count != expected)
        return rc;
    if ((rc = publish_ping(l)) != PL_OK)
        return rc;
    *asked = 1;
    return PL_OK;
}

/* Ask every subscriber who it is (protocol step 3). *conclusive is set
   when exactly `expected` holders answered one ping, the count the same
   before that ping and after the answers.

   A steady count does not prove that everybody counted got the ping: a
   waiter that left (unsubscribed) and one that joined (often the same
   process, on a fresh connection) between our count and the ping keep the
   count while the newcomer never hears the ping. Waiting out T for its
   answer cost such probes 1 s and then reaped a live subscriber. So when
   answers stall while the count holds, the ping is asked again on a fresh
   response channel (a new probe with the same three count checks; only
   the answers to that one ping decide), with a growing pause, during the
   first half of T. Reaping still needs silence to every ping for a full T
   after the last one, and a steady count; whoever answered any ping of
   this probe is spared. */
int pl__redis_probe(pl_redis_lock *l, long long expected, int may_reap,
                    int *conclusive)
{
    double first, deadline, recheck, step, stall, reask_until;
    long long now_count = 0;
    int rc, asked = 0;

    *conclusive = 0;
    free_heard(l);
    if ((rc = pl__redis_ensure_w(l)) != PL_OK)
        goto out;
    step = PL_REDIS_PROBE_RECHECK_FIRST;
    first = 0;
    reask_until = 0;
    for (;;) {
        double now, until;
        size_t had;
        if ((rc = ask(l, expected,
                      first ? reask_until + PL_REDIS_PROBE_RECHECK : 0,
                      &asked)) != PL_OK ||
            !asked || l->sub_dead)
            goto out;
        now = pl__os_now();
        if (first == 0) {
            first = now;
            reask_until = first + l->unavailable_timeout / 2;
        }
        /* The reply window is T from the ping, however long the response
           channel took to confirm: a silent holder is reaped only after T. */
        deadline = now + l->unavailable_timeout;
        /* An answer takes a round trip at least (the ping out to the
           subscriber, its PUBLISH back), more while the subscriber is in
           a command of its own: "stalled" means silent for two round
           trips beyond the step. Counting a stall from the first
           millisecond on a server a few ms away re-asked every ping
           before any answer could come, discarding the answers on
           their way, until the step outgrew the round trip. */
        stall = step + 2 * l->rtt;
        recheck = now + stall;
        while ((long long)l->nanswers < expected) {
            now = pl__os_now();
            until = deadline < recheck ? deadline : recheck;
            had = l->nanswers;
            if (now >= deadline)
                break;
            if ((rc = pl__redis_pump(l, until - now)) != PL_OK)
                goto out;
            if (l->sub_dead)
                goto out;
            if (l->nanswers != had) {
                recheck = pl__os_now() + stall; /* answers flow: wait */
                continue;
            }
            if (pl__os_now() < recheck)
                continue;
            /* Someone left or joined: stop waiting for answers that may
               never come (no reaping: that is churn, not a crash). */
            if ((rc = pl__redis_numsub(l, &now_count)) != PL_OK ||
                now_count != expected)
                goto out;
            step = step * 2 < PL_REDIS_PROBE_RECHECK ? step * 2
                                                     : PL_REDIS_PROBE_RECHECK;
            /* Ask again: someone may have missed the ping. Not while our
               own poll fails: nothing could be heard either way. */
            stall = step + 2 * l->rtt;
            if (pl__os_now() + stall < reask_until && !l->deaf)
                break;
            recheck = pl__os_now() + stall;
        }
        if ((long long)l->nanswers >= expected || pl__os_now() >= deadline)
            break;
        if (keep_heard(l) != PL_OK)
            goto out; /* out of memory: inconclusive, nobody reaped */
        pl__redis_end_probe(l);
    }
    if ((rc = pl__redis_numsub(l, &now_count)) != PL_OK ||
        now_count != expected)
        goto out;
    if ((long long)l->nanswers < expected) {
        /* Silent subscribers are dead ones, unless we could not listen:
           our own poll failure must never get a live holder killed. */
        if (!l->deaf && may_reap && keep_heard(l) == PL_OK)
            reap(l);
        goto out;
    }
    *conclusive = 1;
out:
    free_heard(l);
    pl__redis_end_probe(l);
    return rc;
}

