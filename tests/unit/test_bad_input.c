/* Bad input gets a clear error, never a crash or a leak: NULL / empty
   arguments, a directory or a missing parent as lock path, over-long
   names, invalid modes, flags, timeouts, check intervals and mechanisms,
   NULL handles. After every error no descriptor has leaked and the handle
   still works. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*new_fn)(pl_lock **, const char *);

static const struct {
    const char *name;
    new_fn fn;
} constructors[] = {
    {"lock", pl_lock_new},
    {"rlock", pl_rlock_new},
    {"temporary", pl_temporary_lock_new},
    {"pidfile", pl_pidfile_lock_new},
};
#define N_CONSTRUCTORS (sizeof constructors / sizeof constructors[0])

/* ---- constructors ---- */

static void null_out_is_invalid_for_every_constructor(void **state)
{
    size_t i;
    int n = tu_count_fds();
    for (i = 0; i < N_CONSTRUCTORS; i++) {
        if (constructors[i].fn(NULL, tu_path(state, "a.lock")) !=
            PL_ERR_INVALID_ARGUMENT)
            fail_msg("%s_new(NULL, path) accepted", constructors[i].name);
        assert_non_null(strstr(pl_last_error_message(), "NULL"));
        /* with a default path too */
        if (constructors[i].fn(NULL, NULL) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("%s_new(NULL, NULL) accepted", constructors[i].name);
    }
    assert_int_equal(tu_count_fds(), n);
}

static void null_path_is_invalid_for_lock_and_rlock(void **state)
{
    pl_lock *l = (pl_lock *)&l; /* not NULL: must be reset */
    (void)state;
    assert_int_equal(pl_lock_new(&l, NULL), PL_ERR_INVALID_ARGUMENT);
    assert_null(l);
    l = (pl_lock *)&l;
    assert_int_equal(pl_rlock_new(&l, NULL), PL_ERR_INVALID_ARGUMENT);
    assert_null(l);
    assert_non_null(strstr(pl_last_error_message(), "path"));
}

static void empty_path_is_invalid_for_every_constructor(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < N_CONSTRUCTORS; i++) {
        pl_lock *l = (pl_lock *)&l;
        if (constructors[i].fn(&l, "") != PL_ERR_INVALID_ARGUMENT)
            fail_msg("%s_new(&l, \"\") accepted", constructors[i].name);
        assert_null(l);
        assert_non_null(strstr(pl_last_error_message(), "empty"));
    }
}

/* ---- paths that cannot be locked ---- */

static void directory_as_lock_path_fails_clearly_in_every_mode(void **state)
{
    const char *modes[] = {"a", "r", "r+", "w", "a+", "w+", "rb"};
    const char *p = tu_path(state, "dir.lock");
    pl_lock *l = NULL;
    size_t i;
    int n;
    assert_int_equal(mkdir(p, 0755), 0);
    tu_ok(pl_lock_new(&l, p));
    n = tu_count_fds();
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int rc;
        tu_ok(pl_lock_set_mode(l, modes[i]));
        rc = pl_lock_acquire(l, NULL);
        /* one answer whatever the mode: the OS error EISDIR, as the
           reference's open() raises IsADirectoryError */
        if (rc != PL_ERR_IO || pl_last_errno() != EISDIR)
            fail_msg("mode '%s': %s (%d), errno %d: %s", modes[i],
                     pl_error_name(rc), rc, pl_last_errno(),
                     pl_last_error_message());
        assert_non_null(strstr(pl_last_error_message(), p));
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(pl_lock_held_fd(l), -1);
        assert_int_equal(tu_count_fds(), n);
    }
    /* the handle works once the path is a file */
    assert_int_equal(rmdir(p), 0);
    tu_ok(pl_lock_set_mode(l, "a"));
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
}

