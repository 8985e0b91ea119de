/*
 * Fault injection on Windows, at the platform seam. Linux's
 * tests/unit/test_faults.c replaces libc's system calls with -Wl,--wrap;
 * on Windows the core's system calls are DLL imports (kernel32, the CRT),
 * which --wrap cannot reach. So this suite links the static
 * build/win/libportalocker.a and wraps the core's own platform functions
 * (core/src/platform.h, implemented in core/src/win/): each __wrap_X
 * passes through to __real_X unless a failure is armed ("fail the Nth
 * call of X, counted from arming, with errno E, `times` times"). The
 * Makefile's WIN_FAULT_WRAP lists the wrapped names.
 *
 * What this reaches: every call the portable core (lock.c, pid_file_lock.c,
 * open_atomic.c, bounded_semaphore.c, wait_control.c, the Redis files)
 * makes into the Windows platform files, and their calls into each other
 * across files (the Windows lock's wait calls the waiter and poll). Not
 * reached: calls inside one platform file (pl__os_make_temp's own
 * pl__os_open, for one): --wrap changes only references between object
 * files. Each failure must give the documented code and a message naming
 * the path and the OS error, and leave no CRT descriptor, no kernel handle
 * (GetProcessHandleCount: files, events, change notifications, sockets),
 * no temporary file and no half-held lock (another process, the helper,
 * probes it).
 */
#include "fault_checks.h"
#include "winutil.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* ---- the fault table ---- */

enum fault_id {
    F_OPEN,
    F_CLOSE,
    F_CHECK_REGULAR,
    F_FD_ID,
    F_PATH_ID,
    F_TRUNCATE,
    F_CLEAR_APPEND,
    F_WRITE,
    F_FSYNC,
    F_UNLINK,
    F_LINK,
    F_RENAME,
    F_EXISTS,
    F_MAKE_PARENTS,
    F_MAKE_TEMP,
    F_LOCK,
    F_UNLOCK,
    F_POLL,
    F_WAKE_OPEN,
    F_WAITER_OPEN,
    F_PIPE,
    F_THREAD,
    F_CONNECT,
    F_SEND,
    F_RECV,
    F_COUNT
};

#include "fault_table.h"

/* 0, or the errno value the armed fault fails this call with. */
static int should_fail(int id, const char *path)
{
    return fault_fires(id, path) ? (int)faults[id].err : 0;
}

/* ---- the wraps ---- */

#define DECL(ret, name, params)                                              \
    ret __real_##name params;                                                \
    ret __wrap_##name params;                                                \
    ret __wrap_##name params

DECL(int, pl__os_open, (const char *path, int flags, unsigned int mode, int *fd_out))
{
    int err = should_fail(F_OPEN, path);
    return err ? err : __real_pl__os_open(path, flags, mode, fd_out);
}

/* A failing close still closes (as CloseHandle does whatever it says). */
DECL(int, pl__os_close, (int fd))
{
    int err = should_fail(F_CLOSE, NULL);
    int rc = __real_pl__os_close(fd);
    return err ? err : rc;
}

DECL(int, pl__os_check_regular, (int fd))
{
    int err = should_fail(F_CHECK_REGULAR, NULL);
    return err ? err : __real_pl__os_check_regular(fd);
}

DECL(int, pl__os_fd_id, (int fd, pl__os_file_id *out))
{
    int err = should_fail(F_FD_ID, NULL);
    return err ? err : __real_pl__os_fd_id(fd, out);
}

DECL(int, pl__os_path_id, (const char *path, pl__os_file_id *out))
{
    int err = should_fail(F_PATH_ID, path);
    return err ? err : __real_pl__os_path_id(path, out);
}

DECL(int, pl__os_truncate, (int fd))
{
    int err = should_fail(F_TRUNCATE, NULL);
    return err ? err : __real_pl__os_truncate(fd);
}

DECL(int, pl__os_clear_append, (int fd))
{
    int err = should_fail(F_CLEAR_APPEND, NULL);
    return err ? err : __real_pl__os_clear_append(fd);
}

DECL(int, pl__os_write_all, (int fd, const void *buf, size_t len))
{
    int err = should_fail(F_WRITE, NULL);
    return err ? err : __real_pl__os_write_all(fd, buf, len);
}

DECL(int, pl__os_fsync, (int fd))
{
    int err = should_fail(F_FSYNC, NULL);
    return err ? err : __real_pl__os_fsync(fd);
}

DECL(int, pl__os_unlink, (const char *path))
{
    int err = should_fail(F_UNLINK, path);
    return err ? err : __real_pl__os_unlink(path);
}

