/* PidFileLock: the OS lock sits on the sidecar "<path>.lock", the PID is
   written to <path> as ASCII decimal, read_pid, the holder's PID reported
   on contention, every lock failure reported as ALREADY_LOCKED, release
   (and normal exit) removes both files, default path ".pid". */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *sidecar_of(const char *path)
{
    static char buf[4][600];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s.lock", path);
    return b;
}

static int same_file_at_path(int fd, const char *path)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || lstat(path, &b) != 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ---- a PID-file holder in another process ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers PID files across processes */
typedef struct holder {
    const char *path;
    tu_pipe ready, done;
    pid_t pid;
} holder;

static int holder_main(void *arg)
{
    holder *h = arg;
    pl_lock *l = NULL;
    if (pl_pidfile_lock_new(&l, h->path) != PL_OK ||
        pl_lock_acquire(l, NULL) != PL_OK)
        return 10;
    tu_pipe_signal(&h->ready);
    if (tu_pipe_wait(&h->done, 20) != 0)
        return 11;
    if (pl_lock_release(l) != PL_OK)
        return 12;
    pl_lock_free(l);
    return 0;
}

static void holder_start(holder *h, const char *path)
{
    memset(h, 0, sizeof *h);
    h->path = path;
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

static void defaults_fail_when_locked(void **state)
{
    pl_lock *l = NULL;
    double d;
    int i;
    const char *p = tu_path(state, "app.pid");
    tu_ok(pl_pidfile_lock_new(&l, p));
    assert_string_equal(pl_lock_path(l), p);
    tu_ok(pl_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 1);
    tu_ok(pl_lock_get_timeout(l, &d));
    assert_true(d == 5.0);
    tu_ok(pl_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_EX | PL_LOCK_NB);
    assert_int_equal(pl_lock_holder_pid(l), 0);
    assert_int_equal(pl_lock_set_mode(l, "a"), PL_ERR_INVALID_ARGUMENT);
    pl_lock_free(l);
}

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers PID files across processes */
static int default_path_child(void *arg)
{
    const char *dir = arg;
    pl_lock *l = NULL;
    char pidf[600], side[600], buf[32], want[32];
    if (chdir(dir) != 0)
        return 10;
    if (pl_pidfile_lock_new(&l, NULL) != PL_OK)
        return 11;
    if (strcmp(pl_lock_path(l), ".pid") != 0)
        return 12;
    if (pl_lock_acquire(l, NULL) != PL_OK)
        return 13;
    snprintf(pidf, sizeof pidf, "%s/.pid", dir);
    snprintf(side, sizeof side, "%s/.pid.lock", dir);
    snprintf(want, sizeof want, "%ld", (long)getpid());
    if (tu_read_file(pidf, buf, sizeof buf) < 0 || strcmp(buf, want) != 0)
        return 14;
    if (tu_probe_locked(side, PL_MECH_FLOCK) != 1)
        return 15;
    if (pl_lock_release(l) != PL_OK)
        return 16;
    if (tu_exists(pidf) || tu_exists(side))
        return 17;
    pl_lock_free(l);
    return 0;
}

static void default_path_is_dot_pid(void **state)
{
    tu_dir *d = *state;
    assert_int_equal(tu_wait(tu_fork(default_path_child, d->path)), 0);
}
#endif

/* ---- the two files ---- */

static void the_lock_sits_on_the_sidecar(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    const char *side = sidecar_of(p);
    int fd = -1;
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(same_file_at_path(fd, side));
    assert_int_equal(tu_probe_locked(side, PL_MECH_FLOCK), 1);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0); /* PID file: no */
    pl_lock_free(l);
}

static void pid_is_written_as_ascii_decimal_replacing_old_content(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    char buf[64], want[32];
    assert_int_equal(tu_write_file(p, "123456789012345 old garbage"), 0);
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    snprintf(want, sizeof want, "%ld", (long)getpid());
    assert_true(tu_read_file(p, buf, sizeof buf) > 0);
    assert_string_equal(buf, want);
    pl_lock_free(l);
}

static void release_removes_both_files(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    const char *side = sidecar_of(p);
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_true(tu_exists(p));
    assert_true(tu_exists(side));
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    assert_false(tu_exists(side));
    tu_ok(pl_lock_release(l)); /* no-op */
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l); /* free while held */
    assert_false(tu_exists(p));
    assert_false(tu_exists(side));
}

/* ---- read_pid ---- */

