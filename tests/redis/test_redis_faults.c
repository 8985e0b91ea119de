/* RedisLock faults and hostile input: no server, the server killed while
   held, a holder SIGKILLed, garbage on the lock channel, dead subscribers
   (reaped) and wedged strangers (never killed). */
#define _GNU_SOURCE
#include "redis_testutil.h"
#include "redis_internal.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void no_server_is_a_clear_connection_error(void **state)
{
    int port = rt_free_port();
    pl_redis_lock *l = NULL;
    char want[64];
    double t0;
    (void)state;
    tu_ok(pl_redis_lock_new(&l, "nobody-home", 11));
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 0.5));
    t0 = tu_now();
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(l));
    assert_true(tu_now() - t0 < 1.5);
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    assert_non_null(strstr(pl_last_error_message(), want));
    assert_non_null(strstr(pl_last_error_message(), "refused"));
    tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
    pl_redis_lock_free(l);
}

/* ---- a private server we can kill ---- */

static pid_t start_server(int port, char *dir, size_t dirsize)
{
    char portbuf[16];
    pid_t pid;
    double end;
    snprintf(dir, dirsize, "/tmp/pl-redis-kill.XXXXXX");
    if (!mkdtemp(dir))
        fail_msg("mkdtemp");
    snprintf(portbuf, sizeof portbuf, "%d", port);
    pid = fork();
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
               "--logfile", "/dev/null", (char *)NULL);
        _exit(127);
    }
    end = tu_now() + 5;
    while (tu_now() < end) {
        redisContext *c = redisConnect("127.0.0.1", port);
        int up = c && !c->err;
        if (c)
            redisFree(c);
        if (up)
            return pid;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("private redis-server did not start");
    return -1;
}

static atomic_int lost_calls;

static void count_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    (void)ud;
    atomic_fetch_add(&lost_calls, 1);
}

static void server_killed_while_held(void **state)
{
    char dir[64], cmd[128];
    int port = rt_free_port();
    pid_t server = start_server(port, dir, sizeof dir);
    pl_redis_lock *l = NULL, *r = NULL;
    double end;
    (void)state;
    atomic_store(&lost_calls, 0);
    tu_ok(pl_redis_lock_new(&l, "doomed", 6));
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_lost_callback(l, count_lost, NULL));
    tu_ok(pl_redis_lock_new(&r, "doomed-r", 8));
    tu_ok(pl_redis_lock_set_host(r, "127.0.0.1", port));
    tu_ok(pl_redis_lock_set_flags(r, PL_LOCK_SH));
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_acquire(r));
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    end = tu_now() + 5;
    while ((pl_redis_lock_check(l) == PL_OK || pl_redis_lock_check(r) == PL_OK) &&
           tu_now() < end)
        usleep(2000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(r));
    usleep(20000);
    assert_int_equal(atomic_load(&lost_calls), 1);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
    /* Acquiring with the server gone is a connection error, quickly. */
    tu_ok(pl_redis_lock_set_connect_timeout(l, 0.5));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(l));
    pl_redis_lock_free(l);
    pl_redis_lock_free(r); /* lost and never released: free cleans up */
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- a holder killed with SIGKILL ---- */

struct holder_arg {
    const char *channel;
    tu_pipe *ready;
};

static int holder_child(void *p)
{
    struct holder_arg *a = p;
    pl_redis_lock *l = NULL;
    if (pl_redis_lock_new(&l, a->channel, strlen(a->channel)) != PL_OK ||
        pl_redis_lock_set_host(l, "127.0.0.1", rt_port()) != PL_OK ||
        pl_redis_lock_acquire(l) != PL_OK)
        return 1;
    tu_pipe_signal(a->ready);
    for (;;)
        pause();
}

struct killer {
    pid_t pid;
    double killed_at;
};

static void *kill_later(void *p)
{
    struct killer *k = p;
    usleep(300000);
    k->killed_at = tu_now();
    kill(k->pid, SIGKILL);
    return NULL;
}

