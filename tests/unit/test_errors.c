/* The error table (codes, names, descriptions, exception classes) and the
   thread-local last error: never NULL, per thread, names the path and the
   OS error, keeps the errno. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32 /* the permission test's child */
#include <sys/wait.h>
#endif
#include <unistd.h>

/* ---- the table ---- */

static void codes_have_the_documented_values(void **state)
{
    (void)state;
    assert_int_equal(PL_OK, 0);
    assert_int_equal(PL_ERR_OK, 0);
    assert_int_equal(PL_ERR_ALREADY_LOCKED, -1);
    assert_int_equal(PL_ERR_LOCK_FAILED, -2);
    assert_int_equal(PL_ERR_FILE_TOO_LARGE, -3);
    assert_int_equal(PL_ERR_INVALID_ARGUMENT, -4);
    assert_int_equal(PL_ERR_NOT_HELD, -5);
    assert_int_equal(PL_ERR_EXISTS, -6);
    assert_int_equal(PL_ERR_IO, -7);
    assert_int_equal(PL_ERR_NO_MEMORY, -8);
    assert_int_equal(PL_ERR_UNSUPPORTED, -9);
    assert_int_equal(PL_ERR_INVALID_STATE, -10);
    assert_int_equal(PL_ERR_LOCK_LOST, -11);
    assert_int_equal(PL_ERR_CONNECTION, -12);
    assert_int_equal(PL_ERR_INTERRUPTED, -13);
    assert_string_equal(pl_error_name(PL_ERR_INTERRUPTED), "INTERRUPTED");
    assert_string_equal(pl_error_exception(PL_ERR_INTERRUPTED), "Interrupted");
}

static void error_min_is_the_lowest_code_and_every_code_above_is_known(
    void **state)
{
    int code, other;
    (void)state;
    assert_int_equal(pl_error_min(), PL_ERR_INTERRUPTED);
    for (code = 0; code >= pl_error_min(); code--) {
        assert_non_null(pl_strerror(code));
        assert_non_null(pl_error_name(code));
        assert_non_null(pl_error_exception(code));
        assert_string_not_equal(pl_strerror(code), "unknown error");
        assert_string_not_equal(pl_error_name(code), "UNKNOWN");
        assert_true(strlen(pl_strerror(code)) > 0);
        assert_true(strlen(pl_error_name(code)) > 0);
        /* names and descriptions are unique */
        for (other = code - 1; other >= pl_error_min(); other--) {
            assert_string_not_equal(pl_error_name(code), pl_error_name(other));
            assert_string_not_equal(pl_strerror(code), pl_strerror(other));
        }
    }
}

static void names_are_the_codes_without_prefix(void **state)
{
    (void)state;
    assert_string_equal(pl_error_name(PL_OK), "OK");
    assert_string_equal(pl_error_name(PL_ERR_ALREADY_LOCKED), "ALREADY_LOCKED");
    assert_string_equal(pl_error_name(PL_ERR_LOCK_FAILED), "LOCK_FAILED");
    assert_string_equal(pl_error_name(PL_ERR_FILE_TOO_LARGE), "FILE_TOO_LARGE");
    assert_string_equal(pl_error_name(PL_ERR_INVALID_ARGUMENT),
                        "INVALID_ARGUMENT");
    assert_string_equal(pl_error_name(PL_ERR_NOT_HELD), "NOT_HELD");
    assert_string_equal(pl_error_name(PL_ERR_EXISTS), "EXISTS");
    assert_string_equal(pl_error_name(PL_ERR_IO), "IO");
    assert_string_equal(pl_error_name(PL_ERR_NO_MEMORY), "NO_MEMORY");
    assert_string_equal(pl_error_name(PL_ERR_UNSUPPORTED), "UNSUPPORTED");
    assert_string_equal(pl_error_name(PL_ERR_INVALID_STATE), "INVALID_STATE");
    assert_string_equal(pl_error_name(PL_ERR_LOCK_LOST), "LOCK_LOST");
    assert_string_equal(pl_error_name(PL_ERR_CONNECTION), "CONNECTION");
}

