/* The safety points the reference lacks: close-on-exec descriptors,
   O_NOFOLLOW for the files the library creates in shared directories,
   fork safety (a child never unlocks or deletes its parent's lock), and
   the permission bits of created files. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- close-on-exec ---- */


/* Hold `l`, run `sleep` through exec, then drop this process's descriptor
   without unlocking (as a crash would): the lock must be free at once,
   i.e. the exec'd child kept no copy of it. */
static void exec_child_does_not_keep(void **state, pl_lock *l,
                                     const char *lockfile)
{
    tu_dir *d = *state;
    pid_t sleeper;
    int fd = -1;
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(tu_probe_locked(lockfile, PL_MECH_FLOCK), 1);
    sleeper = tu_spawn_sleeper();
    assert_int_equal(tu_fds_into(sleeper, d->path), 0);
    assert_int_equal(close(fd), 0); /* behind the handle's back */
    assert_int_equal(kill(sleeper, 0), 0); /* still running */
    assert_int_equal(tu_probe_locked(lockfile, PL_MECH_FLOCK), 0);
    tu_stop_sleeper(sleeper);
    (void)pl_lock_release(l); /* swallows the EBADF */
    pl_lock_free(l);
}

static void exec_child_does_not_keep_a_lock(void **state)
{
    pl_lock *l = NULL, *w = NULL;
    const char *p = tu_path(state, "a.lock");
    /* make the library create its waiting machinery first */
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_new(&w, p));
    tu_ok(pl_lock_acquire(w, NULL));
    assert_int_equal(pl_lock_acquire_with(l, 0.05, 0.01, 0, NULL),
                     PL_ERR_ALREADY_LOCKED);
    pl_lock_free(w);
    exec_child_does_not_keep(state, l, p);
}

static void exec_child_does_not_keep_a_temporary_lock(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "t.lock");
    tu_ok(pl_temporary_lock_new(&l, p));
    exec_child_does_not_keep(state, l, p);
}

static void exec_child_does_not_keep_a_pidfile_lock(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "app.pid");
    tu_ok(pl_pidfile_lock_new(&l, p));
    exec_child_does_not_keep(state, l, tu_path(state, "app.pid.lock"));
}

/* ---- O_NOFOLLOW ---- */

static void plant(const char *victim, const char *link)
{
    assert_int_equal(tu_write_file(victim, "precious"), 0);
    assert_int_equal(symlink(victim, link), 0);
}

static void victim_untouched(const char *victim)
{
    char buf[32];
    struct stat st;
    assert_int_equal(tu_read_file(victim, buf, sizeof buf), 8);
    assert_string_equal(buf, "precious");
    assert_int_equal(stat(victim, &st), 0);
    assert_int_equal(st.st_size, 8);
    assert_int_equal(tu_probe_locked(victim, PL_MECH_FLOCK), 0);
}

static void symlink_at_a_temporary_lock_path_is_refused(void **state)
{
    pl_lock *l = NULL;
    const char *victim = tu_path(state, "victim");
    const char *p = tu_path(state, "t.lock");
    int n;
    plant(victim, p);
    tu_ok(pl_temporary_lock_new(&l, p));
    n = tu_count_fds();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ELOOP);
    assert_non_null(strstr(pl_last_error_message(), p));
    assert_non_null(strstr(pl_last_error_message(), "symbolic link"));
    assert_int_equal(tu_count_fds(), n);
    assert_int_equal(pl_lock_is_held(l), 0);
    victim_untouched(victim);
    pl_lock_free(l);
    victim_untouched(victim);
}

static void dangling_symlink_at_a_temporary_lock_path_creates_nothing(
    void **state)
{
    pl_lock *l = NULL;
    const char *victim = tu_path(state, "would-be-created");
    const char *p = tu_path(state, "t.lock");
    assert_int_equal(symlink(victim, p), 0);
    tu_ok(pl_temporary_lock_new(&l, p));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ELOOP);
    assert_false(tu_exists(victim));
    pl_lock_free(l);
}

