/* RedisLock: what "held" means and the calls added with it. Real
   processes and the real test server:
   - fencing tokens: strictly increasing over exclusive grants, none for
     readers, readable after release, the key "<C>-fence";
   - probe(): who holds, never reaping, an empty channel is an empty list;
   - a holder frozen (SIGSTOP) past its window sees its hold lapsed at its
     first check after SIGCONT, while a waiter took the lock;
   - a call from a second thread during acquire fails with
     PL_ERR_INVALID_STATE instead of racing (run under the sanitizers);
   - a hostile server's "*2147483647" or endless bulk string costs
     neither CPU nor memory: a prompt connection error;
   - a server pause longer than the command timeout but shorter than the
     lock timeout costs attempts, not the acquire. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void redis_cmd(const char *fmt, const char *arg)
{
    redisContext *c = rt_connect();
    redisReply *r = redisCommand(c, fmt, arg);
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
}

/* ---- fencing ---- */

static void fencing_tokens_increase_and_readers_draw_none(void **state)
{
    const char *ch = rt_channel("fence");
    pl_redis_lock *w = rt_lock(ch, PL_LOCK_EX), *r = rt_lock(ch, PL_LOCK_SH);
    long long t1 = 0, t2 = 0, t = -1;
    const char *key = NULL;
    size_t len = 0;
    char want[160];
    int on = -1, i;
    (void)state;
    redis_cmd("DEL %s-fence", ch);
    tu_ok(pl_redis_lock_get_fencing(w, &on));
    assert_int_equal(on, 0);
    tu_ok(pl_redis_lock_get_fence_token(w, &t));
    assert_true(t == 0);
    tu_ok(pl_redis_lock_get_fence_key(w, &key, &len));
    snprintf(want, sizeof want, "%s-fence", ch);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(key, want, len);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_fence_key(w, NULL, &len));

    /* Unfenced: no token. */
    tu_ok(pl_redis_lock_acquire(w));
    tu_ok(pl_redis_lock_get_fence_token(w, &t));
    assert_true(t == 0);
    tu_ok(pl_redis_lock_release(w));

    tu_ok(pl_redis_lock_set_fencing(w, 1));
    tu_ok(pl_redis_lock_get_fencing(w, &on));
    assert_int_equal(on, 1);
    for (i = 0; i < 5; i++) {
        tu_ok(pl_redis_lock_acquire(w));
        tu_ok(pl_redis_lock_get_fence_token(w, &t2));
        assert_true(t2 > t1);
        tu_expect(PL_ERR_INVALID_STATE, pl_redis_lock_set_fencing(w, 0));
        tu_ok(pl_redis_lock_release(w));
        /* readable after release */
        tu_ok(pl_redis_lock_get_fence_token(w, &t));
        assert_true(t == t2);
        t1 = t2;
    }
    /* Readers never draw, even with fencing on. */
    tu_ok(pl_redis_lock_set_fencing(r, 1));
    tu_ok(pl_redis_lock_acquire(r));
    tu_ok(pl_redis_lock_get_fence_token(r, &t));
    assert_true(t == 0);
    tu_ok(pl_redis_lock_release(r));
    tu_ok(pl_redis_lock_acquire(w));
    tu_ok(pl_redis_lock_get_fence_token(w, &t));
    assert_true(t == t1 + 1);
    tu_ok(pl_redis_lock_release(w));
    /* A key of the wrong type: a clear error, nothing held. */
    redis_cmd("SET %s-fence notanumber", ch);
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(w, 1, PL_INHERIT, 0));
    assert_non_null(strstr(pl_last_error_message(), "INCR"));
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
    redis_cmd("DEL %s-fence", ch);
    pl_redis_lock_free(w);
    pl_redis_lock_free(r);
}

/* ---- probe ---- */

