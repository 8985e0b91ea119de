/* Lock: the reference's defaults and semantics (acquire returns the fd,
   re-acquire returns it again, timeout / fail_when_locked / per-call
   overrides, open modes with 'w' truncated only after locking, release
   closes and never deletes, blocking flags wait in the kernel,
   raise_on_release_error). */
#define _GNU_SOURCE
#include "helpers/testutil.h"
#ifdef _WIN32
#include "winutil.h"
#include <windows.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a holder in another process ---- */

typedef struct holder {
    const char *path;
    int mechanism;
    double hold_for; /* release after this long, or when signalled (<0) */
    int wait_for_blocked_parent;
    const char *write_data;
    tu_pipe ready, done;
    pid_t pid;
} holder;

#ifdef _WIN32
/* No fork: the holder is pl_win_helper.exe (tests/win), which does what
   holder_main below does and reads "done" as a file appearing. Its
   mechanism is the default (the only one Windows has). */
static char *side_file(const char *path, const char *suffix)
{
    static char bufs[4][600];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s%s", path, suffix);
    return b;
}

static void holder_start(holder *h)
{
    char hold_for[32];
    const char *ready = side_file(h->path, ".ready");
    const char *args[] = {"holder", h->path, ready, side_file(h->path, ".done"),
                          hold_for, h->write_data ? h->write_data : "-", NULL};
    double end = tu_now() + 20;
    assert_int_equal(h->mechanism, PL_MECH_FLOCK);
    assert_int_equal(h->wait_for_blocked_parent, 0);
    snprintf(hold_for, sizeof hold_for, "%g", h->hold_for);
    tu_pipe_open(&h->ready); /* unused here, closed by the tests */
    tu_pipe_open(&h->done);
    h->pid = tw_spawn_pid(args);
    assert_true(h->pid > 0);
    while (!tu_exists(ready))
        if (tu_now() > end)
            fail_msg("holder did not take the lock (status %d)", tu_wait(h->pid));
        else
            Sleep(2);
}

static void holder_finish(holder *h)
{
    assert_int_equal(tu_write_file(side_file(h->path, ".done"), ""), 0);
    assert_int_equal(tu_wait(h->pid), 0);
    tu_pipe_close(&h->ready);
    tu_pipe_close(&h->done);
}
#else
static int holder_main(void *arg)
{
    holder *h = arg;
    pl_lock *l = NULL;
    int fd = -1;
    if (pl_lock_new(&l, h->path) != PL_OK ||
        pl_lock_set_mechanism(l, h->mechanism) != PL_OK)
        return 10;
    if (pl_lock_acquire(l, &fd) != PL_OK)
        return 11;
    if (h->write_data &&
        write(fd, h->write_data, strlen(h->write_data)) !=
            (ssize_t)strlen(h->write_data))
        return 12;
    tu_pipe_signal(&h->ready);
    if (h->wait_for_blocked_parent &&
        tu_wait_blocked_lock(getppid(), 10) != 0)
        return 13; /* the parent never blocked in the kernel */
    if (h->hold_for >= 0)
        usleep((useconds_t)(h->hold_for * 1e6));
    else if (tu_pipe_wait(&h->done, 20) != 0)
        return 14;
    if (pl_lock_release(l) != PL_OK)
        return 15;
    pl_lock_free(l);
    return 0;
}

static void holder_start(holder *h)
{
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

static void holder_init(holder *h, const char *path)
{
    memset(h, 0, sizeof *h);
    h->path = path;
    h->mechanism = PL_MECH_FLOCK;
    h->hold_for = -1;
}

/* ---- defaults and the basic cycle ---- */

static void defaults_are_the_references(void **state)
{
    pl_lock *l = NULL;
    double d;
    int i;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 5.0);
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 0);
    tu_ok(pl_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_EX | PL_LOCK_NB);
    assert_string_equal(pl_lock_path(l), p);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(pl_lock_held_fd(l), -1);
    assert_int_equal(pl_lock_count(l), 0);
    /* creating the handle touches nothing on disk */
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

