/* The C worker of the polyglot demo: takes the shared lock, then a slot of
   the shared 2-slot semaphore, saying what it holds as it goes.
   usage: worker DIR */
#define _GNU_SOURCE
#include "portalocker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

static void say(const char *fmt, ...)
{
    struct timeval tv;
    const char *t0 = getenv("DEMO_T0");
    va_list ap;
    gettimeofday(&tv, NULL);
    printf("%7.1f ms  C      pid %-7d ",
           ((double)tv.tv_sec + tv.tv_usec / 1e6 - (t0 ? atof(t0) : 0)) * 1e3,
           (int)getpid());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void check(int rc, const char *what)
{
    if (rc != PL_OK) {
        fprintf(stderr, "C worker: %s: %s (%s)\n", what, pl_error_name(rc),
                pl_last_error_message());
        exit(1);
    }
}

int main(int argc, char **argv)
{
    char path[1024];
    pl_lock *lock;
    pl_semaphore *sem;
    int slot;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/demo.lock", argv[1]);
    check(pl_lock_new(&lock, path), "Lock");
    check(pl_lock_set_timeout(lock, 30), "timeout");
    say("waits for demo.lock");
    check(pl_lock_acquire(lock, NULL), "acquire");
    say("HOLDS demo.lock");
    usleep(150000);
    say("releases demo.lock");
    check(pl_lock_release(lock), "release");
    pl_lock_free(lock);

    check(pl_semaphore_new(&sem, 2, "demo"), "semaphore");
    check(pl_semaphore_set_directory(sem, argv[1]), "directory");
    check(pl_semaphore_set_timeout(sem, 30), "timeout");
    check(pl_semaphore_acquire(sem, &slot), "acquire slot");
    say("HOLDS semaphore slot %d of 2", slot);
    usleep(300000);
    say("releases slot %d", slot);
    check(pl_semaphore_release(sem), "release slot");
    pl_semaphore_free(sem);
    return 0;
}
