/* TemporaryFileLock: the file exists only while held, release unlinks
   before it unlocks, the split-brain guard (the locked file is the one at
   the path), defaults (fail_when_locked 1, path ".lock"), stale handles
   never delete another holder's file, and files of locks held at normal
   exit are removed. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int same_file_at_path(int fd, const char *path)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || lstat(path, &b) != 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ---- a temporary-lock holder in another process ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
typedef struct holder {
    const char *path;
    double hold_for; /* < 0: until signalled */
    const char *write_data;
    tu_pipe ready, done;
    pid_t pid;
} holder;

static int holder_main(void *arg)
{
    holder *h = arg;
    pl_lock *l = NULL;
    int fd = -1;
    if (pl_temporary_lock_new(&l, h->path) != PL_OK)
        return 10;
    if (pl_lock_acquire(l, &fd) != PL_OK)
        return 11;
    if (h->write_data &&
        write(fd, h->write_data, strlen(h->write_data)) !=
            (ssize_t)strlen(h->write_data))
        return 12;
    tu_pipe_signal(&h->ready);
    if (h->hold_for >= 0)
        usleep((useconds_t)(h->hold_for * 1e6));
    else if (tu_pipe_wait(&h->done, 20) != 0)
        return 13;
    if (pl_lock_release(l) != PL_OK)
        return 14;
    pl_lock_free(l);
    return 0;
}

static void holder_start(holder *h, const char *path, double hold_for)
{
    memset(h, 0, sizeof *h);
    h->path = path;
    h->hold_for = hold_for;
    tu_pipe_open(&h->ready);
    tu_pipe_open(&h->done);
    h->pid = tu_fork(holder_main, h);
    assert_true(h->pid > 0);
    if (tu_pipe_wait(&h->ready, 10) != 0) {
        kill(h->pid, SIGKILL);
        fail_msg("holder did not take the lock (status %d)", tu_wait(h->pid));
    }
}

static void holder_finish(holder *h)
{
    tu_pipe_signal(&h->done);
    assert_int_equal(tu_wait(h->pid), 0);
    tu_pipe_close(&h->ready);
    tu_pipe_close(&h->done);
}
#endif

/* ---- defaults ---- */

static void defaults_fail_when_locked_and_the_references_values(
    void **state)
{
    pl_lock *l = NULL;
    double d;
    int i;
    tu_ok(pl_temporary_lock_new(&l, tu_path(state, "t.lock")));
    tu_ok(pl_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 1);
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 5.0);
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_EX | PL_LOCK_NB);
    /* the open mode is fixed ('w', truncated once locked) */
    assert_int_equal(pl_lock_set_mode(l, "a"), PL_ERR_INVALID_ARGUMENT);
    pl_lock_free(l);
}

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
static int default_path_child(void *arg)
{
    const char *dir = arg;
    pl_lock *l = NULL;
    char full[600];
    if (chdir(dir) != 0)
        return 10;
    if (pl_temporary_lock_new(&l, NULL) != PL_OK)
        return 11;
    if (strcmp(pl_lock_path(l), ".lock") != 0)
        return 12;
    if (pl_lock_acquire(l, NULL) != PL_OK)
        return 13;
    snprintf(full, sizeof full, "%s/.lock", dir);
    if (!tu_exists(full))
        return 14;
    if (pl_lock_release(l) != PL_OK)
        return 15;
    if (tu_exists(full))
        return 16;
    pl_lock_free(l);
    return 0;
}

static void default_path_is_dot_lock(void **state)
{
    tu_dir *d = *state;
    /* in a child: the test must not change the runner's directory */
    assert_int_equal(tu_wait(tu_fork(default_path_child, d->path)), 0);
}
#endif

/* ---- the file's lifetime ---- */