static void setters_change_what_getters_report(void **state)
{
    pl_lock *l = NULL;
    double d;
    int i;
    tu_ok(pl_lock_new(&l, tu_path(state, "a.lock")));
    tu_ok(pl_lock_set_timeout(l, 1.5));
    tu_ok(pl_lock_set_check_interval(l, 0.01));
    tu_ok(pl_lock_set_fail_when_locked(l, 7));
    tu_ok(pl_lock_set_flags(l, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 1.5);
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.01);
    tu_ok(pl_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 1);
    tu_ok(pl_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_SH | PL_LOCK_NB);
    tu_ok(pl_lock_set_timeout(l, INFINITY));
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(isinf(d));
    tu_ok(pl_lock_set_timeout(l, 0));
    tu_ok(pl_lock_set_check_interval(l, 0));
    pl_lock_free(l);
}

static void acquire_opens_locks_and_returns_the_fd(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    int fd = -1;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(pl_lock_is_held(l), 1);
    assert_int_equal(pl_lock_held_fd(l), fd);
    assert_int_equal(pl_lock_count(l), 1);
    assert_true(tu_exists(p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    /* fd_out may be NULL */
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_is_held(l), 1);
    pl_lock_free(l);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
}

static void reacquire_returns_the_same_fd_without_another_lock(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    int fd1 = -1, fd2 = -1, n;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, &fd1));
    n = tu_count_fds();
    tu_ok(pl_lock_acquire(l, &fd2));
    tu_ok(pl_lock_acquire_with(l, 0, 0, 1, &fd2));
    assert_int_equal(fd1, fd2);
    assert_int_equal(tu_count_fds(), n); /* nothing opened */
    assert_int_equal(pl_lock_count(l), 1); /* Lock does not count */
    /* one release frees it: it was locked once */
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    pl_lock_free(l);
}

