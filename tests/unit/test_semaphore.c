/* BoundedSemaphore / NamedBoundedSemaphore: slot files, slot order,
   waiting across processes, bad input, patterns, fork safety, no leaks. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32 /* setrlimit: the far-slot test, POSIX only */
#include <sys/resource.h>
#endif
#include <sys/stat.h>
#include <unistd.h>

static const char *dir_of(void **state)
{
    return ((tu_dir *)*state)->path;
}

/* A semaphore in the test's directory. */
static pl_semaphore *sem_in(void **state, int maximum, const char *name)
{
    pl_semaphore *s = NULL;
    tu_ok(pl_semaphore_new(&s, maximum, name));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    return s;
}

static const char *basename_of(const char *p)
{
    const char *slash = strrchr(p, '/');
#ifdef _WIN32
    const char *back = strrchr(p, '\\');
    if (back && (!slash || back > slash))
        slash = back;
#endif
    return slash ? slash + 1 : p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- naming ---- */

static void slot_files_are_named_name_dot_two_digit_number_dot_lock(void **state)
{
    pl_semaphore *s = sem_in(state, 3, "workers");
    char buf[512];
    int slot = -1;
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_string_equal(buf, tu_path(state, "workers.00.lock"));
    tu_ok(pl_semaphore_slot_path(s, 2, buf, sizeof buf));
    assert_string_equal(buf, tu_path(state, "workers.02.lock"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_slot_path(s, 3, buf, sizeof buf));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_slot_path(s, -1, buf, sizeof buf));
    /* The file that gets locked is that one. */
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_int_equal(slot, 0);
    assert_true(file_exists(tu_path(state, "workers.00.lock")));
    assert_false(file_exists(tu_path(state, "workers.01.lock")));
    assert_string_equal(pl_semaphore_name(s), "workers");
    assert_int_equal(pl_semaphore_maximum(s), 3);
    pl_semaphore_free(s);
}

static void two_digit_spec_grows_past_99(void **state)
{
    pl_semaphore *s = sem_in(state, 120, "big");
    char buf[512];
    tu_ok(pl_semaphore_slot_path(s, 7, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "big.07.lock");
    tu_ok(pl_semaphore_slot_path(s, 119, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "big.119.lock");
    pl_semaphore_free(s);
}

/* The separator the library joins the directory and the slot name with. */
#ifdef _WIN32
#define SEP "\\"
#else
#define SEP "/"
#endif

static void default_directory_is_tmpdir_or_tmp(void **state)
{
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    char buf[512], want[512];
    pl_semaphore *s = NULL;

    setenv("TMPDIR", dir_of(state), 1);
    tu_ok(pl_semaphore_new(&s, 1, "deflt"));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    snprintf(want, sizeof want, "%s" SEP "deflt.00.lock", dir_of(state));
    assert_string_equal(buf, want);
    pl_semaphore_free(s);

    /* A trailing slash does not double. */
    snprintf(want, sizeof want, "%s/", dir_of(state));
    setenv("TMPDIR", want, 1);
    tu_ok(pl_semaphore_new(&s, 1, "deflt"));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    snprintf(want, sizeof want, "%s/deflt.00.lock", dir_of(state));
    assert_string_equal(buf, want);
    pl_semaphore_free(s);

#ifndef _WIN32 /* Windows's default is GetTempPathW's directory, not /tmp */
    unsetenv("TMPDIR");
    tu_ok(pl_semaphore_new(&s, 1, "deflt"));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_string_equal(buf, "/tmp/deflt.00.lock");
    pl_semaphore_free(s);

    setenv("TMPDIR", "", 1); /* empty counts as unset */
    tu_ok(pl_semaphore_new(&s, 1, "deflt"));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_string_equal(buf, "/tmp/deflt.00.lock");
    pl_semaphore_free(s);
#endif

    if (saved) {
        setenv("TMPDIR", saved, 1);
        free(saved);
    } else {
        unsetenv("TMPDIR");
    }
}

static void null_name_becomes_bounded_semaphore_dot_random_number(void **state)
{
    pl_semaphore *a = sem_in(state, 2, NULL);
    const char *name = pl_semaphore_name(a);
    const char *p;
    char buf[512], want[512];
    const char *prefix = "bounded_semaphore.";
    int differs = 0, i;

    assert_int_equal(strncmp(name, prefix, strlen(prefix)), 0);
    p = name + strlen(prefix);
    assert_true(*p != '\0');
    for (; *p; p++)
        assert_true(isdigit((unsigned char)*p));
    tu_ok(pl_semaphore_slot_path(a, 1, buf, sizeof buf));
    snprintf(want, sizeof want, "%s.01.lock", name);
    assert_string_equal(basename_of(buf), want);
    /* Random: a few more draws do not all give the same name. */
    for (i = 0; i < 5 && !differs; i++) {
        pl_semaphore *b = sem_in(state, 1, NULL);
        differs = strcmp(pl_semaphore_name(b), name) != 0;
        pl_semaphore_free(b);
    }
    assert_true(differs);
    pl_semaphore_free(a);
}

/* ---- slot order and holding ---- */

static void first_free_slot_is_taken_in_order(void **state)
{
    pl_semaphore *a = sem_in(state, 3, "order");
    pl_semaphore *b = sem_in(state, 3, "order");
    pl_semaphore *c = sem_in(state, 3, "order");
    pl_semaphore *d = sem_in(state, 3, "order");
    int slot = -1;

    assert_int_equal(pl_semaphore_slot(a), -1);
    assert_int_equal(pl_semaphore_fd(a), -1);
    tu_ok(pl_semaphore_acquire(a, &slot));
    assert_int_equal(slot, 0);
    assert_int_equal(pl_semaphore_slot(a), 0);
    assert_true(pl_semaphore_fd(a) >= 0);
    tu_ok(pl_semaphore_acquire(b, &slot));
    assert_int_equal(slot, 1);
    tu_ok(pl_semaphore_acquire(c, &slot));
    assert_int_equal(slot, 2);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_semaphore_acquire_with(d, 0, PL_INHERIT, &slot));
    assert_int_equal(pl_semaphore_slot(d), -1);

    /* Slot 1 frees up: the next acquire takes it, not slot 2. */
    tu_ok(pl_semaphore_release(b));
    assert_int_equal(pl_semaphore_slot(b), -1);
    tu_ok(pl_semaphore_acquire_with(d, 0, PL_INHERIT, &slot));
    assert_int_equal(slot, 1);
    /* Then slot 0 frees: b now takes 0. */
    tu_ok(pl_semaphore_release(a));
    tu_ok(pl_semaphore_acquire_with(b, 0, PL_INHERIT, &slot));
    assert_int_equal(slot, 0);

    pl_semaphore_free(a);
    pl_semaphore_free(b);
    pl_semaphore_free(c);
    pl_semaphore_free(d);
}

static void slot_files_stay_on_disk_after_release(void **state)
{
    pl_semaphore *s = sem_in(state, 2, "stay");
    char buf[512];
    tu_ok(pl_semaphore_acquire(s, NULL));
    tu_ok(pl_semaphore_release(s));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_true(file_exists(buf));
    /* Releasing again is a no-op. */
    tu_ok(pl_semaphore_release(s));
    pl_semaphore_free(s);
    assert_true(file_exists(buf));
}

static void acquiring_while_holding_is_invalid_state(void **state)
{
    pl_semaphore *s = sem_in(state, 3, "twice");
    int slot = -1, fd;
    tu_ok(pl_semaphore_acquire(s, &slot));
    fd = pl_semaphore_fd(s);
    slot = 42;
    tu_expect(PL_ERR_INVALID_STATE, pl_semaphore_acquire(s, &slot));
    assert_int_equal(slot, 42); /* untouched */
    assert_int_equal(pl_semaphore_slot(s), 0);
    assert_int_equal(pl_semaphore_fd(s), fd);
    assert_non_null(strstr(pl_last_error_message(), "twice"));
    /* Layout changes are refused while a slot is held too. */
    tu_expect(PL_ERR_INVALID_STATE, pl_semaphore_set_directory(s, "/"));
    tu_expect(PL_ERR_INVALID_STATE, pl_semaphore_set_filename_pattern(s, "{number}"));
    /* Still usable after release. */
    tu_ok(pl_semaphore_release(s));
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_int_equal(slot, 0);
    pl_semaphore_free(s);
}

/* ---- across processes ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
typedef struct hold_arg {
    const char *dir;
    tu_pipe ready;
    tu_pipe go;
} hold_arg;

/* Take a slot of the 2-slot "shared" semaphore, report, hold until told.
   Exit 20 + slot on success. */
static int child_hold_slot(void *p)
{
    hold_arg *a = p;
    pl_semaphore *s = NULL;
    int slot = -1;
    if (pl_semaphore_new(&s, 2, "shared") != PL_OK ||
        pl_semaphore_set_directory(s, a->dir) != PL_OK)
        return 1;
    if (pl_semaphore_acquire_with(s, 5, PL_INHERIT, &slot) != PL_OK)
        return 2;
    tu_pipe_signal(&a->ready);
    if (tu_pipe_wait(&a->go, 20) != 0)
        return 3;
    if (pl_semaphore_release(s) != PL_OK)
        return 4;
    pl_semaphore_free(s);
    return 20 + slot;
}

static void two_slots_three_processes_third_times_out_then_gets_freed_slot(void **state)
{
    hold_arg a, b;
    pid_t pa, pb;
    pl_semaphore *s = sem_in(state, 2, "shared");
    double t0, elapsed;
    int slot = -1, sa, sb;

    a.dir = b.dir = dir_of(state);
    tu_pipe_open(&a.ready);
    tu_pipe_open(&a.go);
    tu_pipe_open(&b.ready);
    tu_pipe_open(&b.go);
    pa = tu_fork(child_hold_slot, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    pb = tu_fork(child_hold_slot, &b);
    assert_int_equal(tu_pipe_wait(&b.ready, 10), 0);

    /* Both slots held elsewhere: the third waits out its timeout, even
       though fail_when_locked is on (it decides only what the bindings
       return), then fails with ALREADY_LOCKED. */
    t0 = tu_now();
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_semaphore_acquire_with(s, 0.3, 0.05, &slot));
    elapsed = tu_now() - t0;
    assert_true(elapsed >= 0.29);
    assert_true(elapsed < 5.0);
    assert_int_equal(pl_semaphore_slot(s), -1);

    /* The first holder releases while we wait: we get its slot. */
    tu_pipe_signal(&a.go);
    t0 = tu_now();
    tu_ok(pl_semaphore_acquire_with(s, 10, PL_INHERIT, &slot));
    elapsed = tu_now() - t0;
    sa = tu_wait(pa);
    assert_true(sa == 20 || sa == 21);
    assert_int_equal(slot, sa - 20);
    assert_true(elapsed < 5.0);

    tu_pipe_signal(&b.go);
    sb = tu_wait(pb);
    assert_true(sb == 20 || sb == 21);
    assert_int_not_equal(sa, sb); /* exactly two distinct slots were held */

    pl_semaphore_free(s);
    tu_pipe_close(&a.ready);
    tu_pipe_close(&a.go);
    tu_pipe_close(&b.ready);
    tu_pipe_close(&b.go);
}
#endif

/* ---- errors ---- */

static void missing_directory_names_the_path_and_handle_stays_usable(void **state)
{
    pl_semaphore *s = NULL;
    const char *missing = tu_path(state, "not-yet");
    char dir[512];
    int slot = -1;
    snprintf(dir, sizeof dir, "%s", missing);
    tu_ok(pl_semaphore_new(&s, 2, "sem"));
    tu_ok(pl_semaphore_set_directory(s, dir));
    tu_expect(PL_ERR_IO, pl_semaphore_acquire_with(s, 1, PL_INHERIT, &slot));
    assert_non_null(strstr(pl_last_error_message(), dir));
    assert_non_null(strstr(pl_last_error_message(), strerror(ENOENT)));
    assert_int_equal(pl_last_errno(), ENOENT);
    assert_int_equal(pl_semaphore_slot(s), -1);
    /* Fix the directory: the same handle works. */
    assert_int_equal(mkdir(dir, 0700), 0);
    tu_ok(pl_semaphore_acquire_with(s, 1, PL_INHERIT, &slot));
    assert_int_equal(slot, 0);
    pl_semaphore_free(s);
}

static void names_with_slash_or_dotdot_are_invalid(void **state)
{
    static const char *bad[] = {"a/b", "/abs", "..", "a..b", "../x", "x/..", ""};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_semaphore *s = (pl_semaphore *)0x1;
        tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, 2, bad[i]));
        assert_null(s);
    }
    /* A single dot is a plain character. */
    {
        pl_semaphore *s = NULL;
        tu_ok(pl_semaphore_new(&s, 1, "a.b"));
        pl_semaphore_free(s);
    }
}