static void sigkilled_holder_frees_the_lock_at_once(void **state)
{
    const char *ch = rt_channel("sigkill");
    pl_redis_lock *w = NULL;
    struct holder_arg a;
    struct killer k;
    pthread_t t;
    tu_pipe ready;
    double took;
    (void)state;
    tu_pipe_open(&ready);
    a.channel = ch;
    a.ready = &ready;
    k.pid = tu_fork(holder_child, &a);
    assert_int_equal(tu_pipe_wait(&ready, 5), 0);
    /* The waiter uses the default settings (timeout 5 s, check 0.25 s). */
    tu_ok(pl_redis_lock_new(&w, ch, strlen(ch)));
    tu_ok(pl_redis_lock_set_host(w, "127.0.0.1", rt_port()));
    pthread_create(&t, NULL, kill_later, &k);
    tu_ok(pl_redis_lock_acquire(w));
    took = tu_now();
    pthread_join(t, NULL); /* before reading killed_at */
    took -= k.killed_at;
    (void)tu_wait(k.pid);
    fprintf(stderr, "    waiter took the lock %.1f ms after SIGKILL\n",
            took * 1000);
    /* 50 ms on an idle machine (see the bench); loose here. */
    assert_true(took < 0.2);
    pl_redis_lock_free(w);
    tu_pipe_close(&ready);
}

/* ---- hostile messages on the lock channel ---- */

static void publish(redisContext *c, const char *ch, const char *data,
                    size_t len)
{
    redisReply *r = redisCommand(c, "PUBLISH %s %b", ch, data, len);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
}

/* Ping the holder ourselves and check its record. */
static void expect_answer(const char *ch, const char *id, const char *mode)
{
    redisContext *sub = rt_connect(), *pub = rt_connect();
    redisReply *r;
    char resp[128], ping[256];
    cJSON *rec;
    snprintf(resp, sizeof resp, "%s-0123456789abcdef0123456789abcdef", ch);
    r = redisCommand(sub, "SUBSCRIBE %s", resp);
    freeReplyObject(r);
    snprintf(ping, sizeof ping,
             "{\"message\": \"ping\", \"response_channel\": \"%s\"}", resp);
    publish(pub, ch, ping, strlen(ping));
    assert_int_equal(redisGetReply(sub, (void **)&r), REDIS_OK);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    rec = cJSON_ParseWithLength(r->element[2]->str, r->element[2]->len);
    assert_non_null(rec);
    assert_string_equal(cJSON_GetObjectItem(rec, "holder_id")->valuestring, id);
    assert_string_equal(cJSON_GetObjectItem(rec, "mode")->valuestring, mode);
    assert_int_equal(cJSON_GetObjectItem(rec, "protocol")->valueint, 1);
    cJSON_Delete(rec);
    freeReplyObject(r);
    redisFree(sub);
    redisFree(pub);
}

static void garbage_on_the_channel_is_ignored(void **state)
{
    const char *ch = rt_channel("garbage");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX), *other = rt_lock(ch, PL_LOCK_EX);
    redisContext *c = rt_connect();
    static const char *const junk[] = {
        "", "not json", "{", "[1,2,3]", "\"a string\"", "42", "null",
        "{\"response_channel\": 5}", "{\"response_channel\": \"\"}",
        "{\"response_channel\": null}", "{\"response_channel\": [\"x\"]}",
        "{\"message\": \"ping\"}", "{\"response_channel\": \"x\", }",
        "\xff\xfe\xfd", "{\"response_channel\": \"\xff\xfe\"}",
        "{\"response_channel\": \"a\\u0000b\"}",
    };
    size_t i, big = 1 << 20;
    char *buf = malloc(2 * big + 64);
    (void)state;
    assert_non_null(buf);
    tu_ok(pl_redis_lock_acquire(l));
    for (i = 0; i < sizeof junk / sizeof *junk; i++)
        publish(c, ch, junk[i], strlen(junk[i]));
    /* 1 MiB of bytes, a 1 MiB JSON string, 1 MiB of nesting, 1 MiB of
       non-UTF-8, and a ping buried in 1 MiB of padding. */
    memset(buf, 'x', big);
    publish(c, ch, buf, big);
    buf[0] = '"';
    buf[big - 1] = '"';
    publish(c, ch, buf, big);
    memset(buf, '[', big / 2);
    memset(buf + big / 2, ']', big / 2);
    publish(c, ch, buf, big);
    memset(buf, '{', big);
    publish(c, ch, buf, big);
    for (i = 0; i < big; i++)
        buf[i] = (char)(0x80 + (i % 0x7f));
    publish(c, ch, buf, big);
    i = (size_t)snprintf(buf, 64, "{\"response_channel\": \"%s-big\", \"p\": \"",
                         ch);
    memset(buf + i, 'y', big);
    memcpy(buf + i + big, "\"}", 2);
    publish(c, ch, buf, i + big + 2);
    /* Still held, still answering, with the right record. */
    tu_ok(pl_redis_lock_check(l));
    expect_answer(ch, pl_redis_lock_holder_id(l), "exclusive");
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_redis_lock_acquire_with(other, 2, 0.05, 1));
    tu_ok(pl_redis_lock_release(l));
    tu_ok(pl_redis_lock_acquire_with(other, 0, 0.05, 1));
    expect_answer(ch, pl_redis_lock_holder_id(other), "exclusive");
    free(buf);
    redisFree(c);
    pl_redis_lock_free(l);
    pl_redis_lock_free(other);
}