static void symlink_at_a_pid_file_path_is_refused(void **state)
{
    pl_lock *l = NULL;
    const char *victim = tu_path(state, "victim");
    const char *p = tu_path(state, "app.pid");
    const char *side = tu_path(state, "app.pid.lock");
    int n;
    plant(victim, p);
    tu_ok(pl_pidfile_lock_new(&l, p));
    n = tu_count_fds();
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ELOOP);
    assert_non_null(strstr(pl_last_error_message(), p));
    assert_int_equal(tu_count_fds(), n);
    assert_int_equal(pl_lock_is_held(l), 0);
    victim_untouched(victim);
    /* the sidecar lock was given up again */
    assert_int_not_equal(tu_probe_locked(side, PL_MECH_FLOCK), 1);
    pl_lock_free(l);
    victim_untouched(victim);
}

static void symlink_at_a_sidecar_path_is_refused(void **state)
{
    pl_lock *l = NULL;
    const char *victim = tu_path(state, "victim");
    const char *p = tu_path(state, "app.pid");
    const char *side = tu_path(state, "app.pid.lock");
    plant(victim, side);
    tu_ok(pl_pidfile_lock_new(&l, p));
    assert_int_equal(pl_lock_acquire(l, NULL), PL_ERR_IO);
    assert_int_equal(pl_last_errno(), ELOOP);
    assert_non_null(strstr(pl_last_error_message(), side));
    assert_non_null(strstr(pl_last_error_message(), "symbolic link"));
    assert_false(tu_exists(p)); /* no PID written anywhere */
    victim_untouched(victim);
    pl_lock_free(l);
    victim_untouched(victim);
}

/* A plain Lock follows symlinks, as the reference's open() does: it is the
   caller's own file, not one the library creates. */
static void plain_lock_follows_a_symlink_to_its_target(void **state)
{
    pl_lock *l = NULL;
    const char *target = tu_path(state, "target");
    const char *p = tu_path(state, "link.lock");
    char buf[32];
    plant(target, p);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_probe_locked(target, PL_MECH_FLOCK), 1);
    assert_int_equal(tu_read_file(target, buf, sizeof buf), 8); /* 'a' */
    pl_lock_free(l);
}

/* ---- fork safety ---- */

typedef struct fork_arg {
    pl_lock *l;
    int use_free; /* free instead of release */
} fork_arg;

static int child_releases(void *arg)
{
    fork_arg *a = arg;
    if (a->use_free) {
        pl_lock_free(a->l);
        return 0;
    }
    if (pl_lock_release(a->l) != PL_OK)
        return 10;
    if (pl_lock_is_held(a->l))
        return 11;
    return 0;
}

static void check_child_leaves_lock(void **state, int mechanism,
                                    int use_free)
{
    pl_lock *l = NULL;
    fork_arg a;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mechanism(l, mechanism));
    tu_ok(pl_lock_acquire(l, NULL));
    a.l = l;
    a.use_free = use_free;
    assert_int_equal(tu_wait(tu_fork(child_releases, &a)), 0);
    /* a third process still finds it locked */
    assert_int_equal(tu_probe_locked(p, mechanism), 1);
    assert_int_equal(pl_lock_is_held(l), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, mechanism), 0);
    pl_lock_free(l);
}

static void forked_child_release_keeps_the_parents_flock(void **state)
{
    check_child_leaves_lock(state, PL_MECH_FLOCK, 0);
}

static void forked_child_free_keeps_the_parents_flock(void **state)
{
    check_child_leaves_lock(state, PL_MECH_FLOCK, 1);
}

static void forked_child_release_keeps_the_parents_ofd_lock(void **state)
{
    if (pl_mechanism_supported(PL_MECH_OFD) != PL_OK)
        fail_msg("OFD locks unsupported: %s", pl_last_error_message());
    check_child_leaves_lock(state, PL_MECH_OFD, 0);
    check_child_leaves_lock(state, PL_MECH_OFD, 1);
}