static void maximum_zero_or_negative_is_invalid(void **state)
{
    pl_semaphore *s = (pl_semaphore *)0x1;
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, 0, "m"));
    assert_null(s);
    s = (pl_semaphore *)0x1;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, -3, "m"));
    assert_null(s);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(NULL, 1, "m"));
}

static void bad_options_are_invalid_and_null_handle_is_safe(void **state)
{
    pl_semaphore *s = sem_in(state, 1, "opts");
    int v = 0;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_timeout(s, -1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_timeout(s, NAN));
    tu_ok(pl_semaphore_set_timeout(s, INFINITY));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_check_interval(s, -0.5));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_check_interval(s, INFINITY));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_directory(s, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_filename_pattern(s, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_file_mode(s, 010000));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_mechanism(s, 7));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_get_fail_when_locked(s, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_acquire_with(s, -2, PL_INHERIT, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_acquire_with(s, NAN, PL_INHERIT, NULL));
    assert_int_equal(pl_semaphore_slot(s), -1);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_acquire(NULL, &v));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_release(NULL));
    assert_int_equal(pl_semaphore_slot(NULL), -1);
    assert_int_equal(pl_semaphore_fd(NULL), -1);
    assert_int_equal(pl_semaphore_maximum(NULL), 0);
    assert_string_equal(pl_semaphore_name(NULL), "");
    pl_semaphore_free(NULL);
    /* A valid infinite timeout with a free slot just takes it. */
    tu_ok(pl_semaphore_acquire(s, &v));
    assert_int_equal(v, 0);
    pl_semaphore_free(s);
}

