/* Threads (run under ThreadSanitizer by ci/hardening/sanitize.sh):
   many threads, each with its own handles, on shared paths. Handles are
   not shared between threads (the documented contract); what is shared is
   the library's process-wide state: the per-thread error slot, the
   per-thread cached inotify descriptor, the exit registry of held locks,
   the random source and the lock files themselves. Each lock's critical
   section is checked with a shared counter, so an exclusion failure
   between threads fails the test even without a sanitizer. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 8
#define ROUNDS 150

typedef struct shared {
    char lock_path[512];
    char rlock_path[512];
    char tmp_path[512];
    char pid_path[512];
    char sem_dir[512];
    char atomic_dir[512];
    atomic_int inside_lock, inside_rlock, inside_tmp, inside_pid, inside_sem;
    atomic_int max_sem;
    atomic_int overlaps;
    atomic_int failures;
    char first_failure[512];
    atomic_flag failure_written;
} shared;

typedef struct worker {
    shared *s;
    int id;
} worker;

static void record_failure(shared *s, const char *what, int rc)
{
    if (atomic_fetch_add(&s->failures, 1) == 0 &&
        !atomic_flag_test_and_set(&s->failure_written))
        snprintf(s->first_failure, sizeof s->first_failure, "%s: %s (%s)",
                 what, pl_error_name(rc), pl_last_error_message());
}

/* Enter/leave a critical section guarded by `inside`, at most `max`. */
static void enter(shared *s, atomic_int *inside, int max)
{
    int n = atomic_fetch_add(inside, 1) + 1;
    if (n > max)
        atomic_fetch_add(&s->overlaps, 1);
    usleep(50);
    atomic_fetch_sub(inside, 1);
}

static int exclusive_cycle(shared *s, pl_lock *l, atomic_int *inside,
                           const char *what)
{
    int rc = pl_lock_acquire_with(l, 20, 0.001, 0, NULL);
    if (rc != PL_OK) {
        record_failure(s, what, rc);
        return rc;
    }
    enter(s, inside, 1);
    rc = pl_lock_release(l);
    if (rc != PL_OK)
        record_failure(s, what, rc);
    return rc;
}

static void *work(void *p)
{
    worker *w = p;
    shared *s = w->s;
    pl_lock *lock = NULL, *rlock = NULL, *tmp = NULL, *pid = NULL,
            *probe = NULL;
    pl_semaphore *sem = NULL;
    char target[600];
    int i, rc;

    if ((rc = pl_lock_new(&lock, s->lock_path)) != PL_OK ||
        (rc = pl_rlock_new(&rlock, s->rlock_path)) != PL_OK ||
        (rc = pl_temporary_lock_new(&tmp, s->tmp_path)) != PL_OK ||
        (rc = pl_pidfile_lock_new(&pid, s->pid_path)) != PL_OK ||
        (rc = pl_lock_new(&probe, s->lock_path)) != PL_OK ||
        (rc = pl_semaphore_new(&sem, 3, "threads")) != PL_OK ||
        (rc = pl_semaphore_set_directory(sem, s->sem_dir)) != PL_OK) {
        record_failure(s, "new", rc);
        goto out;
    }
    for (i = 0; i < ROUNDS; i++) {
        pl_atomic_file *af = NULL;
        int slot = -1;

        exclusive_cycle(s, lock, &s->inside_lock, "lock");
        exclusive_cycle(s, tmp, &s->inside_tmp, "temporary lock");
        exclusive_cycle(s, pid, &s->inside_pid, "pidfile lock");

        /* RLock: nested twice, exclusive across handles. */
        rc = pl_lock_acquire_with(rlock, 20, 0.001, 0, NULL);
        if (rc == PL_OK)
            rc = pl_lock_acquire_with(rlock, 0, 0.001, 1, NULL);
        if (rc != PL_OK) {
            record_failure(s, "rlock", rc);
        } else {
            enter(s, &s->inside_rlock, 1);
            if ((rc = pl_lock_release(rlock)) != PL_OK ||
                (rc = pl_lock_release(rlock)) != PL_OK)
                record_failure(s, "rlock release", rc);
        }

        /* The error slot is per thread: a contention failure here names
           this thread's path even while other threads fail elsewhere. */
        rc = pl_lock_acquire_with(lock, 20, 0.001, 0, NULL);
        if (rc != PL_OK) {
            record_failure(s, "lock (for probe)", rc);
        } else {
            rc = pl_lock_acquire_with(probe, 0, 0.001, 1, NULL);
            if (rc != PL_ERR_ALREADY_LOCKED)
                record_failure(s, "probe of a held lock", rc);
            else if (!strstr(pl_last_error_message(), s->lock_path))
                record_failure(s, "probe message", rc);
            enter(s, &s->inside_lock, 1);
            pl_lock_release(lock);
        }

        /* Semaphore: at most 3 inside. */
        rc = pl_semaphore_acquire_with(sem, 20, 0.001, &slot);
        if (rc != PL_OK) {
            record_failure(s, "semaphore", rc);
        } else {
            int n = atomic_fetch_add(&s->inside_sem, 1) + 1;
            int m = atomic_load(&s->max_sem);
            while (n > m && !atomic_compare_exchange_weak(&s->max_sem, &m, n))
                ;
            if (n > 3)
                atomic_fetch_add(&s->overlaps, 1);
            usleep(50);
            atomic_fetch_sub(&s->inside_sem, 1);
            if ((rc = pl_semaphore_release(sem)) != PL_OK)
                record_failure(s, "semaphore release", rc);
        }

        /* open_atomic: a file per thread and round, committed or dropped. */
        snprintf(target, sizeof target, "%s/t%d-%d", s->atomic_dir, w->id, i);
        rc = pl_atomic_open(&af, target);
        if (rc != PL_OK) {
            record_failure(s, "atomic open", rc);
        } else {
            if (write(pl_atomic_fd(af), "x", 1) != 1)
                record_failure(s, "atomic write", PL_ERR_IO);
            if (i % 2 == 0 && (rc = pl_atomic_commit(af)) != PL_OK)
                record_failure(s, "atomic commit", rc);
            pl_atomic_free(af);
        }
    }
out:
    pl_lock_free(lock);
    pl_lock_free(rlock);
    pl_lock_free(tmp);
    pl_lock_free(pid);
    pl_lock_free(probe);
    pl_semaphore_free(sem);
    return NULL;
}

