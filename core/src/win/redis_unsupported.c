/*
 * The Redis lock on Windows, for now: every pl_redis_* call fails with
 * PL_ERR_UNSUPPORTED and says why. The lock's client is hiredis, whose
 * Debian package does not build for Windows (its networking is POSIX
 * sockets); the lock comes to Windows with the socket transport behind
 * the platform seam (Winsock). The Redis sources of core/src are left
 * out of the Windows build (PL_SRC_EXCLUDE_win in core/build.mk) and
 * these take their place, so the DLL exports the whole API and a program
 * written for both systems links unchanged. The mode numbers are the
 * header's constants and stay real.
 */
#include "internal.h"

#include <stddef.h>

static pl_status unsupported(void)
{
    return pl__fail(PL_ERR_UNSUPPORTED, 0,
                    "the Redis lock is not available on Windows in this "
                    "build (no socket transport for Windows yet)");
}

PL_EXPORT pl_status pl_redis_lock_new(pl_redis_lock **out, const char *channel, size_t channel_len)
{
    (void)channel;
    (void)channel_len;
    if (out)
        *out = NULL;
    return unsupported();
}

PL_EXPORT void pl_redis_lock_free(pl_redis_lock *lock)
{
    (void)lock;
}

PL_EXPORT pl_status pl_redis_lock_set_host(pl_redis_lock *lock, const char *host, int port)
{
    (void)lock;
    (void)host;
    (void)port;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_unix_socket(pl_redis_lock *lock, const char *path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_db(pl_redis_lock *lock, int db)
{
    (void)lock;
    (void)db;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_password(pl_redis_lock *lock, const char *username, const char *password)
{
    (void)lock;
    (void)username;
    (void)password;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_connect_timeout(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_command_timeout(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_flags(pl_redis_lock *lock, int flags)
{
    (void)lock;
    (void)flags;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_timeout(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_check_interval(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_fail_when_locked(pl_redis_lock *lock, int enabled)
{
    (void)lock;
    (void)enabled;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_unavailable_timeout(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_lost_callback(pl_redis_lock *lock, pl_lost_callback callback, void *userdata)
{
    (void)lock;
    (void)callback;
    (void)userdata;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_host(const pl_redis_lock *lock, const char **host, int *port)
{
    (void)lock;
    (void)host;
    (void)port;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_unix_socket(const pl_redis_lock *lock, const char **path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_db(const pl_redis_lock *lock, int *db)
{
    (void)lock;
    (void)db;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_password(const pl_redis_lock *lock, const char **username, const char **password)
{
    (void)lock;
    (void)username;
    (void)password;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_connect_timeout(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_command_timeout(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_flags(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_timeout(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_check_interval(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_fail_when_locked(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_unavailable_timeout(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_lost_callback(const pl_redis_lock *lock, pl_lost_callback *callback, void **userdata)
{
    (void)lock;
    (void)callback;
    (void)userdata;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_acquire(pl_redis_lock *lock)
{
    (void)lock;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_acquire_with(pl_redis_lock *lock, double timeout, double check_interval, int fail_when_locked)
{
    (void)lock;
    (void)timeout;
    (void)check_interval;
    (void)fail_when_locked;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_cancel(pl_redis_lock *lock)
{
    (void)lock;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_release(pl_redis_lock *lock)
{
    (void)lock;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_check(pl_redis_lock *lock)
{
    (void)lock;
    return unsupported();
}

PL_EXPORT const char *pl_redis_lock_holder_id(const pl_redis_lock *lock)
{
    (void)lock;
    return "";
}

PL_EXPORT int pl_redis_mode_shared(void)
{
    return PL_REDIS_MODE_SHARED;
}

PL_EXPORT int pl_redis_mode_pending(void)
{
    return PL_REDIS_MODE_PENDING;
}

PL_EXPORT int pl_redis_mode_exclusive(void)
{
    return PL_REDIS_MODE_EXCLUSIVE;
}

PL_EXPORT pl_status pl_redis_lock_set_fencing(pl_redis_lock *lock, int enabled)
{
    (void)lock;
    (void)enabled;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_fencing(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_fence_token(const pl_redis_lock *lock, long long *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_fence_key(const pl_redis_lock *lock, const char **key, size_t *len)
{
    (void)lock;
    (void)key;
    (void)len;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_self_check_interval(pl_redis_lock *lock, double seconds)
{
    (void)lock;
    (void)seconds;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_self_check_interval(const pl_redis_lock *lock, double *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_is_lost(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_mode(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_elected(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_probe(pl_redis_lock *lock, double timeout, pl_redis_holders **out)
{
    (void)lock;
    (void)timeout;
    (void)out;
    return unsupported();
}

PL_EXPORT size_t pl_redis_holders_count(const pl_redis_holders *holders)
{
    (void)holders;
    return 0;
}

PL_EXPORT pl_status pl_redis_holders_get(const pl_redis_holders *holders, size_t i, const char **holder_id, int *mode, int *elected)
{
    (void)holders;
    (void)i;
    (void)holder_id;
    (void)mode;
    (void)elected;
    return unsupported();
}

PL_EXPORT void pl_redis_holders_free(pl_redis_holders *holders)
{
    (void)holders;
}

PL_EXPORT pl_status pl_redis_lock_set_url(pl_redis_lock *lock, const char *url)
{
    (void)lock;
    (void)url;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls(pl_redis_lock *lock, int enabled)
{
    (void)lock;
    (void)enabled;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_verify_peer(pl_redis_lock *lock, int enabled)
{
    (void)lock;
    (void)enabled;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_verify_peer(const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_check_hostname(pl_redis_lock *lock, int enabled)
{
    (void)lock;
    (void)enabled;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_check_hostname( const pl_redis_lock *lock, int *out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_ca_file(pl_redis_lock *lock, const char *path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_ca_file(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_ca_dir(pl_redis_lock *lock, const char *path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_ca_dir(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_cert_file(pl_redis_lock *lock, const char *path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_cert_file(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_key_file(pl_redis_lock *lock, const char *path)
{
    (void)lock;
    (void)path;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_key_file(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_tls_server_name(pl_redis_lock *lock, const char *name)
{
    (void)lock;
    (void)name;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_tls_server_name(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_sentinel_service(pl_redis_lock *lock, const char *service)
{
    (void)lock;
    (void)service;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_sentinel_service( const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_set_sentinels(pl_redis_lock *lock, const char *list)
{
    (void)lock;
    (void)list;
    return unsupported();
}

PL_EXPORT pl_status pl_redis_lock_get_sentinels(const pl_redis_lock *lock, const char **out)
{
    (void)lock;
    (void)out;
    return unsupported();
}
