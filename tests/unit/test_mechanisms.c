/* Lock mechanisms: flock (default, per open file description), POSIX
   fcntl record locks (per process), Linux OFD locks (per open file
   description, record-lock family), and how they relate. What is asserted
   about the interplay is what Linux does on a local filesystem. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static pl_lock *lock_with(const char *path, int mechanism, int flags)
{
    pl_lock *l = NULL;
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mechanism(l, mechanism));
    if (flags)
        tu_ok(pl_lock_set_flags(l, flags));
    return l;
}

static int try_now(pl_lock *l)
{
    return pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL);
}

/* ---- flock ---- */

static void flock_two_descriptors_in_one_process_exclude_each_other(void **state)
{
    const char *path = tu_path(state, "flock.lock");
    pl_lock *a = lock_with(path, PL_MECH_FLOCK, 0);
    pl_lock *b = NULL;
    int fd1, fd2;
    tu_ok(pl_lock_new(&b, path)); /* the default mechanism */
    tu_ok(try_now(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_now(b));
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(a));
    tu_ok(try_now(b));
    tu_ok(pl_lock_release(b));
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);

    /* The low-level calls behave the same on two raw descriptors. */
    fd1 = open(path, O_RDWR | O_CLOEXEC);
    fd2 = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd1 >= 0 && fd2 >= 0);
    tu_ok(pl_lock_fd(fd1, PL_LOCK_EX | PL_LOCK_NB));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd(fd2, PL_LOCK_SH | PL_LOCK_NB));
    tu_ok(pl_unlock_fd(fd1));
    tu_ok(pl_lock_fd(fd2, PL_LOCK_EX | PL_LOCK_NB));
    tu_ok(pl_lock_fd(fd2, PL_LOCK_UN));
    close(fd1);
    close(fd2);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void flock_shared_locks_coexist_and_exclude_exclusive(void **state)
{
    const char *path = tu_path(state, "shared.lock");
    pl_lock *a = lock_with(path, PL_MECH_FLOCK, PL_LOCK_SH | PL_LOCK_NB);
    pl_lock *b = lock_with(path, PL_MECH_FLOCK, PL_LOCK_SH | PL_LOCK_NB);
    pl_lock *c = lock_with(path, PL_MECH_FLOCK, 0);
    tu_ok(try_now(a));
    tu_ok(try_now(b));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_now(c));
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_now(c));
    tu_ok(pl_lock_release(b));
    tu_ok(try_now(c));
    pl_lock_free(a);
    pl_lock_free(b);
    pl_lock_free(c);
}

/* ---- POSIX record locks ---- */

