/*
 * The opt-in end-to-end self-check of a held Redis lock (the reference's
 * self_check_interval), run by the holder thread: every interval it
 * publishes an ordinary ping on the lock channel whose response channel
 * its own subscription connection also listens to, and needs its own
 * answer back within min(interval, unavailable_timeout). That proves the
 * whole path a prober uses (publish, delivery, answer), which the
 * validity PINGs on the subscription alone do not.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pl__redis_selfcheck_start(pl_redis_lock *l, pl_redis_selfcheck *sc)
{
    char hex[PL_REDIS_ID_LEN + 1];
    const char *argv[2];
    size_t lens[2];
    memset(sc, 0, sizeof *sc);
    if (!(l->self_check_interval > 0))
        return PL_OK;
    pl__redis_new_id(hex);
    sc->resp = pl__redis_json_safe(l->channel, l->channel_len)
                   ? pl__concat(l->channel, l->channel_len, "-", 1)
                   : pl__strdup("portalocker-selfcheck-");
    if (sc->resp) {
        char *full = pl__concat(sc->resp, strlen(sc->resp), hex,
                                PL_REDIS_ID_LEN);
        free(sc->resp);
        sc->resp = full;
    }
    if (!sc->resp)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    sc->resp_len = strlen(sc->resp);
    argv[0] = pl__redis_cmd_subscribe(&l->conf);
    argv[1] = sc->resp;
    lens[0] = strlen(argv[0]);
    lens[1] = sc->resp_len;
    sc->next = pl__os_now_boot() + l->self_check_interval;
    return pl__redis_send(&l->conf, l->sub, "SUBSCRIBE (self-check)", 2, argv,
                          lens);
}

void pl__redis_selfcheck_end(pl_redis_selfcheck *sc)
{
    free(sc->resp);
    sc->resp = NULL;
}

int pl__redis_selfcheck_tick(pl_redis_lock *l, pl_redis_selfcheck *sc,
                             double now)
{
    const char *argv[3];
    size_t lens[3];
    char *ping;
    int rc;
    if (!sc->resp)
        return PL_OK;
    if (sc->due)
        return now > sc->due ? PL_ERR_LOCK_LOST : PL_OK;
    if (now < sc->next)
        return PL_OK;
    if (!(ping = pl__redis_build_ping(sc->resp)))
        return PL_OK; /* out of memory: try next time */
    argv[0] = pl__redis_cmd_publish(&l->conf);
    argv[1] = l->channel;
    argv[2] = ping;
    lens[0] = strlen(argv[0]);
    lens[1] = l->channel_len;
    lens[2] = strlen(ping);
    rc = pl__redis_cmd_call(l, "PUBLISH (self-check ping)", 3, argv, lens,
                            NULL);
    free(ping);
    if (rc != PL_OK)
        return PL_ERR_LOCK_LOST;
    sc->due = now + (l->self_check_interval < l->unavailable_timeout
                         ? l->self_check_interval
                         : l->unavailable_timeout);
    return PL_OK;
}

void pl__redis_selfcheck_push(pl_redis_lock *l, pl_redis_selfcheck *sc,
                              const redisReply *r)
{
    const redisReply *ch, *payload;
    pl_redis_holder h;
    if (!sc->resp || !sc->due || !pl__redis_push(r, "message", &ch, &payload) ||
        !ch || ch->type != REDIS_REPLY_STRING || ch->len != sc->resp_len ||
        memcmp(ch->str, sc->resp, sc->resp_len) != 0 || !payload ||
        payload->type != REDIS_REPLY_STRING)
        return;
    if (pl__redis_parse_answer(payload->str, payload->len, 0, &h) != PL_OK)
        return;
    if (!h.legacy && strcmp(h.id, l->id) == 0) {
        sc->due = 0; /* our own answer came back: passed */
        sc->next = pl__os_now_boot() + l->self_check_interval;
    }
    free(h.id);
}

double pl__redis_selfcheck_wake(const pl_redis_selfcheck *sc)
{
    if (!sc->resp)
        return 0;
    return sc->due ? sc->due : sc->next;
}