static void directory_as_temporary_or_pid_lock_path_fails_clearly(
    void **state)
{
    pl_lock *t = NULL, *pf = NULL;
    const char *pt = tu_path(state, "t.lock");
    const char *pp = tu_path(state, "app.pid");
    const char *ps = tu_path(state, "app.pid.lock");
    int n;
    assert_int_equal(mkdir(pt, 0755), 0);
    assert_int_equal(mkdir(ps, 0755), 0);
    tu_ok(pl_temporary_lock_new(&t, pt));
    tu_ok(pl_pidfile_lock_new(&pf, pp));
    n = tu_count_fds();
    assert_int_equal(pl_lock_acquire(t, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), EISDIR);
    assert_non_null(strstr(pl_last_error_message(), pt));
    /* PID-file locks turn lock failures into ALREADY_LOCKED, but this is
       not a lock failure */
    assert_int_equal(pl_lock_acquire(pf, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), EISDIR);
    assert_non_null(strstr(pl_last_error_message(), ps));
    assert_int_equal(tu_count_fds(), n);
    assert_true(tu_exists(pt)); /* the directories are left alone */
    assert_true(tu_exists(ps));
    assert_false(tu_exists(pp));
    assert_int_equal(rmdir(pt), 0);
    assert_int_equal(rmdir(ps), 0);
    tu_ok(pl_lock_acquire(t, NULL));
    tu_ok(pl_lock_acquire(pf, NULL));
    pl_lock_free(t);
    pl_lock_free(pf);
}

static void missing_parent_directory_fails_and_names_the_path(void **state)
{
    size_t i;
    for (i = 0; i < N_CONSTRUCTORS; i++) {
        pl_lock *l = NULL;
        char name[128], parent[64];
        const char *p;
        int n;
        snprintf(parent, sizeof parent, "missing-%s", constructors[i].name);
        snprintf(name, sizeof name, "%s/x.lock", parent);
        p = tu_path(state, name);
        tu_ok(constructors[i].fn(&l, p));
        n = tu_count_fds();
        assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
        assert_int_equal(pl_last_errno(), ENOENT);
        assert_non_null(strstr(pl_last_error_message(), p));
        assert_non_null(strstr(pl_last_error_message(), strerror(ENOENT)));
        assert_int_equal(tu_count_fds(), n);
        /* the library creates no directories for locks */
        assert_false(tu_exists(tu_path(state, parent)));
        assert_int_equal(mkdir(tu_path(state, parent), 0755), 0);
        tu_ok(pl_lock_acquire(l, NULL));
        pl_lock_free(l);
    }
}

static void overlong_names_are_rejected_with_enametoolong(void **state)
{
    static char component[NAME_MAX + 20], longpath[PATH_MAX + 100];
    char *p;
    pl_lock *l = NULL;
    int n;
    size_t i;
    memset(component, 'c', sizeof component - 1);
    component[sizeof component - 1] = '\0';
    p = strdup(tu_path(state, component));
    assert_non_null(p);
    memset(longpath, 'd', sizeof longpath - 1);
    longpath[0] = '/';
    for (i = 100; i < sizeof longpath - 1; i += 100)
        longpath[i] = '/'; /* short components, too long a path */
    longpath[sizeof longpath - 1] = '\0';

    for (i = 0; i < N_CONSTRUCTORS; i++) {
        tu_ok(constructors[i].fn(&l, p));
        n = tu_count_fds();
        /* An OS error (OSError with errno and filename in the bindings,
           as the reference raises), not a bad argument. */
        assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
        assert_int_equal(pl_last_errno(), ENAMETOOLONG);
        assert_non_null(strstr(pl_last_error_message(), strerror(ENAMETOOLONG)));
        assert_non_null(strstr(pl_last_error_message(), component));
        assert_int_equal(tu_count_fds(), n);
        pl_lock_free(l);

        tu_ok(constructors[i].fn(&l, longpath));
        assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
        assert_int_equal(pl_last_errno(), ENAMETOOLONG);
        assert_int_equal(tu_count_fds(), n);
        pl_lock_free(l);
    }
    free(p);
}

/* ---- options ---- */