static void two_handles_on_one_path_exclude_each_other_in_one_process(
    void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(pl_lock_acquire_with(b, 0.1, 0.01, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_lock_is_held(b), 0);
    assert_int_equal(pl_lock_held_fd(b), -1);
    tu_ok(pl_lock_release(a));
    tu_ok(pl_lock_acquire(b, NULL));
    assert_int_equal(pl_lock_acquire_with(a, 0, PL_INHERIT, PL_INHERIT, NULL),
                     PL_ERR_ALREADY_LOCKED);
    pl_lock_free(a);
    pl_lock_free(b);
}

/* ---- waiting ---- */

static void timeout_expires_near_its_deadline(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    double t0, dt;
    int n;
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_ok(pl_lock_set_timeout(b, 0.3));
    /* a first short wait: the library keeps one notification descriptor
       per thread for waiting, which is not a leak */
    assert_int_equal(pl_lock_acquire_with(b, 0.01, 0.005, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    n = tu_count_fds();
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire(b, NULL), PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt < 0.25 || dt > 3.0)
        fail_msg("timeout 0.3 s returned after %.3f s", dt);
    assert_int_equal(pl_last_error_code(), PL_ERR_ALREADY_LOCKED);
    assert_true(pl_last_error_message()[0] != '\0');
    assert_int_equal(tu_count_fds(), n); /* the opened file was closed */
    pl_lock_free(a);
    pl_lock_free(b);
}

static void fail_when_locked_fails_at_once(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    double t0, dt;
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_ok(pl_lock_set_fail_when_locked(b, 1)); /* timeout stays 5 s */
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire(b, NULL), PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt > 1.0)
        fail_msg("fail_when_locked waited %.3f s", dt);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void per_call_overrides_win_and_inherit_keeps_the_handles(
    void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    double t0, dt, d;
    int i;
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));

    /* handle: 5 s timeout; the call: 0.2 s */
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire_with(b, 0.2, PL_INHERIT, PL_INHERIT, NULL),
                     PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt < 0.15 || dt > 3.0)
        fail_msg("per-call timeout 0.2 s returned after %.3f s", dt);

    /* the call: fail_when_locked */
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire_with(b, PL_INHERIT, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_true(tu_now() - t0 < 1.0);

    /* handle fail_when_locked, the call turns it off and waits */
    tu_ok(pl_lock_set_fail_when_locked(b, 1));
    tu_ok(pl_lock_set_timeout(b, 0.2));
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire_with(b, PL_INHERIT, 0.02, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt < 0.15 || dt > 3.0)
        fail_msg("inherited timeout 0.2 s returned after %.3f s", dt);

    /* the handle's own options are untouched by the overrides */
    tu_ok(pl_lock_get_timeout(b, &d));
    assert_true(d == 0.2);
    tu_ok(pl_lock_get_check_interval(b, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_get_fail_when_locked(b, &i));
    assert_int_equal(i, 1);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void waiter_takes_the_lock_when_another_process_releases(void **state)
{
    holder h;
    pl_lock *l = NULL;
    double t0, dt;
    holder_init(&h, tu_path(state, "a.lock"));
    h.hold_for = 0.3;
    holder_start(&h);
    tu_ok(pl_lock_new(&l, h.path));
    t0 = tu_now();
    tu_ok(pl_lock_acquire(l, NULL)); /* timeout 5 s */
    dt = tu_now() - t0;
    if (dt < 0.1 || dt > 4.5)
        fail_msg("got the lock after %.3f s (holder kept it 0.3 s)", dt);
    assert_int_equal(tu_wait(h.pid), 0);
    tu_pipe_close(&h.ready);
    tu_pipe_close(&h.done);
    pl_lock_free(l);
}

static void infinite_timeout_waits_until_released(void **state)
{
    holder h;
    pl_lock *l = NULL;
    holder_init(&h, tu_path(state, "a.lock"));
    h.hold_for = 0.3;
    holder_start(&h);
    tu_ok(pl_lock_new(&l, h.path));
    tu_ok(pl_lock_set_timeout(l, INFINITY));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_wait(h.pid), 0);
    tu_pipe_close(&h.ready);
    tu_pipe_close(&h.done);
    pl_lock_free(l);
}

/* Flags without NON_BLOCKING: the acquire waits until the lock is free
   and the timeout has no effect (not in the kernel's blocking call, so
   that a cancel or the wait hook can end it). */
static void blocking_flags_wait_until_free_and_ignore_the_timeout(
    void **state)
{
    holder h;
    pl_lock *l = NULL;
    holder_init(&h, tu_path(state, "a.lock"));
    h.hold_for = 0.3;
    holder_start(&h);
    tu_ok(pl_lock_new(&l, h.path));
    tu_ok(pl_lock_set_flags(l, PL_LOCK_EX));
    tu_ok(pl_lock_set_timeout(l, 0.05));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_is_held(l), 1);
    assert_int_equal(tu_wait(h.pid), 0);
    tu_pipe_close(&h.ready);
    tu_pipe_close(&h.done);
    pl_lock_free(l);
}

