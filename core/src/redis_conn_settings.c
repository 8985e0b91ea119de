/*
 * RedisLock: the TLS and Sentinel settings (setters and their getters).
 * The connection itself is redis_conn.c over tls.h and redis_sentinel.c;
 * these only store what it will use.
 * Every setter drops the open connections and the loaded certificates, so
 * the next connection reads the files again.
 */
#include "redis_lock_handle.h"
#include "platform.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>

/* NULL or "" clears the setting. */
static int set_string(pl_redis_lock *l, char **field, const char *value,
                      const char *what)
{
    char *copy = NULL;
    int rc = pl__redis_setting_begin(l, what);
    if (rc != PL_OK)
        return rc;
    if (value && *value && !(copy = pl__strdup(value)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    free(*field);
    *field = copy;
    pl__redis_setting_changed(l);
    return pl__ok();
}

static int set_flag(pl_redis_lock *l, int *field, int value, const char *what)
{
    int rc = pl__redis_setting_begin(l, what);
    if (rc != PL_OK)
        return rc;
    *field = value != 0;
    pl__redis_setting_changed(l);
    return pl__ok();
}

static int get_check(const pl_redis_lock *l, const void *out)
{
    if (!l)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock handle must not be NULL");
    return pl__check_out(out);
}

#define STRING_SETTING(name, field, what)                                     \
    PL_EXPORT pl_status pl_redis_lock_set_##name(pl_redis_lock *l,            \
                                                 const char *value)           \
    {                                                                         \
        return l ? set_string(l, &l->conf.field, value, what)                 \
                 : pl__redis_setting_begin(l, what);                          \
    }                                                                         \
    PL_EXPORT pl_status pl_redis_lock_get_##name(const pl_redis_lock *l,      \
                                                 const char **out)            \
    {                                                                         \
        int rc = get_check(l, out);                                           \
        if (rc != PL_OK)                                                      \
            return rc;                                                        \
        *out = l->conf.field;                                                 \
        return PL_OK;                                                         \
    }

#define FLAG_SETTING(name, field, what)                                       \
    PL_EXPORT pl_status pl_redis_lock_set_##name(pl_redis_lock *l, int value) \
    {                                                                         \
        return l ? set_flag(l, &l->conf.field, value, what)                   \
                 : pl__redis_setting_begin(l, what);                          \
    }                                                                         \
    PL_EXPORT pl_status pl_redis_lock_get_##name(const pl_redis_lock *l,      \
                                                 int *out)                    \
    {                                                                         \
        int rc = get_check(l, out);                                           \
        if (rc != PL_OK)                                                      \
            return rc;                                                        \
        *out = l->conf.field;                                                 \
        return PL_OK;                                                         \
    }

/* TLS on: refused where this build has no TLS (Windows: no OpenSSL for
   mingw-w64 to build against), before anything is stored. */
static int tls_flag(pl_redis_lock *l, int *field, int value, const char *what)
{
    const char *why = value ? pl__tls_unavailable() : NULL;
    if (why)
        return pl__fail(PL_ERR_UNSUPPORTED, 0, "Redis over TLS: %s", why);
    return set_flag(l, field, value, what);
}

int pl__redis_unix_socket_supported(void)
{
    const char *why = pl__os_net_unix_unavailable();
    if (why)
        return pl__fail(PL_ERR_UNSUPPORTED, 0, "Redis unix socket: %s", why);
    return PL_OK;
}

#define set_flag tls_flag
FLAG_SETTING(tls, tls, "TLS setting")
#undef set_flag
FLAG_SETTING(tls_verify_peer, tls_verify_peer, "TLS verification")
FLAG_SETTING(tls_check_hostname, tls_check_hostname, "TLS hostname check")
STRING_SETTING(tls_ca_file, tls_ca_file, "TLS CA file")
STRING_SETTING(tls_ca_dir, tls_ca_dir, "TLS CA directory")
STRING_SETTING(tls_cert_file, tls_cert_file, "TLS client certificate")
STRING_SETTING(tls_key_file, tls_key_file, "TLS client key")
STRING_SETTING(tls_server_name, tls_server_name, "TLS server name")

STRING_SETTING(sentinel_service, sentinel_service, "Sentinel service")

PL_EXPORT pl_status pl_redis_lock_set_sentinels(pl_redis_lock *l,
                                                const char *list)
{
    char host[256];
    const char *p = list ? list : "";
    int port, k, n = 0;
    while ((k = pl__redis_sentinel_next(&p, host, sizeof host, &port)) == 1)
        n++;
    if (k < 0 || (list && *list && n == 0))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis sentinels \"%s\": expected host[:port] "
                        "separated by commas (IPv6 in brackets)", list);
    return l ? set_string(l, &l->conf.sentinels, list, "sentinels")
             : pl__redis_setting_begin(l, "sentinels");
}

PL_EXPORT pl_status pl_redis_lock_get_sentinels(const pl_redis_lock *l,
                                                const char **out)
{
    int rc = get_check(l, out);
    if (rc != PL_OK)
        return rc;
    *out = l->conf.sentinels;
    return PL_OK;
}