static void probe_reports_holders_and_never_reaps(void **state)
{
    const char *ch = rt_channel("probe");
    pl_redis_lock *a = rt_lock(ch, PL_LOCK_SH), *b = rt_lock(ch, PL_LOCK_SH);
    pl_redis_lock *p = rt_lock(ch, PL_LOCK_EX);
    pl_redis_holders *h = NULL;
    const char *id;
    int mode, elected, seen_a = 0, seen_b = 0;
    size_t i;
    redisContext *silent;
    redisReply *r;
    (void)state;
    assert_int_equal(pl_redis_mode_shared(), PL_REDIS_MODE_SHARED);
    assert_int_equal(pl_redis_mode_pending(), PL_REDIS_MODE_PENDING);
    assert_int_equal(pl_redis_mode_exclusive(), PL_REDIS_MODE_EXCLUSIVE);

    tu_ok(pl_redis_lock_probe(p, PL_INHERIT, &h));
    assert_int_equal(pl_redis_holders_count(h), 0);
    pl_redis_holders_free(h);

    tu_ok(pl_redis_lock_acquire(a));
    tu_ok(pl_redis_lock_acquire(b));
    tu_ok(pl_redis_lock_probe(p, 2, &h));
    assert_int_equal(pl_redis_holders_count(h), 2);
    for (i = 0; i < 2; i++) {
        tu_ok(pl_redis_holders_get(h, i, &id, &mode, &elected));
        assert_int_equal(mode, PL_REDIS_MODE_SHARED);
        assert_int_equal(elected, 0);
        seen_a |= strcmp(id, pl_redis_lock_holder_id(a)) == 0;
        seen_b |= strcmp(id, pl_redis_lock_holder_id(b)) == 0;
    }
    assert_true(seen_a && seen_b);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_holders_get(h, 2, &id, NULL, NULL));
    pl_redis_holders_free(h);
    /* A holder probes its own channel: its own record is included. */
    tu_ok(pl_redis_lock_probe(a, 2, &h));
    assert_int_equal(pl_redis_holders_count(h), 2);
    pl_redis_holders_free(h);
    tu_ok(pl_redis_lock_check(a));

    /* A silent subscriber (named like a dead holder): inconclusive, an
       error after the timeout, and never killed. */
    silent = rt_connect();
    r = redisCommand(silent, "CLIENT SETNAME %s-lock-0123456789abcdef0123456789abcdef", ch);
    freeReplyObject(r);
    r = redisCommand(silent, "SUBSCRIBE %s", ch);
    freeReplyObject(r);
    tu_expect(PL_ERR_LOCK_FAILED, pl_redis_lock_probe(p, 0.5, &h));
    assert_null(h);
    assert_non_null(strstr(pl_last_error_message(), "conclusively"));
    assert_int_equal(rt_numsub(ch), 3);
    redisFree(silent);

    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_release(b));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_probe(NULL, 1, &h));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_probe(p, 1, NULL));
    assert_int_equal(pl_redis_holders_count(NULL), 0);
    pl_redis_holders_free(NULL);
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
    pl_redis_lock_free(p);
}

/* A subscriber that leaves the channel when the ping comes (a waiter
   giving up, a peer's probe ending) answers nothing: the probe sees the
   count change and asks again at once, instead of waiting out the reply
   window for an answer that cannot come and then failing. */
static void *leave_on_first_message(void *arg)
{
    redisContext *c = arg;
    void *r = NULL;
    if (redisGetReply(c, &r) == REDIS_OK) { /* the ping */
        freeReplyObject(r);
        freeReplyObject(redisCommand(c, "UNSUBSCRIBE"));
    }
    return NULL;
}

static void probe_asks_again_when_a_subscriber_leaves(void **state)
{
    const char *ch = rt_channel("probeleave");
    pl_redis_lock *holder = rt_lock(ch, PL_LOCK_EX), *p = rt_lock(ch, PL_LOCK_EX);
    pl_redis_holders *h = NULL;
    const char *id;
    redisContext *leaver = rt_connect();
    pthread_t t;
    double began;
    (void)state;
    /* A long reply window: waiting it out would fail the probe below. */
    tu_ok(pl_redis_lock_set_unavailable_timeout(p, 5));
    tu_ok(pl_redis_lock_acquire(holder));
    freeReplyObject(redisCommand(leaver, "SUBSCRIBE %s", ch));
    assert_int_equal(rt_numsub(ch), 2);
    assert_int_equal(pthread_create(&t, NULL, leave_on_first_message, leaver), 0);
    began = tu_now();
    tu_ok(pl_redis_lock_probe(p, 5, &h));
    assert_true(tu_now() - began < 4);
    assert_int_equal(pl_redis_holders_count(h), 1);
    tu_ok(pl_redis_holders_get(h, 0, &id, NULL, NULL));
    assert_string_equal(id, pl_redis_lock_holder_id(holder));
    pl_redis_holders_free(h);
    assert_int_equal(pthread_join(t, NULL), 0);
    redisFree(leaver);
    tu_ok(pl_redis_lock_release(holder));
    pl_redis_lock_free(holder);
    pl_redis_lock_free(p);
}

/* ---- a frozen holder ---- */

