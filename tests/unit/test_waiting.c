/* The waiting policy: prompt wake-ups on release (inotify), SIGKILL'd
   holders, releases that raise no event (backoff), deadlines, the blocking
   call for an infinite timeout, CPU use while waiting, EINTR.

   Timing bounds here are deliberately loose (5-50x the typical figure) so
   that a busy 2-core machine does not make them flaky; `make bench`
   measures the real numbers. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Numbers children report back (MAP_SHARED survives fork). */
typedef struct shared {
    double t_release; /* when the holder released / was killed */
    double t_acquired;
    double elapsed;
    double cpu;
    int rc;
} shared;

static shared *shared_new(void)
{
    void *p = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 0, sizeof(shared));
    return p;
}

static void shared_free(shared *s)
{
    munmap(s, sizeof *s);
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- holders ---- */

typedef struct holder_arg {
    const char *path;
    int kind;        /* 0 Lock, 1 TemporaryFileLock, 2 semaphore slot */
    const char *dir; /* semaphore directory */
    double hold;     /* seconds to hold after "go" */
    tu_pipe ready, go;
    shared *sh;
} holder_arg;

/* Take the lock, say ready, wait for go, hold `hold` s, stamp and release. */
static int child_holder(void *p)
{
    holder_arg *a = p;
    pl_lock *l = NULL;
    pl_semaphore *s = NULL;
    int rc;
    if (a->kind == 2) {
        if (pl_semaphore_new(&s, 1, "wake") != PL_OK ||
            pl_semaphore_set_directory(s, a->dir) != PL_OK ||
            pl_semaphore_acquire(s, NULL) != PL_OK)
            return 1;
    } else {
        rc = a->kind == 1 ? pl_temporary_lock_new(&l, a->path)
                          : pl_lock_new(&l, a->path);
        if (rc != PL_OK || pl_lock_acquire(l, NULL) != PL_OK)
            return 1;
    }
    tu_pipe_signal(&a->ready);
    if (tu_pipe_wait(&a->go, 20) != 0)
        return 2;
    sleep_s(a->hold);
    a->sh->t_release = tu_now();
    rc = s ? pl_semaphore_release(s) : pl_lock_release(l);
    pl_semaphore_free(s);
    pl_lock_free(l);
    return rc == PL_OK ? 0 : 3;
}

/* One handoff: a holder in another process releases 0.35 s after the
   waiter started; returns the latency from release to acquired. The
   waiter's check_interval is 5 s, so without a wake-up the backoff
   (1, 2, 4, ... 256 ms) would notice the release at ~0.51 s at the
   earliest: >= 160 ms late. */
static double one_handoff(void **state, int kind)
{
    holder_arg a;
    pid_t pid;
    double t_acq, latency;
    int slot = -1;
    memset(&a, 0, sizeof a);
    a.path = tu_path(state, kind == 1 ? "wake.tmp" : "wake.lock");
    a.dir = ((tu_dir *)*state)->path;
    a.kind = kind;
    a.hold = 0.35;
    a.sh = shared_new();
    tu_pipe_open(&a.ready);
    tu_pipe_open(&a.go);
    pid = tu_fork(child_holder, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    tu_pipe_signal(&a.go);
    if (kind == 2) {
        pl_semaphore *s = NULL;
        tu_ok(pl_semaphore_new(&s, 1, "wake"));
        tu_ok(pl_semaphore_set_directory(s, a.dir));
        tu_ok(pl_semaphore_acquire_with(s, 10, 5, &slot));
        t_acq = tu_now();
        pl_semaphore_free(s);
    } else {
        pl_lock *l = NULL;
        tu_ok(kind == 1 ? pl_temporary_lock_new(&l, a.path) : pl_lock_new(&l, a.path));
        tu_ok(pl_lock_acquire_with(l, 10, 5, 0, NULL));
        t_acq = tu_now();
        pl_lock_free(l);
    }
    assert_int_equal(tu_wait(pid), 0);
    latency = t_acq - a.sh->t_release;
    assert_true(latency >= 0);
    shared_free(a.sh);
    tu_pipe_close(&a.ready);
    tu_pipe_close(&a.go);
    return latency;
}

static void check_handoffs(void **state, int kind)
{
    double lat[5];
    int i;
    for (i = 0; i < 5; i++)
        lat[i] = one_handoff(state, kind);
    qsort(lat, 5, sizeof lat[0], cmp_double);
    print_message("      handoff latency: min %.3f ms, median %.3f ms, max %.3f ms\n",
                  lat[0] * 1e3, lat[2] * 1e3, lat[4] * 1e3);
    assert_true(lat[2] < 0.100);
    assert_true(lat[4] < 2.0);
}

static void release_by_other_process_wakes_lock_waiter_within_100ms(void **state)
{
    check_handoffs(state, 0);
}

static void release_by_other_process_wakes_temporary_lock_waiter_within_100ms(void **state)
{
    check_handoffs(state, 1);
}

static void release_by_other_process_wakes_semaphore_waiter_within_100ms(void **state)
{
    check_handoffs(state, 2);
}

/* ---- SIGKILL ---- */

typedef struct kill_arg {
    const char *path;
    tu_pipe ready;
    shared *sh;
} kill_arg;

static int child_hold_forever(void *p)
{
    kill_arg *a = p;
    pl_lock *l = NULL;
    if (pl_lock_new(&l, a->path) != PL_OK || pl_lock_acquire(l, NULL) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    for (;;)
        pause();
}

static int child_wait_default_interval(void *p)
{
    kill_arg *a = p;
    pl_lock *l = NULL;
    int rc;
    if (pl_lock_new(&l, a->path) != PL_OK || pl_lock_set_timeout(l, 5) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    rc = pl_lock_acquire(l, NULL); /* default check_interval 0.25 s */
    a->sh->t_acquired = tu_now();
    pl_lock_free(l);
    return rc == PL_OK ? 0 : 2;
}

static void sigkilled_holder_frees_lock_for_waiter_within_200ms(void **state)
{
    kill_arg h, w;
    pid_t holder, waiter;
    double t_kill, latency;
    h.path = w.path = tu_path(state, "killed.lock");
    h.sh = w.sh = shared_new();
    tu_pipe_open(&h.ready);
    tu_pipe_open(&w.ready);
    holder = tu_fork(child_hold_forever, &h);
    assert_int_equal(tu_pipe_wait(&h.ready, 10), 0);
    waiter = tu_fork(child_wait_default_interval, &w);
    assert_int_equal(tu_pipe_wait(&w.ready, 10), 0);
    sleep_s(0.6); /* the waiter's backoff has reached check_interval */
    t_kill = tu_now();
    assert_int_equal(kill(holder, SIGKILL), 0);
    assert_int_equal(tu_wait(holder), 128 + SIGKILL);
    assert_int_equal(tu_wait(waiter), 0);
    latency = w.sh->t_acquired - t_kill;
    print_message("      SIGKILL -> acquired: %.3f ms\n", latency * 1e3);
    assert_true(latency < 0.200);
    shared_free(h.sh);
    tu_pipe_close(&h.ready);
    tu_pipe_close(&w.ready);
}

/* ---- releases that raise no inotify event ---- */

typedef struct raw_arg {
    const char *path;
    int inherit; /* hold through a descriptor inherited by a grandchild */
    tu_pipe ready, go, done;
    shared *sh;
} raw_arg;

static int unlock_without_close(raw_arg *a, int fd)
{
    if (tu_pipe_wait(&a->go, 20) != 0)
        return 2;
    sleep_s(0.4);
    a->sh->t_release = tu_now();
    if (pl_unlock_fd(fd) != PL_OK)
        return 3;
    /* Keep the descriptor open: no close event until told. */
    if (tu_pipe_wait(&a->done, 20) != 0)
        return 4;
    close(fd);
    return 0;
}

static int child_raw_holder(void *p)
{
    raw_arg *a = p;
    int fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB) != PL_OK)
        return 1;
    if (a->inherit) {
        /* The lock lives on in a grandchild's inherited copy; this
           process closes its copy and exits: neither raises an event
           that means "released", because the file stays open. */
        pid_t g = fork();
        if (g < 0)
            return 5;
        if (g == 0)
            _exit(unlock_without_close(a, fd));
        close(fd);
        tu_pipe_signal(&a->ready);
        return tu_wait(g);
    }
    tu_pipe_signal(&a->ready);
    return unlock_without_close(a, fd);
}

static void release_without_event(void **state, int inherit)
{
    raw_arg a;
    pid_t pid;
    pl_lock *l = NULL;
    double latency, ci = 0.1;
    memset(&a, 0, sizeof a);
    a.path = tu_path(state, "noevent.lock");
    a.inherit = inherit;
    a.sh = shared_new();
    tu_pipe_open(&a.ready);
    tu_pipe_open(&a.go);
    tu_pipe_open(&a.done);
    pid = tu_fork(child_raw_holder, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    tu_ok(pl_lock_new(&l, a.path));
    tu_pipe_signal(&a.go);
    tu_ok(pl_lock_acquire_with(l, 10, ci, 0, NULL));
    latency = tu_now() - a.sh->t_release;
    tu_pipe_signal(&a.done);
    assert_int_equal(tu_wait(pid), 0);
    print_message("      unlock without close -> acquired: %.3f ms (check_interval %.0f ms)\n",
                  latency * 1e3, ci * 1e3);
    assert_true(latency >= 0);
    assert_true(latency < 3 * ci);
    pl_lock_free(l);
    shared_free(a.sh);
    tu_pipe_close(&a.ready);
    tu_pipe_close(&a.go);
    tu_pipe_close(&a.done);
}

static void unlock_without_close_is_noticed_within_check_interval(void **state)
{
    release_without_event(state, 0);
}

static void release_through_inherited_descriptor_is_noticed_within_check_interval(void **state)
{
    release_without_event(state, 1);
}

/* ---- deadlines ---- */

static double timed_acquire(pl_lock *l, double timeout, double ci, int want)
{
    double t0 = tu_now();
    tu_expect(want, pl_lock_acquire_with(l, timeout, ci, 0, NULL));
    return tu_now() - t0;
}

static void timeout_expires_near_its_deadline(void **state)
{
    /* flock: two opens in one process exclude each other. */
    pl_lock *holder = NULL, *l = NULL;
    double e;
    tu_ok(pl_lock_new(&holder, tu_path(state, "deadline.lock")));
    tu_ok(pl_lock_new(&l, tu_path(state, "deadline.lock")));
    tu_ok(pl_lock_acquire(holder, NULL));

    e = timed_acquire(l, 0.4, 0.05, PL_ERR_ALREADY_LOCKED);
    assert_true(e >= 0.4 - 0.002 && e < 0.4 + 0.5);
    e = timed_acquire(l, 0.3, 0.25, PL_ERR_ALREADY_LOCKED);
    assert_true(e >= 0.3 - 0.002 && e < 0.3 + 0.5);
    /* A check_interval longer than the timeout does not overshoot it. */
    e = timed_acquire(l, 0.3, 5.0, PL_ERR_ALREADY_LOCKED);
    assert_true(e >= 0.3 - 0.002 && e < 0.3 + 0.5);
    assert_int_equal(pl_lock_is_held(l), 0);

    /* The handle's own timeout (set, not per call) is honoured too. */
    tu_ok(pl_lock_set_timeout(l, 0.2));
    {
        double t0 = tu_now();
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire(l, NULL));
        e = tu_now() - t0;
    }
    assert_true(e >= 0.2 - 0.002 && e < 0.2 + 0.5);

    tu_ok(pl_lock_release(holder));
    tu_ok(pl_lock_acquire_with(l, 0.3, 0.05, 0, NULL));
    pl_lock_free(holder);
    pl_lock_free(l);
}

static void timeout_zero_is_one_attempt_and_fail_when_locked_does_not_wait(void **state)
{
    pl_lock *holder = NULL, *l = NULL;
    double e;
    tu_ok(pl_lock_new(&holder, tu_path(state, "zero.lock")));
    tu_ok(pl_lock_new(&l, tu_path(state, "zero.lock")));
    tu_ok(pl_lock_acquire(holder, NULL));
    e = timed_acquire(l, 0, 0.25, PL_ERR_ALREADY_LOCKED);
    assert_true(e < 0.05);
    {
        double t0 = tu_now();
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 5, 0.25, 1, NULL));
        e = tu_now() - t0;
    }
    assert_true(e < 0.05);
    tu_ok(pl_lock_release(holder));
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, PL_INHERIT, NULL));
    pl_lock_free(holder);
    pl_lock_free(l);
}