static void posix_two_handles_in_one_process_do_not_exclude(void **state)
{
    const char *path = tu_path(state, "posix.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, 0);
    pl_lock *b = lock_with(path, PL_MECH_POSIX, 0);
    tu_ok(try_now(a));
    /* Record locks belong to the process: the second handle gets it too. */
    tu_ok(try_now(b));
    assert_int_equal(pl_lock_is_held(a), 1);
    assert_int_equal(pl_lock_is_held(b), 1);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void posix_lock_excludes_another_process(void **state)
{
    const char *path = tu_path(state, "posix2.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, 0);
    tu_ok(try_now(a));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    tu_ok(pl_lock_release(a));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
    pl_lock_free(a);
}

static void posix_lock_is_dropped_when_process_closes_any_descriptor(void **state)
{
    /* The documented hazard of record locks (why flock is the default):
       closing an unrelated descriptor of the same file, or releasing a
       second handle, drops the process's lock. Observed, not wished. */
    const char *path = tu_path(state, "posix3.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, 0);
    pl_lock *b = lock_with(path, PL_MECH_POSIX, 0);
    int fd;
    tu_ok(try_now(a));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
    assert_int_equal(pl_lock_is_held(a), 1); /* the handle cannot know */
    tu_ok(pl_lock_release(a));

    tu_ok(try_now(a));
    tu_ok(try_now(b));
    tu_ok(pl_lock_release(b));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void posix_and_flock_locks_are_independent_on_linux(void **state)
{
    const char *path = tu_path(state, "mixed.lock");
    pl_lock *p = lock_with(path, PL_MECH_POSIX, 0);
    pl_lock *f = lock_with(path, PL_MECH_FLOCK, 0);
    int flock_seen, posix_seen;
    /* A POSIX lock held: a flock locker elsewhere is not excluded. */
    tu_ok(try_now(p));
    flock_seen = tu_probe_locked(path, PL_MECH_FLOCK);
    print_message("      POSIX held -> flock probe sees %s\n",
                  flock_seen ? "locked" : "free");
    assert_int_equal(flock_seen, 0);
    /* And in one process the two coexist on the same file. */
    tu_ok(try_now(f));
    tu_ok(pl_lock_release(p));
    /* A flock lock held: a POSIX locker elsewhere is not excluded. */
    posix_seen = tu_probe_locked(path, PL_MECH_POSIX);
    print_message("      flock held -> POSIX probe sees %s\n",
                  posix_seen ? "locked" : "free");
    assert_int_equal(posix_seen, 0);
    pl_lock_free(p);
    pl_lock_free(f);
}

static void posix_shared_lock_on_write_only_append_descriptor_is_reopened(void **state)
{
    /* Mode 'a' opens write-only; F_RDLCK needs read access (EBADF), so the
       core reopens read-write once. */
    const char *path = tu_path(state, "append.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, PL_LOCK_SH | PL_LOCK_NB);
    int fd = -1, fl;
    pid_t pid;
    tu_ok(pl_lock_set_mode(a, "a"));
    tu_ok(pl_lock_acquire_with(a, 0, PL_INHERIT, 0, &fd));
    fl = fcntl(fd, F_GETFL);
    assert_int_equal(fl & O_ACCMODE, O_RDWR);
    assert_true(fl & O_APPEND); /* still the append mode asked for */
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* Shared: another process can share it but not take it exclusively. */
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    pid = fork();
    if (pid == 0) {
        pl_lock *c = NULL;
        int rc;
        if (pl_lock_new(&c, path) != PL_OK ||
            pl_lock_set_mechanism(c, PL_MECH_POSIX) != PL_OK ||
            pl_lock_set_flags(c, PL_LOCK_SH | PL_LOCK_NB) != PL_OK)
            _exit(1);
        rc = pl_lock_acquire_with(c, 0, PL_INHERIT, 0, NULL);
        _exit(rc == PL_OK ? 0 : 2);
    }
    assert_int_equal(tu_wait(pid), 0);
    tu_ok(pl_lock_release(a));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
    pl_lock_free(a);
}

static void posix_exclusive_lock_on_read_only_descriptor_is_reopened(void **state)
{
    const char *path = tu_path(state, "readonly.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, 0);
    int fd = -1;
    assert_int_equal(tu_write_file(path, "data"), 0);
    tu_ok(pl_lock_set_mode(a, "r"));
    tu_ok(pl_lock_acquire_with(a, 0, PL_INHERIT, 0, &fd));
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    pl_lock_free(a);
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
}

static void posix_waiter_in_other_process_gets_lock_after_release(void **state)
{
    const char *path = tu_path(state, "posixwait.lock");
    pl_lock *a = lock_with(path, PL_MECH_POSIX, 0);
    tu_pipe ready;
    pid_t pid;
    tu_pipe_open(&ready);
    tu_ok(try_now(a));
    pid = fork();
    if (pid == 0) {
        pl_lock *c = NULL;
        int rc;
        if (pl_lock_new(&c, path) != PL_OK ||
            pl_lock_set_mechanism(c, PL_MECH_POSIX) != PL_OK)
            _exit(1);
        if (pl_lock_acquire_with(c, 0, PL_INHERIT, 0, NULL) != PL_ERR_ALREADY_LOCKED)
            _exit(2);
        tu_pipe_signal(&ready);
        rc = pl_lock_acquire_with(c, 10, 0.05, 0, NULL);
        _exit(rc == PL_OK ? 0 : 3);
    }
    assert_int_equal(tu_pipe_wait(&ready, 10), 0);
    usleep(100000);
    tu_ok(pl_lock_release(a));
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&ready);
    pl_lock_free(a);
}

/* ---- OFD ---- */

static void ofd_locks_exclude_across_descriptors_and_processes(void **state)
{
    const char *path = tu_path(state, "ofd.lock");
    pl_lock *a = lock_with(path, PL_MECH_OFD, 0);
    pl_lock *b = lock_with(path, PL_MECH_OFD, 0);
    int fd1, fd2;
    if (pl_mechanism_supported(PL_MECH_OFD) != PL_OK) {
        /* No OFD locks here: the handle says so clearly, every time. */
        print_message("      OFD locks not supported on this kernel\n");
        tu_expect(PL_ERR_UNSUPPORTED, try_now(a));
        assert_int_equal(pl_lock_held_fd(a), -1);
        pl_lock_free(a);
        pl_lock_free(b);
        return;
    }
    tu_ok(try_now(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_now(b));
    assert_int_equal(tu_probe_locked(path, PL_MECH_OFD), 1);
    /* OFD and classic POSIX locks are one family: they conflict. */
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    /* Unlike POSIX locks, closing another descriptor does not drop it. */
    fd1 = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd1 >= 0);
    close(fd1);
    assert_int_equal(tu_probe_locked(path, PL_MECH_OFD), 1);
    tu_ok(pl_lock_release(a));
    tu_ok(try_now(b));
    tu_ok(pl_lock_release(b));

    /* The low-level calls, per call. */
    fd1 = open(path, O_RDWR | O_CLOEXEC);
    fd2 = open(path, O_RDWR | O_CLOEXEC);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd_mechanism(fd2, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD));
    tu_ok(pl_unlock_fd_mechanism(fd1, PL_MECH_OFD));
    tu_ok(pl_lock_fd_mechanism(fd2, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_OFD));
    close(fd1);
    close(fd2);
    pl_lock_free(a);
    pl_lock_free(b);
}

static void low_level_posix_calls_do_not_exclude_within_a_process(void **state)
{
    const char *path = tu_path(state, "rawposix.lock");
    int fd1, fd2;
    assert_int_equal(tu_write_file(path, ""), 0);
    fd1 = open(path, O_RDWR | O_CLOEXEC);
    fd2 = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd1 >= 0 && fd2 >= 0);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX));
    tu_ok(pl_lock_fd_mechanism(fd2, PL_LOCK_EX | PL_LOCK_NB, PL_MECH_POSIX));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 1);
    tu_ok(pl_lock_fd_mechanism(fd1, PL_LOCK_UN, PL_MECH_POSIX));
    assert_int_equal(tu_probe_locked(path, PL_MECH_POSIX), 0);
    close(fd1);
    close(fd2);
}

/* ---- selecting a mechanism ---- */

static void invalid_mechanism_is_invalid_argument(void **state)
{
    const char *path = tu_path(state, "badmech.lock");
    pl_lock *a = NULL, *b = NULL;
    static const int bad[] = {-1, 3, 99, -100};
    size_t i;
    int fd;
    tu_ok(pl_lock_new(&a, path));
    tu_ok(pl_lock_new(&b, path));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_expect(PL_ERR_INVALID_ARGUMENT, pl_lock_set_mechanism(a, bad[i]));
        assert_non_null(strstr(pl_last_error_message(), "mechanism"));
        tu_expect(PL_ERR_INVALID_ARGUMENT, pl_mechanism_supported(bad[i]));
    }
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_lock_set_mechanism(NULL, PL_MECH_FLOCK));
    /* The handle kept flock: two handles in one process still exclude. */
    tu_ok(try_now(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_now(b));
    tu_ok(pl_lock_release(a));

    fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_lock_fd_mechanism(fd, PL_LOCK_EX | PL_LOCK_NB, 3));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_unlock_fd_mechanism(fd, -2));
    close(fd);
    pl_lock_free(a);
    pl_lock_free(b);
}