static void frozen_holder_sees_the_lapse_before_acting(void **state)
{
    const char *ch = rt_channel("frozen");
    int to_child[2], from_child[2];
    pid_t pid;
    char c = 0;
    pl_redis_lock *w;
    double t0;
    int lost_flag = 0;
    (void)state;
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pl_redis_lock *l = NULL;
        int rc;
        if (pl_redis_lock_new(&l, ch, strlen(ch)) != PL_OK ||
            pl_redis_lock_set_host(l, "127.0.0.1", rt_port()) != PL_OK ||
            pl_redis_lock_acquire(l) != PL_OK)
            _exit(2);
        c = 'h';
        (void)!write(from_child[1], &c, 1);
        (void)!read(to_child[0], &c, 1); /* resumed: the first thing we do */
        rc = pl_redis_lock_check(l);
        c = rc == PL_ERR_LOCK_LOST ? 'L' : rc == PL_OK ? 'O' : '?';
        (void)!write(from_child[1], &c, 1);
        rc = pl_redis_lock_release(l);
        c = rc == PL_ERR_LOCK_LOST ? 'L' : rc == PL_OK ? 'O' : '?';
        (void)!write(from_child[1], &c, 1);
        if (pl_redis_lock_get_fence_token(l, NULL) != PL_ERR_INVALID_ARGUMENT)
            _exit(3);
        pl_redis_lock_free(l);
        _exit(0);
    }
    assert_int_equal(read(from_child[0], &c, 1), 1);
    assert_int_equal(c, 'h');
    /* Freeze it, then tell it to check the moment it runs again (in this
       order: a child told first could check before the stop lands). */
    kill(pid, SIGSTOP);
    {
        /* The stop has landed once /proc says so. */
        char path[64], st[512];
        int i;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        for (i = 0; i < 500; i++) {
            FILE *f = fopen(path, "r");
            size_t n = f ? fread(st, 1, sizeof st - 1, f) : 0;
            char *p;
            if (f)
                fclose(f);
            st[n] = '\0';
            p = strrchr(st, ')');
            if (p && p[1] == ' ' && p[2] == 'T')
                break;
            usleep(2000);
        }
    }
    assert_int_equal(write(to_child[1], "g", 1), 1);
    w = rt_lock(ch, PL_LOCK_EX);
    t0 = tu_now();
    /* It cannot answer: reaped after unavailable_timeout (1 s). */
    tu_ok(pl_redis_lock_acquire_with(w, 10, PL_INHERIT, 0));
    assert_true(tu_now() - t0 >= 0.9);
    kill(pid, SIGCONT);
    assert_int_equal(read(from_child[0], &c, 1), 1);
    if (c != 'L')
        fail_msg("the resumed holder's first check said '%c', want lost", c);
    assert_int_equal(read(from_child[0], &c, 1), 1);
    assert_int_equal(c, 'L');
    tu_ok(pl_redis_lock_check(w));
    tu_ok(pl_redis_lock_is_lost(w, &lost_flag));
    assert_int_equal(lost_flag, 0);
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(w);
    waitpid(pid, NULL, 0);
    close(to_child[0]);
    close(to_child[1]);
    close(from_child[0]);
    close(from_child[1]);
}

/* ---- the lost state after release ---- */

static atomic_int lost_calls;
static void count_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    (void)ud;
    atomic_fetch_add(&lost_calls, 1);
}

static void loss_is_sticky_and_reported_once(void **state)
{
    const char *ch = rt_channel("sticky");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    char name[200];
    char idbuf[32];
    long long id;
    int flag = -1, i;
    (void)state;
    atomic_store(&lost_calls, 0);
    tu_ok(pl_redis_lock_set_lost_callback(l, count_lost, NULL));
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_is_lost(l, &flag));
    assert_int_equal(flag, 0);
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    id = rt_client_id(name);
    assert_true(id > 0);
    snprintf(idbuf, sizeof idbuf, "%lld", id);
    redis_cmd("CLIENT KILL ID %s", idbuf);
    for (i = 0; i < 200 && pl_redis_lock_check(l) == PL_OK; i++)
        usleep(10000);
    for (i = 0; i < 5; i++)
        tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_is_lost(l, &flag));
    assert_int_equal(flag, 1);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
    tu_ok(pl_redis_lock_is_lost(l, &flag));
    assert_int_equal(flag, 1); /* still, after release */
    assert_int_equal(atomic_load(&lost_calls), 1);
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_is_lost(l, &flag));
    assert_int_equal(flag, 0);
    tu_ok(pl_redis_lock_release(l));
    assert_int_equal(atomic_load(&lost_calls), 1);
    pl_redis_lock_free(l);
}