static void file_exists_only_while_held(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "t.lock");
    int fd = -1;
    tu_ok(pl_temporary_lock_new(&l, p));
    assert_false(tu_exists(p));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(tu_exists(p));
    assert_true(same_file_at_path(fd, p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    tu_ok(pl_lock_release(l)); /* no-op */
    tu_ok(pl_lock_acquire(l, NULL));
    assert_true(tu_exists(p));
    pl_lock_free(l); /* free while held */
    assert_false(tu_exists(p));
}

static void stale_file_is_taken_over_and_truncated_after_locking(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "t.lock");
    char buf[16];
    assert_int_equal(tu_write_file(p, "leftover"), 0); /* nobody holds it */
    tu_ok(pl_temporary_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 0);
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
static void waiter_never_truncates_the_holders_file(void **state)
{
    holder h;
    pl_lock *l = NULL;
    char buf[16];
    const char *p = tu_path(state, "t.lock");
    memset(&h, 0, sizeof h);
    h.path = p;
    h.hold_for = -1;
    h.write_data = "mine";
    tu_pipe_open(&h.ready);
    tu_pipe_open(&h.done);
    h.pid = tu_fork(holder_main, &h);
    assert_int_equal(tu_pipe_wait(&h.ready, 10), 0);
    tu_ok(pl_temporary_lock_new(&l, p));
    assert_int_equal(pl_lock_acquire_with(l, 0.2, 0.02, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 4);
    assert_string_equal(buf, "mine");
    holder_finish(&h);
    pl_lock_free(l);
}
#endif

/* ---- contention ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
static void contention_fails_at_once_by_default(void **state)
{
    holder h;
    pl_lock *l = NULL;
    double t0, dt;
    int n;
    const char *p = tu_path(state, "t.lock");
    holder_start(&h, p, -1);
    tu_ok(pl_temporary_lock_new(&l, p));
    n = tu_count_fds();
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt > 1.0)
        fail_msg("default fail_when_locked waited %.3f s", dt);
    assert_int_equal(tu_count_fds(), n);
    assert_true(tu_exists(p)); /* the failed waiter deleted nothing */
    holder_finish(&h);
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

/* A waiter that wakes up on the old, unlinked file notices and locks the
   file that is now at the path. */
static void waiter_ends_up_holding_the_file_at_the_path(void **state)
{
    holder h;
    pl_lock *l = NULL;
    int fd = -1;
    const char *p = tu_path(state, "t.lock");
    holder_start(&h, p, 0.3);
    tu_ok(pl_temporary_lock_new(&l, p));
    tu_ok(pl_lock_acquire_with(l, 5, 0.05, 0, &fd));
    assert_true(tu_exists(p));
    assert_true(same_file_at_path(fd, p));
    assert_int_equal(tu_wait(h.pid), 0);
    tu_pipe_close(&h.ready);
    tu_pipe_close(&h.done);
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

/* Release order: a process blocked in flock() on the holder's file must
   find the path already gone the moment its flock returns (unlink first,
   then unlock). Repeated to catch the reverse order's race window. */
typedef struct order_arg {
    const char *path;
    tu_pipe ready;
} order_arg;

static int order_child(void *arg)
{
    order_arg *a = arg;
    int fd = open(a->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 10;
    tu_pipe_signal(&a->ready);
    if (flock(fd, LOCK_EX) != 0)
        return 11;
    /* the lock was just given up: the path must not name this file */
    if (same_file_at_path(fd, a->path))
        return 1;
    return 0;
}

static void release_unlinks_before_it_unlocks(void **state)
{
    int i;
    for (i = 0; i < 20; i++) {
        order_arg a;
        pl_lock *l = NULL;
        pid_t pid;
        int st;
        a.path = tu_path(state, "t.lock");
        tu_ok(pl_temporary_lock_new(&l, a.path));
        tu_ok(pl_lock_acquire(l, NULL));
        tu_pipe_open(&a.ready);
        pid = tu_fork(order_child, &a);
        assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
        if (tu_wait_blocked_lock(pid, 10) != 0) {
            kill(pid, SIGKILL);
            tu_wait(pid);
            fail_msg("the child never blocked on the lock");
        }
        tu_ok(pl_lock_release(l));
        st = tu_wait(pid);
        if (st == 1)
            fail_msg("round %d: the lock was free while its file was still "
                     "at the path (unlocked before unlinking)",
                     i);
        assert_int_equal(st, 0);
        tu_pipe_close(&a.ready);
        pl_lock_free(l);
    }
}
#endif

/* ---- split-brain hammer ---- */

#define HAMMER_PROCS 4
#define HAMMER_ROUNDS 100

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
typedef struct hammer_arg {
    const char *lock, *counter, *owner;
} hammer_arg;

static int hammer_child(void *arg)
{
    hammer_arg *a = arg;
    pl_lock *l = NULL;
    int i, fd = -1;
    if (pl_temporary_lock_new(&l, a->lock) != PL_OK ||
        pl_lock_set_fail_when_locked(l, 0) != PL_OK ||
        pl_lock_set_timeout(l, 60) != PL_OK ||
        pl_lock_set_check_interval(l, 0.02) != PL_OK)
        return 10;
    for (i = 0; i < HAMMER_ROUNDS; i++) {
        char buf[32];
        long n;
        int owner;
        if (pl_lock_acquire(l, &fd) != PL_OK) {
            fprintf(stderr, "hammer: %s\n", pl_last_error_message());
            return 11;
        }
        /* a second holder at the same time cannot create the marker */
        owner = open(a->owner, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (owner < 0)
            return 2;
        close(owner);
        if (!same_file_at_path(fd, a->lock))
            return 3; /* holding a file that is not at the path */
        if (tu_read_file(a->counter, buf, sizeof buf) < 0)
            return 12;
        n = strtol(buf, NULL, 10);
        snprintf(buf, sizeof buf, "%ld", n + 1);
        if (tu_write_file(a->counter, buf) != 0)
            return 13;
        if (unlink(a->owner) != 0)
            return 14;
        if (pl_lock_release(l) != PL_OK)
            return 15;
    }
    pl_lock_free(l);
    return 0;
}

static void four_processes_never_hold_it_at_once(void **state)
{
    hammer_arg a;
    pid_t pids[HAMMER_PROCS];
    int i, failures = 0;
    char buf[32];
    a.lock = tu_path(state, "t.lock");
    a.counter = tu_path(state, "counter");
    a.owner = tu_path(state, "owner");
    assert_int_equal(tu_write_file(a.counter, "0"), 0);
    for (i = 0; i < HAMMER_PROCS; i++)
        pids[i] = tu_fork(hammer_child, &a);
    for (i = 0; i < HAMMER_PROCS; i++) {
        int st = tu_wait(pids[i]);
        if (st != 0) {
            fprintf(stderr, "hammer process %d exited %d%s\n", i, st,
                    st == 2   ? " (two holders at once)"
                    : st == 3 ? " (held a file no longer at the path)"
                              : "");
            failures++;
        }
    }
    assert_int_equal(failures, 0);
    assert_true(tu_read_file(a.counter, buf, sizeof buf) > 0);
    assert_int_equal(strtol(buf, NULL, 10), HAMMER_PROCS * HAMMER_ROUNDS);
    assert_false(tu_exists(a.lock));
    assert_false(tu_exists(a.owner));
}
#endif

/* ---- stale handles ---- */

static void stale_handle_release_never_deletes_another_holders_file(
    void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "t.lock");
    tu_ok(pl_temporary_lock_new(&a, p));
    tu_ok(pl_temporary_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_ok(pl_lock_release(a));
    tu_ok(pl_lock_acquire(b, NULL));
    tu_ok(pl_lock_release(a)); /* stale: holds nothing */
    assert_true(tu_exists(p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    assert_int_equal(pl_lock_acquire(a, NULL), PL_ERR_ALREADY_LOCKED);
    assert_true(tu_exists(p)); /* a failed acquire deletes nothing */
    pl_lock_free(a);
    assert_true(tu_exists(p));
    assert_int_equal(pl_lock_is_held(b), 1);
    pl_lock_free(b);
    assert_false(tu_exists(p));
}

#ifndef _WIN32 /* removes a file another handle holds open: Windows keeps the name until that handle closes (no POSIX delete under wine) */
/* A holder whose file was replaced behind its back (someone removed it and
   a new holder created it) must not delete the new holder's file. */
static void holder_whose_file_was_replaced_leaves_the_new_file(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "t.lock");
    int fdb = -1;
    tu_ok(pl_temporary_lock_new(&a, p));
    tu_ok(pl_temporary_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(unlink(p), 0);
    tu_ok(pl_lock_acquire(b, &fdb));
    tu_ok(pl_lock_release(a));
    assert_true(tu_exists(p));
    assert_true(same_file_at_path(fdb, p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(b));
    assert_false(tu_exists(p));
    pl_lock_free(a);
    pl_lock_free(b);
}
#endif

/* ---- exit ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers temporary locks across processes */
static int exit_while_holding(void *arg)
{
    pl_lock *l = NULL;
    if (pl_temporary_lock_new(&l, arg) != PL_OK ||
        pl_lock_acquire(l, NULL) != PL_OK)
        _exit(10);
    if (!tu_exists(arg))
        _exit(11);
    exit(0); /* normal exit, still holding: the file must go */
}

static void lock_held_at_normal_exit_has_its_file_removed(void **state)
{
    const char *p = tu_path(state, "t.lock");
    assert_int_equal(tu_wait(tu_fork(exit_while_holding, (void *)p)), 0);
    assert_false(tu_exists(p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 2);
}

static int exit_after_release(void *arg)
{
    const char **paths = arg;
    pl_lock *l = NULL;
    if (pl_temporary_lock_new(&l, paths[0]) != PL_OK ||
        pl_lock_acquire(l, NULL) != PL_OK || pl_lock_release(l) != PL_OK)
        _exit(10);
    /* a file with the same name made by someone else afterwards */
    if (tu_write_file(paths[0], "other") != 0)
        _exit(11);
    exit(0);
}

static void exit_handler_leaves_files_of_released_locks_alone(void **state)
{
    const char *paths[1];
    paths[0] = tu_path(state, "t.lock");
    assert_int_equal(tu_wait(tu_fork(exit_after_release, (void *)paths)), 0);
    assert_true(tu_exists(paths[0]));
}
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(defaults_fail_when_locked_and_the_references_values),
#ifndef _WIN32
        T(default_path_is_dot_lock),
#endif
        T(file_exists_only_while_held),
        T(stale_file_is_taken_over_and_truncated_after_locking),
#ifndef _WIN32
        T(waiter_never_truncates_the_holders_file),
#endif
#ifndef _WIN32
        T(contention_fails_at_once_by_default),
#endif
#ifndef _WIN32
        T(waiter_ends_up_holding_the_file_at_the_path),
#endif
#ifndef _WIN32
        T(release_unlinks_before_it_unlocks),
#endif
#ifndef _WIN32
        T(four_processes_never_hold_it_at_once),
#endif
        T(stale_handle_release_never_deletes_another_holders_file),
#ifndef _WIN32
        T(holder_whose_file_was_replaced_leaves_the_new_file),
#endif
#ifndef _WIN32
        T(lock_held_at_normal_exit_has_its_file_removed),
#endif
#ifndef _WIN32
        T(exit_handler_leaves_files_of_released_locks_alone),
#endif
    };
#undef T
    return cmocka_run_group_tests_name("temporary_lock", tests, NULL, NULL);
}