static void shared_flags_let_readers_share(void **state)
{
    pl_lock *a = NULL, *b = NULL, *c = NULL;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_new(&c, p));
    tu_ok(pl_lock_set_flags(a, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_lock_set_flags(b, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_ok(pl_lock_acquire_with(b, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(pl_lock_acquire_with(c, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    pl_lock_free(a);
    pl_lock_free(b);
    tu_ok(pl_lock_acquire_with(c, 0, PL_INHERIT, 1, NULL));
    pl_lock_free(c);
}

/* ---- open modes ---- */

static void mode_w_truncates_only_after_the_lock_is_taken(void **state)
{
    holder h;
    pl_lock *l = NULL;
    char buf[64];
    int fd = -1;
    holder_init(&h, tu_path(state, "data.lock"));
    h.write_data = "holder data";
    holder_start(&h);
    tu_ok(pl_lock_new(&l, h.path));
    tu_ok(pl_lock_set_mode(l, "w"));
    assert_int_equal(pl_lock_acquire_with(l, 0.2, 0.02, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    /* the waiter did not wipe the holder's data */
    assert_int_equal(tu_read_file(h.path, buf, sizeof buf), 11);
    assert_string_equal(buf, "holder data");
    holder_finish(&h);
    assert_int_equal(tu_read_file(h.path, buf, sizeof buf), 11);
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(tu_read_file(h.path, buf, sizeof buf), 0);
    assert_int_equal(write(fd, "new", 3), 3);
    assert_int_equal(tu_read_file(h.path, buf, sizeof buf), 3);
    assert_string_equal(buf, "new");
    pl_lock_free(l);
}

/* Once truncated, a 'w' file writes at its position (O_APPEND is off), as
   plain open(mode='w') and the reference 4.4 do: "x", seek 0, "y" -> "y". */
static void mode_w_writes_at_the_position_after_truncating(void **state)
{
    pl_lock *l = NULL;
    char buf[16];
    int fd = -1;
    const char *path = tu_path(state, "w.lock");
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "w"));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_false(fcntl(fd, F_GETFL) & O_APPEND);
    assert_int_equal(write(fd, "xx", 2), 2);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(write(fd, "y", 1), 1);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 2);
    assert_string_equal(buf, "yx");
    pl_lock_free(l);
}

static void mode_a_creates_and_appends_without_truncating(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    char buf[64];
    int fd = -1;
    assert_int_equal(tu_write_file(p, "old"), 0);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(write(fd, "+new", 4), 4);
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 7);
    assert_string_equal(buf, "old+new");
    assert_int_equal(read(fd, buf, 1), -1); /* 'a' is write-only */
    pl_lock_free(l);
}

static void mode_a_plus_is_readable_and_writable(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    char buf[8];
    int fd = -1;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "a+"));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(tu_exists(p));
    assert_int_equal(write(fd, "xy", 2), 2);
    assert_int_equal(pread(fd, buf, 2, 0), 2);
    assert_memory_equal(buf, "xy", 2);
    pl_lock_free(l);
}

static void mode_r_needs_an_existing_file_and_is_read_only(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    char buf[8];
    int fd = -1;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "r"));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ENOENT);
    assert_false(tu_exists(p)); /* 'r' never creates */
    assert_int_equal(tu_write_file(p, "abc"), 0);
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    assert_int_equal(read(fd, buf, 3), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(write(fd, "z", 1), -1);
    pl_lock_free(l);
}

static void mode_r_plus_reads_and_writes_without_creating(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "rp.lock");
    char buf[8];
    int fd = -1;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "r+"));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_false(tu_exists(p));
    assert_int_equal(tu_write_file(p, "abc"), 0);
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(pwrite(fd, "Z", 1, 0), 1);
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 3);
    assert_string_equal(buf, "Zbc"); /* not truncated */
    pl_lock_free(l);
}

static void mode_x_creates_and_fails_when_the_file_exists(void **state)
{
    pl_lock *l = NULL, *m = NULL;
    const char *p = tu_path(state, "x.lock");
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "x"));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_true(tu_exists(p));
    tu_ok(pl_lock_new(&m, p));
    tu_ok(pl_lock_set_mode(m, "xb"));
    assert_int_equal(pl_lock_acquire(m, NULL), PL_ERR_EXISTS);
    assert_int_equal(pl_last_errno(), EEXIST);
    tu_ok(pl_lock_release(l));
    /* the file stays, so 'x' keeps failing */
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_EXISTS);
    pl_lock_free(l);
    pl_lock_free(m);
}

