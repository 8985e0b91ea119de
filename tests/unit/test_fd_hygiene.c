/* Descriptor hygiene: every lock type through thousands of
   acquire/release and error cycles leaves the process's descriptor count
   where it started; and a child exec'd while locks of every type are held
   at once (Lock with flock and OFD locks, a nested RLock, a
   TemporaryFileLock, a PidFileLock, a semaphore slot, an open_atomic
   temporary file, the waiter's inotify descriptor) holds none of them.
   test_safety.c covers exec for Lock, TemporaryFileLock and PidFileLock
   one at a time; this adds the other kinds, all held together, and the
   cycles. The Redis lock has the same two tests in
   tests/redis/test_redis_hygiene.c (it needs a server).

   The cached waiter descriptor: a thread that has waited for a lock keeps
   ONE inotify descriptor for its next wait (platform.h: closing one costs
   ~15 ms, which would land on every contended acquire). It is created on
   the first wait and never again, so the cycle test waits once before
   counting ("warm-up"); after that the count must not move at all. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CYCLES 2000

/* Wait once on a held lock so this thread caches its inotify descriptor. */
static void warm_up_waiter(void **state)
{
    pl_lock *a = NULL, *b = NULL;
    const char *p = tu_path(state, "warmup.lock");
    tu_ok(pl_lock_new(&a, p));
    tu_ok(pl_lock_new(&b, p));
    tu_ok(pl_lock_acquire(a, NULL));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(b, 0.02, 0.005, 0, NULL));
    pl_lock_free(a);
    pl_lock_free(b);
}

/* One cycle; contention is immediate, and when `timed` also after a short
   timed wait (waits sleep, so not on every cycle). */
static void cycle_file_lock(pl_lock *l, pl_lock *rival, int timed)
{
    int fd = -1;
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, &fd));
    assert_true(fd >= 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(rival, 0, 0.001, 0, NULL));
    if (timed)
        tu_expect(PL_ERR_ALREADY_LOCKED,
                  pl_lock_acquire_with(rival, 0.002, 0.001, 0, NULL));
    tu_ok(pl_lock_release(l));
}

static void every_lock_type_cycles_leave_no_descriptor(void **state)
{
    tu_dir *d = *state;
    pl_lock *lock = NULL, *lock2 = NULL, *ofd = NULL, *ofd2 = NULL,
            *rlock = NULL, *rlock2 = NULL, *tmp = NULL, *tmp2 = NULL,
            *pid = NULL, *pid2 = NULL, *dirlock = NULL, *nodir = NULL,
            *badmode = NULL;
    pl_semaphore *sem = NULL, *sem2 = NULL;
    char semdir[512], target[600];
    int start, i, slot;

    snprintf(semdir, sizeof semdir, "%s/sem", d->path);
    assert_int_equal(mkdir(semdir, 0700), 0);
    assert_int_equal(mkdir(tu_path(state, "adir"), 0700), 0);
    tu_ok(pl_lock_new(&lock, tu_path(state, "a.lock")));
    tu_ok(pl_lock_new(&lock2, tu_path(state, "a.lock")));
    tu_ok(pl_lock_new(&ofd, tu_path(state, "o.lock")));
    tu_ok(pl_lock_new(&ofd2, tu_path(state, "o.lock")));
    tu_ok(pl_lock_set_mechanism(ofd, PL_MECH_OFD));
    tu_ok(pl_lock_set_mechanism(ofd2, PL_MECH_OFD));
    tu_ok(pl_rlock_new(&rlock, tu_path(state, "r.lock")));
    tu_ok(pl_rlock_new(&rlock2, tu_path(state, "r.lock")));
    tu_ok(pl_temporary_lock_new(&tmp, tu_path(state, "t.lock")));
    tu_ok(pl_temporary_lock_new(&tmp2, tu_path(state, "t.lock")));
    tu_ok(pl_pidfile_lock_new(&pid, tu_path(state, "app.pid")));
    tu_ok(pl_pidfile_lock_new(&pid2, tu_path(state, "app.pid")));
    tu_ok(pl_lock_new(&dirlock, tu_path(state, "adir")));
    tu_ok(pl_lock_new(&nodir, tu_path(state, "missing/x.lock")));
    tu_ok(pl_lock_new(&badmode, tu_path(state, "absent-for-r.lock")));
    tu_ok(pl_lock_set_mode(badmode, "r")); /* opening fails: no such file */
    tu_ok(pl_semaphore_new(&sem, 2, "hyg"));
    tu_ok(pl_semaphore_new(&sem2, 2, "hyg"));
    tu_ok(pl_semaphore_set_directory(sem, semdir));
    tu_ok(pl_semaphore_set_directory(sem2, semdir));

    warm_up_waiter(state);
    start = tu_count_fds();
    assert_true(start > 0);
    for (i = 0; i < CYCLES; i++) {
        pl_atomic_file *af = NULL, *dup = NULL;
        int timed = i % 50 == 0;

        cycle_file_lock(lock, lock2, timed);
        cycle_file_lock(ofd, ofd2, timed);
        cycle_file_lock(tmp, tmp2, timed);
        /* a PID-file acquire writes and fsyncs the PID: every 4th cycle */
        if (i % 4 == 0)
            cycle_file_lock(pid, pid2, timed);

        tu_ok(pl_lock_acquire(rlock, NULL));
        tu_ok(pl_lock_acquire(rlock, NULL));
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(rlock2, 0, 0.001, 0, NULL));
        tu_ok(pl_lock_release(rlock));
        tu_ok(pl_lock_release(rlock));
        tu_expect(PL_ERR_NOT_HELD, pl_lock_release(rlock));

        /* error paths that open (or fail to open) something */
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(dirlock, 0, 0.001, 0, NULL));
        assert_int_not_equal(pl_lock_acquire_with(nodir, 0, 0.001, 0, NULL), PL_OK);
        assert_int_not_equal(pl_lock_acquire_with(badmode, 0, 0.001, 0, NULL), PL_OK);

        /* semaphore: both slots, then the third is refused */
        tu_ok(pl_semaphore_acquire_with(sem, 0, 0.001, &slot));
        tu_ok(pl_semaphore_acquire_with(sem2, 0, 0.001, &slot));
        {
            pl_semaphore *third = NULL;
            tu_ok(pl_semaphore_new(&third, 2, "hyg"));
            tu_ok(pl_semaphore_set_directory(third, semdir));
            tu_expect(PL_ERR_ALREADY_LOCKED,
                      pl_semaphore_acquire_with(third, timed ? 0.002 : 0,
                                                0.001, NULL));
            pl_semaphore_free(third);
        }
        tu_ok(pl_semaphore_release(sem));
        tu_ok(pl_semaphore_release(sem2));

        /* open_atomic: abandon, or (every 8th cycle: it fsyncs) commit and
           then EXISTS */
        snprintf(target, sizeof target, "%s/atomic-%d", d->path, i % 4);
        unlink(target);
        tu_ok(pl_atomic_open(&af, target));
        assert_int_equal(write(pl_atomic_fd(af), "data", 4), 4);
        if (i % 8 == 1) {
            tu_ok(pl_atomic_commit(af));
            tu_expect(PL_ERR_EXISTS, pl_atomic_open(&dup, target));
            assert_null(dup);
        }
        pl_atomic_free(af);

        if (i % 500 == 0)
            assert_int_equal(tu_count_fds(), start);
    }
    assert_int_equal(tu_count_fds(), start);

    /* freeing handles that hold their lock closes their descriptors too */
    tu_ok(pl_lock_acquire(lock, NULL));
    tu_ok(pl_lock_acquire(rlock, NULL));
    tu_ok(pl_lock_acquire(tmp, NULL));
    tu_ok(pl_lock_acquire(pid, NULL));
    tu_ok(pl_semaphore_acquire(sem, NULL));
    assert_true(tu_count_fds() > start);
    pl_lock_free(lock);
    pl_lock_free(rlock);
    pl_lock_free(tmp);
    pl_lock_free(pid);
    pl_semaphore_free(sem);
    pl_lock_free(lock2);
    pl_lock_free(ofd);
    pl_lock_free(ofd2);
    pl_lock_free(rlock2);
    pl_lock_free(tmp2);
    pl_lock_free(pid2);
    pl_lock_free(dirlock);
    pl_lock_free(nodir);
    pl_lock_free(badmode);
    pl_semaphore_free(sem2);
    assert_int_equal(tu_count_fds(), start);
}