static void threads_with_own_handles_on_shared_paths(void **state)
{
    shared *s = calloc(1, sizeof *s);
    pthread_t t[NTHREADS];
    worker w[NTHREADS];
    int i;
    assert_non_null(s);
    snprintf(s->lock_path, sizeof s->lock_path, "%s", tu_path(state, "a.lock"));
    snprintf(s->rlock_path, sizeof s->rlock_path, "%s", tu_path(state, "r.lock"));
    snprintf(s->tmp_path, sizeof s->tmp_path, "%s", tu_path(state, "t.lock"));
    snprintf(s->pid_path, sizeof s->pid_path, "%s", tu_path(state, "p.lock"));
    snprintf(s->sem_dir, sizeof s->sem_dir, "%s", tu_path(state, "sem"));
    snprintf(s->atomic_dir, sizeof s->atomic_dir, "%s", tu_path(state, "atomic"));
    assert_int_equal(mkdir(s->sem_dir, 0700), 0);
    atomic_flag_clear(&s->failure_written);
    for (i = 0; i < NTHREADS; i++) {
        w[i].s = s;
        w[i].id = i;
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    if (atomic_load(&s->failures))
        fail_msg("%d failures, first: %s", atomic_load(&s->failures),
                 s->first_failure);
    assert_int_equal(atomic_load(&s->overlaps), 0);
    assert_true(atomic_load(&s->max_sem) >= 1);
    /* Nothing left held: a fresh handle takes every lock at once. */
    {
        pl_lock *l = NULL;
        tu_ok(pl_lock_new(&l, s->lock_path));
        tu_ok(pl_lock_acquire_with(l, 0, 0.01, 1, NULL));
        pl_lock_free(l);
        assert_int_equal(tu_exists(s->tmp_path), 0);
    }
    free(s);
}

/* Handles created in one thread and used (one thread at a time) in
   another: allowed, since a handle has no thread affinity. */
static void *release_elsewhere(void *p)
{
    pl_lock *l = p;
    return (void *)(intptr_t)pl_lock_release(l);
}

static void handle_handed_to_another_thread(void **state)
{
    pl_lock *l = NULL, *other = NULL;
    pthread_t t;
    void *ret;
    const char *path = tu_path(state, "handoff.lock");
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_new(&other, path));
    tu_ok(pl_lock_acquire(l, NULL));
    assert_int_equal(pthread_create(&t, NULL, release_elsewhere, l), 0);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((intptr_t)ret, PL_OK);
    tu_ok(pl_lock_acquire_with(other, 0, 0.01, 1, NULL));
    pl_lock_free(l);
    pl_lock_free(other);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(threads_with_own_handles_on_shared_paths),
        T(handle_handed_to_another_thread),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