/* ---- patterns ---- */

static void custom_pattern_with_name_and_spec(void **state)
{
    pl_semaphore *s = sem_in(state, 2, "jobs");
    char buf[512];
    int slot = -1;
    tu_ok(pl_semaphore_set_filename_pattern(s, "slot-{number:03d}-of-{name}.lck"));
    tu_ok(pl_semaphore_slot_path(s, 1, buf, sizeof buf));
    assert_string_equal(buf, tu_path(state, "slot-001-of-jobs.lck"));
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_true(file_exists(tu_path(state, "slot-000-of-jobs.lck")));
    pl_semaphore_free(s);
}

static void number_without_spec_is_plain_decimal(void **state)
{
    pl_semaphore *s = sem_in(state, 12, "n");
    char buf[512];
    tu_ok(pl_semaphore_set_filename_pattern(s, "{name}-{number}"));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "n-0");
    tu_ok(pl_semaphore_slot_path(s, 11, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "n-11");
    tu_ok(pl_semaphore_set_filename_pattern(s, "{number:d}.x"));
    tu_ok(pl_semaphore_slot_path(s, 3, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "3.x");
    pl_semaphore_free(s);
}

static void doubled_braces_are_literal_braces(void **state)
{
    pl_semaphore *s = sem_in(state, 2, "br");
    char buf[512];
    tu_ok(pl_semaphore_set_filename_pattern(s, "{{{name}}}.{{{number}}}"));
    tu_ok(pl_semaphore_slot_path(s, 1, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "{br}.{1}");
    tu_ok(pl_semaphore_set_filename_pattern(s, "{{number}}-{number:02d}"));
    tu_ok(pl_semaphore_slot_path(s, 1, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "{number}-01");
    pl_semaphore_free(s);
}

static void pattern_without_number_is_invalid_and_keeps_old_pattern(void **state)
{
    pl_semaphore *s = sem_in(state, 2, "keep");
    char buf[512];
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_filename_pattern(s, "{name}.lock"));
    assert_non_null(strstr(pl_last_error_message(), "{number}"));
    /* "{{number}}" is a literal, not the placeholder. */
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_filename_pattern(s, "{{number}}"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_set_filename_pattern(s, ""));
    tu_ok(pl_semaphore_slot_path(s, 1, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "keep.01.lock");
    pl_semaphore_free(s);
}

static void unknown_placeholder_or_bad_pattern_is_invalid(void **state)
{
    static const char *bad[] = {
        "{foo}-{number}",  "{number}-{nam}", "{number:x}", "{number:02s}",
        "{number",         "x}{number}",     "{number}{",  "dir/{number}",
        "{}{number}",
    };
    pl_semaphore *s = sem_in(state, 2, "pat");
    char buf[512];
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = pl_semaphore_set_filename_pattern(s, bad[i]);
        if (rc != PL_ERR_INVALID_ARGUMENT)
            fail_msg("pattern '%s' gave %s", bad[i], pl_error_name(rc));
    }
    tu_ok(pl_semaphore_slot_path(s, 0, buf, sizeof buf));
    assert_string_equal(basename_of(buf), "pat.00.lock");
    pl_semaphore_free(s);
}

static void slot_path_rejects_too_small_buffer(void **state)
{
    pl_semaphore *s = sem_in(state, 1, "buf");
    const char *want = tu_path(state, "buf.00.lock");
    size_t n = strlen(want);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_slot_path(s, 0, buf, n));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_slot_path(s, 0, buf, 0));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_slot_path(s, 0, NULL, 100));
    tu_ok(pl_semaphore_slot_path(s, 0, buf, n + 1));
    assert_string_equal(buf, want);
    free(buf);
    pl_semaphore_free(s);
}

