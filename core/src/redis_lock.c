/*
 * RedisLock: the handle, its settings and getters, check, the acquire
 * loop (one attempt after another until the deadline, redis_acquire.c),
 * release, and fork handling. How the lock works (connections, threads,
 * fork) is described in redis_lock_handle.h.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_REDIS_DEFAULT_CONNECT_TIMEOUT 1.0
#define PL_REDIS_DEFAULT_COMMAND_TIMEOUT 2.0
#define PL_REDIS_DEFAULT_UNAVAILABLE 1.0

/* ------------------------------------------------------------------ */
/* argument checks, identity, fork                                    */
/* ------------------------------------------------------------------ */

#define CHECK_NOT_HELD(l, what)                                              \
    do {                                                                     \
        if (atomic_load(&(l)->busy) != PL_REDIS_IDLE)                        \
            return busy_error(l);                                            \
        if ((l)->held && (l)->owner_pid == pl__self_pid())                   \
            return pl__fail(PL_ERR_INVALID_STATE, 0,                         \
                            "cannot change the %s of Redis lock '%s' while " \
                            "it is held",                                    \
                            what, (l)->display);                             \
    } while (0)

static const char *busy_name(int busy)
{
    switch (busy) {
    case PL_REDIS_BUSY_ACQUIRE:
        return "acquiring it";
    case PL_REDIS_BUSY_RELEASE:
        return "releasing it";
    case PL_REDIS_BUSY_PROBE:
        return "probing its channel";
    case PL_REDIS_BUSY_FREE:
        return "freeing it";
    default:
        return "changing a setting";
    }
}

/* The handle is used by one thread at a time; a second thread's call
   fails instead of racing on the connections. */
static int busy_error(const pl_redis_lock *l)
{
    return pl__fail(PL_ERR_INVALID_STATE, 0,
                    "Redis lock '%s' is in use by another thread (%s); use "
                    "a handle from one thread at a time",
                    l->display, busy_name(atomic_load(&l->busy)));
}

int pl__redis_enter(pl_redis_lock *l, int what)
{
    int idle = PL_REDIS_IDLE;
    if (!atomic_compare_exchange_strong(&l->busy, &idle, what))
        return busy_error(l);
    return PL_OK;
}

void pl__redis_leave(pl_redis_lock *l)
{
    atomic_store(&l->busy, PL_REDIS_IDLE);
}

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

/* In a forked child: forget the parent's connections without a byte of
   traffic. Closing our copies of the descriptors leaves the parent's
   sockets open. A context a holder thread was using at fork time may be
   mid-update in our copy of memory, so it is abandoned, not freed. */
static void drop_inherited(pl_redis_lock *l)
{
    int abandon = l->thread_running;
    pl_redis_conn **cs[4];
    int i;
    cs[0] = &l->cmd;
    cs[1] = &l->sub;
    cs[2] = &l->w;
    cs[3] = &l->idle_sub;
    for (i = 0; i < 4; i++) {
        if (!*cs[i])
            continue;
        if (abandon) {
            if ((*cs[i])->fd >= 0)
                (void)pl__os_close((*cs[i])->fd);
            *cs[i] = NULL;
        } else {
            pl__redis_close(cs[i]);
        }
    }
    l->cmd_pending = 0;
    /* The loaded TLS settings: their saved session may be mid-update by
       the parent's holder thread in our copy; abandoned then, else freed
       (no traffic either way). */
    if (abandon)
        l->conf.tls_ctx = NULL;
    else
        pl__redis_conf_tls_reset(&l->conf);
    /* The stop pipe is the parent's too: a byte written by our release
       would stop the parent's holder thread, which would then stop
       answering pings and be reaped while it still reports held. */
    if (l->stop_pipe[0] >= 0) {
        (void)pl__os_close(l->stop_pipe[0]);
        (void)pl__os_close(l->stop_pipe[1]);
        l->stop_pipe[0] = l->stop_pipe[1] = -1;
    }
    l->thread_running = 0; /* the thread does not exist in this process */
    l->conf.cluster_frozen = 0;
    l->held = 0;
    l->conn_pid = 0;
}