/* ---- exec while everything is held ---- */


static void exec_child_holds_none_of_every_kind_held_at_once(void **state)
{
    tu_dir *d = *state;
    pl_lock *lock = NULL, *ofd = NULL, *rlock = NULL, *tmp = NULL, *pid = NULL;
    pl_semaphore *sem = NULL;
    pl_atomic_file *af = NULL;
    pid_t child;
    int mine;

    warm_up_waiter(state); /* the inotify descriptor exists too */
    tu_ok(pl_lock_new(&lock, tu_path(state, "a.lock")));
    tu_ok(pl_lock_new(&ofd, tu_path(state, "o.lock")));
    tu_ok(pl_lock_set_mechanism(ofd, PL_MECH_OFD));
    tu_ok(pl_rlock_new(&rlock, tu_path(state, "r.lock")));
    tu_ok(pl_temporary_lock_new(&tmp, tu_path(state, "t.lock")));
    tu_ok(pl_pidfile_lock_new(&pid, tu_path(state, "app.pid")));
    tu_ok(pl_semaphore_new(&sem, 1, "exec"));
    tu_ok(pl_semaphore_set_directory(sem, d->path));
    tu_ok(pl_lock_acquire(lock, NULL));
    tu_ok(pl_lock_acquire(ofd, NULL));
    tu_ok(pl_lock_acquire(rlock, NULL));
    tu_ok(pl_lock_acquire(rlock, NULL));
    tu_ok(pl_lock_acquire(tmp, NULL));
    tu_ok(pl_lock_acquire(pid, NULL));
    tu_ok(pl_semaphore_acquire(sem, NULL));
    tu_ok(pl_atomic_open(&af, tu_path(state, "atomic.out")));

    mine = tu_fds_into(getpid(), d->path);
    assert_true(mine >= 8); /* 6 locks, the slot, the temp file (+ inotify) */
    child = tu_spawn_sleeper();
    assert_int_equal(tu_fds_into(child, d->path), 0);
    /* and the locks are still ours alone: a probe from another process
       sees them held while the exec'd child runs */
    assert_int_equal(tu_probe_locked(tu_path(state, "a.lock"), PL_MECH_FLOCK), 1);
    assert_int_equal(tu_probe_locked(tu_path(state, "o.lock"), PL_MECH_OFD), 1);
    kill(child, SIGKILL);
    assert_int_equal(tu_wait(child), 128 + SIGKILL);

    pl_atomic_free(af);
    pl_semaphore_free(sem);
    pl_lock_free(lock);
    pl_lock_free(ofd);
    pl_lock_free(rlock);
    pl_lock_free(tmp);
    pl_lock_free(pid);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(every_lock_type_cycles_leave_no_descriptor),
        T(exec_child_holds_none_of_every_kind_held_at_once),
    };
    return cmocka_run_group_tests_name("descriptor hygiene", tests, NULL, NULL);
}
