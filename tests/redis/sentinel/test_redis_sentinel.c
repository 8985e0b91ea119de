/* RedisLock through Redis Sentinel against a real topology started by
   ci/lib/redis-sentinel.sh (a master, a replica, three sentinels): acquire
   through the service name, sentinels that do not answer, an unknown
   service, and a failover while held (the holder reports lost, a new
   waiter gets the lock on the new master). Run by
   ci/tests.d/redis-sentinel.sh. The failover test runs last: it changes
   the topology. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "%s is not set: run through ci/tests.d/redis-sentinel.sh\n", name);
        exit(1);
    }
    return v;
}

static long long numsub_at(int port, const char *ch)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r;
    long long n = -1;
    if (!c || c->err)
        fail_msg("cannot connect to 127.0.0.1:%d", port);
    r = redisCommand(c, "PUBSUB NUMSUB %s", ch);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        n = r->element[1]->integer;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return n;
}

static pl_redis_lock *sentinel_lock(const char *ch, const char *sentinels,
                                    const char *service)
{
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    char url[1024];
    snprintf(url, sizeof url, "redis+sentinel://%s/%s", sentinels, service);
    tu_ok(pl_redis_lock_set_url(l, url));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 1));
    return l;
}

static void acquire_through_the_service(void **state)
{
    const char *ch = rt_channel("sentinel");
    pl_redis_lock *l = sentinel_lock(ch, env("PL_TEST_SENTINELS"), "pltest");
    const char *host, *s;
    int port;
    (void)state;
    tu_ok(pl_redis_lock_acquire_with(l, 3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_get_host(l, &host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, atoi(env("PL_TEST_MASTER_PORT")));
    assert_int_equal(numsub_at(port, ch), 1);
    assert_int_equal(numsub_at(atoi(env("PL_TEST_REPLICA_PORT")), ch), 0);
    tu_ok(pl_redis_lock_get_sentinel_service(l, &s));
    assert_string_equal(s, "pltest");
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void a_silent_sentinel_is_skipped(void **state)
{
    char list[512];
    pl_redis_lock *l;
    (void)state;
    snprintf(list, sizeof list, "127.0.0.1:%d,%s", rt_free_port(),
             env("PL_TEST_SENTINELS"));
    l = sentinel_lock(rt_channel("skip"), list, "pltest");
    tu_ok(pl_redis_lock_acquire_with(l, 3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void unreachable_sentinels_and_unknown_service(void **state)
{
    char list[128], a[32], b[32];
    int p1 = rt_free_port(), p2 = rt_free_port();
    pl_redis_lock *l;
    double t0;
    (void)state;
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", p1, p2);
    l = sentinel_lock(rt_channel("unreach"), list, "pltest");
    t0 = tu_now();
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 5, PL_INHERIT, 0));
    assert_true(tu_now() - t0 < 4);
    snprintf(a, sizeof a, "127.0.0.1:%d", p1);
    snprintf(b, sizeof b, "127.0.0.1:%d", p2);
    if (!strstr(pl_last_error_message(), a) || !strstr(pl_last_error_message(), b) ||
        !strstr(pl_last_error_message(), "'pltest'") ||
        !strstr(pl_last_error_message(), strerror(ECONNREFUSED)))
        fail_msg("message '%s' does not name both sentinels, the service and the cause",
                 pl_last_error_message());
    pl_redis_lock_free(l);
    l = sentinel_lock(rt_channel("unknown"), env("PL_TEST_SENTINELS"), "nosuch");
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 2, PL_INHERIT, 0));
    if (!strstr(pl_last_error_message(), "does not know service 'nosuch'"))
        fail_msg("message '%s' does not say the service is unknown", pl_last_error_message());
    pl_redis_lock_free(l);
}

static void failover_while_held_is_lost_and_a_waiter_follows(void **state)
{
    const char *ch = rt_channel("failover");
    pl_redis_lock *h = sentinel_lock(ch, env("PL_TEST_SENTINELS"), "pltest");
    pl_redis_lock *w = sentinel_lock(ch, env("PL_TEST_SENTINELS"), "pltest");
    int replica = atoi(env("PL_TEST_REPLICA_PORT")), port;
    const char *host;
    redisContext *c;
    redisReply *r;
    double end;
    (void)state;
    tu_ok(pl_redis_lock_acquire_with(h, 3, PL_INHERIT, 0));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(w, 0.3, PL_INHERIT, 0));
    c = redisConnect("127.0.0.1", atoi(env("PL_TEST_SENTINEL_PORT")));
    assert_true(c && !c->err);
    r = redisCommand(c, "SENTINEL FAILOVER pltest");
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("SENTINEL FAILOVER: %s", r->str);
    freeReplyObject(r);
    redisFree(c);
    /* the demoted master's pub/sub clients are killed: lost, not silent */
    end = tu_now() + 20;
    while (pl_redis_lock_check(h) == PL_OK && tu_now() < end)
        usleep(10000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(h));
    /* new acquisitions go to the new master */
    tu_ok(pl_redis_lock_set_connect_timeout(w, 10));
    tu_ok(pl_redis_lock_acquire_with(w, 20, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_get_host(w, &host, &port));
    assert_int_equal(port, replica);
    assert_int_equal(numsub_at(replica, ch), 1);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(h));
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(h);
    pl_redis_lock_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acquire_through_the_service),
        cmocka_unit_test(a_silent_sentinel_is_skipped),
        cmocka_unit_test(unreachable_sentinels_and_unknown_service),
        cmocka_unit_test(failover_while_held_is_lost_and_a_waiter_follows),
    };
    return cmocka_run_group_tests_name("redis sentinel", tests, NULL, NULL);
}
