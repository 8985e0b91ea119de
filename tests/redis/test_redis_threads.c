/* RedisLock and threads (run under ThreadSanitizer by
   ci/hardening/sanitize.sh): each handle has a background holder thread
   that answers pings and watches the subscription. Here several threads,
   each with its own handle on one channel, take turns; and a held lock is
   lost (CLIENT KILL) while its holder thread runs, with the loss observed
   from the owning thread, the lost callback (holder thread) and another
   thread acquiring the lock meanwhile. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 4
#define ROUNDS 8

struct turn {
    const char *channel;
    atomic_int inside;
    atomic_int overlaps;
    atomic_int failures;
    atomic_int done;
};

static void *take_turns(void *p)
{
    struct turn *t = p;
    pl_redis_lock *l = NULL;
    int i, rc;
    /* rt_lock's fail_msg is not thread safe: build the handle by hand. */
    if (pl_redis_lock_new(&l, t->channel, strlen(t->channel)) != PL_OK ||
        pl_redis_lock_set_host(l, "127.0.0.1", rt_port()) != PL_OK ||
        pl_redis_lock_set_check_interval(l, 0.05) != PL_OK) {
        atomic_fetch_add(&t->failures, 1);
        pl_redis_lock_free(l);
        return NULL;
    }
    for (i = 0; i < ROUNDS; i++) {
        rc = pl_redis_lock_acquire_with(l, 30, 0.02, 0);
        if (rc != PL_OK) {
            fprintf(stderr, "acquire: %s\n", pl_last_error_message());
            atomic_fetch_add(&t->failures, 1);
            continue;
        }
        if (atomic_fetch_add(&t->inside, 1) != 0)
            atomic_fetch_add(&t->overlaps, 1);
        if (pl_redis_lock_check(l) != PL_OK)
            atomic_fetch_add(&t->failures, 1);
        usleep(2000);
        atomic_fetch_sub(&t->inside, 1);
        if (pl_redis_lock_release(l) != PL_OK)
            atomic_fetch_add(&t->failures, 1);
    }
    pl_redis_lock_free(l);
    atomic_fetch_add(&t->done, 1);
    return NULL;
}

static void threads_take_turns_with_own_handles(void **state)
{
    struct turn t;
    pthread_t th[NTHREADS];
    int i;
    (void)state;
    memset(&t, 0, sizeof t);
    t.channel = rt_channel("threads");
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, take_turns, &t), 0);
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&t.failures), 0);
    assert_int_equal(atomic_load(&t.overlaps), 0);
    assert_int_equal(atomic_load(&t.done), NTHREADS);
    assert_int_equal(rt_wait_numsub(t.channel, 0, 3), 0);
}

static atomic_int lost_calls;

static void on_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    (void)ud;
    atomic_fetch_add(&lost_calls, 1);
}

struct taker {
    const char *channel;
    atomic_int result;
};

/* Another thread waits for the lock the main thread holds: it gets it once
   the holder's subscription is killed. */
static void *take_after_loss(void *p)
{
    struct taker *k = p;
    pl_redis_lock *l = NULL;
    int rc = pl_redis_lock_new(&l, k->channel, strlen(k->channel));
    if (rc == PL_OK)
        rc = pl_redis_lock_set_host(l, "127.0.0.1", rt_port());
    if (rc == PL_OK)
        rc = pl_redis_lock_acquire_with(l, 10, 0.02, 0);
    if (rc == PL_OK)
        rc = pl_redis_lock_check(l);
    if (rc == PL_OK)
        rc = pl_redis_lock_release(l);
    pl_redis_lock_free(l);
    atomic_store(&k->result, rc == PL_OK ? 1 : -1);
    return NULL;
}

