/* Ending waits early: pl_lock_cancel / pl_semaphore_cancel from another
   thread or a signal handler, and the per-thread wait hook run on a timer
   and on real signals (SIGALRM with a handler installed without
   SA_RESTART). Every kind of wait: deadline, infinite timeout, blocking
   flags, a semaphore, and a blocking pl_lock_fd. Bounds are loose (a
   shared 2-core machine): a cancelled wait must end within 1 s where the
   timeout would take 30 s or forever. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#ifndef _WIN32 /* flock(2), checked below */
#include <sys/file.h>
#endif
#include <sys/time.h>
#include <unistd.h>

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

static void sleep_s(double s)
{
    usleep((useconds_t)(s * 1e6));
}

/* ---- cancel from another thread ---- */

typedef struct canceller {
    pl_lock *lock;       /* cancel this, or */
    pl_semaphore *sem;   /* this */
    double after;        /* seconds */
    double t_cancel;     /* when the cancel was sent */
    pl_lock *holder;     /* released 3 s after the cancel, so a wait that
                            ignores the cancel still ends (and fails) */
    pl_semaphore *sem_holder;
    pthread_t thread;
} canceller;

static void *cancel_main(void *p)
{
    canceller *c = p;
    sleep_s(c->after);
    c->t_cancel = tu_now();
    if (c->lock)
        pl_lock_cancel(c->lock);
    if (c->sem)
        pl_semaphore_cancel(c->sem);
    sleep_s(3);
    return NULL;
}

static void start_canceller(canceller *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, cancel_main, c), 0);
}

static void join_canceller(canceller *c)
{
    pthread_join(c->thread, NULL);
}

/* A lock wait of the given kind, cancelled 0.2 s in. */
static void cancelled_lock_wait(void **state, double timeout, int flags)
{
    const char *path = tu_path(state, "c.lock");
    pl_lock *holder = NULL, *l = NULL;
    canceller c;
    double t_end;
    int before, rc;
    memset(&c, 0, sizeof c);
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_flags(l, flags));
    before = tu_count_fds();
    c.lock = l;
    c.after = 0.2;
    start_canceller(&c);
    rc = pl_lock_acquire_with(l, timeout, 0.25, 0, NULL);
    t_end = tu_now();
    assert_int_equal(rc, PL_ERR_INTERRUPTED);
    assert_int_equal(pl_last_error_code(), PL_ERR_INTERRUPTED);
    assert_non_null(strstr(pl_last_error_message(), path));
    assert_true(t_end - c.t_cancel < 1.0);
    /* Nothing held, nothing left open. */
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(pl_lock_held_fd(l), -1);
    assert_int_equal(tu_count_fds(), before);
    join_canceller(&c);
    /* Consumed once: the next acquire works normally. */
    tu_ok(pl_lock_release(holder));
    tu_ok(pl_lock_acquire_with(l, 1, 0.25, 0, NULL));
    pl_lock_free(l);
    pl_lock_free(holder);
}

static void cancel_ends_a_deadline_wait(void **state)
{
    cancelled_lock_wait(state, 30, PL_LOCK_EX | PL_LOCK_NB);
}

static void cancel_ends_an_infinite_wait(void **state)
{
    cancelled_lock_wait(state, INFINITY, PL_LOCK_EX | PL_LOCK_NB);
}

static void cancel_ends_a_blocking_flags_wait(void **state)
{
    cancelled_lock_wait(state, 30, PL_LOCK_EX);
}

static void cancel_ends_a_semaphore_wait(void **state)
{
    tu_dir *d = *state;
    pl_semaphore *holder = NULL, *s = NULL;
    canceller c;
    double t_end;
    int before, rc;
    memset(&c, 0, sizeof c);
    tu_ok(pl_semaphore_new(&holder, 1, "sem"));
    tu_ok(pl_semaphore_set_directory(holder, d->path));
    tu_ok(pl_semaphore_new(&s, 1, "sem"));
    tu_ok(pl_semaphore_set_directory(s, d->path));
    tu_ok(pl_semaphore_acquire(holder, NULL));
    before = tu_count_fds();
    c.sem = s;
    c.after = 0.2;
    start_canceller(&c);
    rc = pl_semaphore_acquire_with(s, 30, 0.25, NULL);
    t_end = tu_now();
    assert_int_equal(rc, PL_ERR_INTERRUPTED);
    assert_true(t_end - c.t_cancel < 1.0);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(pl_semaphore_fd(s), -1);
    assert_int_equal(tu_count_fds(), before);
    join_canceller(&c);
    tu_ok(pl_semaphore_release(holder));
    tu_ok(pl_semaphore_acquire_with(s, 1, 0.25, NULL));
    pl_semaphore_free(s);
    pl_semaphore_free(holder);
}