/* ---- infinite timeout: the kernel's blocking call ---- */

typedef struct inf_arg {
    const char *path;
    tu_pipe ready;
    int with_signals; /* install a no-op SIGUSR1 handler */
    shared *sh;
} inf_arg;

static void noop_handler(int sig)
{
    (void)sig;
}

static void install_noop_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = noop_handler;
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

static int child_wait_forever(void *p)
{
    inf_arg *a = p;
    pl_lock *l = NULL;
    double t0;
    int rc;
    if (a->with_signals)
        install_noop_handler();
    if (pl_lock_new(&l, a->path) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    t0 = tu_now();
    rc = pl_lock_acquire_with(l, INFINITY, PL_INHERIT, PL_INHERIT, NULL);
    a->sh->elapsed = tu_now() - t0;
    a->sh->t_acquired = tu_now();
    pl_lock_free(l);
    return rc == PL_OK ? 0 : 2;
}

/* Send SIGUSR1 to pid every 10 ms for `seconds`. */
static int pester(pid_t pid, double seconds)
{
    double end = tu_now() + seconds;
    int sent = 0;
    while (tu_now() < end) {
        if (kill(pid, SIGUSR1) == 0)
            sent++;
        sleep_s(0.01);
    }
    return sent;
}

static void infinite_wait(void **state, int with_signals)
{
    inf_arg a;
    pid_t pid;
    pl_lock *holder = NULL;
    double t_release;
    a.path = tu_path(state, "forever.lock");
    a.with_signals = with_signals;
    a.sh = shared_new();
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&holder, a.path));
    tu_ok(pl_lock_acquire(holder, NULL));
    pid = tu_fork(child_wait_forever, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    /* The waiter waits on inotify and the backoff (not in the kernel's
       blocking call, which nothing but a signal could end). */
    sleep_s(0.05);
    if (with_signals)
        assert_true(pester(pid, 0.3) > 5);
    else
        sleep_s(0.3);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0); /* still waiting */
    t_release = tu_now();
    tu_ok(pl_lock_release(holder));
    assert_int_equal(tu_wait(pid), 0);
    assert_true(a.sh->elapsed >= 0.25);
    assert_true(a.sh->t_acquired - t_release < 1.0);
    pl_lock_free(holder);
    shared_free(a.sh);
    tu_pipe_close(&a.ready);
}

