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
#include <string.h>

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

int pl__redis_get_check(const pl_redis_lock *l, const void *out)
{
    PL_REDIS_CHECK_HANDLE(l);
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
        int rc = pl__redis_get_check(l, out);                                           \
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
        int rc = pl__redis_get_check(l, out);                                           \
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
    int rc = pl__redis_get_check(l, out);
    if (rc != PL_OK)
        return rc;
    *out = l->conf.sentinels;
    return PL_OK;
}

/* ---- all of the connection settings at once (pl_redis_lock_set_url) ---- */

/* The strings a URL sets, as offsets into pl_redis_conf. */
#define SAVED_STRINGS(X)                                                      \
    X(host) X(unix_path) X(username) X(password) X(tls_ca_file)              \
    X(tls_ca_dir) X(tls_cert_file) X(tls_key_file) X(tls_server_name)        \
    X(sentinel_service) X(sentinels) X(cluster_nodes)

int pl__redis_settings_save(const pl_redis_lock *l, pl_redis_conf *saved)
{
    int failed = 0;
    memset(saved, 0, sizeof *saved);
    saved->port = l->conf.port;
    saved->db = l->conf.db;
    saved->connect_timeout = l->conf.connect_timeout;
    saved->command_timeout = l->conf.command_timeout;
    saved->tls = l->conf.tls;
    saved->tls_verify_peer = l->conf.tls_verify_peer;
    saved->tls_check_hostname = l->conf.tls_check_hostname;
    saved->cluster = l->conf.cluster;
#define COPY(f)                                                               \
    if (l->conf.f && !(saved->f = pl__strdup(l->conf.f)))                    \
        failed = 1;
    SAVED_STRINGS(COPY)
#undef COPY
    if (failed) {
        pl__redis_settings_discard(saved);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    return PL_OK;
}

void pl__redis_settings_restore(pl_redis_lock *l, pl_redis_conf *saved)
{
    /* Not cluster mode: it renames the lock's keys, so the caller sets
       it last, after everything else succeeded, and it is as saved. */
    l->conf.port = saved->port;
    l->conf.db = saved->db;
    l->conf.connect_timeout = saved->connect_timeout;
    l->conf.command_timeout = saved->command_timeout;
    l->conf.tls = saved->tls;
    l->conf.tls_verify_peer = saved->tls_verify_peer;
    l->conf.tls_check_hostname = saved->tls_check_hostname;
#define MOVE(f)                                                               \
    free(l->conf.f);                                                          \
    l->conf.f = saved->f;                                                     \
    saved->f = NULL;
    SAVED_STRINGS(MOVE)
#undef MOVE
    pl__redis_cluster_reroute(&l->conf);
    pl__redis_setting_changed(l);
}

void pl__redis_settings_discard(pl_redis_conf *saved)
{
#define FREE(f)                                                               \
    free(saved->f);                                                           \
    saved->f = NULL;
    SAVED_STRINGS(FREE)
#undef FREE
}
