/* The library loads, reports its version and error table consistently. */
#include "helpers/testutil.h"

#include <string.h>

static void version_twins_match_macros(void **state)
{
    (void)state;
    assert_int_equal(pl_version_number(), PL_VERSION_NUMBER);
    assert_string_equal(pl_version_string(), PL_VERSION_STRING);
    assert_int_equal(pl_flag_exclusive(), PL_LOCK_EX);
    assert_int_equal(pl_flag_shared(), PL_LOCK_SH);
    assert_int_equal(pl_flag_non_blocking(), PL_LOCK_NB);
    assert_int_equal(pl_flag_unblock(), PL_LOCK_UN);
}

static void lock_cycle(void **state)
{
    pl_lock *l = NULL;
    int fd = -1;
    tu_ok(pl_lock_new(&l, tu_path(state, "a.lock")));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(fd >= 0);
    assert_int_equal(pl_lock_is_held(l), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_is_held(l), 0);
    pl_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_twins_match_macros),
        cmocka_unit_test_setup_teardown(lock_cycle, tu_setup_dir, tu_teardown_dir),
    };
    return cmocka_run_group_tests_name("smoke", tests, NULL, NULL);
}
