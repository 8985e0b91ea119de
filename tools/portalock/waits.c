/* Ending a wait: on the -w deadline, or at once when a terminating signal
   arrives (Ctrl-C, kill). The library's wait hook does the work, so no
   SIGALRM is needed and every lock kind (file, semaphore, PID file,
   Redis) stops waiting the same way, with nothing held afterwards. */
#define _GNU_SOURCE
#include "portalock.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The signals that would have killed flock(1) while it waited. */
static const int wait_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT,
                                   SIGUSR1, SIGUSR2, SIGALRM};

static volatile sig_atomic_t got_signal;
static int have_deadline;
static double deadline;
static int expired;

static void on_signal(int sig)
{
    if (!got_signal)
        got_signal = sig;
}

/* The wait hook: nonzero ends the wait (PL_ERR_INTERRUPTED). */
static int hook(void *userdata)
{
    (void)userdata;
    if (got_signal)
        return 1;
    if (have_deadline && now_seconds() >= deadline) {
        expired = 1;
        return 1;
    }
    return 0;
}

void waits_install(void)
{
    struct sigaction sa;
    size_t i;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: the signal interrupts the wait's sleep, so the hook
       runs at once rather than at the next interval. */
    sa.sa_flags = 0;
    for (i = 0; i < sizeof wait_signals / sizeof wait_signals[0]; i++)
        sigaction(wait_signals[i], &sa, NULL);
}

void waits_arm(int with_deadline, double seconds)
{
    have_deadline = with_deadline && !isinf(seconds);
    deadline = now_seconds() + seconds;
    expired = 0;
    /* 20 ms: a deadline is met within that, and a hook call is a clock
       read. */
    pl_set_wait_hook(hook, NULL, 0.02);
}

void waits_disarm(void)
{
    pl_set_wait_hook(NULL, NULL, 0);
}

int waits_signal(void)
{
    return got_signal;
}

int waits_expired(void)
{
    return expired;
}

/* End the way the signal would have ended us had it not been caught, so
   the caller (a shell loop, a supervisor) sees a death by that signal. No
   core file: the signal came from outside, there is nothing to debug. */
_Noreturn void die_by_signal(int sig)
{
    struct rlimit none = {0, 0};
    sigset_t set;
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}