static void invalid_mode_strings_are_rejected_and_keep_the_mode(void **state)
{
    static char verylong[4096];
    const char *bad[] = {"", "rw", "q", "r++", "bt", "wa", "b", "+", "rbb",
                         "a+b+", "tb", "r t", "A", "ab ", "a\n", "rwx",
                         "aaaa", verylong};
    pl_lock *l = NULL;
    const char *p = tu_path(state, "m.lock");
    size_t i;
    int n;
    memset(verylong, 'a', sizeof verylong - 1);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "r+")); /* valid; never creates */
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pl_lock_set_mode(l, bad[i]) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("mode '%.20s' accepted", bad[i]);
        assert_non_null(strstr(pl_last_error_message(), "mode"));
    }
    assert_int_equal(pl_lock_set_mode(l, NULL), PL_ERR_INVALID_ARGUMENT);
    n = tu_count_fds();
    /* still "r+": the missing file is not created */
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ENOENT);
    assert_false(tu_exists(p));
    assert_int_equal(tu_count_fds(), n);
    assert_int_equal(tu_write_file(p, ""), 0);
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
}

static void invalid_flags_are_rejected_and_keep_the_flags(void **state)
{
    const int bad[] = {0, PL_LOCK_NB, PL_LOCK_SH | PL_LOCK_EX,
                       PL_LOCK_SH | PL_LOCK_EX | PL_LOCK_NB, PL_LOCK_UN,
                       PL_LOCK_UN | PL_LOCK_EX, 16, PL_LOCK_EX | 64, -1,
                       INT_MIN};
    pl_lock *l = NULL, *other = NULL;
    const char *p = tu_path(state, "f.lock");
    size_t i;
    int flags = 0;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_flags(l, PL_LOCK_SH | PL_LOCK_NB));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pl_lock_set_flags(l, bad[i]) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("flags 0x%x accepted", (unsigned)bad[i]);
    tu_ok(pl_lock_get_flags(l, &flags));
    assert_int_equal(flags, PL_LOCK_SH | PL_LOCK_NB);
    /* still shared: another shared holder coexists */
    tu_ok(pl_lock_new(&other, p));
    tu_ok(pl_lock_set_flags(other, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_lock_acquire(other, NULL));
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    pl_lock_free(other);
    pl_lock_free(l);
}

static void negative_and_nan_timeouts_are_rejected(void **state)
{
    const double bad[] = {-0.5, -2.0, -1e-9, NAN, -INFINITY, -1e300};
    pl_lock *l = NULL;
    size_t i;
    double d = 0;
    tu_ok(pl_lock_new(&l, tu_path(state, "t.lock")));
    tu_ok(pl_lock_set_timeout(l, 1.25));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pl_lock_set_timeout(l, bad[i]) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("timeout %g accepted", bad[i]);
        assert_non_null(strstr(pl_last_error_message(), "timeout"));
    }
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 1.25);
    tu_ok(pl_lock_set_timeout(l, INFINITY)); /* allowed: wait forever */
    tu_ok(pl_lock_set_timeout(l, 0));
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
}

static void negative_nan_and_infinite_check_intervals_are_rejected(
    void **state)
{
    const double bad[] = {-0.5, -2.0, NAN, INFINITY, -INFINITY};
    pl_lock *l = NULL;
    size_t i;
    double d = 0;
    tu_ok(pl_lock_new(&l, tu_path(state, "c.lock")));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pl_lock_set_check_interval(l, bad[i]) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("check_interval %g accepted", bad[i]);
        assert_non_null(strstr(pl_last_error_message(), "check_interval"));
    }
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
}

/* Per-call overrides are validated before anything is opened (note: -1 is
   PL_INHERIT, so the negative values here avoid it). */