static void fail_when_locked_defaults_to_one_and_can_be_set(void **state)
{
    pl_semaphore *s = sem_in(state, 1, "fwl");
    int v = -1;
    tu_ok(pl_semaphore_get_fail_when_locked(s, &v));
    assert_int_equal(v, 1);
    tu_ok(pl_semaphore_set_fail_when_locked(s, 0));
    tu_ok(pl_semaphore_get_fail_when_locked(s, &v));
    assert_int_equal(v, 0);
    tu_ok(pl_semaphore_set_fail_when_locked(s, 5));
    tu_ok(pl_semaphore_get_fail_when_locked(s, &v));
    assert_int_equal(v, 1);
    pl_semaphore_free(s);
}

/* ---- fork safety ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
typedef struct fork_arg {
    pl_semaphore *inherited;
    const char *dir;
} fork_arg;

/* Release the inherited slot, then check slot 0 is still taken. */
static int child_release_inherited(void *p)
{
    fork_arg *a = p;
    pl_semaphore *other = NULL;
    int rc;
    if (pl_semaphore_release(a->inherited) != PL_OK)
        return 1;
    pl_semaphore_free(a->inherited);
    if (pl_semaphore_new(&other, 1, "forked") != PL_OK ||
        pl_semaphore_set_directory(other, a->dir) != PL_OK)
        return 2;
    rc = pl_semaphore_acquire_with(other, 0, PL_INHERIT, NULL);
    pl_semaphore_free(other);
    return rc == PL_ERR_ALREADY_LOCKED ? 0 : 3;
}

