/*
 * The Redis lock on Windows (Winsock transport, hiredis's reader and
 * formatter cross-built from Debian's source), under wine against the
 * real redis-server that ci/tests.d/windows.sh starts on 127.0.0.1
 * (PL_TEST_REDIS_PORT; a missing port is a failure, not a skip). The
 * other process is pl_win_helper.exe; windows.sh adds the Linux side
 * (a Linux holder against a Windows waiter and the other way round,
 * each killed with SIGKILL).
 */
#include "winutil.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char port_s[16];
static int port;

/* A channel of its own per call (runs of the suite do not meet). */
static const char *channel(void)
{
    static char buf[64];
    static int n;
    snprintf(buf, sizeof buf, "pl-win-%lu-%d", (unsigned long)GetCurrentProcessId(), ++n);
    return buf;
}

static pl_redis_lock *new_lock(const char *chan, int flags, double timeout)
{
    pl_redis_lock *r = NULL;
    tu_ok(pl_redis_lock_new(&r, chan, strlen(chan)));
    tu_ok(pl_redis_lock_set_host(r, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_flags(r, flags));
    tu_ok(pl_redis_lock_set_timeout(r, timeout));
    tu_ok(pl_redis_lock_set_check_interval(r, 0.05));
    tu_ok(pl_redis_lock_set_fail_when_locked(r, timeout <= 0));
    return r;
}

static int server_port(void **state)
{
    const char *p = getenv("PL_TEST_REDIS_PORT");
    (void)state;
    if (!p || atoi(p) <= 0) {
        fprintf(stderr, "PL_TEST_REDIS_PORT is not set: ci/tests.d/windows.sh "
                        "starts the redis-server this suite needs\n");
        return -1;
    }
    port = atoi(p);
    snprintf(port_s, sizeof port_s, "%d", port);
    return 0;
}

static void acquire_check_release(void **state)
{
    pl_redis_lock *r = new_lock(channel(), PL_LOCK_EX, 0);
    int held = -1;
    (void)state;
    tu_ok(pl_redis_lock_acquire(r));
    tu_ok(pl_redis_lock_check(r));
    tu_ok(pl_redis_lock_is_lost(r, &held));
    assert_int_equal(held, 0);
    assert_int_equal(strlen(pl_redis_lock_holder_id(r)) > 0, 1);
    tu_ok(pl_redis_lock_release(r));
    tu_ok(pl_redis_lock_acquire(r)); /* again, on the same handle */
    tu_ok(pl_redis_lock_release(r));
    pl_redis_lock_free(r);
}

static void second_handle_refused_until_released(void **state)
{
    const char *chan = channel();
    pl_redis_lock *a = new_lock(chan, PL_LOCK_EX, 0), *b = new_lock(chan, PL_LOCK_EX, 0);
    pl_redis_holders *h = NULL;
    (void)state;
    tu_ok(pl_redis_lock_acquire(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire(b));
    tu_ok(pl_redis_lock_probe(b, 2.0, &h));
    assert_int_equal(pl_redis_holders_count(h), 1);
    pl_redis_holders_free(h);
    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_acquire(b));
    tu_ok(pl_redis_lock_release(b));
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
}

static void shared_holders_share(void **state)
{
    const char *chan = channel();
    pl_redis_lock *a = new_lock(chan, PL_LOCK_SH, 0), *b = new_lock(chan, PL_LOCK_SH, 0),
                  *x = new_lock(chan, PL_LOCK_EX, 0);
    (void)state;
    tu_ok(pl_redis_lock_acquire(a));
    tu_ok(pl_redis_lock_acquire(b));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire(x));
    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_release(b));
    tu_ok(pl_redis_lock_acquire(x));
    tu_ok(pl_redis_lock_release(x));
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
    pl_redis_lock_free(x);
}

/* Another process holds; its kill (TerminateProcess) frees the lock. */
static void killed_holder_releases(void **state)
{
    const char *chan = channel();
    const char *ready = tu_path(state, "redis.ready");
    const char *hold[] = {"redis-hold", port_s, chan, ready, NULL};
    pl_redis_lock *r = new_lock(chan, PL_LOCK_EX, 0);
    tw_proc p = tw_spawn_ready(hold, ready, 60);
    assert_true(p != 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire(r));
    tw_kill(p);
    tu_ok(pl_redis_lock_set_timeout(r, 20));
    tu_ok(pl_redis_lock_set_fail_when_locked(r, 0));
    tu_ok(pl_redis_lock_acquire(r));
    tu_ok(pl_redis_lock_release(r));
    pl_redis_lock_free(r);
}