static void read_pid_returns_the_pid_or_zero(void **state)
{
    pl_lock *l = NULL, *plain = NULL;
    const char *p = tu_path(state, "app.pid");
    long pid = -1;
    tu_ok(pl_pidfile_lock_new(&l, p));

    tu_ok(pl_lock_read_pid(l, &pid)); /* missing */
    assert_int_equal(pid, 0);

    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)getpid());
    tu_ok(pl_lock_release(l));
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 0);

    assert_int_equal(tu_write_file(p, ""), 0);
    pid = -1;
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 0);

    assert_int_equal(tu_write_file(p, "not a number"), 0);
    pid = -1;
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 0);

    assert_int_equal(tu_write_file(p, "12abc"), 0);
    pid = -1;
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 0);

    assert_int_equal(tu_write_file(p, "-5"), 0);
    pid = -1;
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 0);

    /* Only plain digits between whitespace, as the reference: no sign, no
       base prefix, no separators, no digit runs beyond a long. */
    {
        static const char *junk[] = {"+7", " +7", "0x10", "1_000", "0",
                                     "7 7", "99999999999999999999999"};
        size_t i;
        for (i = 0; i < sizeof junk / sizeof *junk; i++) {
            assert_int_equal(tu_write_file(p, junk[i]), 0);
            pid = -1;
            tu_ok(pl_lock_read_pid(l, &pid));
            if (pid != 0)
                fail_msg("'%s' read as PID %ld", junk[i], pid);
        }
    }
    assert_int_equal(tu_write_file(p, " \t42\n"), 0);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 42);

    assert_int_equal(tu_write_file(p, "4242\n"), 0);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, 4242);

    /* another handle on the same path reads the same file */
    tu_ok(pl_lock_new(&plain, p));
    assert_int_equal(pl_lock_read_pid(plain, &pid), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_read_pid(l, NULL), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_read_pid(NULL, &pid), PL_ERR_INVALID_ARGUMENT);
    pl_lock_free(plain);
    pl_lock_free(l);
}

/* ---- contention ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers PID files across processes */
static void contention_reports_the_holders_pid(void **state)
{
    holder h;
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    long pid = 0;
    double t0;
    int n;
    holder_start(&h, p);
    tu_ok(pl_pidfile_lock_new(&l, p));
    n = tu_count_fds();
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_ALREADY_LOCKED);
    assert_true(tu_now() - t0 < 1.0); /* fail_when_locked by default */
    assert_int_equal(pl_lock_holder_pid(l), (long)h.pid);
    /* reporting the holder keeps the failure's own last error */
    assert_int_equal(pl_last_error_code(), PL_ERR_ALREADY_LOCKED);
    assert_non_null(strstr(pl_last_error_message(), "app.pid.lock"));
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)h.pid);
    assert_int_equal(tu_count_fds(), n);
    /* the failed attempt left the holder's files alone */
    assert_true(tu_exists(p));
    assert_true(tu_exists(sidecar_of(p)));
    holder_finish(&h);
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_holder_pid(l), 0);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)getpid());
    pl_lock_free(l);
}

static void timeout_is_already_locked(void **state)
{
    holder h;
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    double t0, dt;
    holder_start(&h, p);
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_set_fail_when_locked(l, 0));
    tu_ok(pl_lock_set_timeout(l, 0.2));
    t0 = tu_now();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_ALREADY_LOCKED);
    dt = tu_now() - t0;
    if (dt < 0.15 || dt > 3.0)
        fail_msg("timeout 0.2 s returned after %.3f s", dt);
    assert_int_equal(pl_lock_holder_pid(l), (long)h.pid);
    holder_finish(&h);
    pl_lock_free(l);
}

/* A lock call failing for another reason than contention (here the
   kernel's EDEADLK on blocking POSIX locks) is also ALREADY_LOCKED for a
   PID-file lock, as the reference turns every LockException into
   AlreadyLocked. */
typedef struct deadlock_arg {
    const char *a, *b;
    tu_pipe ready;
} deadlock_arg;

static pl_lock *blocking_posix_pidfile(const char *path)
{
    pl_lock *l = NULL;
    if (pl_pidfile_lock_new(&l, path) != PL_OK ||
        pl_lock_set_mechanism(l, PL_MECH_POSIX) != PL_OK ||
        pl_lock_set_flags(l, PL_LOCK_EX) != PL_OK) {
        pl_lock_free(l);
        return NULL;
    }
    return l;
}