/* A cancel with no wait in progress is pending: the next acquire that
   has to take the lock returns INTERRUPTED without trying, once. */
static void pending_cancel_is_consumed_by_the_next_acquire_once(void **state)
{
    const char *path = tu_path(state, "p.lock");
    pl_lock *l = NULL;
    pl_semaphore *s = NULL;
    tu_dir *d = *state;
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_cancel(l));
    tu_ok(pl_lock_cancel(l)); /* twice before a wait is one cancel */
    tu_expect(PL_ERR_INTERRUPTED, pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_not_equal(tu_probe_locked(path, PL_MECH_FLOCK), 1);
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_release(l));
    pl_lock_free(l);
    assert_int_equal(pl_lock_cancel(NULL), PL_ERR_INVALID_ARGUMENT);

    tu_ok(pl_semaphore_new(&s, 2, "pending"));
    tu_ok(pl_semaphore_set_directory(s, d->path));
    tu_ok(pl_semaphore_cancel(s));
    tu_expect(PL_ERR_INTERRUPTED, pl_semaphore_acquire(s, NULL));
    assert_int_equal(pl_semaphore_slot(s), -1);
    tu_ok(pl_semaphore_acquire(s, NULL));
    pl_semaphore_free(s);
    assert_int_equal(pl_semaphore_cancel(NULL), PL_ERR_INVALID_ARGUMENT);
}

/* ---- cancel from a signal handler ---- */

#ifndef _WIN32 /* signals: Windows has no SIGALRM, sigaction or setitimer */
static pl_lock *signal_target;

static void cancel_on_signal(int sig)
{
    (void)sig;
    pl_lock_cancel(signal_target);
}

static void install(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the wait sees EINTR */
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

/* A SIGALRM of a timer already disarmed can still arrive after the test
   (valgrind delivers signals late): it must find a handler that does
   nothing, not the default action that ends the process. Caught signals
   are reset to the default in exec'd children, so they are unaffected. */
static void late_alarm(int sig)
{
    (void)sig;
}

static void restore(int sig)
{
    struct sigaction sa;
    if (sig != SIGALRM) {
        signal(sig, SIG_DFL);
        return;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = late_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    (void)sigaction(SIGALRM, &sa, NULL);
}

static void arm_alarm(double seconds)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void cancel_from_a_signal_handler_ends_the_wait(void **state)
{
    const char *path = tu_path(state, "s.lock");
    pl_lock *holder = NULL, *l = NULL;
    double t0, e;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    tu_ok(pl_lock_new(&l, path));
    signal_target = l;
    install(SIGALRM, cancel_on_signal);
    arm_alarm(0.2);
    t0 = tu_now();
    tu_expect(PL_ERR_INTERRUPTED, pl_lock_acquire_with(l, 10, 0.25, 0, NULL));
    e = tu_now() - t0;
    restore(SIGALRM);
    assert_true(e >= 0.15);
    assert_true(e < 1.2);
    assert_int_equal(pl_lock_is_held(l), 0);
    pl_lock_free(l);
    pl_lock_free(holder);
}
#endif

/* ---- the wait hook ---- */

static volatile sig_atomic_t got_signal;
static atomic_int hook_calls;
static double hook_first_call_after_signal;
static double t_signal;

#ifndef _WIN32 /* signals: Windows has no SIGALRM, sigaction or setitimer */
static void flag_signal(int sig)
{
    (void)sig;
    if (!got_signal)
        t_signal = tu_now();
    got_signal = 1;
}

/* The binding's pattern: run "the signal handlers" (here: look at the
   flag) and stop if they asked to. */
static int stop_on_signal(void *ud)
{
    int *stop_wanted = ud;
    atomic_fetch_add(&hook_calls, 1);
    if (got_signal && hook_first_call_after_signal == 0)
        hook_first_call_after_signal = tu_now();
    return got_signal && *stop_wanted;
}
#endif

static void reset_hook_state(void)
{
    got_signal = 0;
    atomic_store(&hook_calls, 0);
    hook_first_call_after_signal = 0;
    t_signal = 0;
}

static int stop_after_calls(void *ud)
{
    int *limit = ud;
    return atomic_fetch_add(&hook_calls, 1) + 1 >= *limit;
}


static void *other_thread_reads_hook(void *p)
{
    pl_wait_hook h = (pl_wait_hook)1;
    void *ud = (void *)1;
    double iv = -1;
    (void)p;
    pl_get_wait_hook(&h, &ud, &iv);
    return (h == NULL && ud == NULL && iv == 0) ? (void *)1 : NULL;
}

static void hook_setter_validates_and_is_per_thread(void **state)
{
    int limit = 1;
    pl_wait_hook h = NULL;
    void *ud = NULL;
    double iv = 0;
    pthread_t t;
    void *res = NULL;
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_set_wait_hook(stop_after_calls, &limit, 0));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_set_wait_hook(stop_after_calls, &limit, -1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_set_wait_hook(stop_after_calls, &limit, NAN));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_set_wait_hook(stop_after_calls, &limit, INFINITY));
    tu_ok(pl_set_wait_hook(stop_after_calls, &limit, 0.05));
    tu_ok(pl_get_wait_hook(&h, &ud, &iv));
    assert_ptr_equal(h, stop_after_calls);
    assert_ptr_equal(ud, &limit);
    assert_true(iv == 0.05);
    assert_int_equal(pthread_create(&t, NULL, other_thread_reads_hook, NULL), 0);
    pthread_join(t, &res);
    assert_non_null(res);
    tu_ok(pl_set_wait_hook(NULL, &limit, -5)); /* interval ignored */
    tu_ok(pl_get_wait_hook(&h, &ud, &iv));
    assert_null(h);
    assert_null(ud);
    tu_ok(pl_get_wait_hook(NULL, NULL, NULL));
}

