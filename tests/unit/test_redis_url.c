/* pl_redis_lock_set_url: URLs become the settings the getters read back;
   unsupported schemes and malformed URLs are refused naming the part and
   leave the handle as it was. No server: nothing here connects.

   Windows (built by the Makefile's Windows section, run under wine): that
   build has no TLS (no OpenSSL for mingw-w64 in Debian) and no
   unix-domain sockets, so rediss:// and unix:// URLs are
   PL_ERR_UNSUPPORTED there, and the handle is left as it was; the cases
   that set them expect that instead (NO_TLS / NO_UNIX below). */
#include "helpers/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define NO_TLS 1
#define NO_UNIX 1
#else
#define NO_TLS 0
#define NO_UNIX 0
#endif

/* Every setting a URL sets, as the getters read it. */
typedef struct settings {
    char text[2048];
} settings;

static void add(settings *s, const char *name, const char *value)
{
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s=%s;", name, value ? value : "(null)");
}

static void add_int(settings *s, const char *name, double value)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%g", value);
    add(s, name, buf);
}

static settings read_settings(pl_redis_lock *l)
{
    settings s;
    const char *a = NULL, *b = NULL;
    int i = 0;
    double d = 0;
    s.text[0] = '\0';
    assert_int_equal(pl_redis_lock_get_host(l, &a, &i), PL_OK);
    add(&s, "host", a);
    add_int(&s, "port", i);
    assert_int_equal(pl_redis_lock_get_unix_socket(l, &a), PL_OK);
    add(&s, "unix", a);
    assert_int_equal(pl_redis_lock_get_db(l, &i), PL_OK);
    add_int(&s, "db", i);
    assert_int_equal(pl_redis_lock_get_password(l, &a, &b), PL_OK);
    add(&s, "user", a);
    add(&s, "password", b);
    assert_int_equal(pl_redis_lock_get_connect_timeout(l, &d), PL_OK);
    add_int(&s, "connect_timeout", d);
    assert_int_equal(pl_redis_lock_get_command_timeout(l, &d), PL_OK);
    add_int(&s, "command_timeout", d);
    assert_int_equal(pl_redis_lock_get_tls(l, &i), PL_OK);
    add_int(&s, "tls", i);
    assert_int_equal(pl_redis_lock_get_tls_verify_peer(l, &i), PL_OK);
    add_int(&s, "verify_peer", i);
    assert_int_equal(pl_redis_lock_get_tls_check_hostname(l, &i), PL_OK);
    add_int(&s, "check_hostname", i);
    assert_int_equal(pl_redis_lock_get_tls_ca_file(l, &a), PL_OK);
    add(&s, "ca_file", a);
    assert_int_equal(pl_redis_lock_get_tls_ca_dir(l, &a), PL_OK);
    add(&s, "ca_dir", a);
    assert_int_equal(pl_redis_lock_get_tls_cert_file(l, &a), PL_OK);
    add(&s, "cert_file", a);
    assert_int_equal(pl_redis_lock_get_tls_key_file(l, &a), PL_OK);
    add(&s, "key_file", a);
    assert_int_equal(pl_redis_lock_get_tls_server_name(l, &a), PL_OK);
    add(&s, "server_name", a);
    assert_int_equal(pl_redis_lock_get_sentinels(l, &a), PL_OK);
    add(&s, "sentinels", a);
    assert_int_equal(pl_redis_lock_get_sentinel_service(l, &a), PL_OK);
    add(&s, "service", a);
    assert_int_equal(pl_redis_lock_get_cluster(l, &i), PL_OK);
    add_int(&s, "cluster", i);
    assert_int_equal(pl_redis_lock_get_cluster_nodes(l, &a), PL_OK);
    add(&s, "cluster_nodes", a);
    return s;
}

static void expect_settings(pl_redis_lock *l, const settings *want, const char *after)
{
    settings now = read_settings(l);
    if (strcmp(now.text, want->text) != 0)
        fail_msg("after %s the settings changed:\n  was %s\n  now %s", after,
                 want->text, now.text);
}

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
#if NO_UNIX
    (void)sock;
    (void)db;
    assert_int_equal(pl_redis_lock_set_url(l, "redis://keep:6390/3"), PL_OK);
    {
        settings before = read_settings(l);
        assert_int_equal(pl_redis_lock_set_url(l, "unix:///run/re%64is.sock?db=2&password=x"),
                         PL_ERR_UNSUPPORTED);
        assert_non_null(strstr(pl_last_error_message(), "unix socket"));
        expect_settings(l, &before, "a refused unix:// URL");
    }
    pl_redis_lock_free(l);
    return;