static void binary_and_text_suffixes_are_accepted(void **state)
{
    const char *modes[] = {"ab", "at", "a+b", "ab+", "wb", "w+", "rb", "r+b",
                           "x+", "xt"};
    pl_lock *l = NULL;
    size_t i;
    const char *p = tu_path(state, "m.lock");
    assert_int_equal(tu_write_file(p, ""), 0);
    tu_ok(pl_lock_new(&l, p));
    for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        tu_ok(pl_lock_set_mode(l, modes[i]));
        if (modes[i][0] == 'x')
            assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_EXISTS);
        else
            tu_ok(pl_lock_acquire(l, NULL));
        tu_ok(pl_lock_release(l));
    }
    pl_lock_free(l);
}

/* ---- release ---- */

static void release_when_not_held_does_nothing(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_release(a)); /* never acquired */
    tu_ok(pl_lock_acquire(b, NULL));
    assert_int_equal(pl_lock_acquire_with(a, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    tu_ok(pl_lock_release(a)); /* failed acquire: holds nothing */
    tu_ok(pl_lock_release(a));
    assert_int_equal(pl_lock_is_held(b), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(b));
    tu_ok(pl_lock_release(b)); /* twice */
    pl_lock_free(a);
    pl_lock_free(b);
}

static void release_closes_the_descriptor(void **state)
{
    pl_lock *l = NULL;
    int fd = -1, n;
    tu_ok(pl_lock_new(&l, tu_path(state, "a.lock")));
    n = tu_count_fds();
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(tu_count_fds(), n + 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(tu_count_fds(), n);
    assert_int_equal(pl_lock_held_fd(l), -1);
    pl_lock_free(l);
}

static void the_lock_file_is_never_deleted(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_release(l));
    assert_true(tu_exists(p));
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l); /* free while held */
    assert_true(tu_exists(p));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
}

/* Errors from unlock/close are swallowed by default (the detail stays in
   the last error) and reported with raise_on_release_error. The failure
   is provoked by closing the handle's descriptor behind its back. */
static void release_errors_are_swallowed_unless_raise_on_release_error(
    void **state)
{
    pl_lock *l = NULL;
    int fd = -1;
    tu_ok(pl_lock_new(&l, tu_path(state, "a.lock")));

    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(close(fd), 0);
    tu_ok(pl_lock_release(l));
    assert_int_equal(pl_last_errno(), EBADF);
    assert_non_null(strstr(pl_last_error_message(), "a.lock"));
    assert_int_equal(pl_lock_is_held(l), 0);

    tu_ok(pl_lock_set_raise_on_release_error(l, 1));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(close(fd), 0);
    assert_int_equal(pl_lock_release(l), PL_ERR_LOCK_FAILED);
    assert_int_equal(pl_last_errno(), EBADF);
    assert_int_equal(pl_lock_is_held(l), 0);
    /* the handle is usable again */
    tu_ok(pl_lock_acquire(l, &fd));
    tu_ok(pl_lock_release(l));
    pl_lock_free(l);
}

/* ---- other mechanisms through a handle ---- */
/* Not on Windows: no fcntl record locks, no OFD locks (tests/win checks
   they are refused) and no FIFOs in the file system. */
#ifndef _WIN32

static void posix_mechanism_locks_the_file(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    holder h;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 0);

    holder_init(&h, p);
    h.mechanism = PL_MECH_POSIX;
    holder_start(&h);
    assert_int_equal(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    holder_finish(&h);
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    pl_lock_free(l);
}

/* An exclusive fcntl lock needs a writable descriptor: a read-only open is
   reopened read-write (EBADF fix) instead of failing. */
static void posix_exclusive_lock_on_mode_r_reopens_read_write(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    int n;
    assert_int_equal(tu_write_file(p, "x"), 0);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "r"));
    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    n = tu_count_fds();
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_count_fds(), n + 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_count_fds(), n);
    pl_lock_free(l);
}

