/*
 * A short demo of libportalocker: three worker processes contend for one
 * exclusive lock and a 2-slot semaphore; a PID-file lock reports who holds
 * it. Every line is stamped with the time since the start, so the order of
 * events (and how fast a release is noticed) is visible.
 */
#define _GNU_SOURCE
#include "portalocker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double start;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(const char *who, const char *fmt, const char *arg, long n)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg, n);
    printf("%8.3f ms  %-9s %s\n", (now() - start) * 1e3, who, msg);
    fflush(stdout);
}

static int check(int rc, const char *what)
{
    if (rc != PL_OK) {
        fprintf(stderr, "%s failed: %s (%s)\n", what, pl_error_name(rc),
                pl_last_error_message());
        exit(1);
    }
    return rc;
}

static void worker(const char *dir, int id)
{
    char who[32], path[512];
    pl_lock *lock;
    pl_semaphore *sem;
    int slot;

    snprintf(who, sizeof who, "worker %d", id);
    snprintf(path, sizeof path, "%s/demo.lock", dir);

    check(pl_lock_new(&lock, path), "pl_lock_new");
    check(pl_lock_set_timeout(lock, 10), "pl_lock_set_timeout");
    say(who, "waits for %s", "demo.lock", 0);
    check(pl_lock_acquire(lock, NULL), "pl_lock_acquire");
    say(who, "HOLDS %s", "demo.lock", 0);
    usleep(100 * 1000);
    say(who, "releases %s", "demo.lock", 0);
    check(pl_lock_release(lock), "pl_lock_release");
    pl_lock_free(lock);

    check(pl_semaphore_new(&sem, 2, "demo-workers"), "pl_semaphore_new");
    check(pl_semaphore_set_directory(sem, dir), "pl_semaphore_set_directory");
    check(pl_semaphore_set_timeout(sem, 10), "pl_semaphore_set_timeout");
    check(pl_semaphore_acquire(sem, &slot), "pl_semaphore_acquire");
    say(who, "%sHOLDS semaphore slot %ld of 2", "", slot);
    usleep(150 * 1000);
    say(who, "%sreleases slot %ld", "", slot);
    check(pl_semaphore_release(sem), "pl_semaphore_release");
    pl_semaphore_free(sem);
}

int main(void)
{
    char dir[] = "/tmp/portalocker-demo.XXXXXX", pidpath[512];
    pid_t kids[3];
    pl_lock *pidlock, *other;
    int i, status, failed = 0;

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    start = now();
    printf("libportalocker %s demo in %s\n", pl_version_string(), dir);

    for (i = 0; i < 3; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0) {
            worker(dir, i + 1);
            _exit(0);
        }
        usleep(20 * 1000); /* start in order, so the queue is readable */
    }
    for (i = 0; i < 3; i++) {
        waitpid(kids[i], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }

    /* A PID-file lock tells a latecomer who holds it. */
    snprintf(pidpath, sizeof pidpath, "%s/service.pid", dir);
    check(pl_pidfile_lock_new(&pidlock, pidpath), "pl_pidfile_lock_new");
    check(pl_lock_acquire(pidlock, NULL), "pl_lock_acquire");
    say("main", "holds %s", "service.pid", 0);
    fflush(stdout);
    if (fork() == 0) {
        int rc;
        check(pl_pidfile_lock_new(&other, pidpath), "pl_pidfile_lock_new");
        rc = pl_lock_acquire(other, NULL);
        say("latecomer", rc == PL_ERR_ALREADY_LOCKED
                             ? "%sservice.pid is held by PID %ld"
                             : "%sunexpectedly got the lock (%ld)",
            "", rc == PL_ERR_ALREADY_LOCKED ? pl_lock_holder_pid(other) : rc);
        pl_lock_free(other);
        _exit(rc == PL_ERR_ALREADY_LOCKED ? 0 : 1);
    }
    wait(&status);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    say("main", "(that is us: PID %s%ld)", "", (long)getpid());
    pl_lock_free(pidlock);
    rmdir(dir); /* fails (harmlessly) if the slot files are still there */
    printf("demo %s\n", failed ? "FAILED" : "done");
    return failed;
}