#endif
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
#if NO_TLS
    assert_int_equal(pl_redis_lock_set_url(l, "redis://h:6380"), PL_OK);
    expect_refused(l, "rediss://h:6380", PL_ERR_UNSUPPORTED, "TLS");
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 0);
#else
    assert_int_equal(pl_redis_lock_set_url(l, "rediss://h:6380"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
#endif
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
#if NO_TLS
    expect_refused(l, "rediss+sentinel://s1/svc", PL_ERR_UNSUPPORTED, "TLS");
    assert_int_equal(pl_redis_lock_set_url(l, "redis+sentinel://s1/svc"), PL_OK);
#else
    assert_int_equal(pl_redis_lock_set_url(l, "rediss+sentinel://s1/svc"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
#endif
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
#if NO_TLS
    expect_refused(l, "rediss+cluster://n1", PL_ERR_UNSUPPORTED, "TLS");
    assert_int_equal(pl_redis_lock_set_url(l, "redis+cluster://n1"), PL_OK);
#else
    assert_int_equal(pl_redis_lock_set_url(l, "rediss+cluster://n1"), PL_OK);
    assert_int_equal(pl_redis_lock_get_tls(l, &v), PL_OK);
    assert_int_equal(v, 1);
#endif
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

/* A refused URL changes no setting at all, whichever part is refused and
   whoever refuses it: the parser, a check this build makes (TLS, unix
   sockets), or a setter that runs after others already took their part
   (a unix socket path too long for sockaddr_un, which only its setter
   measures). Tried from a handle with every kind of setting made. */
static void refused_urls_change_nothing(void **state)
{
    static const char *const refused[] = {
        "redis://h:0", "redis://other:1/abc", "redis://bob@other",
        "redis://other?ssl_ca_certs=/x", "redis+cluster://n1:x",
        "redis+sentinel://s1:x/svc", "redis+sentinel://s9:26379",
        "http://other",
#if NO_TLS
        "rediss://other:6380", "rediss://other?ssl_ca_certs=/x",
        "rediss+sentinel://s9/svc", "rediss+cluster://n9",
#endif
        "unix:///run/a/path/of/more/than/one/hundred/and/seven/bytes/which/"
        "no/sockaddr/un/can/hold/so/the/setter/refuses/it/redis.sock",
    };
    pl_redis_lock *l = new_lock();
    pl_redis_lock *tag = NULL;
    settings before;
    size_t i;
    (void)state;
    /* Sentinel, auth, timeouts (and TLS where there is TLS). */
    assert_int_equal(pl_redis_lock_set_url(l, NO_TLS
        ? "redis+sentinel://u:pw@s1:26380,s2/svc/2?socket_timeout=3&socket_connect_timeout=4"
        : "rediss+sentinel://u:pw@s1:26380,s2/svc/2?socket_timeout=3&socket_connect_timeout=4"
          "&ssl_ca_certs=/ca.pem&ssl_cert_reqs=none"),
        PL_OK);
    before = read_settings(l);
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char what[300];
        assert_int_not_equal(pl_redis_lock_set_url(l, refused[i]), PL_OK);
        snprintf(what, sizeof what, "set_url(\"%s\") was refused (%s)", refused[i],
                 pl_last_error_message());
        expect_settings(l, &before, what);
    }
    /* In cluster mode, refusals keep it. */
    assert_int_equal(pl_redis_lock_set_url(l, "redis+cluster://:pw@n1:7000,n2/0"), PL_OK);
    before = read_settings(l);
    for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_not_equal(pl_redis_lock_set_url(l, refused[i]), PL_OK);
        expect_settings(l, &before, refused[i]);
    }
    pl_redis_lock_free(l);
    /* A name cluster mode refuses: nothing else taken either. */
    assert_int_equal(pl_redis_lock_new(&tag, "}x", 2), PL_OK);
    assert_int_equal(pl_redis_lock_set_url(tag, "redis://keep:6390/3"), PL_OK);
    before = read_settings(tag);
    expect_refused(tag, "redis+cluster://:pw@n1/0?socket_timeout=9", PL_ERR_INVALID_ARGUMENT,
                   "hash tag");
    expect_settings(tag, &before, "a refused cluster URL");
    pl_redis_lock_free(tag);
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
        cmocka_unit_test(refused_urls_change_nothing),
    };
    return cmocka_run_group_tests_name("redis_url", tests, NULL, NULL);
}