static void descriptions_come_from_the_table(void **state)
{
    (void)state;
    assert_string_equal(pl_strerror(PL_OK), "success");
    assert_string_equal(
        pl_strerror(PL_ERR_ALREADY_LOCKED),
        "the lock is held by someone else (or the timeout ran out)");
    assert_string_equal(pl_strerror(PL_ERR_LOCK_FAILED), "the lock call failed");
    assert_string_equal(pl_strerror(PL_ERR_NOT_HELD), "the lock is not held");
    assert_string_equal(pl_strerror(PL_ERR_INVALID_ARGUMENT), "invalid argument");
}

/* The reference's hierarchy: AlreadyLocked and FileToLarge (sic) are
   LockExceptions; lock failures are LockException. */
static void exception_classes_follow_the_reference(void **state)
{
    (void)state;
    assert_string_equal(pl_error_exception(PL_OK), "");
    assert_string_equal(pl_error_exception(PL_ERR_ALREADY_LOCKED),
                        "AlreadyLocked");
    assert_string_equal(pl_error_exception(PL_ERR_LOCK_FAILED), "LockException");
    assert_string_equal(pl_error_exception(PL_ERR_FILE_TOO_LARGE), "FileToLarge");
    assert_string_equal(pl_error_exception(PL_ERR_EXISTS), "FileExists");
    assert_string_equal(pl_error_exception(PL_ERR_IO), "OSError");
    assert_string_equal(pl_error_exception(PL_ERR_NOT_HELD), "NotHeld");
}

static void unknown_codes_get_fallback_texts(void **state)
{
    const int unknown[] = {1, 42, INT_MAX, INT_MIN, -14, -1000};
    size_t i;
    (void)state;
    assert_true(-14 < pl_error_min());
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(pl_strerror(unknown[i]), "unknown error");
        assert_string_equal(pl_error_name(unknown[i]), "UNKNOWN");
        assert_non_null(pl_error_exception(unknown[i]));
        assert_true(strlen(pl_error_exception(unknown[i])) > 0);
    }
}

/* ---- the last error ---- */

static void *fresh_thread_state(void *arg)
{
    int *ok = arg;
    const char *m = pl_last_error_message();
    *ok = m != NULL && m[0] == '\0' && pl_last_errno() == 0 &&
          pl_last_error_code() == PL_OK;
    return NULL;
}

static void last_error_is_empty_not_null_in_a_new_thread(void **state)
{
    pthread_t t;
    int ok = 0;
    (void)state;
    /* Fail in this thread first: the new thread must not see it. */
    assert_int_equal(pl_lock_new(NULL, "x"), PL_ERR_INVALID_ARGUMENT);
    assert_true(pl_last_error_message()[0] != '\0');
    assert_int_equal(pthread_create(&t, NULL, fresh_thread_state, &ok), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(ok);
}

static void failure_sets_code_message_and_success_clears_them(void **state)
{
    pl_lock *l = NULL;
    (void)state;
    assert_int_equal(pl_lock_set_timeout(NULL, 1.0), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_last_error_code(), PL_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(pl_last_error_message(), "NULL"));
    assert_int_equal(pl_last_errno(), 0); /* no OS call failed */

    tu_ok(pl_lock_new(&l, tu_path(state, "ok.lock")));
    assert_non_null(pl_last_error_message());
    assert_string_equal(pl_last_error_message(), "");
    assert_int_equal(pl_last_error_code(), PL_OK);
    assert_int_equal(pl_last_errno(), 0);
    pl_lock_free(l);
}

static void clear_error_resets_everything(void **state)
{
    pl_lock *l = NULL;
    tu_ok(pl_lock_new(&l, tu_path(state, "missing-dir/x.lock")));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ENOENT);
    pl_clear_error();
    assert_string_equal(pl_last_error_message(), "");
    assert_int_equal(pl_last_errno(), 0);
    assert_int_equal(pl_last_error_code(), PL_OK);
    pl_lock_free(l);
}

