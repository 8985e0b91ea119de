/*
 * RedisLock: the read-only probe (who holds the channel, never reaping)
 * and the holder list it returns.
 */
#include "redis_lock_handle.h"

#include <stdlib.h>

struct pl_redis_holders {
    pl_redis_holder *v;
    size_t n;
};

PL_EXPORT pl_status pl_redis_lock_probe(pl_redis_lock *l, double timeout,
                                        pl_redis_holders **out)
{
    (void)timeout;
    if (out)
        *out = NULL;
    if (!l)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock handle must not be NULL");
    return pl__fail(PL_ERR_UNSUPPORTED, 0,
                    "pl_redis_lock_probe is not implemented yet");
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
    size_t i;
    if (!h)
        return;
    for (i = 0; i < h->n; i++)
        free(h->v[i].id);
    free(h->v);
    free(h);
}