/* A waiting process gets the lock when this one releases it. */
static void waiter_in_another_process_gets_it(void **state)
{
    const char *chan = channel();
    const char *try_now[] = {"redis-try", port_s, chan, "0", NULL};
    const char *wait[] = {"redis-try", port_s, chan, "30", NULL};
    pl_redis_lock *r = new_lock(chan, PL_LOCK_EX, 0);
    tw_proc p;
    (void)state;
    tu_ok(pl_redis_lock_acquire(r));
    assert_int_equal(tw_run(try_now, 60), 1);
    p = tw_spawn(wait);
    assert_true(p != 0);
    Sleep(500);
    tu_ok(pl_redis_lock_release(r));
    assert_int_equal(tw_wait(p, 60), 0);
    pl_redis_lock_free(r);
}

static void url_connects(void **state)
{
    pl_redis_lock *r = NULL;
    const char *chan = channel();
    char url[64];
    const char *host = NULL;
    int got_port = 0;
    (void)state;
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
    tu_ok(pl_redis_lock_new(&r, chan, strlen(chan)));
    tu_ok(pl_redis_lock_set_url(r, url));
    tu_ok(pl_redis_lock_get_host(r, &host, &got_port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(got_port, port);
    tu_ok(pl_redis_lock_set_fail_when_locked(r, 1));
    tu_ok(pl_redis_lock_acquire(r));
    tu_ok(pl_redis_lock_release(r));
    pl_redis_lock_free(r);
}

/* Nothing listens: a connection error naming the endpoint and the cause. */
static void refused_connection_is_named(void **state)
{
    pl_redis_lock *r = NULL;
    const char *msg;
    (void)state;
    tu_ok(pl_redis_lock_new(&r, "pl-win-refused", 14));
    tu_ok(pl_redis_lock_set_host(r, "127.0.0.1", 1));
    tu_ok(pl_redis_lock_set_connect_timeout(r, 5));
    tu_ok(pl_redis_lock_set_fail_when_locked(r, 1));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(r));
    msg = pl_last_error_message();
    assert_non_null(strstr(msg, "127.0.0.1:1"));
    assert_non_null(strstr(msg, "refused"));
    pl_redis_lock_free(r);
}

/* No TLS (no OpenSSL for mingw-w64 in Debian) and no unix sockets here:
   refused by the setters, saying why; the handle stays usable. */
static void tls_and_unix_sockets_unsupported(void **state)
{
    pl_redis_lock *r = NULL;
    int on = -1;
    (void)state;
    tu_ok(pl_redis_lock_new(&r, "pl-win-tls", 10));
    tu_expect(PL_ERR_UNSUPPORTED, pl_redis_lock_set_tls(r, 1));
    assert_non_null(strstr(pl_last_error_message(), "Windows"));
    tu_ok(pl_redis_lock_get_tls(r, &on));
    assert_int_equal(on, 0);
    tu_ok(pl_redis_lock_set_tls(r, 0));
    tu_expect(PL_ERR_UNSUPPORTED, pl_redis_lock_set_url(r, "rediss://127.0.0.1:6380"));
    assert_non_null(strstr(pl_last_error_message(), "TLS"));
    tu_expect(PL_ERR_UNSUPPORTED, pl_redis_lock_set_unix_socket(r, "C:\\redis.sock"));
    assert_non_null(strstr(pl_last_error_message(), "Windows"));
    tu_expect(PL_ERR_UNSUPPORTED, pl_redis_lock_set_url(r, "unix:///tmp/redis.sock"));
    tu_ok(pl_redis_lock_set_host(r, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_fail_when_locked(r, 1));
    tu_ok(pl_redis_lock_acquire(r));
    tu_ok(pl_redis_lock_release(r));
    pl_redis_lock_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
        T(acquire_check_release),
        T(second_handle_refused_until_released),
        T(shared_holders_share),
        T(killed_holder_releases),
        T(waiter_in_another_process_gets_it),
        T(url_connects),
        T(refused_connection_is_named),
        T(tls_and_unix_sockets_unsupported),
#undef T
    };
    return cmocka_run_group_tests_name("redis on windows", tests, server_port, NULL);
}
