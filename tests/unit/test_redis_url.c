/* pl_redis_lock_set_url: URLs become the settings the getters read back;
   unsupported schemes and malformed URLs are refused naming the part and
   leave the handle as it was. No server: nothing here connects. */
#include "helpers/testutil.h"

#include <string.h>

static pl_redis_lock *new_lock(void)
{
    pl_redis_lock *l = NULL;
    assert_int_equal(pl_redis_lock_new(&l, "ch", 2), PL_OK);
    return l;
}

static void expect_tcp(pl_redis_lock *l, const char *host, int port, int db)
{
    const char *h = NULL, *sock = NULL;
    int p = 0, d = -1;
    assert_int_equal(pl_redis_lock_get_host(l, &h, &p), PL_OK);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
    assert_int_equal(pl_redis_lock_get_unix_socket(l, &sock), PL_OK);
    assert_string_equal(sock, "");
    assert_int_equal(pl_redis_lock_get_db(l, &d), PL_OK);
    assert_int_equal(d, db);
}

static void expect_auth(pl_redis_lock *l, const char *user, const char *pass)
{
    const char *u = "x", *p = "x";
    assert_int_equal(pl_redis_lock_get_password(l, &u, &p), PL_OK);
    if (user)
        assert_string_equal(u, user);
    else
        assert_null(u);
    if (pass)
        assert_string_equal(p, pass);
    else
        assert_null(p);
}

static void plain_host_port_db(void **state)
{
    pl_redis_lock *l = new_lock();
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://cache.example:6380/3"), PL_OK);
    expect_tcp(l, "cache.example", 6380, 3);
    expect_auth(l, NULL, NULL);
    pl_redis_lock_free(l);
}

static void defaults_for_what_is_left_out(void **state)
{
    pl_redis_lock *l = new_lock();
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://h:1/5"), PL_OK);
    assert_int_equal(pl_redis_lock_set_url(l, "redis://"), PL_OK);
    expect_tcp(l, "127.0.0.1", 6379, 0);
    assert_int_equal(pl_redis_lock_set_url(l, "redis://example/"), PL_OK);
    expect_tcp(l, "example", 6379, 0);
    pl_redis_lock_free(l);
}

static void user_password_and_percent_decoding(void **state)
{
    pl_redis_lock *l = new_lock();
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://al%69ce:p%40ss:w@h/1"), PL_OK);
    expect_auth(l, "alice", "p@ss:w");
    expect_tcp(l, "h", 6379, 1);
    assert_int_equal(pl_redis_lock_set_url(l, "redis://:secret@h"), PL_OK);
    expect_auth(l, NULL, "secret");
    /* A raw '@' in the password: the last '@' ends the user part. */
    assert_int_equal(pl_redis_lock_set_url(l, "redis://:a@b@h:7"), PL_OK);
    expect_auth(l, NULL, "a@b");
    expect_tcp(l, "h", 7, 0);
    pl_redis_lock_free(l);
}

static void ipv6_in_brackets(void **state)
{
    pl_redis_lock *l = new_lock();
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://[::1]:6390/2"), PL_OK);
    expect_tcp(l, "::1", 6390, 2);
    assert_int_equal(pl_redis_lock_set_url(l, "redis://[fe80::1%25eth0]"), PL_OK);
    expect_tcp(l, "fe80::1%eth0", 6379, 0);
    pl_redis_lock_free(l);
}

static void query_options(void **state)
{
    pl_redis_lock *l = new_lock();
    double t = 0;
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l,
        "redis://h?db=4&username=bob&password=pw&socket_timeout=2.5&socket_connect_timeout=0.5"),
        PL_OK);
    expect_tcp(l, "h", 6379, 4);
    expect_auth(l, "bob", "pw");
    assert_int_equal(pl_redis_lock_get_command_timeout(l, &t), PL_OK);
    assert_true(t == 2.5);
    assert_int_equal(pl_redis_lock_get_connect_timeout(l, &t), PL_OK);
    assert_true(t == 0.5);
    pl_redis_lock_free(l);
}

