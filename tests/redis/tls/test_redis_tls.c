/* RedisLock over TLS against a real redis-server with --tls-port and
   certificates made by ci/lib/redis-tls.sh (client certificates
   required). The server's plain port (PL_TEST_REDIS_PORT) is only for
   looking at the server (NUMSUB, CLIENT LIST/KILL). Run by
   ci/tests.d/redis-tls.sh; also under valgrind there. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int tls_port(void)
{
    const char *p = getenv("PL_TEST_REDIS_TLS_PORT");
    if (!p || !*p) {
        fprintf(stderr, "PL_TEST_REDIS_TLS_PORT is not set: run through "
                        "ci/tests.d/redis-tls.sh\n");
        exit(1);
    }
    return atoi(p);
}

static const char *tls_file(const char *name)
{
    static char bufs[8][512];
    static int n;
    char *b = bufs[n++ % 8];
    const char *d = getenv("PL_TEST_TLS_DIR");
    if (!d)
        fail_msg("PL_TEST_TLS_DIR is not set");
    snprintf(b, sizeof bufs[0], "%s/%s", d, name);
    return b;
}

/* Bounds stretched under valgrind (PL_TEST_TIME_SCALE=10). */
static double scale(void)
{
    const char *s = getenv("PL_TEST_TIME_SCALE");
    return s && atof(s) >= 1 ? atof(s) : 1;
}

/* A handle over TLS with the test CA and client certificate, by setters. */
static pl_redis_lock *tls_lock(const char *ch, int flags)
{
    pl_redis_lock *l = rt_lock(ch, flags);
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", tls_port()));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 2 * scale()));
    tu_ok(pl_redis_lock_set_tls(l, 1));
    tu_ok(pl_redis_lock_set_tls_ca_file(l, tls_file("ca.crt")));
    tu_ok(pl_redis_lock_set_tls_cert_file(l, tls_file("client.crt")));
    tu_ok(pl_redis_lock_set_tls_key_file(l, tls_file("client.key")));
    return l;
}

static void expect_connection_error(pl_redis_lock *l, const char *words,
                                    double max_seconds)
{
    max_seconds *= scale();
    char ep[64];
    double t0 = tu_now(), e;
    int rc = pl_redis_lock_acquire_with(l, 3, PL_INHERIT, 0);
    e = tu_now() - t0;
    if (rc != PL_ERR_CONNECTION)
        fail_msg("acquire returned %d (%s), want PL_ERR_CONNECTION", rc,
                 pl_last_error_message());
    snprintf(ep, sizeof ep, "127.0.0.1:%d (TLS)", tls_port());
    if (!strstr(pl_last_error_message(), ep))
        fail_msg("message '%s' does not name %s", pl_last_error_message(), ep);
    if (words && !strstr(pl_last_error_message(), words))
        fail_msg("message '%s' lacks '%s'", pl_last_error_message(), words);
    if (e > max_seconds)
        fail_msg("the failure took %.2f s (bound %.2f s)", e, max_seconds);
    tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
}

static void url_acquire_release_and_getters(void **state)
{
    const char *ch = rt_channel("tls-url");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    char url[2048];
    const char *s;
    int v;
    (void)state;
    snprintf(url, sizeof url,
             "rediss://127.0.0.1:%d/0?ssl_ca_certs=%s&ssl_certfile=%s"
             "&ssl_keyfile=%s&ssl_cert_reqs=required",
             tls_port(), tls_file("ca.crt"), tls_file("client.crt"),
             tls_file("client.key"));
    tu_ok(pl_redis_lock_set_url(l, url));
    tu_ok(pl_redis_lock_get_tls(l, &v));
    assert_int_equal(v, 1);
    tu_ok(pl_redis_lock_get_tls_verify_peer(l, &v));
    assert_int_equal(v, 1);
    tu_ok(pl_redis_lock_get_tls_check_hostname(l, &v));
    assert_int_equal(v, 1);
    tu_ok(pl_redis_lock_get_tls_ca_file(l, &s));
    assert_string_equal(s, tls_file("ca.crt"));
    tu_ok(pl_redis_lock_get_tls_cert_file(l, &s));
    assert_string_equal(s, tls_file("client.crt"));
    tu_ok(pl_redis_lock_get_tls_ca_dir(l, &s));
    assert_null(s);
    tu_ok(pl_redis_lock_get_tls_server_name(l, &s));
    assert_null(s);
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    assert_int_equal(rt_numsub(ch), 1);
    tu_ok(pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
    /* A plain URL afterwards turns TLS off again. */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rt_port());
    tu_ok(pl_redis_lock_set_url(l, url));
    tu_ok(pl_redis_lock_get_tls(l, &v));
    assert_int_equal(v, 0);
    tu_ok(pl_redis_lock_get_tls_ca_file(l, &s));
    assert_null(s);
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void url_errors_name_the_option(void **state)
{
    pl_redis_lock *l = rt_lock(rt_channel("tls-urlerr"), PL_LOCK_EX);
    int v;
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "redis://h?ssl_ca_certs=/x"));
    assert_non_null(strstr(pl_last_error_message(), "rediss://"));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "rediss://h?ssl_cert_reqs=maybe"));
    assert_non_null(strstr(pl_last_error_message(), "maybe"));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "rediss://h?ssl_check_hostname=perhaps"));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "rediss://h?ssl_ca_cert=/x"));
    assert_non_null(strstr(pl_last_error_message(), "ssl_ca_cert"));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "unix:///tmp/x.sock?ssl_certfile=/x"));
    /* unchanged by the failures */
    tu_ok(pl_redis_lock_get_tls(l, &v));
    assert_int_equal(v, 0);
    tu_ok(pl_redis_lock_set_url(l, "rediss://h?ssl_cert_reqs=none&ssl_check_hostname=false"));
    tu_ok(pl_redis_lock_get_tls_verify_peer(l, &v));
    assert_int_equal(v, 0);
    tu_ok(pl_redis_lock_get_tls_check_hostname(l, &v));
    assert_int_equal(v, 0);
    pl_redis_lock_free(l);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_tls(NULL, 1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_tls(NULL, &v));
}