static void infinite_timeout_waits_and_succeeds_on_release(void **state)
{
    infinite_wait(state, 0);
}

static void infinite_timeout_survives_signals_without_sa_restart(void **state)
{
    infinite_wait(state, 1);
}

/* ---- CPU use while waiting ---- */

typedef struct cpu_arg {
    const char *path;
    double check_interval;
    double timeout;
    shared *sh;
} cpu_arg;

static int child_measure_wait_cpu(void *p)
{
    cpu_arg *a = p;
    pl_lock *l = NULL;
    double c0, t0;
    int rc;
    if (pl_lock_new(&l, a->path) != PL_OK)
        return 1;
    c0 = cpu_seconds();
    t0 = tu_now();
    rc = pl_lock_acquire_with(l, a->timeout, a->check_interval, 0, NULL);
    a->sh->elapsed = tu_now() - t0;
    a->sh->cpu = cpu_seconds() - c0;
    a->sh->rc = rc;
    pl_lock_free(l);
    return 0;
}

static void measure_wait_cpu(void **state, double ci)
{
    cpu_arg a;
    pl_lock *holder = NULL;
    double frac;
    a.path = tu_path(state, "cpu.lock");
    a.check_interval = ci;
    a.timeout = 0.6;
    a.sh = shared_new();
    tu_ok(pl_lock_new(&holder, a.path));
    tu_ok(pl_lock_acquire(holder, NULL));
    assert_int_equal(tu_wait(tu_fork(child_measure_wait_cpu, &a)), 0);
    assert_int_equal(a.sh->rc, PL_ERR_ALREADY_LOCKED);
    assert_true(a.sh->elapsed >= 0.59);
    frac = a.sh->cpu / a.sh->elapsed;
    print_message("      check_interval %g s: waiter CPU %.2f%% of %.2f s\n", ci,
                  frac * 100, a.sh->elapsed);
    assert_true(frac < 0.20);
    pl_lock_free(holder);
    shared_free(a.sh);
}