/* ---- a second thread during acquire ---- */

struct racer {
    pl_redis_lock *l;
    atomic_int go, stop, invalid, other;
    char msg[512];
};

static void *race_calls(void *p)
{
    struct racer *r = p;
    while (!atomic_load(&r->go))
        usleep(100);
    while (!atomic_load(&r->stop)) {
        int a = pl_redis_lock_release(r->l);
        if (a == PL_ERR_INVALID_STATE && !r->msg[0])
            snprintf(r->msg, sizeof r->msg, "%s", pl_last_error_message());
        int b = pl_redis_lock_check(r->l);
        int c = pl_redis_lock_set_host(r->l, "127.0.0.1", rt_port());
        if (a == PL_ERR_INVALID_STATE && b == PL_ERR_INVALID_STATE &&
            c == PL_ERR_INVALID_STATE)
            atomic_fetch_add(&r->invalid, 1);
        else
            atomic_fetch_add(&r->other, 1);
        usleep(1000);
    }
    return NULL;
}

static void calls_from_another_thread_during_acquire_fail_cleanly(void **state)
{
    const char *ch = rt_channel("threads");
    pl_redis_lock *h = rt_lock(ch, PL_LOCK_EX);
    struct racer r;
    pthread_t t;
    (void)state;
    memset(&r, 0, sizeof r);
    r.l = rt_lock(ch, PL_LOCK_EX);
    tu_ok(pl_redis_lock_acquire(h));
    assert_int_equal(pthread_create(&t, NULL, race_calls, &r), 0);
    atomic_store(&r.go, 1);
    /* Waits 0.6 s for the held lock while the other thread pokes. */
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(r.l, 0.6, PL_INHERIT, 0));
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    assert_true(atomic_load(&r.invalid) > 10);
    /* The message says what is going on. */
    if (!strstr(r.msg, "another thread (acquiring it)"))
        fail_msg("message '%s' does not say the handle is being acquired",
                 r.msg);
    tu_ok(pl_redis_lock_release(h));
    tu_ok(pl_redis_lock_acquire_with(r.l, 2, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(r.l));
    pl_redis_lock_free(r.l);
    pl_redis_lock_free(h);
}

/* ---- the opt-in self-check ---- */

static void self_check_pings_its_own_channel_and_stays_held(void **state)
{
    const char *ch = rt_channel("selfcheck");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    redisContext *spy = rt_connect();
    redisReply *r;
    struct timeval tv = {0, 600000};
    double d = -1, end;
    int pings = 0;
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_self_check_interval(l, -1));
    tu_ok(pl_redis_lock_set_self_check_interval(l, 0.2));
    tu_ok(pl_redis_lock_get_self_check_interval(l, &d));
    assert_true(d == 0.2);
    tu_ok(pl_redis_lock_acquire(l));
    /* Listen on the channel once held (a silent subscriber blocks it). */
    r = redisCommand(spy, "SUBSCRIBE %s", ch);
    freeReplyObject(r);
    redisSetTimeout(spy, tv);
    tu_expect(PL_ERR_INVALID_STATE, pl_redis_lock_set_self_check_interval(l, 0));
    end = tu_now() + 1.2;
    while (tu_now() < end) {
        void *m = NULL;
        if (redisGetReply(spy, &m) == REDIS_OK && m) {
            r = m;
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                r->element[2]->type == REDIS_REPLY_STRING &&
                strstr(r->element[2]->str, "response_channel"))
                pings++;
            freeReplyObject(r);
        } else {
            break; /* no ping for 0.6 s: counted below */
        }
        tu_ok(pl_redis_lock_check(l));
    }
    if (pings < 3)
        fail_msg("%d self-check pings in about a second, want >= 3", pings);
    tu_ok(pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    redisFree(spy);
    pl_redis_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fencing_tokens_increase_and_readers_draw_none),
        cmocka_unit_test(probe_reports_holders_and_never_reaps),
        cmocka_unit_test(probe_asks_again_when_a_subscriber_leaves),
        cmocka_unit_test(frozen_holder_sees_the_lapse_before_acting),
        cmocka_unit_test(loss_is_sticky_and_reported_once),
        cmocka_unit_test(calls_from_another_thread_during_acquire_fail_cleanly),
        cmocka_unit_test(self_check_pings_its_own_channel_and_stays_held),
    };
    rt_port();
    return cmocka_run_group_tests_name("redis_validity", tests, NULL, NULL);
}
