/*
 * RedisLock: the getters of the settings, fencing and self-check
 * settings, state queries (lost, mode, elected, fence token) and the mode
 * constants' function twins. The
 * handle and the rest of the public API are in redis_lock.c.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdlib.h>

/* ---- getters of the settings ---- */

/* `type` is a type name, which cannot be parenthesized; the finding sits
   on a continuation line, out of NOLINTNEXTLINE's reach, hence the block.
   NOLINTBEGIN(bugprone-macro-parentheses) */
#define GETTER(name, type, expr)                                             \
    PL_EXPORT pl_status pl_redis_lock_get_##name(const pl_redis_lock *l,     \
                                                 type *out)                  \
    {                                                                        \
        int rc_ = pl__redis_get_check(l, out);                               \
        if (rc_ != PL_OK)                                                    \
            return rc_;                                                      \
        *out = (expr);                                                       \
        return PL_OK;                                                        \
    }
/* NOLINTEND(bugprone-macro-parentheses) */

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
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
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

/* ---- fencing, self-check, state ---- */

PL_EXPORT int pl_redis_mode_shared(void) { return PL_REDIS_MODE_SHARED; }
PL_EXPORT int pl_redis_mode_pending(void) { return PL_REDIS_MODE_PENDING; }
PL_EXPORT int pl_redis_mode_exclusive(void) { return PL_REDIS_MODE_EXCLUSIVE; }

static int held_here(const pl_redis_lock *l)
{
    return l->held && l->owner_pid == pl__self_pid();
}

PL_EXPORT pl_status pl_redis_lock_set_fencing(pl_redis_lock *l, int enabled)
{
    PL_REDIS_CHECK_HANDLE(l);
    if (held_here(l))
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "cannot change fencing of Redis lock '%s' while it "
                        "is held",
                        l->display);
    l->fencing = enabled ? 1 : 0;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_get_fencing(const pl_redis_lock *l,
                                              int *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    *out = l->fencing;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_fence_token(const pl_redis_lock *l,
                                                  long long *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    *out = l->fence_token;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_fence_key(const pl_redis_lock *l,
                                                const char **key, size_t *len)
{
    PL_REDIS_CHECK_HANDLE(l);
    if (!key || !len)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "key and len must not be NULL");
    *key = l->fence_key;
    *len = l->fence_key_len;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_set_self_check_interval(pl_redis_lock *l,
                                                          double seconds)
{
    int rc;
    PL_REDIS_CHECK_HANDLE(l);
    if (held_here(l))
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "cannot change self_check_interval of Redis lock "
                        "'%s' while it is held",
                        l->display);
    if ((rc = pl__check_seconds("self_check_interval", seconds, 0)) != PL_OK)
        return rc;
    l->self_check_interval = seconds;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_get_self_check_interval(
    const pl_redis_lock *l, double *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    *out = l->self_check_interval;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_is_lost(const pl_redis_lock *l, int *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    /* Atomic loads: the acquiring or releasing thread may be writing. */
    *out = atomic_load(&l->lost_sticky) ||
           (atomic_load(&l->held) &&
            atomic_load_explicit(&l->lost, memory_order_acquire));
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_mode(const pl_redis_lock *l, int *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    if (atomic_load(&l->held))
        *out = l->flags == PL_LOCK_SH ? PL_REDIS_MODE_SHARED
                                      : PL_REDIS_MODE_EXCLUSIVE;
    else
        *out = atomic_load(&l->mode); /* the acquiring thread writes it */
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_get_elected(const pl_redis_lock *l,
                                              int *out)
{
    int rc;
    if ((rc = pl__redis_get_check(l, out)) != PL_OK)
        return rc;
    *out = atomic_load(&l->elected); /* the acquiring thread writes it */
    return PL_OK;
}