static void child_releasing_inherited_slot_keeps_parents_slot(void **state)
{
    pl_semaphore *s = sem_in(state, 1, "forked");
    pl_semaphore *other = sem_in(state, 1, "forked");
    fork_arg a = {s, dir_of(state)};
    pid_t pid;
    tu_ok(pl_semaphore_acquire(s, NULL));
    pid = tu_fork(child_release_inherited, &a);
    assert_int_equal(tu_wait(pid), 0);
    /* The child is gone (its copies closed): still ours. */
    assert_int_equal(pl_semaphore_slot(s), 0);
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_semaphore_acquire_with(other, 0, PL_INHERIT, NULL));
    tu_ok(pl_semaphore_release(s));
    tu_ok(pl_semaphore_acquire_with(other, 0, PL_INHERIT, NULL));
    pl_semaphore_free(s);
    pl_semaphore_free(other);
}

/* Acquire on the inherited handle: not INVALID_STATE (the parent's slot
   is not ours), and the child must take the other slot. */
static int child_acquire_on_inherited(void *p)
{
    fork_arg *a = p;
    int slot = -1, rc;
    rc = pl_semaphore_acquire_with(a->inherited, 0, PL_INHERIT, &slot);
    if (rc != PL_OK)
        return 1;
    if (slot != 1)
        return 2;
    pl_semaphore_free(a->inherited);
    return 0;
}