/* The hook runs every interval while waiting and a nonzero return ends
   the wait: here after 6 calls at 50 ms, i.e. ~0.3 s into a 30 s wait. */
static void hook_runs_every_interval_and_can_stop_each_wait_kind(void **state)
{
    tu_dir *d = *state;
    const char *path = tu_path(state, "h.lock");
    static const double timeouts[] = {30, INFINITY};
    pl_lock *holder = NULL, *l = NULL;
    pl_semaphore *sh = NULL, *s = NULL;
    int limit = 6, i, fd, before;
    double t0, e;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, &fd));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_set_wait_hook(stop_after_calls, &limit, 0.05));
    for (i = 0; i < 3; i++) {
        reset_hook_state();
        tu_ok(pl_lock_set_flags(l, i == 2 ? PL_LOCK_EX : PL_LOCK_EX | PL_LOCK_NB));
        t0 = tu_now();
        tu_expect(PL_ERR_INTERRUPTED,
                  pl_lock_acquire_with(l, timeouts[i % 2], 0.25, 0, NULL));
        e = tu_now() - t0;
        assert_int_equal(atomic_load(&hook_calls), limit);
        assert_true(e >= 0.2);
        assert_true(e < 1.5);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_non_null(strstr(pl_last_error_message(), "wait hook"));
    }
    /* Semaphore. */
    tu_ok(pl_semaphore_new(&sh, 1, "hooked"));
    tu_ok(pl_semaphore_set_directory(sh, d->path));
    tu_ok(pl_semaphore_new(&s, 1, "hooked"));
    tu_ok(pl_semaphore_set_directory(s, d->path));
    tu_ok(pl_semaphore_acquire(sh, NULL));
    reset_hook_state();
    t0 = tu_now();
    tu_expect(PL_ERR_INTERRUPTED, pl_semaphore_acquire_with(s, 30, 0.25, NULL));
    e = tu_now() - t0;
    assert_true(e >= 0.2 && e < 1.5);
    assert_int_equal(pl_semaphore_slot(s), -1);
    /* A blocking pl_lock_fd on a descriptor of our own. */
    {
        int other = open(path, O_RDWR | O_CLOEXEC);
        assert_true(other >= 0);
        before = tu_count_fds();
        reset_hook_state();
        t0 = tu_now();
        tu_expect(PL_ERR_INTERRUPTED, pl_lock_fd(other, PL_LOCK_EX));
        e = tu_now() - t0;
        assert_true(e >= 0.2 && e < 1.5);
        assert_int_equal(tu_count_fds(), before);
#ifdef _WIN32 /* no flock(2): the library's own non-blocking attempt */
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd(other, PL_LOCK_EX | PL_LOCK_NB));
#else
        assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1); /* not ours */
