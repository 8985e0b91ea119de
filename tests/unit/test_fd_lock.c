/* The low-level calls pl_lock_fd / pl_unlock_fd / _with on descriptors the
   caller owns: flag validation, contention, shared locks, blocking, and the
   three mechanisms (flock, POSIX record locks, OFD locks). */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32 /* flock(2)'s LOCK_* constants, compared below */
#include <sys/file.h>
#endif
#include <unistd.h>

static int open_rw(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    assert_true(fd >= 0);
    return fd;
}

#ifndef _WIN32 /* flock(2)'s LOCK_* constants: Windows has no <sys/file.h> */
static void flag_values_are_the_flock_values(void **state)
{
    (void)state;
    assert_int_equal(PL_LOCK_SH, LOCK_SH);
    assert_int_equal(PL_LOCK_EX, LOCK_EX);
    assert_int_equal(PL_LOCK_NB, LOCK_NB);
    assert_int_equal(PL_LOCK_UN, LOCK_UN);
    assert_int_equal(PL_LOCK_SH, 1);
    assert_int_equal(PL_LOCK_EX, 2);
    assert_int_equal(PL_LOCK_NB, 4);
    assert_int_equal(PL_LOCK_UN, 8);
    assert_int_equal(pl_flag_shared(), PL_LOCK_SH);
    assert_int_equal(pl_flag_exclusive(), PL_LOCK_EX);
    assert_int_equal(pl_flag_non_blocking(), PL_LOCK_NB);
    assert_int_equal(pl_flag_unblock(), PL_LOCK_UN);
    assert_int_equal(pl_mechanism_flock(), PL_MECH_FLOCK);
    assert_int_equal(pl_mechanism_posix(), PL_MECH_POSIX);
    assert_int_equal(pl_mechanism_ofd(), PL_MECH_OFD);
    assert_int_equal(pl_inherit(), PL_INHERIT);
    assert_int_equal(PL_INHERIT, -1);
}
#endif

/* flock locks belong to the open file description: two opens of one path
   in one process exclude each other. */
static void exclusive_contends_across_open_file_descriptions(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd1 = open_rw(p), fd2 = open_rw(p);
    tu_ok(pl_lock_fd(fd1, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_last_error_code(), PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_last_errno(), EAGAIN);
    assert_int_equal(pl_lock_fd(fd2, PL_LOCK_SH | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    tu_ok(pl_unlock_fd(fd1));
    tu_ok(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(pl_lock_fd(fd1, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    close(fd1);
    close(fd2);
}

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
static int hold_until_signalled(const char *path, int flags, int mechanism,
                                tu_pipe *ready, tu_pipe *done)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return 10;
    if (pl_lock_fd_mechanism(fd, flags, mechanism) != PL_OK)
        return 11;
    tu_pipe_signal(ready);
    if (tu_pipe_wait(done, 20) != 0)
        return 12;
    return 0;
}

typedef struct holder_arg {
    const char *path;
    int flags;
    int mechanism;
    tu_pipe ready, done;
} holder_arg;

static int holder_child(void *p)
{
    holder_arg *a = p;
    return hold_until_signalled(a->path, a->flags, a->mechanism, &a->ready,
                                &a->done);
}

static pid_t start_holder(holder_arg *a, const char *path, int flags,
                          int mechanism)
{
    pid_t pid;
    a->path = path;
    a->flags = flags;
    a->mechanism = mechanism;
    tu_pipe_open(&a->ready);
    tu_pipe_open(&a->done);
    pid = tu_fork(holder_child, a);
    assert_true(pid > 0);
    if (tu_pipe_wait(&a->ready, 10) != 0) {
        kill(pid, SIGKILL);
        tu_wait(pid);
        fail_msg("holder did not take the lock");
    }
    return pid;
}

static void stop_holder(holder_arg *a, pid_t pid)
{
    tu_pipe_signal(&a->done);
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&a->ready);
    tu_pipe_close(&a->done);
}

static void contention_with_another_process_is_already_locked(void **state)
{
    const char *p = tu_path(state, "a.lock");
    holder_arg a;
    pid_t pid = start_holder(&a, p, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_FLOCK);
    int fd = open_rw(p);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_SH | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    stop_holder(&a, pid);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    close(fd);
}

static void shared_locks_coexist_and_exclude_exclusive(void **state)
{
    const char *p = tu_path(state, "a.lock");
    holder_arg a;
    pid_t pid = start_holder(&a, p, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_FLOCK);
    int fd1 = open_rw(p), fd2 = open_rw(p);
    tu_ok(pl_lock_fd(fd1, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_lock_fd(fd2, PL_LOCK_SH | PL_LOCK_NB));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_unlock_fd(fd2));
    /* fd1 and the other process still share it: no exclusive lock */
    assert_int_equal(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    tu_ok(pl_unlock_fd(fd1));
    assert_int_equal(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_ALREADY_LOCKED);
    stop_holder(&a, pid);
    tu_ok(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB));
    close(fd1);
    close(fd2);
}
#endif

static void unblock_flag_unlocks(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd = open_rw(p);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_fd(fd, PL_LOCK_UN));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_unlock_fd(fd));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    /* unlocking what is not locked is fine, as flock(LOCK_UN) */
    tu_ok(pl_unlock_fd(fd));
    close(fd);
}

#ifndef _WIN32 /* PL_MECH_POSIX and PL_MECH_OFD: no record locks on Windows (tests/win checks the refusal) */
static void non_blocking_alone_is_invalid_and_locks_nothing(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd = open_rw(p);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_NB), PL_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(pl_last_error_message(), "NON_BLOCKING"));
    assert_int_equal(pl_lock_fd_mechanism(fd, PL_LOCK_NB, PL_MECH_POSIX),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 0);
    close(fd);
}
#endif