static void child_acquiring_inherited_handle_takes_a_free_slot(void **state)
{
    pl_semaphore *s = sem_in(state, 2, "forked2");
    pl_semaphore *other = sem_in(state, 2, "forked2");
    fork_arg a = {s, dir_of(state)};
    int slot = -1;
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_int_equal(slot, 0);
    assert_int_equal(tu_wait(tu_fork(child_acquire_on_inherited, &a)), 0);
    /* Parent still holds 0; slot 1 is free again after the child exited. */
    tu_ok(pl_semaphore_acquire_with(other, 0, PL_INHERIT, &slot));
    assert_int_equal(slot, 1);
    assert_int_equal(pl_semaphore_slot(s), 0);
    pl_semaphore_free(s);
    pl_semaphore_free(other);
}
#endif

/* ---- leaks ---- */

static void no_descriptor_leak_over_many_cycles_and_errors(void **state)
{
    pl_semaphore *s = sem_in(state, 3, "leak");
    pl_semaphore *blocker = sem_in(state, 3, "leak");
    pl_semaphore *b2 = sem_in(state, 3, "leak");
    pl_semaphore *b3 = sem_in(state, 3, "leak");
    int before, i;

    /* Warm up anything lazily opened (OFD probe etc.). */
    tu_ok(pl_semaphore_acquire(s, NULL));
    tu_ok(pl_semaphore_release(s));
    before = tu_count_fds();
    for (i = 0; i < 200; i++) {
        tu_ok(pl_semaphore_acquire(s, NULL));
        tu_expect(PL_ERR_INVALID_STATE, pl_semaphore_acquire(s, NULL));
        tu_ok(pl_semaphore_release(s));
    }
    assert_int_equal(tu_count_fds(), before);

    /* Contention with a short wait (the waiting path keeps every slot
       open and an inotify descriptor). */
    tu_ok(pl_semaphore_acquire(blocker, NULL));
    tu_ok(pl_semaphore_acquire(b2, NULL));
    tu_ok(pl_semaphore_acquire(b3, NULL));
    before = tu_count_fds();
    for (i = 0; i < 20; i++)
        tu_expect(PL_ERR_ALREADY_LOCKED,
                  pl_semaphore_acquire_with(s, 0.01, 0.002, NULL));
    assert_int_equal(tu_count_fds(), before);
    tu_ok(pl_semaphore_release(blocker));
    tu_ok(pl_semaphore_release(b2));
    tu_ok(pl_semaphore_release(b3));

    /* Errors: a missing directory, then a directory in the way of slot 1. */
    before = tu_count_fds();
    tu_ok(pl_semaphore_set_directory(s, tu_path(state, "missing")));
    for (i = 0; i < 50; i++)
        tu_expect(PL_ERR_IO, pl_semaphore_acquire(s, NULL));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    tu_ok(pl_semaphore_acquire(blocker, NULL)); /* slot 0 */
    assert_int_equal(unlink(tu_path(state, "leak.01.lock")), 0);
    assert_int_equal(mkdir(tu_path(state, "leak.01.lock"), 0700), 0);
    for (i = 0; i < 50; i++)
        tu_expect(PL_ERR_IO, pl_semaphore_acquire_with(s, 0.05, PL_INHERIT, NULL));
    assert_non_null(strstr(pl_last_error_message(), "leak.01.lock"));
    tu_ok(pl_semaphore_release(blocker));
    assert_int_equal(tu_count_fds(), before);

    pl_semaphore_free(s);
    pl_semaphore_free(blocker);
    pl_semaphore_free(b2);
    pl_semaphore_free(b3);
}

static void free_releases_the_held_slot(void **state)
{
    pl_semaphore *s = sem_in(state, 1, "freed");
    pl_semaphore *other = sem_in(state, 1, "freed");
    int before = tu_count_fds();
    tu_ok(pl_semaphore_acquire(s, NULL));
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_semaphore_acquire_with(other, 0, PL_INHERIT, NULL));
    pl_semaphore_free(s);
    tu_ok(pl_semaphore_acquire_with(other, 0, PL_INHERIT, NULL));
    tu_ok(pl_semaphore_release(other));
    assert_int_equal(tu_count_fds(), before);
    pl_semaphore_free(other);
}