/* Two threads fail differently at the same time; each sees its own. */
typedef struct iso_arg {
    pthread_barrier_t *barrier;
    const char *path;
    int ok;
    char seen[512];
} iso_arg;

static void *fail_with_not_held(void *p)
{
    iso_arg *a = p;
    pl_lock *l = NULL;
    int i;
    a->ok = 1;
    if (pl_rlock_new(&l, a->path) != PL_OK) {
        a->ok = 0;
        return NULL;
    }
    for (i = 0; i < 200; i++) {
        if (pl_lock_release(l) != PL_ERR_NOT_HELD)
            a->ok = 0;
        pthread_barrier_wait(a->barrier);
        if (pl_last_error_code() != PL_ERR_NOT_HELD || pl_last_errno() != 0 ||
            strcmp(pl_last_error_message(),
                   "Cannot release more times than acquired") != 0)
            a->ok = 0;
        pthread_barrier_wait(a->barrier);
    }
    snprintf(a->seen, sizeof a->seen, "%s", pl_last_error_message());
    pl_lock_free(l);
    return NULL;
}

static void *fail_with_enoent(void *p)
{
    iso_arg *a = p;
    pl_lock *l = NULL;
    int i;
    a->ok = 1;
    if (pl_lock_new(&l, a->path) != PL_OK) {
        a->ok = 0;
        return NULL;
    }
    for (i = 0; i < 200; i++) {
        if (pl_lock_acquire(l, NULL) != PL_ERR_IO)
            a->ok = 0;
        pthread_barrier_wait(a->barrier);
        if (pl_last_error_code() != PL_ERR_IO || pl_last_errno() != ENOENT ||
            !strstr(pl_last_error_message(), a->path))
            a->ok = 0;
        pthread_barrier_wait(a->barrier);
    }
    snprintf(a->seen, sizeof a->seen, "%s", pl_last_error_message());
    pl_lock_free(l);
    return NULL;
}

static void last_error_is_isolated_per_thread(void **state)
{
    pthread_barrier_t barrier;
    pthread_t t1, t2;
    iso_arg a1, a2;
    memset(&a1, 0, sizeof a1);
    memset(&a2, 0, sizeof a2);
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);
    a1.barrier = a2.barrier = &barrier;
    a1.path = tu_path(state, "r.lock");
    a2.path = tu_path(state, "no/such/dir/x.lock");
    assert_int_equal(pthread_create(&t1, NULL, fail_with_not_held, &a1), 0);
    assert_int_equal(pthread_create(&t2, NULL, fail_with_enoent, &a2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&barrier);
    if (!a1.ok || !a2.ok)
        fail_msg("threads saw each other's errors: '%s' / '%s'", a1.seen,
                 a2.seen);
    /* and the main thread saw neither */
    assert_int_not_equal(pl_last_error_code(), PL_ERR_NOT_HELD);
}

/* "cannot open '<path>': <strerror>" with the errno saved. */
static void missing_directory_message_names_path_and_os_error(void **state)
{
    pl_lock *l = NULL;
    char want[700];
    const char *path = tu_path(state, "nodir/x.lock");
    tu_ok(pl_lock_new(&l, path));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    snprintf(want, sizeof want, "cannot open '%s': %s", path, strerror(ENOENT));
    assert_string_equal(pl_last_error_message(), want);
    assert_int_equal(pl_last_errno(), ENOENT);
    assert_int_equal(pl_last_error_code(), PL_ERR_IO);
    pl_lock_free(l);
}

#ifndef _WIN32 /* Windows reports a path through a regular file as not found (ENOENT, as Python does there), not ENOTDIR */
static void path_under_a_regular_file_reports_enotdir(void **state)
{
    pl_lock *l = NULL;
    char want[700];
    const char *file = tu_path(state, "plain");
    const char *path = tu_path(state, "plain/x.lock");
    assert_int_equal(tu_write_file(file, "data"), 0);
    tu_ok(pl_lock_new(&l, path));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    snprintf(want, sizeof want, "cannot open '%s': %s", path,
             strerror(ENOTDIR));
    assert_string_equal(pl_last_error_message(), want);
    assert_int_equal(pl_last_errno(), ENOTDIR);
    pl_lock_free(l);
}
#endif