DECL(int, pl__os_link, (const char *from, const char *to))
{
    int err = should_fail(F_LINK, to);
    return err ? err : __real_pl__os_link(from, to);
}

DECL(int, pl__os_rename, (const char *from, const char *to))
{
    int err = should_fail(F_RENAME, to);
    return err ? err : __real_pl__os_rename(from, to);
}

DECL(int, pl__os_exists, (const char *path, int *exists))
{
    int err = should_fail(F_EXISTS, path);
    return err ? err : __real_pl__os_exists(path, exists);
}

DECL(int, pl__os_make_parents, (const char *path))
{
    int err = should_fail(F_MAKE_PARENTS, path);
    return err ? err : __real_pl__os_make_parents(path);
}

DECL(int, pl__os_make_temp, (const char *target, int *fd_out, char **path_out))
{
    int err = should_fail(F_MAKE_TEMP, target);
    return err ? err : __real_pl__os_make_temp(target, fd_out, path_out);
}

DECL(int, pl__os_lock, (int fd, int mechanism, int exclusive, int blocking))
{
    int err = should_fail(F_LOCK, NULL);
    return err ? err : __real_pl__os_lock(fd, mechanism, exclusive, blocking);
}

DECL(int, pl__os_unlock, (int fd, int mechanism))
{
    int err = should_fail(F_UNLOCK, NULL);
    return err ? err : __real_pl__os_unlock(fd, mechanism);
}

DECL(int, pl__os_poll, (pl__os_pollfd *fds, size_t n, int timeout_ms, int *ready))
{
    int err = should_fail(F_POLL, NULL);
    if (err) {
        /* A failing wait must not make the caller spin: it returns at
           once, as a real failure does. */
        *ready = 0;
        return err;
    }
    return __real_pl__os_poll(fds, n, timeout_ms, ready);
}

DECL(int, pl__os_wake_open, (int *rd, int *wr))
{
    int err = should_fail(F_WAKE_OPEN, NULL);
    return err ? err : __real_pl__os_wake_open(rd, wr);
}

/* "Never fails": without notifications the waiter only sleeps (NULL is
   such a waiter for every function that takes one). */
DECL(pl__os_waiter *, pl__os_waiter_open, (void))
{
    return should_fail(F_WAITER_OPEN, NULL) ? NULL : __real_pl__os_waiter_open();
}

DECL(int, pl__os_pipe, (int fds[2]))
{
    int err = should_fail(F_PIPE, NULL);
    return err ? err : __real_pl__os_pipe(fds);
}

DECL(int, pl__os_thread_create, (pl__os_thread *thread, void *(*fn)(void *), void *arg))
{
    int err = should_fail(F_THREAD, NULL);
    return err ? err : __real_pl__os_thread_create(thread, fn, arg);
}

DECL(int, pl__os_net_connect_tcp, (const char *host, int port, double timeout,
                                   int *fd_out, char *detail, size_t detail_size))
{
    int err = should_fail(F_CONNECT, host);
    return err ? err
               : __real_pl__os_net_connect_tcp(host, port, timeout, fd_out, detail,
                                               detail_size);
}

DECL(int, pl__os_net_send, (int fd, const void *buf, size_t len, size_t *sent))
{
    int err = should_fail(F_SEND, NULL);
    return err ? err : __real_pl__os_net_send(fd, buf, len, sent);
}

DECL(int, pl__os_net_recv, (int fd, void *buf, size_t len, size_t *got))
{
    int err = should_fail(F_RECV, NULL);
    return err ? err : __real_pl__os_net_recv(fd, buf, len, got);
}

/* ---- fixtures (the checks: fault_checks.h) ---- */

static int setup(void **state)
{
    disarm_all();
    return tu_setup_dir(state);
}

static int teardown(void **state)
{
    disarm_all();
    return tu_teardown_dir(state);
}

static double elapsed_since(double t0)
{
    return tu_now() - t0;
}

/* ---- the counter itself ---- */