static void shared_with_exclusive_is_invalid(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd = open_rw(p);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_SH | PL_LOCK_EX),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_SH | PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    close(fd);
}

static void unknown_and_empty_flags_are_invalid(void **state)
{
    const int bad[] = {0, 16, 32, 0x100, PL_LOCK_EX | 16, -1, -2, 0x7fffffff,
                       PL_LOCK_UN | PL_LOCK_EX, PL_LOCK_UN | PL_LOCK_NB,
                       PL_LOCK_UN | PL_LOCK_SH};
    const char *p = tu_path(state, "a.lock");
    int fd = open_rw(p);
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pl_lock_fd(fd, bad[i]) != PL_ERR_INVALID_ARGUMENT)
            fail_msg("flags 0x%x accepted", (unsigned)bad[i]);
        assert_true(pl_last_error_message()[0] != '\0');
    }
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    close(fd);
}

static void invalid_descriptors_are_rejected(void **state)
{
    int fd;
    (void)state;
    assert_int_equal(pl_lock_fd(-1, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_unlock_fd(-5), PL_ERR_INVALID_ARGUMENT);
    /* a descriptor number that is not open: the lock call fails */
    fd = dup(0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB),
                     PL_ERR_LOCK_FAILED);
    assert_int_equal(pl_last_errno(), EBADF);
    assert_int_equal(pl_unlock_fd(fd), PL_ERR_LOCK_FAILED);
    assert_int_equal(pl_last_errno(), EBADF);
}

static void invalid_mechanisms_are_rejected(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd = open_rw(p);
    const int bad[] = {-1, 3, 4, 100};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pl_lock_fd_mechanism(fd, PL_LOCK_EX | PL_LOCK_NB, bad[i]),
                         PL_ERR_INVALID_ARGUMENT);
        assert_int_equal(pl_unlock_fd_mechanism(fd, bad[i]), PL_ERR_INVALID_ARGUMENT);
        assert_int_equal(pl_mechanism_supported(bad[i]),
                         PL_ERR_INVALID_ARGUMENT);
    }
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    close(fd);
}