static int deadlock_child(void *arg)
{
    deadlock_arg *d = arg;
    pl_lock *la = blocking_posix_pidfile(d->a), *lb = blocking_posix_pidfile(d->b);
    if (!la || !lb)
        return 10;
    if (pl_lock_acquire(lb, NULL) != PL_OK)
        return 11;
    tu_pipe_signal(&d->ready);
    if (pl_lock_acquire(la, NULL) != PL_OK) /* blocks: the parent holds a */
        return 12;
    pl_lock_free(la);
    pl_lock_free(lb);
    return 0;
}

static void every_lock_failure_is_already_locked(void **state)
{
    deadlock_arg d;
    pl_lock *la, *lb;
    pid_t pid;
    d.a = tu_path(state, "a.pid");
    d.b = tu_path(state, "b.pid");
    la = blocking_posix_pidfile(d.a);
    lb = blocking_posix_pidfile(d.b);
    assert_non_null(la);
    assert_non_null(lb);
    tu_ok(pl_lock_acquire(la, NULL));
    tu_pipe_open(&d.ready);
    pid = tu_fork(deadlock_child, &d);
    assert_int_equal(tu_pipe_wait(&d.ready, 10), 0);
    /* Blocking flags no longer wait in the kernel (F_SETLKW), so the
       kernel's deadlock detection (EDEADLK) does not apply: a bounded
       wait is what ends a would-be deadlock. */
    tu_ok(pl_lock_set_flags(lb, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(pl_lock_acquire_with(lb, 0.2, 0.05, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    assert_int_equal(pl_last_error_code(), PL_ERR_ALREADY_LOCKED);
    assert_non_null(strstr(pl_last_error_message(), "b.pid.lock"));
    assert_int_equal(pl_lock_holder_pid(lb), (long)pid);
    tu_ok(pl_lock_release(la));
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&d.ready);
    pl_lock_free(la);
    pl_lock_free(lb);
}
#endif

/* When the PID cannot be written, the sidecar lock is given up again and
   the error is reported (not as contention). */
static void pid_write_failure_releases_the_sidecar(void **state)
{
    pl_lock *l = NULL, *other = NULL;
    const char *p = tu_path(state, "app.pid");
    const char *side = sidecar_of(p);
    int n;
    assert_int_equal(mkdir(p, 0755), 0); /* the PID path is a directory */
    tu_ok(pl_pidfile_lock_new(&l, p));
    n = tu_count_fds();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), EISDIR);
    assert_non_null(strstr(pl_last_error_message(), p));
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_count_fds(), n);
    assert_int_not_equal(tu_probe_locked(side, PL_MECH_FLOCK), 1);
    /* like every temporary lock file, the sidecar is gone when not held */
    assert_false(tu_exists(side));
    assert_true(tu_exists(p)); /* the directory is not ours to remove */
    /* the sidecar is free: a temporary lock on it gets it at once */
    tu_ok(pl_temporary_lock_new(&other, side));
    tu_ok(pl_lock_acquire(other, NULL));
    pl_lock_free(other);
    pl_lock_free(l);
}

/* ---- exit ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers PID files across processes */
static int exit_while_holding(void *arg)
{
    pl_lock *l = NULL;
    if (pl_pidfile_lock_new(&l, arg) != PL_OK ||
        pl_lock_acquire(l, NULL) != PL_OK)
        _exit(10);
    exit(0);
}

static void lock_held_at_normal_exit_has_both_files_removed(void **state)
{
    const char *p = tu_path(state, "app.pid");
    assert_int_equal(tu_wait(tu_fork(exit_while_holding, (void *)p)), 0);
    assert_false(tu_exists(p));
    assert_false(tu_exists(sidecar_of(p)));
}
#endif


/* ---- a lock file removed or replaced under a held lock ---- */

#ifndef _WIN32 /* removes a file another handle holds open: Windows keeps the name until that handle closes (no POSIX delete under wine) */
/* Someone removed the sidecar while we held the lock; a second holder
   then took the lock (a new sidecar) and wrote its PID file. Our release
   must remove neither its PID file nor its sidecar. */