static void handle_count_sees_a_file_handle(void **state)
{
    /* The leak checks below mean something only if the count moves. */
    int before = handles();
    HANDLE h = CreateFileA(tu_path(state, "count"), GENERIC_READ | GENERIC_WRITE, 0,
                           NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    assert_true(h != INVALID_HANDLE_VALUE);
    assert_int_equal(handles(), before + 1);
    CloseHandle(h);
    assert_int_equal(handles(), before);
}

/* ---- opening ---- */

static void open_failure_is_io_error_naming_path_and_leaves_nothing(void **state)
{
    static const int errs[] = {EACCES, EMFILE, ENOSPC};
    const char *path = tu_path(state, "open.lock");
    size_t i;
    for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pl_lock *l = NULL;
        resources before;
        tu_ok(pl_lock_new(&l, path));
        before = snapshot();
        arm_path(F_OPEN, 1, errs[i], 1, "open.lock");
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 1, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[F_OPEN].failed, 1);
        disarm_all();
        expect_message(path, errs[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(pl_lock_held_fd(l), -1);
        expect_unchanged(before);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
        /* The handle works once the fault is gone. */
        tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        pl_lock_free(l);
        assert_int_equal(_unlink(path), 0);
    }
}

static void open_failure_of_temporary_pidfile_and_slot_is_io_error(void **state)
{
    const char *tpath = tu_path(state, "t.lock");
    const char *ppath = tu_path(state, "p.pid");
    pl_lock *t = NULL, *p = NULL;
    pl_semaphore *s = NULL;
    resources before;
    tu_ok(pl_temporary_lock_new(&t, tpath));
    tu_ok(pl_pidfile_lock_new(&p, ppath));
    tu_ok(pl_semaphore_new(&s, 2, "slots"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    before = snapshot();

    arm(F_OPEN, 1, EACCES, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire(t, NULL));
    disarm_all();
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);

    /* The PID file itself, opened once its sidecar is locked: the sidecar
       is released and removed. */
    arm_path(F_OPEN, 1, ENOSPC, 1, "p.pid");
    tu_expect(PL_ERR_IO, pl_lock_acquire(p, NULL));
    assert_int_equal(faults[F_OPEN].failed, 1);
    disarm_all();
    expect_message(ppath, ENOSPC);
    assert_int_equal(pl_lock_is_held(p), 0);
    expect_free(tu_path(state, "p.pid.lock"));
    /* The sidecar's open. */
    arm_path(F_OPEN, 1, EACCES, 1, "p.pid.lock");
    tu_expect(PL_ERR_IO, pl_lock_acquire(p, NULL));
    disarm_all();
    expect_message(tu_path(state, "p.pid.lock"), EACCES);

    /* Every slot's open failing: the error names a slot. */
    arm(F_OPEN, 1, EMFILE, -1);
    tu_expect(PL_ERR_IO, pl_semaphore_acquire_with(s, 0.2, 0.01, NULL));
    disarm_all();
    expect_message(NULL, EMFILE);
    assert_non_null(strstr(pl_last_error_message(), "slots.0"));
    assert_int_equal(pl_semaphore_slot(s), -1);

    expect_unchanged(before);
    assert_int_equal(tw_count_entries(dir_of(state)), 0);
    /* All three work once the faults are gone, and clean up. */
    tu_ok(pl_lock_acquire(t, NULL));
    tu_ok(pl_lock_acquire(p, NULL));
    tu_ok(pl_semaphore_acquire(s, NULL));
    pl_lock_free(t);
    pl_lock_free(p);
    pl_semaphore_free(s);
    expect_unchanged(before);
}

static void stat_failure_checking_a_read_mode_file_is_io_error(void **state)
{
    const char *path = tu_path(state, "read.lock");
    pl_lock *l = NULL;
    resources before;
    assert_int_equal(tu_write_file(path, "x"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "r"));
    before = snapshot();
    arm(F_CHECK_REGULAR, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_CHECK_REGULAR].failed, 1);
    disarm_all();
    expect_message(path, EIO);
    assert_int_equal(pl_lock_is_held(l), 0);
    expect_unchanged(before);
    expect_free(path);
    pl_lock_free(l);
}

/* ---- the lock call ---- */

static void lock_call_failure_is_lock_failed_or_unsupported_and_leaves_nothing(void **state)
{
    static const int errs[] = {ENOLCK, EIO, ENOSYS};
    const char *path = tu_path(state, "nolck.lock");
    size_t i;
    for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pl_lock *l = NULL;
        pl_semaphore *s = NULL;
        int want = errs[i] == ENOSYS ? PL_ERR_UNSUPPORTED : PL_ERR_LOCK_FAILED;
        resources before;
        double t0;
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_semaphore_new(&s, 2, "nolck"));
        tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
        before = snapshot();
        /* Not contention: the acquire ends at once, it is not waited out. */
        arm(F_LOCK, 1, errs[i], -1);
        t0 = tu_now();
        tu_expect(want, pl_lock_acquire_with(l, 2, 0.01, 0, NULL));
        assert_true(elapsed_since(t0) < 1.0);
        assert_int_equal(faults[F_LOCK].calls, 1);
        expect_message(path, errs[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        /* The infinite wait too. */
        arm(F_LOCK, 1, errs[i], -1);
        tu_expect(want, pl_lock_acquire_with(l, INFINITY, PL_INHERIT, 0, NULL));
        /* A semaphore slot. */
        arm(F_LOCK, 1, errs[i], -1);
        t0 = tu_now();
        tu_expect(want, pl_semaphore_acquire_with(s, 2, 0.01, NULL));
        assert_true(elapsed_since(t0) < 1.0);
        disarm_all();
        assert_non_null(strstr(pl_last_error_message(), "nolck.00.lock"));
        assert_int_equal(pl_semaphore_slot(s), -1);
        expect_unchanged(before);
        expect_free(path);
        expect_free(tu_path(state, "nolck.00.lock"));
        pl_semaphore_free(s);
        pl_lock_free(l);
    }
}

static void lock_call_failure_of_a_callers_descriptor(void **state)
{
    const char *path = tu_path(state, "fd.lock");
    int fd;
    assert_int_equal(tu_write_file(path, ""), 0);
    fd = _open(path, _O_RDWR | _O_BINARY);
    assert_true(fd >= 0);
    arm(F_LOCK, 1, ENOLCK, -1);
    tu_expect(PL_ERR_LOCK_FAILED, pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(pl_last_errno(), ENOLCK);
    arm(F_LOCK, 1, EAGAIN, -1);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    /* Unlocking a caller's descriptor that fails is said. */
    disarm_all();
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    arm(F_UNLOCK, 1, EIO, 1);
    assert_int_not_equal(pl_unlock_fd(fd), PL_OK);
    assert_int_equal(pl_last_errno(), EIO);
    disarm_all();
    tu_ok(pl_unlock_fd(fd));
    _close(fd);
    expect_free(path);
}

/* ---- after the lock: mode 'w', the temporary lock's check ---- */

static void truncate_or_clear_append_failure_in_mode_w_drops_the_lock(void **state)
{
    static const int which[] = {F_TRUNCATE, F_CLEAR_APPEND};
    const char *path = tu_path(state, "w.lock");
    size_t i;
    for (i = 0; i < 2; i++) {
        pl_lock *l = NULL;
        char buf[16];
        resources before;
        assert_int_equal(tu_write_file(path, "keep"), 0);
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_lock_set_mode(l, "w"));
        before = snapshot();
        arm(which[i], 1, EIO, 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, EIO);
        assert_non_null(strstr(pl_last_error_message(),
                               which[i] == F_TRUNCATE ? "truncate" : "O_APPEND"));
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(pl_lock_held_fd(l), -1);
        expect_unchanged(before);
        expect_free(path);
        /* A failed truncate wiped nothing. */
        if (which[i] == F_TRUNCATE)
            assert_int_equal(tu_read_file(path, buf, sizeof buf), 4);
        tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        pl_lock_free(l);
    }
}

static void identity_failure_verifying_a_temporary_lock_is_io_error(void **state)
{
    static const int which[] = {F_FD_ID, F_PATH_ID};
    const char *path = tu_path(state, "verify.lock");
    size_t i;
    for (i = 0; i < 2; i++) {
        pl_lock *l = NULL;
        resources before;
        tu_ok(pl_temporary_lock_new(&l, path));
        before = snapshot();
        arm(which[i], 1, EIO, 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, EIO);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        expect_free(path);
        /* Not held, so not ours to remove: the next holder's release
           does. */
        tu_ok(pl_lock_acquire(l, NULL));
        pl_lock_free(l);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
    }
}

/* ---- the PID file ---- */

static void pid_write_or_flush_failure_releases_the_sidecar_and_reports(void **state)
{
    static const int which[] = {F_WRITE, F_WRITE, F_FSYNC};
    static const int errs[] = {ENOSPC, EIO, EIO};
    const char *path = tu_path(state, "app.pid");
    const char *sidecar = tu_path(state, "app.pid.lock");
    size_t i;
    for (i = 0; i < 3; i++) {
        pl_lock *l = NULL;
        long pid = -1;
        resources before;
        tu_ok(pl_pidfile_lock_new(&l, path));
        before = snapshot();
        arm(which[i], 1, errs[i], 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, errs[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        assert_false(tu_exists(path));
        assert_false(tu_exists(sidecar));
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
        tu_ok(pl_lock_read_pid(l, &pid));
        assert_int_equal(pid, 0);
        tu_ok(pl_lock_acquire(l, NULL));
        tu_ok(pl_lock_read_pid(l, &pid));
        assert_int_equal(pid, (long)GetCurrentProcessId());
        pl_lock_free(l);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
    }
}

/* ---- release ---- */

static void unlock_or_close_failure_on_release_is_reported_only_when_asked(void **state)
{
    static const int which[] = {F_UNLOCK, F_CLOSE};
    const char *path = tu_path(state, "rel.lock");
    size_t i;
    int raise;
    for (i = 0; i < 2; i++) {
        for (raise = 0; raise <= 1; raise++) {
            pl_lock *l = NULL;
            resources before;
            int want = !raise ? PL_OK : which[i] == F_UNLOCK ? PL_ERR_LOCK_FAILED : PL_ERR_IO;
            tu_ok(pl_lock_new(&l, path));
            tu_ok(pl_lock_set_raise_on_release_error(l, raise));
            before = snapshot();
            tu_ok(pl_lock_acquire(l, NULL));
            arm(which[i], 1, EIO, 1);
            tu_expect(want, pl_lock_release(l));
            assert_int_equal(faults[which[i]].failed, 1);
            disarm_all();
            /* Either way the detail is in the last error. */
            expect_message(path, EIO);
            assert_non_null(strstr(pl_last_error_message(),
                                   which[i] == F_UNLOCK ? "unlock" : "close"));
            assert_int_equal(pl_lock_is_held(l), 0);
            assert_int_equal(pl_lock_held_fd(l), -1);
            expect_unchanged(before);
            /* The handle was closed whatever the unlock said: free. */
            expect_free(path);
            tu_ok(pl_lock_release(l));
            pl_lock_free(l);
        }
    }
}

static void remove_failure_on_release_of_temporary_and_pidfile(void **state)
{
    const char *tpath = tu_path(state, "gone.lock");
    const char *ppath = tu_path(state, "gone.pid");
    pl_lock *t = NULL, *p = NULL;
    resources before;
    tu_ok(pl_temporary_lock_new(&t, tpath));
    tu_ok(pl_pidfile_lock_new(&p, ppath));
    before = snapshot();
    /* Refused: the lock is gone, the file stays; PL_OK with the detail
       in the last error, unless raise_on_release_error. */
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "gone.lock");
    tu_ok(pl_lock_release(t));
    assert_int_equal(faults[F_UNLINK].failed, 1);
    disarm_all();
    assert_int_equal(pl_last_error_code(), PL_ERR_IO);
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    expect_unchanged(before);
    expect_free(tpath);
    tu_ok(pl_lock_set_raise_on_release_error(t, 1));
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "gone.lock");
    tu_expect(PL_ERR_IO, pl_lock_release(t));
    disarm_all();
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    expect_unchanged(before);
    expect_free(tpath);
    assert_true(tu_exists(tpath));
    assert_int_equal(_unlink(tpath), 0);
    /* The PID file: reported (raise_on_release_error), the sidecar still
       goes, its lock free. */
    tu_ok(pl_lock_set_raise_on_release_error(p, 1));
    tu_ok(pl_lock_acquire(p, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "gone.pid");
    tu_expect(PL_ERR_IO, pl_lock_release(p));
    disarm_all();
    expect_message(ppath, EACCES);
    assert_int_equal(pl_lock_is_held(p), 0);
    expect_unchanged(before);
    assert_false(tu_exists(tu_path(state, "gone.pid.lock")));
    assert_int_equal(_unlink(ppath), 0);
    pl_lock_free(t);
    pl_lock_free(p);
    assert_int_equal(tw_count_entries(dir_of(state)), 0);
}

static void close_failure_on_semaphore_release_is_io_error_naming_slot(void **state)
{
    pl_semaphore *s = NULL;
    resources before;
    tu_ok(pl_semaphore_new(&s, 1, "closing"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    before = snapshot();
    tu_ok(pl_semaphore_acquire(s, NULL));
    arm(F_CLOSE, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_semaphore_release(s));
    disarm_all();
    expect_message(tu_path(state, "closing.00.lock"), EIO);
    assert_int_equal(pl_semaphore_slot(s), -1);
    expect_unchanged(before);
    expect_free(tu_path(state, "closing.00.lock"));
    tu_ok(pl_semaphore_acquire(s, NULL));
    pl_semaphore_free(s);
}

/* ---- open_atomic ---- */

static void atomic_open_failures_are_io_errors_and_create_nothing(void **state)
{
    static const int which[] = {F_MAKE_TEMP, F_MAKE_TEMP, F_MAKE_PARENTS, F_EXISTS};
    static const int errs[] = {EACCES, ENOSPC, EACCES, EIO};
    const char *path = tu_path(state, "out.txt");
    size_t i;
    for (i = 0; i < sizeof which / sizeof which[0]; i++) {
        pl_atomic_file *f = NULL;
        resources before = snapshot();
        arm(which[i], 1, errs[i], 1);
        tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, errs[i]);
        assert_null(f);
        expect_unchanged(before);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
    }
}

/* Open, write "data", commit with `id` armed; the temporary path in temp. */
static int commit_with_fault(void **state, const char *name, int id, int err,
                             char *temp, size_t temp_size)
{
    pl_atomic_file *f = NULL;
    int rc;
    tu_ok(pl_atomic_open(&f, tu_path(state, name)));
    assert_int_equal(_write(pl_atomic_fd(f), "data", 4), 4);
    snprintf(temp, temp_size, "%s", pl_atomic_temp_path(f));
    arm(id, 1, err, 1);
    rc = pl_atomic_commit(f);
    assert_int_equal(faults[id].failed, 1);
    disarm_all();
    pl_atomic_free(f);
    return rc;
}

static void atomic_flush_or_close_failure_removes_the_temporary_file(void **state)
{
    static const int which[] = {F_FSYNC, F_CLOSE};
    size_t i;
    for (i = 0; i < 2; i++) {
        char temp[512];
        resources before = snapshot();
        tu_expect(PL_ERR_IO, commit_with_fault(state, "flush.txt", which[i], EIO, temp, sizeof temp));
        expect_unchanged(before);
        assert_false(tu_exists(temp));
        assert_false(tu_exists(tu_path(state, "flush.txt")));
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
    }
}

static void atomic_publish_failure_keeps_the_payload(void **state)
{
    char temp[512], buf[16];
    resources before = snapshot();
    /* CreateHardLinkW failing (behind pl__os_link). */
    tu_expect(PL_ERR_IO, commit_with_fault(state, "link.txt", F_LINK, EIO, temp, sizeof temp));
    expect_unchanged(before);
    assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
    assert_false(tu_exists(tu_path(state, "link.txt")));
    assert_int_equal(_unlink(temp), 0);
    /* EEXIST: the name appeared meanwhile. */
    tu_expect(PL_ERR_EXISTS, commit_with_fault(state, "link.txt", F_LINK, EEXIST, temp, sizeof temp));
    assert_true(tu_exists(temp));
    assert_int_equal(_unlink(temp), 0);
    /* No hard links on the volume: the rename publishes... */
    tu_ok(commit_with_fault(state, "moved.txt", F_LINK, ENOTSUP, temp, sizeof temp));
    assert_false(tu_exists(temp));
    assert_int_equal(tu_read_file(tu_path(state, "moved.txt"), buf, sizeof buf), 4);
    /* ...and that rename failing keeps the payload. */
    {
        pl_atomic_file *f = NULL;
        tu_ok(pl_atomic_open(&f, tu_path(state, "rename.txt")));
        assert_int_equal(_write(pl_atomic_fd(f), "data", 4), 4);
        snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
        arm(F_LINK, 1, ENOTSUP, 1);
        arm(F_RENAME, 1, EACCES, 1);
        tu_expect(PL_ERR_IO, pl_atomic_commit(f));
        assert_int_equal(faults[F_RENAME].failed, 1);
        disarm_all();
        expect_message(NULL, EACCES);
        pl_atomic_free(f);
        assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
        assert_false(tu_exists(tu_path(state, "rename.txt")));
        assert_int_equal(_unlink(temp), 0);
    }
    expect_unchanged(before);
    assert_int_equal(tw_count_entries(dir_of(state)), 1); /* moved.txt */
}

static void atomic_temp_removal_failure_after_publish_is_reported(void **state)
{
    char temp[512], buf[16];
    resources before = snapshot();
    arm_path(F_UNLINK, 1, EACCES, 1, ".tmp");
    {
        pl_atomic_file *f = NULL;
        tu_ok(pl_atomic_open(&f, tu_path(state, "pub.txt")));
        assert_int_equal(_write(pl_atomic_fd(f), "data", 4), 4);
        snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
        tu_expect(PL_ERR_IO, pl_atomic_commit(f));
        assert_int_equal(faults[F_UNLINK].failed, 1);
        disarm_all();
        expect_message(temp, EACCES);
        /* Published; the free removes the temporary name. */
        assert_int_equal(tu_read_file(tu_path(state, "pub.txt"), buf, sizeof buf), 4);
        pl_atomic_free(f);
    }
    assert_false(tu_exists(temp));
    expect_unchanged(before);
}

/* ---- waiting ---- */

/* A contended wait of about 0.4 s (the helper holds, then releases) with
   `id` armed on every call: still acquired once the holder leaves, within
   loose bounds, without spinning, with nothing left over. */
static void contended_wait_with_fault(void **state, const char *name, int id, int err)
{
    const char *path = tu_path(state, name);
    const char *ready = tu_path(state, "ready");
    const char *args[] = {"hold", path, "ex", ready, "0.4", NULL};
    pl_lock *l = NULL;
    tw_proc p;
    resources before;
    double t0, e;
    _unlink(ready);
    tu_ok(pl_lock_new(&l, path));
    before = snapshot();
    p = tw_spawn_ready(args, ready, 30);
    assert_true(p != 0);
    arm(id, 1, err, -1);
    arm(F_LOCK, 0, 0, 0); /* counted */
    t0 = tu_now();
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    e = elapsed_since(t0);
    if (id == F_WAITER_OPEN || id == F_POLL || id == F_WAKE_OPEN)
        assert_true(faults[id].calls >= 1);
    if (faults[F_LOCK].calls > 400)
        fail_msg("%d lock calls in %.2f s: the waiter spins", faults[F_LOCK].calls, e);
    disarm_all();
    assert_int_equal(tw_wait(p, 30), 0);
    assert_true(e < 0.4 + 5.0);
    pl_lock_free(l);
    expect_unchanged(before);
}

static void wait_without_notifications_or_wake_channel_still_gets_the_lock(void **state)
{
    contended_wait_with_fault(state, "nonotify.lock", F_WAITER_OPEN, 0);
    contended_wait_with_fault(state, "nowake.lock", F_WAKE_OPEN, EMFILE);
}

static void poll_failure_in_a_wait_keeps_backoff_and_deadline(void **state)
{
    static const int errs[] = {EINTR, ENOMEM};
    const char *path = tu_path(state, "poll.lock");
    pl_lock *holder = NULL, *l = NULL;
    size_t i;
    contended_wait_with_fault(state, "pollwake.lock", F_POLL, EINTR);
    contended_wait_with_fault(state, "pollwake.lock", F_POLL, ENOMEM);
    /* Never released: the deadline still ends the wait, on time. */
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    for (i = 0; i < 2; i++) {
        resources before = snapshot();
        double t0, e;
        arm(F_POLL, 1, errs[i], -1);
        arm(F_LOCK, 0, 0, 0);
        t0 = tu_now();
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0.3, 0.05, 0, NULL));
        e = elapsed_since(t0);
        assert_true(faults[F_POLL].failed >= 1);
        if (faults[F_LOCK].calls > 200)
            fail_msg("%d lock calls in %.2f s: the waiter spins", faults[F_LOCK].calls, e);
        disarm_all();
        assert_true(e >= 0.28);
        assert_true(e < 0.3 + 2.0);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
    }
    pl_lock_free(holder);
    pl_lock_free(l);
    expect_free(path);
}

typedef struct cancel_arg {
    pl_lock *l;
    double after;
} cancel_arg;

static DWORD WINAPI cancel_later(void *p)
{
    cancel_arg *a = p;
    Sleep((DWORD)(a->after * 1000));
    pl_lock_cancel(a->l);
    return 0;
}

static void cancel_without_a_wake_channel_still_ends_the_wait(void **state)
{
    /* The wake-up event cannot be made: the wait looks at the cancel
       flag between short sleeps instead. */
    const char *path = tu_path(state, "cancel.lock");
    pl_lock *holder = NULL, *l = NULL;
    cancel_arg a;
    HANDLE t;
    double t0, e;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    a.l = l;
    a.after = 0.3;
    arm(F_WAKE_OPEN, 1, EMFILE, -1);
    t = CreateThread(NULL, 0, cancel_later, &a, 0, NULL);
    assert_non_null(t);
    t0 = tu_now();
    tu_expect(PL_ERR_INTERRUPTED, pl_lock_acquire_with(l, 20, 0.05, 0, NULL));
    e = elapsed_since(t0);
    assert_true(faults[F_WAKE_OPEN].failed >= 1);
    disarm_all();
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    assert_true(e >= 0.25);
    assert_true(e < 0.3 + 3.0);
    assert_int_equal(pl_lock_is_held(l), 0);
    pl_lock_free(holder);
    pl_lock_free(l);
}

/* ---- the Redis lock over Winsock ---- */

static int redis_setup(void **state)
{
    if (redis_port_from_env() < 0)
        return -1;
    return setup(state);
}

/* Nobody holds the channel: another handle gets it at once. */
static void expect_redis_free(const char *channel)
{
    pl_redis_lock *r = redis_new(channel);
    tu_ok(pl_redis_lock_acquire_with(r, 0, PL_INHERIT, 1));
    pl_redis_lock_free(r);
}

static void redis_socket_failures_leave_no_socket_and_no_lock(void **state)
{
    static const int which[] = {F_CONNECT, F_CONNECT, F_SEND, F_RECV, F_THREAD, F_PIPE};
    static const int errs[] = {ECONNREFUSED, ETIMEDOUT, ECONNRESET, ECONNRESET, EAGAIN, EMFILE};
    char channel[64];
    size_t i;
    (void)state;
    snprintf(channel, sizeof channel, "pl-win-faults-%lu", (unsigned long)GetCurrentProcessId());
    /* Winsock's own handles come with the first connection: warm up. */
    expect_redis_free(channel);
    for (i = 0; i < sizeof which / sizeof which[0]; i++) {
        pl_redis_lock *r = redis_new(channel);
        resources before = snapshot();
        int rc, failed;
        arm(which[i], 1, errs[i], -1);
        rc = pl_redis_lock_acquire_with(r, 1, 0.05, 1);
        failed = faults[which[i]].failed;
        disarm_all();
        if (rc == PL_OK)
            fail_msg("fault %d (errno %d) armed, yet the acquire succeeded", (int)i, errs[i]);
        if (failed == 0)
            fail_msg("fault %d was never reached", (int)i);
        print_message("  %s\n", pl_last_error_message());
        /* A clear message, not an empty one. */
        assert_true(strlen(pl_last_error_message()) > 10);
        assert_int_not_equal(pl_redis_lock_check(r), PL_OK);
        pl_redis_lock_free(r);
        expect_unchanged(before);
        expect_redis_free(channel);
    }
}

static void redis_socket_failure_while_held_is_a_lost_lock_without_leak(void **state)
{
    /* The holder thread confirms the subscription several times per
       validity window (unavailable_timeout, 1 s by default): every
       receive failing from now on, the lock is reported lost, and its
       release leaves no socket, event or thread behind. */
    char channel[64];
    pl_redis_lock *r;
    resources before;
    double t0;
    int rc = PL_OK;
    (void)state;
    snprintf(channel, sizeof channel, "pl-win-lost-%lu", (unsigned long)GetCurrentProcessId());
    expect_redis_free(channel); /* Winsock's own handles, first */
    r = redis_new(channel);
    before = snapshot();
    tu_ok(pl_redis_lock_acquire_with(r, 5, 0.05, 0));
    tu_ok(pl_redis_lock_check(r));
    arm(F_RECV, 1, ECONNRESET, -1);
    t0 = tu_now();
    while (tu_now() - t0 < 10 && (rc = pl_redis_lock_check(r)) == PL_OK)
        Sleep(20);
    disarm_all();
    tu_expect(PL_ERR_LOCK_LOST, rc);
    print_message("  %s\n", pl_last_error_message());
    (void)pl_redis_lock_release(r);
    pl_redis_lock_free(r);
    expect_unchanged(before);
    expect_redis_free(channel);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, redis_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(handle_count_sees_a_file_handle),
        T(open_failure_is_io_error_naming_path_and_leaves_nothing),
        T(open_failure_of_temporary_pidfile_and_slot_is_io_error),
        T(stat_failure_checking_a_read_mode_file_is_io_error),
        T(lock_call_failure_is_lock_failed_or_unsupported_and_leaves_nothing),
        T(lock_call_failure_of_a_callers_descriptor),
        T(truncate_or_clear_append_failure_in_mode_w_drops_the_lock),
        T(identity_failure_verifying_a_temporary_lock_is_io_error),
        T(pid_write_or_flush_failure_releases_the_sidecar_and_reports),
        T(unlock_or_close_failure_on_release_is_reported_only_when_asked),
        T(remove_failure_on_release_of_temporary_and_pidfile),
        T(close_failure_on_semaphore_release_is_io_error_naming_slot),
        T(atomic_open_failures_are_io_errors_and_create_nothing),
        T(atomic_flush_or_close_failure_removes_the_temporary_file),
        T(atomic_publish_failure_keeps_the_payload),
        T(atomic_temp_removal_failure_after_publish_is_reported),
        T(wait_without_notifications_or_wake_channel_still_gets_the_lock),
        T(poll_failure_in_a_wait_keeps_backoff_and_deadline),
        T(cancel_without_a_wake_channel_still_ends_the_wait),
        R(redis_socket_failures_leave_no_socket_and_no_lock),
        R(redis_socket_failure_while_held_is_a_lost_lock_without_leak),
    };
    return cmocka_run_group_tests_name("platform faults (Windows)", tests, NULL, NULL);
}