static void lock_lost_while_holder_thread_runs(void **state)
{
    const char *ch = rt_channel("lost");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    struct taker k;
    pthread_t th;
    redisContext *c;
    char name[256];
    double end;
    int round;
    (void)state;
    tu_ok(pl_redis_lock_set_lost_callback(l, on_lost, NULL));
    for (round = 0; round < 3; round++) {
        atomic_store(&lost_calls, 0);
        tu_ok(pl_redis_lock_acquire(l));
        k.channel = ch;
        atomic_store(&k.result, 0);
        assert_int_equal(pthread_create(&th, NULL, take_after_loss, &k), 0);
        /* The taker is subscribed and waiting next to the holder. */
        assert_int_equal(rt_wait_numsub(ch, 2, 5), 0);
        usleep(100000);
        assert_int_equal(atomic_load(&k.result), 0);
        tu_ok(pl_redis_lock_check(l));
        snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
        c = rt_connect();
        freeReplyObject(redisCommand(c, "CLIENT KILL ID %lld", rt_client_id(name)));
        redisFree(c);
        end = tu_now() + 5;
        while (pl_redis_lock_check(l) == PL_OK && tu_now() < end)
            usleep(1000);
        tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(atomic_load(&k.result), 1);
        end = tu_now() + 2;
        while (atomic_load(&lost_calls) == 0 && tu_now() < end)
            usleep(1000);
        assert_int_equal(atomic_load(&lost_calls), 1);
        tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
        tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
    }
    /* Acquire/release cycles after the losses: the handle is sound. */
    for (round = 0; round < 5; round++) {
        tu_ok(pl_redis_lock_acquire(l));
        tu_ok(pl_redis_lock_check(l));
        tu_ok(pl_redis_lock_release(l));
    }
    pl_redis_lock_free(l);
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
}

/* Free while held, with the holder thread mid-wait: it must be stopped and
   joined, not left running on freed memory. */
static void free_while_held_stops_the_holder(void **state)
{
    int i;
    (void)state;
    for (i = 0; i < 10; i++) {
        const char *ch = rt_channel("free");
        pl_redis_lock *l = rt_lock(ch, i % 2 ? PL_LOCK_SH : PL_LOCK_EX);
        tu_ok(pl_redis_lock_acquire(l));
        usleep(i * 1000);
        pl_redis_lock_free(l);
        assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
    }
}

/* The state getters are called from other threads while an acquire runs
   (bindings report `mode`, `elected` and `lost` without waiting for
   it): the acquiring thread writes those fields, so the reads must be
   atomic (ThreadSanitizer checks it here). A reader holds, so the writer
   waits as the elected writer (pending, elected) and its mode and elected
   change while watched. */
struct watch {
    pl_redis_lock *l;
    atomic_int stop;
    atomic_int saw_elected;
    atomic_int bad;
};

static void *watch_state(void *p)
{
    struct watch *w = p;
    while (!atomic_load(&w->stop)) {
        int mode = -1, elected = -1, lost = -1;
        if (pl_redis_lock_get_mode(w->l, &mode) != PL_OK ||
            pl_redis_lock_get_elected(w->l, &elected) != PL_OK ||
            pl_redis_lock_is_lost(w->l, &lost) != PL_OK ||
            (elected != 0 && elected != 1) || lost != 0)
            atomic_fetch_add(&w->bad, 1);
        if (elected == 1)
            atomic_store(&w->saw_elected, 1);
        usleep(200);
    }
    return NULL;
}

static void getters_race_free_during_acquire(void **state)
{
    const char *ch = rt_channel("getters");
    pl_redis_lock *reader = rt_lock(ch, PL_LOCK_SH);
    pl_redis_lock *writer = rt_lock(ch, PL_LOCK_EX);
    struct watch w;
    pthread_t th;
    int rc;
    (void)state;
    memset(&w, 0, sizeof w);
    w.l = writer;
    tu_ok(pl_redis_lock_acquire(reader));
    assert_int_equal(pthread_create(&th, NULL, watch_state, &w), 0);
    /* Times out: the reader never leaves. */
    rc = pl_redis_lock_acquire_with(writer, 0.5, 0.02, 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, rc);
    tu_ok(pl_redis_lock_release(reader));
    tu_ok(pl_redis_lock_acquire_with(writer, 5, 0.02, 0));
    tu_ok(pl_redis_lock_release(writer));
    atomic_store(&w.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(atomic_load(&w.bad), 0);
    assert_int_equal(atomic_load(&w.saw_elected), 1);
    pl_redis_lock_free(writer);
    pl_redis_lock_free(reader);
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_take_turns_with_own_handles),
        cmocka_unit_test(lock_lost_while_holder_thread_runs),
        cmocka_unit_test(free_while_held_stops_the_holder),
        cmocka_unit_test(getters_race_free_during_acquire),
    };
    rt_port(); /* no server, no pass */
    return cmocka_run_group_tests_name("redis threads", tests, NULL, NULL);
}