#endif
        close(other);
    }
    tu_ok(pl_set_wait_hook(NULL, NULL, 0));
    pl_semaphore_free(s);
    pl_semaphore_free(sh);
    pl_lock_free(l);
    pl_lock_free(holder);
}

#ifndef _WIN32 /* signals: Windows has no SIGALRM, sigaction or setitimer */
/* A signal (no SA_RESTART) runs the hook at once, not at the next
   interval (10 s here), and the hook's answer decides. */
static void signal_runs_the_hook_at_once_and_it_can_stop_each_wait_kind(
    void **state)
{
    tu_dir *d = *state;
    const char *path = tu_path(state, "sig.lock");
    pl_lock *holder = NULL, *l = NULL;
    pl_semaphore *sh = NULL, *s = NULL;
    int stop = 1, i, rc, other;
    double t0, e;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_semaphore_new(&sh, 1, "sig"));
    tu_ok(pl_semaphore_set_directory(sh, d->path));
    tu_ok(pl_semaphore_new(&s, 1, "sig"));
    tu_ok(pl_semaphore_set_directory(s, d->path));
    tu_ok(pl_semaphore_acquire(sh, NULL));
    other = open(path, O_RDWR | O_CLOEXEC);
    assert_true(other >= 0);
    install(SIGALRM, flag_signal);
    tu_ok(pl_set_wait_hook(stop_on_signal, &stop, 10));
    for (i = 0; i < 5; i++) {
        reset_hook_state();
        arm_alarm(0.2);
        t0 = tu_now();
        switch (i) {
        case 0:
            tu_ok(pl_lock_set_flags(l, PL_LOCK_EX | PL_LOCK_NB));
            rc = pl_lock_acquire_with(l, 30, 0.25, 0, NULL);
            break;
        case 1:
            rc = pl_lock_acquire_with(l, INFINITY, 0.25, 0, NULL);
            break;
        case 2:
            tu_ok(pl_lock_set_flags(l, PL_LOCK_EX));
            rc = pl_lock_acquire_with(l, 30, 0.25, 0, NULL);
            break;
        case 3:
            rc = pl_semaphore_acquire_with(s, 30, 0.25, NULL);
            break;
        default:
            rc = pl_lock_fd(other, PL_LOCK_EX);
            break;
        }
        e = tu_now() - t0;
        if (rc != PL_ERR_INTERRUPTED)
            fail_msg("wait kind %d returned %d (%s)", i, rc,
                     pl_last_error_message());
        assert_int_equal(pl_last_errno(), EINTR);
        assert_true(got_signal);
        assert_true(hook_first_call_after_signal - t_signal < 0.1);
        assert_true(e < 1.0);
    }
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
    tu_ok(pl_set_wait_hook(NULL, NULL, 0));
    restore(SIGALRM);
    close(other);
    pl_semaphore_free(s);
    pl_semaphore_free(sh);
    pl_lock_free(l);
    pl_lock_free(holder);
}
#endif

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
/* A signal during a wait that then succeeds: the hook says "go on", the
   wait resumes (deadline unchanged) and takes the lock exactly once. The
   holder is another process, releasing 0.4 s in; signals come at 0.1 s
   and then every 50 ms (SIGALRM, SIGINT). */
typedef struct hold_arg {
    const char *path;
    double hold;
    tu_pipe ready;
} hold_arg;