static void release_never_removes_a_later_holders_files(void **state)
{
    const char *path = tu_path(state, "svc.pid");
    const char *sidecar = tu_path(state, "svc.pid.lock");
    pl_lock *ours = NULL, *later = NULL;
    long pid = 0;
    tu_ok(pl_pidfile_lock_new(&ours, path));
    tu_ok(pl_lock_acquire(ours, NULL));
    assert_int_equal(unlink(sidecar), 0);
    assert_int_equal(unlink(path), 0);
    tu_ok(pl_pidfile_lock_new(&later, path));
    tu_ok(pl_lock_acquire(later, NULL));
    tu_ok(pl_lock_release(ours));
    assert_true(tu_exists(path));
    assert_true(tu_exists(sidecar));
    tu_ok(pl_lock_read_pid(later, &pid));
    assert_int_equal(pid, (long)getpid());
    assert_int_equal(tu_probe_locked(sidecar, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(later));
    assert_false(tu_exists(path));
    assert_false(tu_exists(sidecar));
    pl_lock_free(ours);
    pl_lock_free(later);
}
#endif

/* Only the PID file replaced (the sidecar still ours): the new file is
   not the one we wrote, so it stays. */
static void release_keeps_a_pid_file_it_did_not_write(void **state)
{
    const char *path = tu_path(state, "other.pid");
    pl_lock *l = NULL;
    char buf[32];
    tu_ok(pl_pidfile_lock_new(&l, path));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(tu_write_file(path, "4242"), 0);
    tu_ok(pl_lock_release(l));
    assert_true(tu_read_file(path, buf, sizeof buf) > 0);
    assert_string_equal(buf, "4242");
    assert_false(tu_exists(tu_path(state, "other.pid.lock")));
    pl_lock_free(l);
}

#ifndef _WIN32 /* removes a file another handle holds open: Windows keeps the name until that handle closes (no POSIX delete under wine) */
/* Re-acquiring a held temporary or PID-file lock whose file was unlinked
   or replaced: LOCK_FAILED naming the path, the held descriptor kept (the
   reference raises LockException and leaves the filehandle untouched). */
static void reacquiring_a_compromised_lock_fails_and_keeps_the_descriptor(
    void **state)
{
    int kind, how;
    for (kind = 0; kind < 2; kind++) {
        for (how = 0; how < 2; how++) {
            const char *path = tu_path(state, kind ? "c.pid" : "c.lock");
            const char *file = kind ? tu_path(state, "c.pid.lock") : path;
            pl_lock *l = NULL;
            int fd = -1, fd2 = -1;
            tu_ok(kind ? pl_pidfile_lock_new(&l, path)
                       : pl_temporary_lock_new(&l, path));
            tu_ok(pl_lock_acquire(l, &fd));
            tu_ok(pl_lock_acquire(l, &fd2)); /* intact: the same descriptor */
            assert_int_equal(fd2, fd);
            assert_int_equal(unlink(file), 0);
            if (how == 1)
                assert_int_equal(tu_write_file(file, ""), 0);
            tu_expect(PL_ERR_LOCK_FAILED, pl_lock_acquire(l, &fd2));
            assert_non_null(strstr(pl_last_error_message(), file));
            assert_non_null(strstr(pl_last_error_message(), "compromised"));
            assert_int_equal(pl_lock_is_held(l), 1);
            assert_int_equal(pl_lock_held_fd(l), fd);
            assert_true(fcntl(fd, F_GETFD) >= 0);
            tu_ok(pl_lock_release(l));
            /* The replacement is someone else's: left alone. */
            assert_int_equal(tu_exists(file), how == 1);
            unlink(file);
            pl_lock_free(l);
        }
    }
}
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(defaults_fail_when_locked),
#ifndef _WIN32
        T(default_path_is_dot_pid),
#endif
        T(the_lock_sits_on_the_sidecar),
        T(pid_is_written_as_ascii_decimal_replacing_old_content),
        T(release_removes_both_files),
        T(read_pid_returns_the_pid_or_zero),
#ifndef _WIN32
        T(contention_reports_the_holders_pid),
#endif
#ifndef _WIN32
        T(timeout_is_already_locked),
#endif
#ifndef _WIN32
        T(every_lock_failure_is_already_locked),
#endif
        T(pid_write_failure_releases_the_sidecar),
#ifndef _WIN32
        T(lock_held_at_normal_exit_has_both_files_removed),
#endif
#ifndef _WIN32
        T(release_never_removes_a_later_holders_files),
#endif
        T(release_keeps_a_pid_file_it_did_not_write),
#ifndef _WIN32
        T(reacquiring_a_compromised_lock_fails_and_keeps_the_descriptor),
#endif
    };
#undef T
    return cmocka_run_group_tests_name("pidfile_lock", tests, NULL, NULL);
}