static void unix_socket(void **state)
{
    pl_redis_lock *l = new_lock();
    const char *sock = NULL;
    int db = -1;
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "unix:///run/re%64is.sock?db=2&password=x"), PL_OK);
    assert_int_equal(pl_redis_lock_get_unix_socket(l, &sock), PL_OK);
    assert_string_equal(sock, "/run/redis.sock");
    assert_int_equal(pl_redis_lock_get_db(l, &db), PL_OK);
    assert_int_equal(db, 2);
    expect_auth(l, NULL, "x");
    /* A TCP URL afterwards connects over TCP again. */
    assert_int_equal(pl_redis_lock_set_url(l, "redis://h"), PL_OK);
    expect_tcp(l, "h", 6379, 0);
    pl_redis_lock_free(l);
}

static void expect_refused(pl_redis_lock *l, const char *url, int code,
                           const char *needle)
{
    assert_int_equal(pl_redis_lock_set_url(l, url), code);
    if (!strstr(pl_last_error_message(), needle))
        fail_msg("set_url(\"%s\"): message \"%s\" lacks \"%s\"", url,
                 pl_last_error_message(), needle);
}

static void tls_and_sentinel_urls(void **state)
{
    pl_redis_lock *l = new_lock();
    const char *s = NULL;
    int v = -1;
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "rediss://h:6380"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
    expect_tcp(l, "h", 6380, 0);
    assert_int_equal(pl_redis_lock_set_url(
                         l, "redis+sentinel://:pw@s1:26380,[::1],s3/my%20master/4"
                            "?socket_timeout=2"),
                     PL_OK);
    assert_int_equal(pl_redis_lock_get_sentinels(l, &s), PL_OK);
    assert_string_equal(s, "s1:26380,[::1],s3");
    assert_int_equal(pl_redis_lock_get_sentinel_service(l, &s), PL_OK);
    assert_string_equal(s, "my master");
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 0);
    expect_auth(l, NULL, "pw");
    assert_int_equal(pl_redis_lock_get_db(l, &v), PL_OK);
    assert_int_equal(v, 4);
    assert_int_equal(pl_redis_lock_set_url(l, "rediss+sentinel://s1/svc"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
    expect_refused(l, "redis+sentinel://s1:26379", PL_ERR_INVALID_ARGUMENT, "service");
    expect_refused(l, "redis+sentinel:///svc", PL_ERR_INVALID_ARGUMENT, "sentinels");
    expect_refused(l, "redis+sentinel://s1:x/svc", PL_ERR_INVALID_ARGUMENT, "sentinels");
    expect_refused(l, "sentinel://s1/svc", PL_ERR_INVALID_ARGUMENT, "redis+sentinel://");
    /* the refusals left the last good URL */
    assert_int_equal(pl_redis_lock_get_sentinel_service(l, &s), PL_OK);
    assert_string_equal(s, "svc");
    /* a plain URL clears Sentinel */
    assert_int_equal(pl_redis_lock_set_url(l, "redis://h"), PL_OK);
    assert_int_equal(pl_redis_lock_get_sentinel_service(l, &s), PL_OK);
    assert_null(s);
    assert_int_equal(pl_redis_lock_get_sentinels(l, &s), PL_OK);
    assert_null(s);
    assert_int_equal(pl_redis_lock_set_sentinels(l, "a:1,,b"), PL_OK);
    assert_int_equal(pl_redis_lock_set_sentinels(l, "a:0"), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_redis_lock_set_sentinels(l, "[::1"), PL_ERR_INVALID_ARGUMENT);
    pl_redis_lock_free(l);
}

static void cluster_urls(void **state)
{
    pl_redis_lock *l = new_lock();
    const char *s = NULL;
    int v = -1;
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis+cluster://u:pw@n1:7000,[::1]:7001,n3/0"
                                              "?socket_timeout=2"),
                     PL_OK);
    assert_int_equal(pl_redis_lock_get_cluster(l, &v), PL_OK);
    assert_int_equal(v, 1);
    assert_int_equal(pl_redis_lock_get_cluster_nodes(l, &s), PL_OK);
    assert_string_equal(s, "n1:7000,[::1]:7001,n3");
    expect_auth(l, "u", "pw");
    assert_int_equal(pl_redis_lock_set_url(l, "rediss+cluster://n1"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
    expect_refused(l, "redis+cluster://n1:7000/2", PL_ERR_INVALID_ARGUMENT, "db");
    expect_refused(l, "redis+cluster:///0", PL_ERR_INVALID_ARGUMENT, "cluster nodes");
    expect_refused(l, "redis+cluster://n1:x", PL_ERR_INVALID_ARGUMENT, "n1:x");
    /* the refusals left the last good URL */
    assert_int_equal(pl_redis_lock_get_cluster_nodes(l, &s), PL_OK);
    assert_string_equal(s, "n1");
    /* a plain URL leaves cluster mode */
    assert_int_equal(pl_redis_lock_set_url(l, "redis://h"), PL_OK);
    assert_int_equal(pl_redis_lock_get_cluster(l, &v), PL_OK);
    assert_int_equal(v, 0);
    assert_int_equal(pl_redis_lock_get_cluster_nodes(l, &s), PL_OK);
    assert_null(s);
    pl_redis_lock_free(l);
    /* a name with no hash tag is refused, the handle unchanged */
    assert_int_equal(pl_redis_lock_new(&l, "}x", 2), PL_OK);
    expect_refused(l, "redis+cluster://n1", PL_ERR_INVALID_ARGUMENT, "hash tag");
    assert_int_equal(pl_redis_lock_get_cluster_nodes(l, &s), PL_OK);
    assert_null(s);
    assert_int_equal(pl_redis_lock_get_cluster(l, &v), PL_OK);
    assert_int_equal(v, 0);
    pl_redis_lock_free(l);
}

static void malformed_urls_name_the_part(void **state)
{
    pl_redis_lock *l = new_lock();
    (void)state;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://keep:6390/3"), PL_OK);
    expect_refused(l, "redis://h:0", PL_ERR_INVALID_ARGUMENT, "port");
    expect_refused(l, "redis://h:65536", PL_ERR_INVALID_ARGUMENT, "port");
    expect_refused(l, "redis://h:port", PL_ERR_INVALID_ARGUMENT, "port");
    expect_refused(l, "redis://h/abc", PL_ERR_INVALID_ARGUMENT, "db");
    expect_refused(l, "redis://h?db=-1", PL_ERR_INVALID_ARGUMENT, "db");
    expect_refused(l, "redis://h?bogus=1", PL_ERR_INVALID_ARGUMENT, "bogus");
    expect_refused(l, "redis://h?db", PL_ERR_INVALID_ARGUMENT, "no value");
    expect_refused(l, "redis://h?socket_timeout=0", PL_ERR_INVALID_ARGUMENT,
                   "socket_timeout");
    expect_refused(l, "redis://[::1:6379", PL_ERR_INVALID_ARGUMENT, "']'");
    expect_refused(l, "redis://[::1]x", PL_ERR_INVALID_ARGUMENT, "IPv6");
    expect_refused(l, "redis://:p%zz@h", PL_ERR_INVALID_ARGUMENT, "%-escape");
    expect_refused(l, "redis://:p%4@h", PL_ERR_INVALID_ARGUMENT, "%-escape");
    expect_refused(l, "redis://:p%00@h", PL_ERR_INVALID_ARGUMENT, "NUL");
    expect_refused(l, "redis://bob@h", PL_ERR_INVALID_ARGUMENT, "password");
    expect_refused(l, "redis://h?username=bob", PL_ERR_INVALID_ARGUMENT,
                   "without a password");
    expect_refused(l, "http://h", PL_ERR_INVALID_ARGUMENT, "scheme");
    expect_refused(l, "localhost:6379", PL_ERR_INVALID_ARGUMENT, "scheme");
    expect_refused(l, "unix://relative.sock", PL_ERR_INVALID_ARGUMENT, "absolute");
    expect_refused(l, "unix:///?db=1", PL_ERR_INVALID_ARGUMENT, "socket path");
    assert_int_equal(pl_redis_lock_set_url(l, NULL), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_redis_lock_set_url(NULL, "redis://h"), PL_ERR_INVALID_ARGUMENT);
    /* None of the refusals changed anything. */
    expect_tcp(l, "keep", 6390, 3);
    pl_redis_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_host_port_db),
        cmocka_unit_test(defaults_for_what_is_left_out),
        cmocka_unit_test(user_password_and_percent_decoding),
        cmocka_unit_test(ipv6_in_brackets),
        cmocka_unit_test(query_options),
        cmocka_unit_test(unix_socket),
        cmocka_unit_test(tls_and_sentinel_urls),
        cmocka_unit_test(cluster_urls),
        cmocka_unit_test(malformed_urls_name_the_part),
    };
    return cmocka_run_group_tests_name("redis_url", tests, NULL, NULL);
}