#ifndef _WIN32 /* PL_MECH_POSIX and PL_MECH_OFD: no record locks on Windows (tests/win checks the refusal) */
static void flock_and_posix_are_supported(void **state)
{
    (void)state;
    tu_ok(pl_mechanism_supported(PL_MECH_FLOCK));
    tu_ok(pl_mechanism_supported(PL_MECH_POSIX));
#ifdef F_OFD_SETLK
    /* Linux >= 3.15 has OFD locks. */
    tu_ok(pl_mechanism_supported(PL_MECH_OFD));
#endif
}
#endif

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
/* Without NON_BLOCKING the call waits in the kernel for the release. */
static void blocking_lock_waits_for_the_holder(void **state)
{
    const char *p = tu_path(state, "a.lock");
    holder_arg a;
    pid_t pid = start_holder(&a, p, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_FLOCK);
    int fd = open_rw(p);
    pid_t releaser;
    double t0;
    /* a helper releases the holder after 0.3 s while we block */
    fflush(stdout);
    releaser = fork();
    assert_true(releaser >= 0);
    if (releaser == 0) {
        usleep(300000);
        tu_pipe_signal(&a.done);
        _exit(0);
    }
    t0 = tu_now();
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    assert_true(tu_now() - t0 >= 0.2);
    assert_int_equal(tu_wait(releaser), 0);
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&a.ready);
    tu_pipe_close(&a.done);
    close(fd);
}
#endif

#ifndef _WIN32 /* PL_MECH_POSIX and PL_MECH_OFD: no record locks on Windows (tests/win checks the refusal) */
/* POSIX record locks are per process: a second descriptor in the same
   process does not contend, and closing ANY descriptor drops the lock. */
static void posix_locks_are_per_process_and_dropped_by_any_close(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd1 = open_rw(p), fd2 = open_rw(p);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX));
    tu_ok(pl_lock_fd_mechanism(fd2, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX));
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    close(fd2);
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 0);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX));
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    tu_ok(pl_unlock_fd_mechanism(fd1, PL_MECH_POSIX));
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 0);
    close(fd1);
}

static void posix_contention_with_another_process(void **state)
{
    const char *p = tu_path(state, "a.lock");
    holder_arg a;
    pid_t pid = start_holder(&a, p, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX);
    int fd = open_rw(p);
    assert_int_equal(pl_lock_fd_mechanism(fd, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_lock_fd_mechanism(fd, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_POSIX),
                     PL_ERR_ALREADY_LOCKED);
    stop_holder(&a, pid);
    tu_ok(pl_lock_fd_mechanism(fd, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_POSIX));
    close(fd);
}

/* A lock call that fails for another reason than contention is
   LOCK_FAILED (LockException), never ALREADY_LOCKED: a shared POSIX lock
   needs a readable descriptor (EBADF on a write-only one). */
static void non_contention_failure_is_lock_failed(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    assert_true(fd >= 0);
    assert_int_equal(pl_lock_fd_mechanism(fd, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_POSIX),
                     PL_ERR_LOCK_FAILED);
    assert_int_equal(pl_last_errno(), EBADF);
    assert_non_null(strstr(pl_last_error_message(), strerror(EBADF)));
    close(fd);
}

/* The kernel's deadlock detection (EDEADLK) on blocking POSIX locks is a
   lock failure as well. */
typedef struct deadlock_arg {
    const char *p1, *p2;
    tu_pipe ready;
} deadlock_arg;

static int deadlock_child(void *arg)
{
    deadlock_arg *a = arg;
    int fd2 = open(a->p2, O_RDWR | O_CLOEXEC), fd1 = open(a->p1, O_RDWR | O_CLOEXEC);
    int rc;
    if (fd1 < 0 || fd2 < 0)
        return 10;
    if (pl_lock_fd_mechanism(fd2, PL_LOCK_EX, PL_MECH_POSIX) != PL_OK)
        return 11;
    tu_pipe_signal(&a->ready);
    /* blocks on p1 (held by the parent) until the parent unlocks it */
    rc = pl_lock_fd_mechanism(fd1, PL_LOCK_EX, PL_MECH_POSIX);
    return rc == PL_OK ? 0 : 12;
}

static void posix_deadlock_is_lock_failed(void **state)
{
    deadlock_arg a;
    pid_t pid;
    int fd1, fd2, rc;
    a.p1 = tu_path(state, "one.lock");
    a.p2 = tu_path(state, "two.lock");
    fd1 = open_rw(a.p1);
    fd2 = open_rw(a.p2);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX, PL_MECH_POSIX));
    tu_pipe_open(&a.ready);
    pid = tu_fork(deadlock_child, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    if (tu_wait_blocked_lock(pid, 10) != 0) {
        kill(pid, SIGKILL);
        tu_wait(pid);
        fail_msg("the child never blocked on the parent's lock");
    }
    rc = pl_lock_fd_mechanism(fd2, PL_LOCK_EX, PL_MECH_POSIX);
    assert_int_equal(rc, PL_ERR_LOCK_FAILED);
    assert_int_equal(pl_last_errno(), EDEADLK);
    tu_ok(pl_unlock_fd_mechanism(fd1, PL_MECH_POSIX));
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&a.ready);
    close(fd1);
    close(fd2);
}
#endif