static void forked_child_release_keeps_the_parents_posix_lock(void **state)
{
    check_child_leaves_lock(state, PL_MECH_POSIX, 0);
    check_child_leaves_lock(state, PL_MECH_POSIX, 1);
}

static int child_acquires(void *arg)
{
    pl_lock *l = arg;
    int rc = pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL);
    return rc == PL_ERR_ALREADY_LOCKED ? 0 : 10;
}

/* The inherited handle "holds" nothing in the child: acquiring contends
   with the parent instead of returning the parent's descriptor. */
static void forked_child_acquire_contends_with_the_parent(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "a.lock");
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_wait(tu_fork(child_acquires, l)), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    pl_lock_free(l);
}

/* The same for an RLock acquired several times: the inherited count must
   not let the child reuse the parent's descriptor (and so its lock). */
static void forked_child_acquire_of_a_nested_rlock_contends(void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_wait(tu_fork(child_acquires, l)), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    assert_int_equal(pl_lock_count(l), 2);
    pl_lock_free(l);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
}

static int child_releases_rlock_then_acquires(void *arg)
{
    pl_lock *l = arg;
    /* the child owns none of the parent's acquisitions */
    if (pl_lock_release(l) != PL_OK)
        return 10;
    if (pl_lock_is_held(l))
        return 11;
    return child_acquires(l);
}