#ifndef _WIN32 /* PL_MECH_POSIX: no record locks on Windows (tests/win checks the refusal) */
static void slots_exclude_with_posix_mechanism_across_processes(void **state)
{
    /* Same semantics with fcntl record locks: a second process sees the
       slot taken (within one process they would not exclude). */
    pl_semaphore *s = sem_in(state, 1, "posix");
    pid_t pid;
    tu_ok(pl_semaphore_set_mechanism(s, PL_MECH_POSIX));
    tu_ok(pl_semaphore_acquire(s, NULL));
    pid = fork();
    if (pid == 0) {
        pl_semaphore *c = NULL;
        int rc;
        if (pl_semaphore_new(&c, 1, "posix") != PL_OK ||
            pl_semaphore_set_directory(c, dir_of(state)) != PL_OK ||
            pl_semaphore_set_mechanism(c, PL_MECH_POSIX) != PL_OK)
            _exit(1);
        rc = pl_semaphore_acquire_with(c, 0.05, PL_INHERIT, NULL);
        _exit(rc == PL_ERR_ALREADY_LOCKED ? 0 : 2);
    }
    assert_int_equal(tu_wait(pid), 0);
    pl_semaphore_free(s);
}
#endif

/* ---- a waiter's cost is O(1) in maximum ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
/* A waiter under RLIMIT_NOFILE 64 with 150 busy slots (held by the
   parent) reaches the free slot 150: it holds one slot
   descriptor at a time, not one per busy slot. */
typedef struct far_arg {
    const char *dir;
    int maximum;
} far_arg;

static int child_takes_far_slot(void *p)
{
    far_arg *a = p;
    struct rlimit rl = {64, 64};
    pl_semaphore *s = NULL;
    int slot = -1, rc, fd;
    /* The parent's slot descriptors are inherited: close our copies (the
       parent's keep the slots locked), so the limit measures what the
       waiter itself opens. */
    for (fd = 3; fd < 1024; fd++)
        close(fd);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 77; /* valgrind refuses to change it: skipped there */
    if (pl_semaphore_new(&s, a->maximum, "far") != PL_OK ||
        pl_semaphore_set_directory(s, a->dir) != PL_OK)
        return 11;
    rc = pl_semaphore_acquire_with(s, 2, 0.05, &slot);
    if (rc != PL_OK) {
        fprintf(stderr, "child: %s\n", pl_last_error_message());
        return 12;
    }
    if (slot != 150)
        return 13;
    pl_semaphore_free(s);
    return 0;
}

static void waiter_under_low_fd_limit_reaches_a_far_free_slot(void **state)
{
    enum { BUSY = 150 };
    pl_semaphore *held[BUSY];
    far_arg a;
    int i, slot, st;
    a.dir = dir_of(state);
    a.maximum = 200;
    for (i = 0; i < BUSY; i++) {
        held[i] = sem_in(state, a.maximum, "far");
        tu_ok(pl_semaphore_acquire(held[i], &slot));
        assert_int_equal(slot, i);
    }
    st = tu_wait(tu_fork(child_takes_far_slot, &a));
    for (i = 0; i < BUSY; i++)
        pl_semaphore_free(held[i]);
    if (st == 77)
        skip();
    assert_int_equal(st, 0);
}
#endif

/* maximum = 2**31-1: creating is instant (no paths built up front), the
   first slot is taken at once, and a waiter's memory and descriptors do
   not grow with maximum. */