/* A child that keeps the inherited descriptor open (no exec) until told. */
static int keep_inherited_fd(void *arg)
{
    tu_pipe *p = arg;
    return tu_pipe_wait(p, 30) == 0 ? 0 : 1;
}

/* Release unlocks with the mechanism the lock was TAKEN with: changing the
   setting while held must not turn the unlock into a no-op. The inherited
   descriptor in a child keeps the open file description alive, so only a
   real flock unlock frees the lock (closing would not). */
static void release_uses_the_mechanism_the_lock_was_taken_with(void **state)
{
    const char *path = tu_path(state, "switch.lock");
    pl_lock *l = NULL;
    pl_semaphore *s = NULL;
    char slot_path[512];
    tu_pipe go;
    pid_t child;

    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(l, NULL)); /* flock */
    tu_ok(pl_semaphore_new(&s, 1, "switch"));
    tu_ok(pl_semaphore_set_directory(s, ((tu_dir *)*state)->path));
    tu_ok(pl_semaphore_acquire(s, NULL));
    tu_ok(pl_semaphore_slot_path(s, 0, slot_path, sizeof slot_path));
    tu_pipe_open(&go);
    child = tu_fork(keep_inherited_fd, &go);

    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    tu_ok(pl_semaphore_set_mechanism(s, PL_MECH_POSIX));
    tu_ok(pl_lock_release(l));
    tu_ok(pl_semaphore_release(s));
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
    assert_int_equal(tu_probe_locked(slot_path, PL_MECH_FLOCK), 0);

    tu_pipe_signal(&go);
    assert_int_equal(tu_wait(child), 0);
    tu_pipe_close(&go);
    pl_lock_free(l);
    pl_semaphore_free(s);
}