static void ofd_mechanism_excludes_handles_in_one_process(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "a.lock");
    if (pl_mechanism_supported(PL_MECH_OFD) != PL_OK) {
        /* then selecting it must say so clearly */
        tu_ok(pl_lock_new(&a, p));
        tu_ok(pl_lock_set_mechanism(a, PL_MECH_OFD));
        assert_int_equal(pl_lock_acquire(a, NULL), PL_ERR_UNSUPPORTED);
        pl_lock_free(a);
        return;
    }
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_set_mechanism(a, PL_MECH_OFD));
    tu_ok(pl_lock_set_mechanism(b, PL_MECH_OFD));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(pl_lock_acquire_with(b, 0, PL_INHERIT, 1, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(tu_probe_locked(p, PL_MECH_OFD), 1);
    tu_ok(pl_lock_release(a));
    tu_ok(pl_lock_acquire_with(b, 0, PL_INHERIT, 1, NULL));
    pl_lock_free(a);
    pl_lock_free(b);
}


/* A FIFO at a Lock/RLock path: never a hang in open(2), whatever the
   mode, but an error naming the path at once. 'x' on an existing path is
   FileExists, as the reference's open(path, 'x'). */
static void fifo_at_a_lock_path_fails_at_once_naming_it(void **state)
{
    static const char *const modes[] = {"a", "r", "w", "r+", "a+", "w+"};
    const char *path = tu_path(state, "planted.fifo");
    size_t i;
    int rlock;
    assert_int_equal(mkfifo(path, 0600), 0);
    for (rlock = 0; rlock < 2; rlock++) {
        for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            pl_lock *l = NULL;
            double t0;
            int n = tu_count_fds();
            tu_ok(rlock ? pl_rlock_new(&l, path) : pl_lock_new(&l, path));
            tu_ok(pl_lock_set_mode(l, modes[i]));
            t0 = tu_now();
            tu_expect(PL_ERR_INVALID_ARGUMENT,
                      pl_lock_acquire_with(l, 1, 0.05, 0, NULL));
            assert_true(tu_now() - t0 < 0.5);
            assert_non_null(strstr(pl_last_error_message(), path));
            assert_non_null(strstr(pl_last_error_message(), "not a regular file"));
            assert_int_equal(tu_count_fds(), n);
            tu_ok(pl_lock_set_mode(l, "x"));
            tu_expect(PL_ERR_EXISTS, pl_lock_acquire_with(l, 1, 0.05, 0, NULL));
            pl_lock_free(l);
        }
    }
}
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(defaults_are_the_references),
        T(setters_change_what_getters_report),
        T(acquire_opens_locks_and_returns_the_fd),
        T(reacquire_returns_the_same_fd_without_another_lock),
        T(two_handles_on_one_path_exclude_each_other_in_one_process),
        T(timeout_expires_near_its_deadline),
        T(fail_when_locked_fails_at_once),
        T(per_call_overrides_win_and_inherit_keeps_the_handles),
        T(waiter_takes_the_lock_when_another_process_releases),
        T(infinite_timeout_waits_until_released),
        T(blocking_flags_wait_until_free_and_ignore_the_timeout),
        T(shared_flags_let_readers_share),
        T(mode_w_truncates_only_after_the_lock_is_taken),
        T(mode_w_writes_at_the_position_after_truncating),
        T(mode_a_creates_and_appends_without_truncating),
        T(mode_a_plus_is_readable_and_writable),
        T(mode_r_needs_an_existing_file_and_is_read_only),
        T(mode_r_plus_reads_and_writes_without_creating),
        T(mode_x_creates_and_fails_when_the_file_exists),
        T(binary_and_text_suffixes_are_accepted),
        T(release_when_not_held_does_nothing),
        T(release_closes_the_descriptor),
        T(the_lock_file_is_never_deleted),
        T(release_errors_are_swallowed_unless_raise_on_release_error),
#ifndef _WIN32
        T(posix_mechanism_locks_the_file),
        T(posix_exclusive_lock_on_mode_r_reopens_read_write),
        T(ofd_mechanism_excludes_handles_in_one_process),
        T(fifo_at_a_lock_path_fails_at_once_naming_it),
#endif
    };
#undef T
    return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