#ifdef F_OFD_SETLK
#ifndef _WIN32 /* PL_MECH_POSIX and PL_MECH_OFD: no record locks on Windows (tests/win checks the refusal) */
/* OFD locks: owned by the open file description like flock, but they are
   fcntl record locks, so they conflict with POSIX locks. */
static void ofd_locks_exclude_per_open_file_description(void **state)
{
    const char *p = tu_path(state, "a.lock");
    int fd1 = open_rw(p), fd2 = open_rw(p), fd3;
    holder_arg a;
    pid_t pid;
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD));
    assert_int_equal(pl_lock_fd_mechanism(fd2, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD),
                     PL_ERR_ALREADY_LOCKED);
    /* closing an unrelated descriptor of the file does not drop it */
    fd3 = open_rw(p);
    close(fd3);
    assert_int_equal(tu_probe_locked(p, PL_MECH_OFD), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_POSIX), 1);
    tu_ok(pl_unlock_fd_mechanism(fd1, PL_MECH_OFD));
    tu_ok(pl_lock_fd_mechanism(fd2, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_OFD));
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_SH | PL_LOCK_NB, PL_MECH_OFD));
    tu_ok(pl_unlock_fd_mechanism(fd1, PL_MECH_OFD));
    tu_ok(pl_unlock_fd_mechanism(fd2, PL_MECH_OFD));

    pid = start_holder(&a, p, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX);
    assert_int_equal(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD),
                     PL_ERR_ALREADY_LOCKED);
    stop_holder(&a, pid);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD));
    close(fd1);
    close(fd2);
}
#endif
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
#ifndef _WIN32
        cmocka_unit_test(flag_values_are_the_flock_values),
#endif
        T(exclusive_contends_across_open_file_descriptions),
#ifndef _WIN32
        T(contention_with_another_process_is_already_locked),
#endif
#ifndef _WIN32
        T(shared_locks_coexist_and_exclude_exclusive),
#endif
        T(unblock_flag_unlocks),
#ifndef _WIN32
        T(non_blocking_alone_is_invalid_and_locks_nothing),
#endif
        T(shared_with_exclusive_is_invalid),
        T(unknown_and_empty_flags_are_invalid),
        cmocka_unit_test(invalid_descriptors_are_rejected),
        T(invalid_mechanisms_are_rejected),
#ifndef _WIN32
        cmocka_unit_test(flock_and_posix_are_supported),
#endif
#ifndef _WIN32
        T(blocking_lock_waits_for_the_holder),
#endif
#ifndef _WIN32
        T(posix_locks_are_per_process_and_dropped_by_any_close),
#endif
#ifndef _WIN32
        T(posix_contention_with_another_process),
#endif
#ifndef _WIN32
        T(non_contention_failure_is_lock_failed),
#endif
#ifndef _WIN32
        T(posix_deadlock_is_lock_failed),
#endif
#ifdef F_OFD_SETLK
#ifndef _WIN32
        T(ofd_locks_exclude_per_open_file_description),
#endif
#endif
    };
#undef T
    return cmocka_run_group_tests_name("fd_lock", tests, NULL, NULL);
}