static void check_interval_zero_does_not_busy_spin(void **state)
{
    measure_wait_cpu(state, 0.0);
}

static void default_check_interval_wait_uses_little_cpu(void **state)
{
    measure_wait_cpu(state, 0.25);
}

/* ---- EINTR with a deadline ---- */

typedef struct intr_arg {
    const char *path;
    double timeout;
    tu_pipe ready;
    shared *sh;
} intr_arg;

static int child_wait_with_signals(void *p)
{
    intr_arg *a = p;
    pl_lock *l = NULL;
    double t0;
    install_noop_handler();
    if (pl_lock_new(&l, a->path) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    t0 = tu_now();
    a->sh->rc = pl_lock_acquire_with(l, a->timeout, 0.05, 0, NULL);
    a->sh->elapsed = tu_now() - t0;
    pl_lock_free(l);
    return 0;
}

static void signals_do_not_end_a_deadline_wait_early(void **state)
{
    intr_arg a;
    pl_lock *holder = NULL;
    pid_t pid;
    a.path = tu_path(state, "intr.lock");
    a.timeout = 0.5;
    a.sh = shared_new();
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&holder, a.path));
    tu_ok(pl_lock_acquire(holder, NULL));
    pid = tu_fork(child_wait_with_signals, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    assert_true(pester(pid, 0.7) > 5);
    assert_int_equal(tu_wait(pid), 0);
    assert_int_equal(a.sh->rc, PL_ERR_ALREADY_LOCKED);
    assert_true(a.sh->elapsed >= 0.5 - 0.002);
    assert_true(a.sh->elapsed < 0.5 + 0.5);
    pl_lock_free(holder);
    shared_free(a.sh);
    tu_pipe_close(&a.ready);
}