static int read_until_eof(redisContext *c)
{
    int i;
    for (i = 0; i < 16; i++) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK)
            return 1;
        freeReplyObject(r);
    }
    return 0;
}

/* A subscriber that Redis counts but that never answers, named like a
   crashed holder: the prober kills it (protocol step 3) and gets the lock. */
static void dead_subscriber_is_reaped(void **state)
{
    const char *ch = rt_channel("reap");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    redisContext *zombie = rt_connect(), *legacy = rt_connect();
    double t0;
    (void)state;
    freeReplyObject(redisCommand(zombie, "CLIENT SETNAME %s-lock-%s", ch,
                                 "00000000000000000000000000000000"));
    freeReplyObject(redisCommand(zombie, "SUBSCRIBE %s", ch));
    freeReplyObject(redisCommand(legacy, "CLIENT SETNAME %s-lock", ch));
    freeReplyObject(redisCommand(legacy, "SUBSCRIBE %s", ch));
    assert_int_equal(rt_numsub(ch), 2);
    tu_ok(pl_redis_lock_set_unavailable_timeout(l, 0.3));
    t0 = tu_now();
    tu_ok(pl_redis_lock_acquire_with(l, 5, 0.05, 0));
    assert_true(tu_now() - t0 < 4);
    assert_int_equal(rt_numsub(ch), 1);
    /* Both were killed: after the pings they got, reading gives EOF. */
    assert_true(read_until_eof(zombie));
    assert_true(read_until_eof(legacy));
    redisFree(zombie);
    redisFree(legacy);
    pl_redis_lock_free(l);
}

/* A silent subscriber that is not named like a holder of THIS channel is
   never killed (a channel "<C>-lock-x" or any stranger): the lock stays
   unavailable instead. */
static void strangers_are_never_killed(void **state)
{
    const char *ch = rt_channel("stranger");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    redisContext *s1 = rt_connect(), *s2 = rt_connect();
    redisReply *r;
    (void)state;
    freeReplyObject(redisCommand(s1, "CLIENT SETNAME %s-lock-x-lock-%s", ch,
                                 "00000000000000000000000000000000"));
    freeReplyObject(redisCommand(s1, "SUBSCRIBE %s", ch));
    freeReplyObject(redisCommand(s2, "CLIENT SETNAME somebody-else"));
    freeReplyObject(redisCommand(s2, "SUBSCRIBE %s", ch));
    tu_ok(pl_redis_lock_set_unavailable_timeout(l, 0.2));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(l, 1, 0.05, 0));
    assert_int_equal(rt_numsub(ch), 2);
    /* Both still alive: a PING on a subscribed connection gets a pong. */
    freeReplyObject(redisCommand(s1, "PING"));
    assert_int_equal(redisGetReply(s1, (void **)&r), REDIS_OK);
    freeReplyObject(r);
    redisFree(s1);
    redisFree(s2);
    pl_redis_lock_free(l);
}

/* ---- the protocol helpers on their own ---- */

