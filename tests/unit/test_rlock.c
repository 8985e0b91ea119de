/* RLock: reentrant per handle; the OS lock goes only when the count
   returns to zero; over-release is NOT_HELD with the reference's message;
   a second RLock object on the same path contends. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void defaults_are_those_of_lock(void **state)
{
    pl_lock *l = NULL;
    double d;
    int i;
    tu_ok(pl_rlock_new(&l, tu_path(state, "r.lock")));
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 5.0);
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 0);
    tu_ok(pl_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_EX | PL_LOCK_NB);
    assert_int_equal(pl_lock_count(l), 0);
    pl_lock_free(l);
}

static void nested_acquires_count_and_return_the_same_fd(void **state)
{
    pl_lock *l = NULL;
    int fd1 = -1, fd2 = -1, fd3 = -1, n;
    tu_ok(pl_rlock_new(&l, tu_path(state, "r.lock")));
    tu_ok(pl_lock_acquire(l, &fd1));
    assert_int_equal(pl_lock_count(l), 1);
    n = tu_count_fds();
    tu_ok(pl_lock_acquire(l, &fd2));
    assert_int_equal(pl_lock_count(l), 2);
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, &fd3));
    assert_int_equal(pl_lock_count(l), 3);
    assert_int_equal(fd1, fd2);
    assert_int_equal(fd1, fd3);
    assert_int_equal(tu_count_fds(), n);
    pl_lock_free(l);
}

static void os_lock_is_released_only_when_the_count_reaches_zero(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_count(l), 2);
    assert_int_equal(pl_lock_is_held(l), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_count(l), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_count(l), 0);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(pl_lock_held_fd(l), -1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    assert_true(tu_exists(p)); /* like Lock: never deleted */
    pl_lock_free(l);
}

static void over_release_is_not_held_with_the_references_message(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&l, p));
    assert_int_equal(pl_lock_release(l), PL_ERR_NOT_HELD); /* never held */
    assert_string_equal(pl_last_error_message(),
                        "Cannot release more times than acquired");
    assert_int_equal(pl_last_error_code(), PL_ERR_NOT_HELD);
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_release(l));
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_release(l), PL_ERR_NOT_HELD);
    assert_string_equal(pl_last_error_message(),
                        "Cannot release more times than acquired");
    assert_int_equal(pl_lock_count(l), 0);
    /* still usable */
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_count(l), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    pl_lock_free(l);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
}

static void second_rlock_on_the_same_path_contends(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&a, p));
    tu_ok(pl_rlock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(pl_lock_acquire_with(b, 0.1, 0.01, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_lock_count(b), 0);
    /* b's failure did not count and b's release is an over-release */
    assert_int_equal(pl_lock_release(b), PL_ERR_NOT_HELD);
    tu_ok(pl_lock_release(a));
    assert_int_equal(pl_lock_acquire_with(b, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    tu_ok(pl_lock_release(a));
    tu_ok(pl_lock_acquire_with(b, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(pl_lock_count(b), 1);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void free_releases_whatever_the_depth(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    int n = tu_count_fds();
    tu_ok(pl_rlock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    assert_int_equal(tu_count_fds(), n);
}

#ifndef _WIN32 /* fork(2); tests/win has the Windows process tests */
typedef struct child_arg {
    const char *path;
    tu_pipe ready, done;
} child_arg;

static int rlock_holder(void *p)
{
    child_arg *a = p;
    pl_lock *l = NULL;
    if (pl_rlock_new(&l, a->path) != PL_OK ||
        pl_lock_acquire(l, NULL) != PL_OK || pl_lock_acquire(l, NULL) != PL_OK)
        return 10;
    tu_pipe_signal(&a->ready);
    if (tu_pipe_wait(&a->done, 20) != 0)
        return 11;
    if (pl_lock_release(l) != PL_OK)
        return 12;
    /* still held once: tell the parent, wait, then release fully */
    tu_pipe_signal(&a->ready);
    if (tu_pipe_wait(&a->done, 20) != 0)
        return 13;
    if (pl_lock_release(l) != PL_OK)
        return 14;
    tu_pipe_signal(&a->ready);
    pl_lock_free(l);
    return 0;
}

/* Reentrancy is per handle, and across processes the count matters too:
   another process only gets the lock when the holder's count hits 0. */
static void another_process_waits_for_the_count_to_reach_zero(void **state)
{
    child_arg a;
    pl_lock *l = NULL;
    pid_t pid;
    a.path = tu_path(state, "r.lock");
    tu_pipe_open(&a.ready);
    tu_pipe_open(&a.done);
    pid = tu_fork(rlock_holder, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    tu_ok(pl_rlock_new(&l, a.path));
    assert_int_equal(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    tu_pipe_signal(&a.done);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0); /* count 1 */
    assert_int_equal(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    tu_pipe_signal(&a.done);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0); /* count 0 */
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&a.ready);
    tu_pipe_close(&a.done);
    pl_lock_free(l);
}
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(defaults_are_those_of_lock),
        T(nested_acquires_count_and_return_the_same_fd),
        T(os_lock_is_released_only_when_the_count_reaches_zero),
        T(over_release_is_not_held_with_the_references_message),
        T(second_rlock_on_the_same_path_contends),
        T(free_releases_whatever_the_depth),
#ifndef _WIN32
        T(another_process_waits_for_the_count_to_reach_zero),
#endif
    };
#undef T
    return cmocka_run_group_tests_name("rlock", tests, NULL, NULL);
}