static void huge_maximum_costs_nothing_until_used(void **state)
{
    pl_semaphore *s = NULL, *t = NULL;
    char buf[512];
    double t0 = tu_now();
    int slot = -1, before;
    tu_ok(pl_semaphore_new(&s, 2147483647, "huge"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    tu_ok(pl_semaphore_set_filename_pattern(s, "{name}.{number}.lock"));
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_int_equal(slot, 0);
    tu_ok(pl_semaphore_slot_path(s, 2147483646, buf, sizeof buf));
    assert_non_null(strstr(buf, "huge.2147483646.lock"));
    tu_ok(pl_semaphore_new(&t, 2147483647, "huge"));
    tu_ok(pl_semaphore_set_directory(t, dir_of(state)));
    tu_ok(pl_semaphore_set_filename_pattern(t, "{name}.{number}.lock"));
    before = tu_count_fds();
    tu_ok(pl_semaphore_acquire(t, &slot));
    assert_int_equal(slot, 1);
    assert_int_equal(tu_count_fds(), before + 1);
    assert_true(tu_now() - t0 < 2.0);
    pl_semaphore_free(t);
    pl_semaphore_free(s);
}

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
/* A release wakes a waiter at once (the holder touches its slot file),
   not at the next backoff step: with check_interval 2 s the waiter's
   sleeps grow past 0.5 s by the time the holder releases. */
static int child_waits_for_slot(void *p)
{
    far_arg *a = p;
    pl_semaphore *s = NULL;
    double t0;
    int slot;
    if (pl_semaphore_new(&s, 2, "wake") != PL_OK ||
        pl_semaphore_set_directory(s, a->dir) != PL_OK)
        return 10;
    t0 = tu_now();
    if (pl_semaphore_acquire_with(s, 10, 2.0, &slot) != PL_OK)
        return 11;
    /* Released 1.2 s in; a backoff of 1, 2, ... 1024 ms would see it at
       ~2.05 s. */
    if (tu_now() - t0 > 1.7)
        return 12;
    pl_semaphore_free(s);
    return 0;
}

static void release_wakes_a_slot_waiter_at_once(void **state)
{
    pl_semaphore *a0 = sem_in(state, 2, "wake"), *a1 = sem_in(state, 2, "wake");
    far_arg a;
    pid_t pid;
    tu_ok(pl_semaphore_acquire(a0, NULL));
    tu_ok(pl_semaphore_acquire(a1, NULL));
    a.dir = dir_of(state);
    a.maximum = 2;
    pid = tu_fork(child_waits_for_slot, &a);
    usleep(1200000);
    tu_ok(pl_semaphore_release(a1));
    assert_int_equal(tu_wait(pid), 0);
    pl_semaphore_free(a0);
    pl_semaphore_free(a1);
}
#endif

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(slot_files_are_named_name_dot_two_digit_number_dot_lock),
        T(two_digit_spec_grows_past_99),
        T(default_directory_is_tmpdir_or_tmp),
        T(null_name_becomes_bounded_semaphore_dot_random_number),
        T(first_free_slot_is_taken_in_order),
        T(slot_files_stay_on_disk_after_release),
        T(acquiring_while_holding_is_invalid_state),
#ifndef _WIN32
        T(two_slots_three_processes_third_times_out_then_gets_freed_slot),
#endif
        T(missing_directory_names_the_path_and_handle_stays_usable),
        T(names_with_slash_or_dotdot_are_invalid),
        T(maximum_zero_or_negative_is_invalid),
        T(bad_options_are_invalid_and_null_handle_is_safe),
        T(custom_pattern_with_name_and_spec),
        T(number_without_spec_is_plain_decimal),
        T(doubled_braces_are_literal_braces),
        T(pattern_without_number_is_invalid_and_keeps_old_pattern),
        T(unknown_placeholder_or_bad_pattern_is_invalid),
        T(slot_path_rejects_too_small_buffer),
        T(fail_when_locked_defaults_to_one_and_can_be_set),
#ifndef _WIN32
        T(child_releasing_inherited_slot_keeps_parents_slot),
#endif
#ifndef _WIN32
        T(child_acquiring_inherited_handle_takes_a_free_slot),
#endif
        T(no_descriptor_leak_over_many_cycles_and_errors),
        T(free_releases_the_held_slot),
#ifndef _WIN32
        T(slots_exclude_with_posix_mechanism_across_processes),
#endif
#ifndef _WIN32
        T(waiter_under_low_fd_limit_reaches_a_far_free_slot),
#endif
        T(huge_maximum_costs_nothing_until_used),
#ifndef _WIN32
        T(release_wakes_a_slot_waiter_at_once),
#endif
    };
    return cmocka_run_group_tests_name("semaphore", tests, NULL, NULL);
}