static void forked_child_release_of_a_nested_rlock_keeps_the_parents(
    void **state)
{
    pl_lock *l = NULL;
    const char *p = tu_path(state, "r.lock");
    tu_ok(pl_rlock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(tu_wait(tu_fork(child_releases_rlock_then_acquires, l)),
                     0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    pl_lock_free(l);
}

static int child_releases_then_exits(void *arg)
{
    fork_arg *a = arg;
    if (a->use_free)
        pl_lock_free(a->l);
    else if (pl_lock_release(a->l) != PL_OK)
        _exit(10);
    exit(0); /* runs the library's exit handler too */
}

static void forked_child_never_deletes_the_parents_temporary_file(
    void **state)
{
    pl_lock *l = NULL;
    fork_arg a;
    const char *p = tu_path(state, "t.lock");
    int use_free;
    tu_ok(pl_temporary_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    a.l = l;
    for (use_free = 0; use_free <= 1; use_free++) {
        a.use_free = use_free;
        assert_int_equal(tu_wait(tu_fork(child_releases_then_exits, &a)), 0);
        assert_true(tu_exists(p));
        assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    }
    /* a child that just exits while "holding" the inherited handle */
    assert_int_equal(tu_wait(tu_fork(child_acquires, l)), 0);
    assert_true(tu_exists(p));
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

static void forked_child_never_deletes_the_parents_pid_files(void **state)
{
    pl_lock *l = NULL;
    fork_arg a;
    const char *p = tu_path(state, "app.pid");
    const char *side = tu_path(state, "app.pid.lock");
    long pid = 0;
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, NULL));
    a.l = l;
    a.use_free = 0;
    assert_int_equal(tu_wait(tu_fork(child_releases_then_exits, &a)), 0);
    a.use_free = 1;
    assert_int_equal(tu_wait(tu_fork(child_releases_then_exits, &a)), 0);
    assert_true(tu_exists(p));
    assert_true(tu_exists(side));
    assert_int_equal(tu_probe_locked(side, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)getpid());
    pl_lock_free(l);
    assert_false(tu_exists(p));
    assert_false(tu_exists(side));
}

/* ---- permission bits of created files ---- */

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

typedef int (*new_fn)(pl_lock **, const char *);

static void created_files_get_0666_minus_umask(void **state)
{
    const mode_t masks[] = {022, 0, 077, 002};
    size_t i;
    mode_t old = umask(022);
    for (i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        pl_lock *a = NULL, *t = NULL, *pf = NULL;
        char name[32];
        unsigned want = 0666u & ~(unsigned)masks[i];
        const char *pa, *pt, *pp, *ps;
        snprintf(name, sizeof name, "a%zu.lock", i);
        pa = tu_path(state, name);
        snprintf(name, sizeof name, "t%zu.lock", i);
        pt = tu_path(state, name);
        snprintf(name, sizeof name, "p%zu.pid", i);
        pp = tu_path(state, name);
        snprintf(name, sizeof name, "p%zu.pid.lock", i);
        ps = tu_path(state, name);
        umask(masks[i]);
        tu_ok(pl_lock_new(&a, pa));
        tu_ok(pl_temporary_lock_new(&t, pt));
        tu_ok(pl_pidfile_lock_new(&pf, pp));
        tu_ok(pl_lock_acquire(a, NULL));
        tu_ok(pl_lock_acquire(t, NULL));
        tu_ok(pl_lock_acquire(pf, NULL));
        assert_int_equal(mode_of(pa), want);
        assert_int_equal(mode_of(pt), want);
        assert_int_equal(mode_of(pp), want);
        assert_int_equal(mode_of(ps), want);
        pl_lock_free(a);
        pl_lock_free(t);
        pl_lock_free(pf);
    }
    umask(old);
}

static void set_file_mode_is_used_for_created_files(void **state)
{
    pl_lock *a = NULL, *pf = NULL;
    const char *pa = tu_path(state, "a.lock");
    const char *pp = tu_path(state, "app.pid");
    const char *ps = tu_path(state, "app.pid.lock");
    mode_t old = umask(022);
    tu_ok(pl_lock_new(&a, pa));
    tu_ok(pl_lock_set_file_mode(a, 0600));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(mode_of(pa), 0600);
    tu_ok(pl_pidfile_lock_new(&pf, pp));
    tu_ok(pl_lock_set_file_mode(pf, 0664)); /* umask still applies */
    tu_ok(pl_lock_acquire(pf, NULL));
    assert_int_equal(mode_of(pp), 0644);
    assert_int_equal(mode_of(ps), 0644);
    /* an existing file keeps its mode */
    pl_lock_free(a);
    tu_ok(pl_lock_new(&a, pa));
    tu_ok(pl_lock_set_file_mode(a, 0666));
    tu_ok(pl_lock_acquire(a, NULL));
    assert_int_equal(mode_of(pa), 0600);
    assert_int_equal(pl_lock_set_file_mode(a, 010000), PL_ERR_INVALID_ARGUMENT);
    assert_int_equal(pl_lock_set_file_mode(a, 0xffffffffu),
                     PL_ERR_INVALID_ARGUMENT);
    pl_lock_free(a);
    pl_lock_free(pf);
    umask(old);
}

/* ---- FIFOs planted in shared directories ---- */

/* What a child tried, and how: run in a child so that a regression (an
   open(2) blocked on the FIFO forever) fails the test instead of hanging
   the suite. */
typedef struct fifo_try {
    const char *path; /* the lock path handed to the constructor */
    int kind;         /* 0 temporary, 1 PID file, 2 semaphore slot */
} fifo_try;

static int try_lock_near_fifo(void *arg)
{
    fifo_try *t = arg;
    int rc;
    if (t->kind == 2) {
        pl_semaphore *s = NULL;
        char dir[512];
        snprintf(dir, sizeof dir, "%s", t->path);
        *strrchr(dir, '/') = '\0';
        if (pl_semaphore_new(&s, 1, "fifo") != PL_OK ||
            pl_semaphore_set_directory(s, dir) != PL_OK)
            return 10;
        rc = pl_semaphore_acquire_with(s, 0, PL_INHERIT, NULL);
        if (rc != PL_ERR_INVALID_ARGUMENT ||
            !strstr(pl_last_error_message(), "not a regular file"))
            return rc != PL_ERR_INVALID_ARGUMENT ? 11 : 12;
        pl_semaphore_free(s);
    } else {
        pl_lock *l = NULL;
        if ((t->kind == 0 ? pl_temporary_lock_new(&l, t->path)
                          : pl_pidfile_lock_new(&l, t->path)) != PL_OK)
            return 10;
        rc = pl_lock_acquire(l, NULL);
        pl_lock_free(l);
    }
    if (rc != PL_ERR_INVALID_ARGUMENT)
        return 11;
    return strstr(pl_last_error_message(), "not a regular file") ? 0 : 12;
}

static void expect_fifo_refused(const char *fifo, const char *lock_path, int kind)
{
    fifo_try t = {lock_path, kind};
    pid_t pid;
    double end;
    int status = 0;
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid = tu_fork(try_lock_near_fifo, &t);
    end = tu_now() + 10;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (tu_now() > end) {
            kill(pid, SIGKILL);
            tu_wait(pid);
            fail_msg("acquire hung on the FIFO at %s", fifo);
        }
        usleep(5000);
    }
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("kind %d near FIFO %s: child exit %d (10 setup, 11 wrong "
                 "code, 12 wrong message)",
                 kind, fifo, WEXITSTATUS(status));
}

static void fifo_at_a_temporary_lock_path_is_refused_without_hanging(void **state)
{
    const char *p = tu_path(state, "tmp.lock");
    expect_fifo_refused(p, p, 0);
}

static void fifo_at_a_sidecar_path_is_refused_without_hanging(void **state)
{
    expect_fifo_refused(tu_path(state, "svc.pid.lock"), tu_path(state, "svc.pid"), 1);
}

static void fifo_at_a_pid_file_path_is_refused_and_releases_the_sidecar(void **state)
{
    const char *pid = tu_path(state, "svc.pid");
    pl_lock *l = NULL;
    long got = -1;
    expect_fifo_refused(pid, pid, 1);
    /* read_pid does not hang on it either, and reports no PID */
    tu_ok(pl_pidfile_lock_new(&l, pid));
    tu_ok(pl_lock_read_pid(l, &got));
    assert_int_equal(got, 0);
    /* the sidecar was not left locked */
    assert_int_not_equal(tu_probe_locked(tu_path(state, "svc.pid.lock"), PL_MECH_FLOCK), 1);
    pl_lock_free(l);
}

static void fifo_at_a_semaphore_slot_is_refused_without_hanging(void **state)
{
    expect_fifo_refused(tu_path(state, "fifo.00.lock"), tu_path(state, "x"), 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
    const struct CMUnitTest tests[] = {
        T(exec_child_does_not_keep_a_lock),
        T(exec_child_does_not_keep_a_temporary_lock),
        T(exec_child_does_not_keep_a_pidfile_lock),
        T(symlink_at_a_temporary_lock_path_is_refused),
        T(dangling_symlink_at_a_temporary_lock_path_creates_nothing),
        T(symlink_at_a_pid_file_path_is_refused),
        T(symlink_at_a_sidecar_path_is_refused),
        T(plain_lock_follows_a_symlink_to_its_target),
        T(forked_child_release_keeps_the_parents_flock),
        T(forked_child_free_keeps_the_parents_flock),
        T(forked_child_release_keeps_the_parents_ofd_lock),
        T(forked_child_release_keeps_the_parents_posix_lock),
        T(forked_child_acquire_contends_with_the_parent),
        T(forked_child_acquire_of_a_nested_rlock_contends),
        T(forked_child_release_of_a_nested_rlock_keeps_the_parents),
        T(forked_child_never_deletes_the_parents_temporary_file),
        T(forked_child_never_deletes_the_parents_pid_files),
        T(created_files_get_0666_minus_umask),
        T(set_file_mode_is_used_for_created_files),
        T(fifo_at_a_temporary_lock_path_is_refused_without_hanging),
        T(fifo_at_a_sidecar_path_is_refused_without_hanging),
        T(fifo_at_a_pid_file_path_is_refused_and_releases_the_sidecar),
        T(fifo_at_a_semaphore_slot_is_refused_without_hanging),
    };
#undef T
    return cmocka_run_group_tests_name("safety", tests, NULL, NULL);
}
