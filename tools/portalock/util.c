/* Messages and the mapping from errors to exit codes. */
#define _GNU_SOURCE
#include "portalock.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void warnx_(const char *fmt, ...)
{
    va_list ap;
    fputs("portalock: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* flock(1)'s choice for a failed open or lock: resource shortages are
   EX_OSERR, a read-only or full file system EX_CANTCREAT, the rest the
   caller's fallback. */
int exit_for_errno(int err, int fallback)
{
    if (err == ENOMEM || err == EMFILE || err == ENFILE || err == ENOLCK)
        return EXIT_OSERR;
    if (err == EROFS || err == ENOSPC)
        return EXIT_CANTCREAT;
    return fallback;
}

static const struct { const char *name; int sig; } signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"WINCH", SIGWINCH},
};

/* TERM, SIGTERM, term or 15; -1 if none of these. */
int parse_signal(const char *s)
{
    size_t i;
    char *end;
    long n;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (strcasecmp(s, signals[i].name) == 0)
            return signals[i].sig;
    n = strtol(s, &end, 10);
    if (end != s && *end == '\0' && n > 0 && n < NSIG)
        return (int)n;
    return -1;
}

const char *signal_name(int sig)
{
    size_t i;
    for (i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (signals[i].sig == sig)
            return signals[i].name;
    return "?";
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