static void mechanism_twins_and_support_probe(void **state)
{
    (void)state;
    assert_int_equal(pl_mechanism_flock(), PL_MECH_FLOCK);
    assert_int_equal(pl_mechanism_posix(), PL_MECH_POSIX);
    assert_int_equal(pl_mechanism_ofd(), PL_MECH_OFD);
    tu_ok(pl_mechanism_supported(PL_MECH_FLOCK));
    tu_ok(pl_mechanism_supported(PL_MECH_POSIX));
    {
        int rc = pl_mechanism_supported(PL_MECH_OFD);
        assert_true(rc == PL_OK || rc == PL_ERR_UNSUPPORTED);
#ifdef F_OFD_SETLK
        /* The headers know OFD locks and every kernel since 3.15 has them. */
        print_message("      OFD supported: %s\n", rc == PL_OK ? "yes" : "no");
#endif
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(flock_two_descriptors_in_one_process_exclude_each_other),
        T(flock_shared_locks_coexist_and_exclude_exclusive),
        T(posix_two_handles_in_one_process_do_not_exclude),
        T(posix_lock_excludes_another_process),
        T(posix_lock_is_dropped_when_process_closes_any_descriptor),
        T(posix_and_flock_locks_are_independent_on_linux),
        T(posix_shared_lock_on_write_only_append_descriptor_is_reopened),
        T(posix_exclusive_lock_on_read_only_descriptor_is_reopened),
        T(posix_waiter_in_other_process_gets_lock_after_release),
        T(ofd_locks_exclude_across_descriptors_and_processes),
        T(low_level_posix_calls_do_not_exclude_within_a_process),
        T(invalid_mechanism_is_invalid_argument),
        T(mechanism_twins_and_support_probe),
        T(release_uses_the_mechanism_the_lock_was_taken_with),
    };
    return cmocka_run_group_tests_name("mechanisms", tests, NULL, NULL);
}
