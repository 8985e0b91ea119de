/* Ending a Redis lock wait early: pl_redis_lock_cancel from another thread,
   a pending cancel before the acquire starts, and the thread's wait hook.
   Each ends the wait with PL_ERR_INTERRUPTED, promptly, and leaves nothing
   subscribed; the holder keeps its lock. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct waiter {
    pl_redis_lock *lock;
    pl_status rc;
    double elapsed;
} waiter;

static void *wait_for_it(void *p)
{
    waiter *w = p;
    double t0 = tu_now();
    w->rc = pl_redis_lock_acquire_with(w->lock, 30, 0.05, 0);
    w->elapsed = tu_now() - t0;
    return NULL;
}

static void cancel_from_another_thread(void **state)
{
    const char *ch = rt_channel("cancel");
    pl_redis_lock *holder = rt_lock(ch, PL_LOCK_EX);
    waiter w = {rt_lock(ch, PL_LOCK_EX), PL_OK, 0};
    pthread_t t;
    (void)state;
    tu_ok(pl_redis_lock_acquire(holder));
    assert_int_equal(pthread_create(&t, NULL, wait_for_it, &w), 0);
    usleep(300000); /* the waiter is inside its 30 s wait */
    tu_ok(pl_redis_lock_cancel(w.lock));
    pthread_join(t, NULL);
    tu_expect(PL_ERR_INTERRUPTED, w.rc);
    assert_true(w.elapsed < 5.0);
    /* Nothing of the waiter stays on the channel; the holder holds. */
    assert_int_equal(rt_wait_numsub(ch, 1, 3), 0);
    tu_ok(pl_redis_lock_check(holder));
    /* The cancel was consumed: the next acquire waits normally. */
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_redis_lock_acquire_with(w.lock, 0.2, 0.05, 0));
    tu_ok(pl_redis_lock_release(holder));
    tu_ok(pl_redis_lock_acquire_with(w.lock, 5, 0.05, 0));
    pl_redis_lock_free(holder);
    pl_redis_lock_free(w.lock);
}

static void pending_cancel_ends_the_next_acquire(void **state)
{
    const char *ch = rt_channel("cancelnext");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_cancel(l));
    tu_ok(pl_redis_lock_cancel(l)); /* twice before a wait is one cancel */
    tu_expect(PL_ERR_INTERRUPTED, pl_redis_lock_acquire(l));
    assert_int_equal(rt_numsub(ch), 0);
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_release(l));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_cancel(NULL));
    pl_redis_lock_free(l);
}

static atomic_int hook_calls;
static double hook_stop_at;

static int stop_after_a_while(void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&hook_calls, 1);
    return tu_now() >= hook_stop_at;
}

static void wait_hook_ends_the_wait(void **state)
{
    const char *ch = rt_channel("hook");
    pl_redis_lock *holder = rt_lock(ch, PL_LOCK_EX), *l = rt_lock(ch, PL_LOCK_EX);
    double t0;
    pl_status rc;
    (void)state;
    tu_ok(pl_redis_lock_acquire(holder));
    tu_ok(pl_set_wait_hook(stop_after_a_while, NULL, 0.02));
    atomic_store(&hook_calls, 0);
    t0 = tu_now();
    hook_stop_at = t0 + 0.3;
    rc = pl_redis_lock_acquire_with(l, 30, 0.05, 0);
    tu_ok(pl_set_wait_hook(NULL, NULL, 0));
    tu_expect(PL_ERR_INTERRUPTED, rc);
    assert_true(tu_now() - t0 < 5.0);
    assert_true(atomic_load(&hook_calls) >= 2); /* it ran during the wait */
    assert_int_equal(rt_wait_numsub(ch, 1, 3), 0);
    tu_ok(pl_redis_lock_check(holder));
    pl_redis_lock_free(holder);
    pl_redis_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cancel_from_another_thread),
        cmocka_unit_test(pending_cancel_ends_the_next_acquire),
        cmocka_unit_test(wait_hook_ends_the_wait),
    };
    rt_port(); /* no server, no pass */
    return cmocka_run_group_tests_name("redis lock cancel", tests, NULL, NULL);
}