static void fork_check(pl_redis_lock *l)
{
    if (l->conn_pid && l->conn_pid != pl__self_pid())
        drop_inherited(l);
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
    pl__cancel_init(&l->cancel); /* first: free destroys it */
    l->stop_pipe[0] = l->stop_pipe[1] = -1;
    l->channel_len = channel_len;
    l->channel = pl__concat(channel, channel_len, "", 0);
    l->notice = l->channel ? pl__concat(channel, channel_len,
                                        PL_REDIS_NOTICE_SUFFIX,
                                        sizeof PL_REDIS_NOTICE_SUFFIX - 1)
                           : NULL;
    l->fence_key = l->channel ? pl__concat(channel, channel_len, "-fence", 6)
                              : NULL;
    l->fence_key_len = channel_len + 6;
    l->conf.host = pl__strdup("127.0.0.1");
    if (!l->channel || !l->notice || !l->fence_key || !l->conf.host) {
        pl_redis_lock_free(l);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    l->notice_len = channel_len + sizeof PL_REDIS_NOTICE_SUFFIX - 1;
    make_display(l);
    l->conf.port = 6379;
    l->conf.tls_verify_peer = 1;
    l->conf.tls_check_hostname = 1;
    l->conf.connect_timeout = PL_REDIS_DEFAULT_CONNECT_TIMEOUT;
    l->conf.command_timeout = PL_REDIS_DEFAULT_COMMAND_TIMEOUT;
    l->flags = PL_LOCK_EX;
    l->mode = PL_RMODE_PENDING; /* a writer that has not acquired yet */
    l->wait.timeout = PL_DEFAULT_TIMEOUT;
    l->wait.check_interval = PL_DEFAULT_CHECK_INTERVAL;
    l->unavailable_timeout = PL_REDIS_DEFAULT_UNAVAILABLE;
    atomic_init(&l->lost, 0);
    atomic_init(&l->lost_claim, 0);
    atomic_init(&l->confirmed_us, 0);
    atomic_init(&l->busy, PL_REDIS_IDLE);
    atomic_init(&l->held, 0);
    l->window = pl__redis_window(l->unavailable_timeout);
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
    pl__redis_stop_holder(l);
    pl__redis_unsubscribe(l, confirm);
    pl__redis_end_probe(l);
    pl__redis_close(&l->w);
    pl__redis_free_answers(l);
    l->held = 0;
    l->elected = 0;
    l->notice_seen = 0;
}

PL_EXPORT void pl_redis_lock_free(pl_redis_lock *l)
{
    int idle = PL_REDIS_IDLE;
    if (!l)
        return;
    /* Another thread inside a call: wait for it to return (bounded by its
       timeout) rather than free what it uses. */
    while (!atomic_compare_exchange_weak(&l->busy, &idle, PL_REDIS_BUSY_FREE)) {
        idle = PL_REDIS_IDLE;
        pl__os_sleep(0.001);
    }
    fork_check(l);
    teardown(l, 0);
    pl__redis_close(&l->cmd);
    pl__redis_close(&l->idle_sub);
    pl__cancel_destroy(&l->cancel);
    if (l->stop_pipe[0] >= 0) {
        (void)pl__os_close(l->stop_pipe[0]);
        (void)pl__os_close(l->stop_pipe[1]);
    }
    free(l->answers);
    free(l->heard);
    free(l->probe_chan);
    free(l->channel);
    free(l->notice);
    free(l->fence_key);
    free(l->client_name);
    free(l->conf.host);
    free(l->conf.unix_path);
    free(l->conf.username);
    free(l->conf.password);
    pl__redis_conf_tls_reset(&l->conf);
    free(l->conf.tls_ca_file);
    free(l->conf.tls_ca_dir);
    free(l->conf.tls_cert_file);
    free(l->conf.tls_key_file);
    free(l->conf.tls_server_name);
    free(l->conf.sentinel_service);
    free(l->conf.sentinels);
    pl__redis_cluster_free(&l->conf);
    free(l);
}

/* Connection settings apply to the next connections: the open ones are
   closed (not while held: the holder thread uses them). */
static void settings_changed(pl_redis_lock *l)
{
    fork_check(l);
    pl__redis_close(&l->cmd);
    l->cmd_pending = 0;
    pl__redis_close(&l->w);
    pl__redis_close(&l->idle_sub);
}

int pl__redis_setting_begin(pl_redis_lock *l, const char *what)
{
    PL_REDIS_CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, what);
    return PL_OK;
}