static void signals_during_deadline_wait_then_release_acquires(void **state)
{
    intr_arg a;
    pl_lock *holder = NULL;
    pid_t pid;
    a.path = tu_path(state, "intr2.lock");
    a.timeout = 10;
    a.sh = shared_new();
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&holder, a.path));
    tu_ok(pl_lock_acquire(holder, NULL));
    pid = tu_fork(child_wait_with_signals, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    assert_true(pester(pid, 0.3) > 5);
    tu_ok(pl_lock_release(holder));
    assert_int_equal(tu_wait(pid), 0);
    assert_int_equal(a.sh->rc, PL_OK);
    assert_true(a.sh->elapsed >= 0.25);
    assert_true(a.sh->elapsed < 5);
    pl_lock_free(holder);
    shared_free(a.sh);
    tu_pipe_close(&a.ready);
}


/* ---- inotify instances are bounded per process ---- */

typedef struct pool_arg {
    const char *path;
    pthread_barrier_t *waited;
    pthread_barrier_t *done;
    int rc;
} pool_arg;

static void *wait_once_then_linger(void *p)
{
    pool_arg *a = p;
    pl_lock *l = NULL;
    a->rc = -1;
    if (pl_lock_new(&l, a->path) == PL_OK)
        /* Contended (the test holds the lock): a real wait on inotify. */
        a->rc = pl_lock_acquire_with(l, 0.01, 0.005, 0, NULL);
    pl_lock_free(l);
    pthread_barrier_wait(a->waited);
    pthread_barrier_wait(a->done); /* stay alive while the test counts */
    return NULL;
}

/* 200 threads that each waited once, all still alive: the process keeps
   at most a few idle inotify instances (the per-user limit is 128), not
   one per thread. */
static void threads_that_waited_keep_few_inotify_instances(void **state)
{
    enum { N = 200 };
    static pthread_t t[N];
    static pool_arg args[N];
    pthread_barrier_t waited, done;
    const char *path = tu_path(state, "pool.lock");
    pl_lock *holder = NULL;
    int i, n;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    pthread_barrier_init(&waited, NULL, N + 1);
    pthread_barrier_init(&done, NULL, N + 1);
    for (i = 0; i < N; i++) {
        args[i].path = path;
        args[i].waited = &waited;
        args[i].done = &done;
        assert_int_equal(pthread_create(&t[i], NULL, wait_once_then_linger,
                                        &args[i]), 0);
    }
    pthread_barrier_wait(&waited);
    n = tu_count_inotify_fds();
    pthread_barrier_wait(&done);
    for (i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].rc, PL_ERR_ALREADY_LOCKED);
    }
    pthread_barrier_destroy(&waited);
    pthread_barrier_destroy(&done);
    if (n > 4)
        fail_msg("%d idle inotify instances for %d threads", n, N);
    assert_true(n >= 1); /* the pool keeps one: no 15 ms close per wait */
    pl_lock_free(holder);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(release_by_other_process_wakes_lock_waiter_within_100ms),
        T(release_by_other_process_wakes_temporary_lock_waiter_within_100ms),
        T(release_by_other_process_wakes_semaphore_waiter_within_100ms),
        T(sigkilled_holder_frees_lock_for_waiter_within_200ms),
        T(unlock_without_close_is_noticed_within_check_interval),
        T(release_through_inherited_descriptor_is_noticed_within_check_interval),
        T(timeout_expires_near_its_deadline),
        T(timeout_zero_is_one_attempt_and_fail_when_locked_does_not_wait),
        T(infinite_timeout_waits_and_succeeds_on_release),
        T(infinite_timeout_survives_signals_without_sa_restart),
        T(check_interval_zero_does_not_busy_spin),
        T(default_check_interval_wait_uses_little_cpu),
        T(signals_do_not_end_a_deadline_wait_early),
        T(signals_during_deadline_wait_then_release_acquires),
        T(threads_that_waited_keep_few_inotify_instances),
    };
    return cmocka_run_group_tests_name("waiting", tests, NULL, NULL);
}