#ifndef _WIN32 /* POSIX permissions (chmod, setuid): Windows has ACLs */
/* EACCES: root bypasses permissions, so as root the check runs in a child
   that drops to an unprivileged user first. */
static int eacces_check(const char *path)
{
    pl_lock *l = NULL;
    char want[700];
    int rc;
    if (pl_lock_new(&l, path) != PL_OK)
        return 10;
    rc = pl_lock_acquire(l, NULL);
    snprintf(want, sizeof want, "cannot open '%s': Permission denied", path);
    if (rc != PL_ERR_IO) {
        fprintf(stderr, "acquire returned %d (%s)\n", rc, pl_last_error_message());
        return 11;
    }
    if (pl_last_errno() != EACCES)
        return 12;
    if (strcmp(pl_last_error_message(), want) != 0) {
        fprintf(stderr, "message '%s', want '%s'\n", pl_last_error_message(),
                want);
        return 13;
    }
    pl_lock_free(l);
    return 0;
}

static int eacces_as_nobody(void *arg)
{
    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 20;
    if (geteuid() == 0)
        return 21;
    return eacces_check(arg);
}

static void permission_denied_message_names_path(void **state)
{
    const char *ro = tu_path(state, "ro");
    const char *path = tu_path(state, "ro/x.lock");
    int st;
    assert_int_equal(mkdir(ro, 0555), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    if (geteuid() != 0) {
        assert_int_equal(eacces_check(path), 0);
        return;
    }
    /* The test directory is 0700 root and ro/ is 0555: an unprivileged
       user can neither traverse nor create, so open fails with EACCES. */
    st = tu_wait(tu_fork(eacces_as_nobody, (void *)path));
    if (st == 20)
        fail_msg("running as root and cannot drop privileges to provoke "
                 "EACCES");
    assert_int_equal(st, 0);
}
#endif

static void long_message_is_truncated_safely(void **state)
{
    pl_lock *l = NULL;
    static char path[8192];
    const char *m;
    size_t n;
    (void)state;
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    tu_ok(pl_lock_new(&l, path));
    assert_int_not_equal(pl_lock_acquire(l, NULL), PL_OK);
    m = pl_last_error_message();
    n = strlen(m);
    assert_true(n > 0);
    assert_true(n < 1024);
    assert_int_equal(pl_last_errno(), ENAMETOOLONG);
    assert_true(strncmp(m, "cannot open '/aaa", 17) == 0);
    pl_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_have_the_documented_values),
        cmocka_unit_test(
            error_min_is_the_lowest_code_and_every_code_above_is_known),
        cmocka_unit_test(names_are_the_codes_without_prefix),
        cmocka_unit_test(descriptions_come_from_the_table),
        cmocka_unit_test(exception_classes_follow_the_reference),
        cmocka_unit_test(unknown_codes_get_fallback_texts),
        cmocka_unit_test(last_error_is_empty_not_null_in_a_new_thread),
        cmocka_unit_test_setup_teardown(
            failure_sets_code_message_and_success_clears_them, tu_setup_dir,
            tu_teardown_dir),
        cmocka_unit_test_setup_teardown(clear_error_resets_everything,
                                        tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(last_error_is_isolated_per_thread,
                                        tu_setup_dir, tu_teardown_dir),
        cmocka_unit_test_setup_teardown(
            missing_directory_message_names_path_and_os_error, tu_setup_dir,
            tu_teardown_dir),
#ifndef _WIN32
        cmocka_unit_test_setup_teardown(path_under_a_regular_file_reports_enotdir,
                                        tu_setup_dir, tu_teardown_dir),
#endif
#ifndef _WIN32
        cmocka_unit_test_setup_teardown(permission_denied_message_names_path,
                                        tu_setup_dir, tu_teardown_dir),
#endif
        cmocka_unit_test(long_message_is_truncated_safely),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