void pl__redis_setting_changed(pl_redis_lock *l)
{
    settings_changed(l);
    pl__redis_conf_tls_reset(&l->conf);
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
    PL_REDIS_CHECK_HANDLE(l);
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

PL_EXPORT pl_status pl_redis_lock_set_unix_socket(pl_redis_lock *l,
                                                  const char *path)
{
    int rc;
    PL_REDIS_CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "unix socket");
    if ((rc = pl__redis_unix_socket_supported()) != PL_OK)
        return rc;
    if (!path || !*path)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis unix socket path must not be NULL or empty");
    if (strlen(path) >= 108)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "Redis unix socket path "
                        "'%s' is too long (max 107 bytes)", path);
    if ((rc = replace(&l->conf.unix_path, path)) != PL_OK)
        return rc;
    settings_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_db(pl_redis_lock *l, int db)
{
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "flags");
    /* The reference accepts EXCLUSIVE or SHARED and nothing else. */
    if (flags != PL_LOCK_EX && flags != PL_LOCK_SH)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock flags must be EXCLUSIVE (%d) or SHARED "
                        "(%d), got 0x%x",
                        PL_LOCK_EX, PL_LOCK_SH, (unsigned)flags);
    l->flags = flags;
    l->mode = flags & PL_LOCK_SH ? PL_RMODE_SHARED : PL_RMODE_PENDING;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_set_timeout(pl_redis_lock *l, double seconds)
{
    PL_REDIS_CHECK_HANDLE(l);
    return pl__wait_set_timeout(&l->wait, seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_check_interval(pl_redis_lock *l,
                                                     double seconds)
{
    PL_REDIS_CHECK_HANDLE(l);
    return pl__wait_set_check_interval(&l->wait, seconds);
}

PL_EXPORT pl_status pl_redis_lock_set_fail_when_locked(pl_redis_lock *l,
                                                       int enabled)
{
    PL_REDIS_CHECK_HANDLE(l);
    return pl__wait_set_fail_when_locked(&l->wait, enabled);
}

PL_EXPORT pl_status pl_redis_lock_set_unavailable_timeout(pl_redis_lock *l,
                                                          double seconds)
{
    int rc;
    PL_REDIS_CHECK_HANDLE(l);
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
    PL_REDIS_CHECK_HANDLE(l);
    CHECK_NOT_HELD(l, "lost callback"); /* the holder thread reads it */
    l->lost_cb = callback;
    l->lost_ud = userdata;
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_check(pl_redis_lock *l)
{
    int busy;
    PL_REDIS_CHECK_HANDLE(l);
    /* check() may run beside another check() (it only reads atomics), not
       beside a call that changes the hold. */
    busy = atomic_load(&l->busy);
    if (busy != PL_REDIS_IDLE && busy != PL_REDIS_BUSY_PROBE)
        return busy_error(l);
    if (l->conn_pid && l->conn_pid != pl__self_pid()) {
        if (pl__redis_enter(l, PL_REDIS_BUSY_SETTING) != PL_OK)
            return busy_error(l);
        fork_check(l);
        pl__redis_leave(l);
    }
    if (!l->held)
        return pl__fail(PL_ERR_NOT_HELD, 0, "Redis lock '%s' is not held",
                        l->display);
    if (pl__redis_lost_now(l))
        return pl__fail(PL_ERR_LOCK_LOST, 0, "%s", l->lost_reason);
    return pl__ok();
}

static int acquired(pl_redis_lock *l)
{
    int rc;
    pl__redis_end_probe(l);
    pl__redis_close(&l->w); /* a holder needs no notices */
    pl__redis_free_answers(l);
    if ((rc = pl__redis_start_holder(l)) != PL_OK) {
        pl__redis_unsubscribe(l, 1);
        return rc;
    }
    l->held = 1;
    l->owner_pid = pl__self_pid();
    return pl__ok();
}

/* A broken or timed-out connection (a server pause, a reset) costs the
   attempt: its connections are dropped and the next attempt reconnects,
   until the lock's own deadline. */
static int transient(pl_redis_lock *l, int rc)
{
    if (rc != PL_ERR_CONNECTION || !pl__redis_broke())
        return 0;
    pl__redis_stop_holder(l);
    pl__redis_unsubscribe(l, 0);
    pl__redis_end_probe(l);
    pl__redis_close(&l->w);
    pl__redis_close(&l->cmd);
    l->cmd_pending = 0;
    l->elected = 0;
    return 1;
}

static int acquire_loop(pl_redis_lock *l, double timeout, double check_interval,
                        int fail_when_locked)
{
    pl_wait_opts opts;
    double start, deadline, last_attempt;
    long long count = 0;
    int rc;

    fork_check(l);
    if (l->held) {
        if (!pl__redis_lost_now(l))
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
    l->lost_sticky = 0;
    l->inconclusive = 0;
    l->blocker[0] = '\0';
    l->defer = 0;
    l->fence_token = 0;
    l->window = pl__redis_window(l->unavailable_timeout);
    if (l->released_at > 0 &&
        (rc = pl__redis_hand_over(l, deadline)) != PL_OK)
        return rc;
    l->contended = 0;
    for (;;) {
        rc = pl__redis_attempt(l, opts.fail_when_locked, &count);
        if (rc == PL_OK)
            return acquired(l);
        if (transient(l, rc)) {
            int ready;
            /* The message of the break is kept if the deadline ends it. */
            if (pl__os_now() >= deadline)
                break;
            if ((rc = pl__wait_poll(NULL, 0,
                                    opts.check_interval < deadline - pl__os_now()
                                        ? opts.check_interval
                                        : deadline - pl__os_now(),
                                    &l->cancel, &ready)) == PL_ERR_INTERRUPTED)
                break;
            last_attempt = pl__os_now();
            continue;
        }
        if (rc != PL_ERR_ALREADY_LOCKED || l->hard_locked)
            break;
        /* timeout=0 is exactly one attempt */
        if (pl__os_now() >= deadline) {
            rc = pl__fail(PL_ERR_ALREADY_LOCKED, 0,
                          "timed out after %g s waiting for Redis lock '%s'",
                          opts.timeout, l->display);
            break;
        }
        rc = pl__redis_wait_for_change(l, &opts, deadline, last_attempt,
                                       count);
        if (rc != PL_OK && !transient(l, rc))
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

PL_EXPORT pl_status pl_redis_lock_acquire_with(pl_redis_lock *l,
                                               double timeout,
                                               double check_interval,
                                               int fail_when_locked)
{
    int rc;
    PL_REDIS_CHECK_HANDLE(l);
    if ((rc = pl__redis_enter(l, PL_REDIS_BUSY_ACQUIRE)) != PL_OK)
        return rc;
    /* A pending cancel ends this acquire before it starts. */
    if ((rc = pl__wait_check(&l->cancel)) == PL_OK)
        rc = acquire_loop(l, timeout, check_interval, fail_when_locked);
    pl__wait_done(&l->cancel);
    pl__redis_leave(l);
    return rc;
}

PL_EXPORT pl_status pl_redis_lock_acquire(pl_redis_lock *l)
{
    return pl_redis_lock_acquire_with(l, PL_INHERIT, PL_INHERIT, PL_INHERIT);
}

PL_EXPORT pl_status pl_redis_lock_cancel(pl_redis_lock *l)
{
    /* No pl__fail/pl__ok: they write the thread's last error, which a
       signal handler must not touch. */
    if (!l)
        return PL_ERR_INVALID_ARGUMENT;
    pl__cancel_request(&l->cancel);
    return PL_OK;
}

/* Tell our waiters the lock is free. Sent after the UNSUBSCRIBE was
   confirmed, so it cannot overtake the release; the reply is read with
   the next command. */
static void publish_notice(pl_redis_lock *l)
{
    char payload[9 + PL_REDIS_ID_LEN + 1];
    const char *argv[3] = {pl__redis_cmd_publish(&l->conf), l->notice, payload};
    size_t lens[3] = {strlen(argv[0]), l->notice_len, 9 + PL_REDIS_ID_LEN};
    snprintf(payload, sizeof payload, "released:%s", l->id);
    if (!l->cmd)
        return; /* waiters still see the count drop */
    if (pl__redis_send(&l->conf, l->cmd, "PUBLISH (release notice)", 3, argv,
                       lens) == PL_OK)
        l->cmd_pending++;
    else
        pl__redis_close(&l->cmd);
}

static int release_hold(pl_redis_lock *l)
{
    fork_check(l);
    if (!l->held) {
        teardown(l, 0);
        return pl__ok();
    }
    pl__redis_stop_holder(l);
    if (pl__redis_lost_now(l)) {
        char msg[sizeof l->lost_reason];
        memcpy(msg, l->lost_reason, sizeof msg);
        teardown(l, 0);
        l->lost_sticky = 1;
        return pl__fail(PL_ERR_LOCK_LOST, 0, "%s (released what was left)",
                        msg);
    }
    pl__redis_unsubscribe(l, 1);
    l->held = 0;
    l->elected = 0;
    publish_notice(l);
    /* Writers only hand over: co-readers are no waiters, and a reader
       coming back yields to a pending writer anyway. */
    l->released_at = l->flags & PL_LOCK_SH ? 0 : pl__os_now();
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_release(pl_redis_lock *l)
{
    int rc;
    PL_REDIS_CHECK_HANDLE(l);
    if ((rc = pl__redis_enter(l, PL_REDIS_BUSY_RELEASE)) != PL_OK)
        return rc;
    rc = release_hold(l);
    pl__redis_leave(l);
    return rc;
}