static void invalid_per_call_overrides_are_rejected_without_side_effects(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "o.lock");
    int n = tu_count_fds();
    tu_ok(pl_lock_new(&l, p));
    assert_int_equal(pl_lock_acquire_with(l, -0.5, PL_INHERIT, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire_with(l, NAN, PL_INHERIT, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire_with(l, PL_INHERIT, -2, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire_with(l, PL_INHERIT, NAN, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_false(tu_exists(p)); /* nothing was opened or created */
    assert_int_equal(tu_count_fds(), n);
    assert_int_equal(pl_lock_is_held(l), 0);
    tu_ok(pl_lock_acquire_with(l, INFINITY, 0.01, 1, NULL));
    pl_lock_free(l);
}

static void invalid_per_call_overrides_are_rejected_while_held(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_acquire_with(l, NAN, PL_INHERIT, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire_with(l, PL_INHERIT, -3, PL_INHERIT, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    /* the failed calls did not count as acquisitions */
    assert_int_equal(pl_lock_count(l), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    pl_lock_free(l);
}

#ifndef _WIN32 /* needs PL_MECH_POSIX, which Windows lacks (tests/win
                  checks that refusal) */
static void invalid_mechanisms_are_rejected_and_keep_the_mechanism(
    void **state)
{
    const int bad[] = {-1, 3, 42, INT_MIN};
    pl_lock *l = NULL;
    const char *p = tu_path(state, "m.lock");
    size_t i;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pl_lock_set_mechanism(l, bad[i]),
                         PL_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(pl_last_error_message(), "mechanism"));
    }
    tu_ok(pl_lock_acquire(l, NULL));
    /* still POSIX record locks */
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    pl_lock_free(l);
}
#endif

/* ---- NULL handles ---- */

static void every_call_on_a_null_handle_is_invalid(void **state)
{
    double d;
    int i;
    long pid;
    (void)state;
    assert_int_equal(pl_lock_set_timeout(NULL, 1), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_check_interval(NULL, 1),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_fail_when_locked(NULL, 1),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_flags(NULL, PL_LOCK_EX),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_mode(NULL, "a"), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_mechanism(NULL, PL_MECH_FLOCK),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_file_mode(NULL, 0644), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_raise_on_release_error(NULL, 1),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_timeout(NULL, &d), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_check_interval(NULL, &d),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_fail_when_locked(NULL, &i),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_flags(NULL, &i), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire(NULL, &i), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_acquire_with(NULL, 1, 1, 1, &i),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_release(NULL), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_read_pid(NULL, &pid), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_is_held(NULL), 0);
    assert_int_equal(pl_lock_held_fd(NULL), -1);
    assert_int_equal(pl_lock_count(NULL), 0);
    assert_int_equal(pl_lock_holder_pid(NULL), 0);
    assert_non_null(pl_lock_path(NULL));
    pl_lock_free(NULL);
}

static void getters_reject_a_null_out(void **state)
{
    pl_lock *l = NULL;
    tu_ok(pl_lock_new(&l, tu_path(state, "g.lock")));
    assert_int_equal(pl_lock_get_timeout(l, NULL), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_check_interval(l, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_fail_when_locked(l, NULL),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_get_flags(l, NULL), PL_ERR_INVALID_ARGUMENT);
    pl_lock_free(l);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(null_out_is_invalid_for_every_constructor),
        T(null_path_is_invalid_for_lock_and_rlock),
        T(empty_path_is_invalid_for_every_constructor),
        T(directory_as_lock_path_fails_clearly_in_every_mode),
        T(directory_as_temporary_or_pid_lock_path_fails_clearly),
        T(missing_parent_directory_fails_and_names_the_path),
        T(overlong_names_are_rejected_with_enametoolong),
        T(invalid_mode_strings_are_rejected_and_keep_the_mode),
        T(invalid_flags_are_rejected_and_keep_the_flags),
        T(negative_and_nan_timeouts_are_rejected),
        T(negative_nan_and_infinite_check_intervals_are_rejected),
        T(invalid_per_call_overrides_are_rejected_without_side_effects),
        T(invalid_per_call_overrides_are_rejected_while_held),
#ifndef _WIN32
        T(invalid_mechanisms_are_rejected_and_keep_the_mechanism),
#endif
        cmocka_unit_test(every_call_on_a_null_handle_is_invalid),
        T(getters_reject_a_null_out),
    };
#undef T
    return cmocka_run_group_tests_name("bad_input", tests, NULL, NULL);
}