static void protocol_parsing(void **state)
{
    char *resp = NULL;
    size_t len = 0;
    pl_redis_holder h;
    (void)state;
    assert_int_equal(pl__redis_parse_ping("{\"response_channel\":\"r\"}", 24,
                                          &resp, &len),
                     1);
    assert_string_equal(resp, "r");
    free(resp);
    assert_int_equal(pl__redis_parse_ping("{\"response_channel\":\"r\"", 23,
                                          &resp, &len),
                     0);
    assert_null(resp);
    tu_ok(pl__redis_parse_answer(
        "{\"holder_id\":\"abc\",\"mode\":\"shared\",\"protocol\":1}", 49, 0, &h));
    assert_string_equal(h.id, "abc");
    assert_int_equal(h.mode, PL_RMODE_SHARED);
    assert_int_equal(h.legacy, 0);
    free(h.id);
    /* wrong protocol, unknown mode, timestamps: legacy exclusive */
    tu_ok(pl__redis_parse_answer(
        "{\"holder_id\":\"abc\",\"mode\":\"shared\",\"protocol\":2}", 49, 3, &h));
    assert_string_equal(h.id, "legacy-3");
    assert_int_equal(h.mode, PL_RMODE_EXCLUSIVE);
    assert_int_equal(h.legacy, 1);
    free(h.id);
    tu_ok(pl__redis_parse_answer(
        "{\"holder_id\":\"abc\",\"mode\":\"reading\",\"protocol\":1}", 50, 0, &h));
    assert_int_equal(h.legacy, 1);
    free(h.id);
    tu_ok(pl__redis_parse_answer("1700000000.5", 12, 0, &h));
    assert_int_equal(h.legacy, 1);
    free(h.id);
    assert_true(pl__redis_json_safe("caf\xc3\xa9", 5));
    assert_false(pl__redis_json_safe("a\0b", 3));
    assert_false(pl__redis_json_safe("\xff", 1));
    assert_false(pl__redis_json_safe("\xc3", 1));
    assert_false(pl__redis_json_safe("\xed\xa0\x80", 3)); /* surrogate */
    assert_true(pl__redis_nameable("a-b:c", 5));
    assert_false(pl__redis_nameable("a b", 3));
}

static void reap_target_selection(void **state)
{
    static const char list[] =
        "id=1 addr=x name=C-lock-0123456789abcdef0123456789abcdef age=1\n"
        "id=2 addr=x name=C-lock-ffffffffffffffffffffffffffffffff age=1\n"
        "id=3 addr=x name=C-lock age=1\n"
        "id=4 addr=x name=C-lock-b-lock-0123456789abcdef0123456789abcdee x=1\n"
        "id=5 addr=x name=C-lock-0123456789ABCDEF0123456789ABCDEF age=1\n"
        "id=6 addr=x name= age=1\n"
        "id=7 addr=x name=C-lock-0123456789abcdef0123456789abcde age=1\n";
    pl_redis_holder answered[2];
    long long *ids = NULL;
    size_t n = 0;
    (void)state;
    answered[0].id = "ffffffffffffffffffffffffffffffff";
    answered[0].legacy = 0;
    answered[0].mode = PL_RMODE_PENDING;
    tu_ok(pl__redis_reap_targets(list, sizeof list - 1, "C", 1, answered, 1,
                                 &ids, &n));
    assert_int_equal(n, 2); /* the silent 32-hex holder and the 3.2 name */
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    free(ids);
    answered[1].id = "legacy-0";
    answered[1].legacy = 1;
    answered[1].mode = PL_RMODE_EXCLUSIVE;
    tu_ok(pl__redis_reap_targets(list, sizeof list - 1, "C", 1, answered, 2,
                                 &ids, &n));
    assert_int_equal(n, 1); /* a legacy answer spares "C-lock" */
    assert_int_equal(ids[0], 1);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(protocol_parsing),
        cmocka_unit_test(reap_target_selection),
        cmocka_unit_test(no_server_is_a_clear_connection_error),
        cmocka_unit_test(server_killed_while_held),
        cmocka_unit_test(sigkilled_holder_frees_the_lock_at_once),
        cmocka_unit_test(garbage_on_the_channel_is_ignored),
        cmocka_unit_test(dead_subscriber_is_reaped),
        cmocka_unit_test(strangers_are_never_killed),
    };
    rt_port();
    return cmocka_run_group_tests_name("redis faults", tests, NULL, NULL);
}