static int child_hold(void *p)
{
    hold_arg *a = p;
    pl_lock *l = NULL;
    if (pl_lock_new(&l, a->path) != PL_OK || pl_lock_acquire(l, NULL) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    sleep_s(a->hold);
    pl_lock_free(l);
    return 0;
}

static void signals_during_a_wait_that_succeeds_leave_it_held_once(
    void **state)
{
    hold_arg a;
    pl_lock *l = NULL;
    pid_t pid;
    int go_on = 0, fd = -1, kind;
    struct itimerval it;
    a.path = tu_path(state, "late.lock");
    a.hold = 0.4;
    install(SIGALRM, flag_signal);
    install(SIGINT, flag_signal);
    tu_ok(pl_set_wait_hook(stop_on_signal, &go_on, 0.05));
    for (kind = 0; kind < 2; kind++) {
        tu_pipe_open(&a.ready);
        pid = tu_fork(child_hold, &a);
        assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
        tu_ok(pl_lock_new(&l, a.path));
        reset_hook_state();
        memset(&it, 0, sizeof it);
        it.it_value.tv_usec = 100000;
        it.it_interval.tv_usec = 50000;
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        if (kind == 1)
            kill(getpid(), SIGINT);
        tu_ok(pl_lock_acquire_with(l, kind == 0 ? 10 : INFINITY, 0.25, 0, &fd));
        memset(&it, 0, sizeof it);
        setitimer(ITIMER_REAL, &it, NULL);
        assert_true(got_signal);
        assert_true(atomic_load(&hook_calls) >= 2);
        assert_int_equal(pl_lock_is_held(l), 1);
        assert_int_equal(pl_lock_count(l), 1);
        assert_int_equal(tu_probe_locked(a.path, PL_MECH_FLOCK), 1);
        tu_ok(pl_lock_release(l));
        assert_int_equal(tu_probe_locked(a.path, PL_MECH_FLOCK), 0);
        assert_int_equal(tu_wait(pid), 0);
        tu_pipe_close(&a.ready);
        pl_lock_free(l);
    }
    tu_ok(pl_set_wait_hook(NULL, NULL, 0));
    restore(SIGALRM);
    restore(SIGINT);
}
#endif

#ifndef _WIN32 /* signals: Windows has no SIGALRM, sigaction or setitimer */
/* Without a hook a blocking pl_lock_fd keeps the kernel's blocking call
   (immediate handoff) and a signal only resumes it. */
static void blocking_fd_lock_without_hook_survives_signals(void **state)
{
    hold_arg a;
    pid_t pid;
    int fd;
    struct itimerval it;
    a.path = tu_path(state, "fd.lock");
    a.hold = 0.4;
    tu_pipe_open(&a.ready);
    pid = tu_fork(child_hold, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    fd = open(a.path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    install(SIGALRM, flag_signal);
    reset_hook_state();
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 100000;
    it.it_interval.tv_usec = 50000;
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    restore(SIGALRM);
    assert_true(got_signal);
    assert_int_equal(tu_probe_locked(a.path, PL_MECH_FLOCK), 1);
    close(fd);
    assert_int_equal(tu_wait(pid), 0);
    tu_pipe_close(&a.ready);
}
#endif

/* ---- two threads on one handle ---- */

typedef struct share_arg {
    pl_lock *lock;
    pl_semaphore *sem;
    atomic_int ok, refused, other;
} share_arg;

static void *hammer(void *p)
{
    share_arg *a = p;
    int i;
    for (i = 0; i < 300; i++) {
        int rc = a->lock ? pl_lock_acquire_with(a->lock, 0.01, 0.001, 0, NULL)
                         : pl_semaphore_acquire_with(a->sem, 0.01, 0.001, NULL);
        if (rc != PL_OK && rc != PL_ERR_INVALID_STATE &&
            rc != PL_ERR_ALREADY_LOCKED)
            fprintf(stderr, "acquire: %s\n", pl_last_error_message());
        if (rc == PL_OK)
            atomic_fetch_add(&a->ok, 1);
        else if (rc == PL_ERR_INVALID_STATE)
            atomic_fetch_add(&a->refused, 1);
        else if (rc != PL_ERR_ALREADY_LOCKED && rc != PL_ERR_INVALID_STATE)
            atomic_fetch_add(&a->other, 1);
        rc = a->lock ? pl_lock_release(a->lock) : pl_semaphore_release(a->sem);
        if (rc != PL_OK && rc != PL_ERR_INVALID_STATE) {
            fprintf(stderr, "release: %s\n", pl_last_error_message());
            atomic_fetch_add(&a->other, 1);
        }
    }
    return NULL;
}

static void two_threads_on_one_handle_never_corrupt_it(void **state)
{
    tu_dir *d = *state;
    const char *path = tu_path(state, "shared.lock");
    pthread_t t[4];
    share_arg a;
    int i, round, before = tu_count_fds();
    for (round = 0; round < 2; round++) {
        memset(&a, 0, sizeof a);
        if (round == 0) {
            tu_ok(pl_lock_new(&a.lock, path));
        } else {
            tu_ok(pl_semaphore_new(&a.sem, 2, "shared"));
            tu_ok(pl_semaphore_set_directory(a.sem, d->path));
        }
        for (i = 0; i < 4; i++)
            assert_int_equal(pthread_create(&t[i], NULL, hammer, &a), 0);
        for (i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        assert_int_equal(atomic_load(&a.other), 0);
        assert_true(atomic_load(&a.ok) > 0);
        if (a.lock) {
            tu_ok(pl_lock_release(a.lock));
            assert_int_equal(pl_lock_is_held(a.lock), 0);
            assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
            pl_lock_free(a.lock);
        } else {
            tu_ok(pl_semaphore_release(a.sem));
            assert_int_equal(pl_semaphore_slot(a.sem), -1);
            pl_semaphore_free(a.sem);
        }
        assert_int_equal(tu_count_fds(), before);
    }
}

/* ---- fork while another thread waits on the handle ---- */

#ifndef _WIN32 /* fork(2): Windows has none; tests/win covers locks across processes */
typedef struct fork_arg {
    pl_lock *lock;
    pl_semaphore *sem;
} fork_arg;

static void *wait_long(void *p)
{
    fork_arg *a = p;
    if (a->lock)
        (void)pl_lock_acquire_with(a->lock, 30, 0.25, 0, NULL);
    else
        (void)pl_semaphore_acquire_with(a->sem, 30, 0.25, NULL);
    return NULL;
}

static int child_uses_handles(void *p)
{
    fork_arg *a = p;
    /* The parent's waiting thread does not exist here: the handles are
       usable, not "busy" forever. */
    if (pl_lock_release(a->lock) != PL_OK)
        return 10;
    if (pl_lock_acquire_with(a->lock, 0, 0.25, 0, NULL) != PL_ERR_ALREADY_LOCKED)
        return 11;
    if (pl_semaphore_release(a->sem) != PL_OK)
        return 12;
    if (pl_semaphore_acquire_with(a->sem, 0, 0.25, NULL) != PL_ERR_ALREADY_LOCKED)
        return 13;
    return 0;
}

static void fork_while_a_thread_waits_leaves_the_handles_usable(void **state)
{
    tu_dir *d = *state;
    const char *path = tu_path(state, "fork.lock");
    pl_lock *holder = NULL;
    pl_semaphore *sh = NULL;
    fork_arg a, la, sa;
    pthread_t t1, t2;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    tu_ok(pl_semaphore_new(&sh, 1, "fork"));
    tu_ok(pl_semaphore_set_directory(sh, d->path));
    tu_ok(pl_semaphore_acquire(sh, NULL));
    tu_ok(pl_lock_new(&a.lock, path));
    tu_ok(pl_semaphore_new(&a.sem, 1, "fork"));
    tu_ok(pl_semaphore_set_directory(a.sem, d->path));
    la.lock = a.lock;
    la.sem = NULL;
    sa.lock = NULL;
    sa.sem = a.sem;
    assert_int_equal(pthread_create(&t1, NULL, wait_long, &la), 0);
    assert_int_equal(pthread_create(&t2, NULL, wait_long, &sa), 0);
    sleep_s(0.2);
    /* In this process the handles are busy. */
    tu_expect(PL_ERR_INVALID_STATE, pl_lock_release(a.lock));
    tu_expect(PL_ERR_INVALID_STATE, pl_semaphore_release(a.sem));
    assert_int_equal(tu_wait(tu_fork(child_uses_handles, &a)), 0);
    pl_lock_cancel(a.lock);
    pl_semaphore_cancel(a.sem);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pl_lock_free(a.lock);
    pl_semaphore_free(a.sem);
    pl_semaphore_free(sh);
    pl_lock_free(holder);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(cancel_ends_a_deadline_wait),
        T(cancel_ends_an_infinite_wait),
        T(cancel_ends_a_blocking_flags_wait),
        T(cancel_ends_a_semaphore_wait),
        T(pending_cancel_is_consumed_by_the_next_acquire_once),
#ifndef _WIN32
        T(cancel_from_a_signal_handler_ends_the_wait),
#endif
        T(hook_setter_validates_and_is_per_thread),
        T(hook_runs_every_interval_and_can_stop_each_wait_kind),
#ifndef _WIN32
        T(signal_runs_the_hook_at_once_and_it_can_stop_each_wait_kind),
#endif
#ifndef _WIN32
        T(signals_during_a_wait_that_succeeds_leave_it_held_once),
#endif
#ifndef _WIN32
        T(blocking_fd_lock_without_hook_survives_signals),
#endif
        T(two_threads_on_one_handle_never_corrupt_it),
#ifndef _WIN32
        T(fork_while_a_thread_waits_leaves_the_handles_usable),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