static void contend_probe_and_release_over_tls(void **state)
{
    const char *ch = rt_channel("tls-contend");
    pl_redis_lock *h = tls_lock(ch, PL_LOCK_EX), *w = tls_lock(ch, PL_LOCK_EX);
    pl_redis_holders *hs = NULL;
    const char *id;
    (void)state;
    tu_ok(pl_redis_lock_acquire_with(h, 2, PL_INHERIT, 0));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(w, 0.3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_probe(w, 2, &hs));
    assert_int_equal(pl_redis_holders_count(hs), 1);
    tu_ok(pl_redis_holders_get(hs, 0, &id, NULL, NULL));
    assert_string_equal(id, pl_redis_lock_holder_id(h));
    pl_redis_holders_free(hs);
    tu_ok(pl_redis_lock_check(h));
    tu_ok(pl_redis_lock_release(h));
    tu_ok(pl_redis_lock_acquire_with(w, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(h);
    pl_redis_lock_free(w);
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
}

static void crashed_holder_is_reaped(void **state)
{
    const char *ch = rt_channel("tls-crash");
    int p[2];
    char c;
    pid_t pid;
    pl_redis_lock *w;
    double t0;
    (void)state;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        pl_redis_lock *h = tls_lock(ch, PL_LOCK_EX);
        if (pl_redis_lock_acquire_with(h, 2, PL_INHERIT, 0) != PL_OK)
            _exit(2);
        (void)!write(p[1], "h", 1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    w = tls_lock(ch, PL_LOCK_EX);
    t0 = tu_now();
    tu_ok(pl_redis_lock_acquire_with(w, 5, PL_INHERIT, 0));
    assert_true(tu_now() - t0 < 4 * scale());
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(w);
}

static void killed_connection_is_a_lost_lock(void **state)
{
    const char *ch = rt_channel("tls-lost");
    pl_redis_lock *h = tls_lock(ch, PL_LOCK_EX);
    char name[256];
    long long id;
    double end;
    redisContext *c;
    redisReply *r;
    (void)state;
    tu_ok(pl_redis_lock_acquire_with(h, 2, PL_INHERIT, 0));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(h));
    id = rt_client_id(name);
    assert_true(id > 0);
    c = rt_connect();
    r = redisCommand(c, "CLIENT KILL ID %lld", id);
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
    end = tu_now() + 3;
    while (pl_redis_lock_check(h) == PL_OK && tu_now() < end)
        usleep(5000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(h));
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(h));
    pl_redis_lock_free(h);
}

/* A release keeps its subscription's connection, unsubscribed and
   unnamed (nothing reaps it or counts it), and the next acquire
   subscribes on it (no second handshake): the server sees the same client
   id named again. */
static void a_released_connection_is_reused_under_the_new_name(void **state)
{
    const char *ch = rt_channel("tls-reuse");
    pl_redis_lock *l = tls_lock(ch, PL_LOCK_EX);
    char name[256], old[256];
    long long first, second;
    (void)state;
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    snprintf(old, sizeof old, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    first = rt_client_id(old);
    assert_true(first > 0);
    tu_ok(pl_redis_lock_release(l));
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
    assert_int_equal(rt_client_id(old), -1); /* the name is cleared */
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    second = rt_client_id(name);
    assert_int_equal(second, first);
    assert_int_equal(rt_numsub(ch), 1);
    tu_ok(pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    /* a kept connection the server dropped: the next acquire connects anew */
    {
        redisContext *c = rt_connect();
        redisReply *r = redisCommand(c, "CLIENT KILL ID %lld", first);
        if (r)
            freeReplyObject(r);
        redisFree(c);
    }
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    assert_true(rt_client_id(name) > 0);
    assert_true(rt_client_id(name) != first);
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void wrong_ca_is_refused(void **state)
{
    pl_redis_lock *l = tls_lock(rt_channel("tls-ca"), PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_set_tls_ca_file(l, tls_file("other-ca.crt")));
    expect_connection_error(l, "certificate verification failed", 3);
    /* the system store does not know the test CA either */
    tu_ok(pl_redis_lock_set_tls_ca_file(l, NULL));
    expect_connection_error(l, "certificate verification failed", 3);
    /* without verification it connects (a choice the user makes) */
    tu_ok(pl_redis_lock_set_tls_verify_peer(l, 0));
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void wrong_hostname_is_refused(void **state)
{
    pl_redis_lock *l = tls_lock(rt_channel("tls-name"), PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_set_tls_server_name(l, "redis.invalid"));
    expect_connection_error(l, "hostname mismatch", 3);
    /* the name the certificate has, through SNI and the check */
    tu_ok(pl_redis_lock_set_tls_server_name(l, "localhost"));
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    /* a host by the name localhost: the DNS entry matches too */
    tu_ok(pl_redis_lock_set_tls_server_name(l, NULL));
    tu_ok(pl_redis_lock_set_host(l, "localhost", tls_port()));
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    /* the check off: a wrong name passes, the CA still counts */
    tu_ok(pl_redis_lock_set_tls_server_name(l, "redis.invalid"));
    tu_ok(pl_redis_lock_set_tls_check_hostname(l, 0));
    tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void client_certificate_required(void **state)
{
    pl_redis_lock *l = tls_lock(rt_channel("tls-client"), PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_set_tls_cert_file(l, NULL));
    tu_ok(pl_redis_lock_set_tls_key_file(l, NULL));
    expect_connection_error(l, "certificate required", 3);
    /* a key that is not the certificate's */
    tu_ok(pl_redis_lock_set_tls_cert_file(l, tls_file("client.crt")));
    tu_ok(pl_redis_lock_set_tls_key_file(l, tls_file("server.key")));
    expect_connection_error(l, "key values mismatch", 3);
    tu_ok(pl_redis_lock_set_tls_key_file(l, "/nonexistent/client.key"));
    expect_connection_error(l, "/nonexistent/client.key", 3);
    tu_ok(pl_redis_lock_set_tls_ca_file(l, "/nonexistent/ca.crt"));
    expect_connection_error(l, "/nonexistent/ca.crt", 3);
    pl_redis_lock_free(l);
}

static void plaintext_server_and_unreachable_host(void **state)
{
    pl_redis_lock *l = tls_lock(rt_channel("tls-unreach"), PL_LOCK_EX);
    int port = rt_free_port(), fd, one = 1;
    struct sockaddr_in sa;
    char ep[64];
    double t0;
    (void)state;
    /* nobody listens */
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", port));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    snprintf(ep, sizeof ep, "127.0.0.1:%d (TLS)", port);
    assert_non_null(strstr(pl_last_error_message(), ep));
    assert_non_null(strstr(pl_last_error_message(), strerror(ECONNREFUSED)));
    /* a name that does not resolve */
    tu_ok(pl_redis_lock_set_host(l, "no-such-host.invalid", port));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    assert_non_null(strstr(pl_last_error_message(), "no-such-host.invalid"));
    /* a listener that accepts and never answers the handshake: the
       connect timeout bounds it */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 0.4));
    t0 = tu_now();
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 5, PL_INHERIT, 0));
    assert_true(tu_now() - t0 < 2.5 * scale());
    assert_non_null(strstr(pl_last_error_message(), "TLS handshake: timed out"));
    close(fd);
    /* the plain port of the server: not TLS */
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", rt_port()));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 2 * scale()));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    assert_non_null(strstr(pl_last_error_message(), "TLS handshake"));
    pl_redis_lock_free(l);
}

static void nothing_leaks_across_failures(void **state)
{
    int fds = tu_count_fds(), i;
    (void)state;
    for (i = 0; i < 3; i++) {
        pl_redis_lock *l = tls_lock(rt_channel("tls-leak"), PL_LOCK_EX);
        tu_ok(pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
        tu_ok(pl_redis_lock_release(l));
        tu_ok(pl_redis_lock_set_tls_ca_file(l, tls_file("other-ca.crt")));
        tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
        tu_ok(pl_redis_lock_set_tls_ca_file(l, tls_file("ca.crt")));
        tu_ok(pl_redis_lock_set_tls_cert_file(l, NULL));
        tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
        pl_redis_lock_free(l);
    }
    assert_int_equal(tu_count_fds(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_acquire_release_and_getters),
        cmocka_unit_test(url_errors_name_the_option),
        cmocka_unit_test(contend_probe_and_release_over_tls),
        cmocka_unit_test(crashed_holder_is_reaped),
        cmocka_unit_test(killed_connection_is_a_lost_lock),
        cmocka_unit_test(a_released_connection_is_reused_under_the_new_name),
        cmocka_unit_test(wrong_ca_is_refused),
        cmocka_unit_test(wrong_hostname_is_refused),
        cmocka_unit_test(client_certificate_required),
        cmocka_unit_test(plaintext_server_and_unreachable_host),
        cmocka_unit_test(nothing_leaks_across_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
