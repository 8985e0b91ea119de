/* One side of a cross-language lock handoff (ci/packages/installed.sh):
 *   contend hold|take LOCK SYNC
 * (see contend.py), built against the installed C library. */
#include <portalocker.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_for(const char *path)
{
    for (int i = 0; i < 2000; i++) {
        if (access(path, F_OK) == 0)
            return;
        sleep_ms(10);
    }
    fprintf(stderr, "c: %s never appeared\n", path);
    exit(1);
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static pl_status take(const char *path, double timeout, int fail_when_locked)
{
    pl_lock *lock = NULL;
    pl_status rc = pl_lock_new(&lock, path);
    if (rc == PL_OK)
        rc = pl_lock_set_timeout(lock, timeout);
    if (rc == PL_OK)
        rc = pl_lock_set_fail_when_locked(lock, fail_when_locked);
    if (rc == PL_OK)
        rc = pl_lock_acquire(lock, NULL);
    if (rc == PL_OK)
        rc = pl_lock_release(lock);
    pl_lock_free(lock);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) { /* a 4th argument is the others' INSTALLED */
        fprintf(stderr, "usage: contend hold|take LOCK SYNC [IGNORED]\n");
        return 64;
    }
    char ready[4096], go[4096];
    snprintf(ready, sizeof ready, "%s/ready", argv[3]);
    snprintf(go, sizeof go, "%s/go", argv[3]);
    if (strcmp(argv[1], "hold") == 0) {
        pl_lock *lock = NULL;
        pl_status rc = pl_lock_new(&lock, argv[2]);
        if (rc == PL_OK)
            rc = pl_lock_acquire(lock, NULL);
        if (rc != PL_OK) {
            fprintf(stderr, "c: hold: %s\n", pl_error_name(rc));
            return 1;
        }
        touch(ready);
        wait_for(go);
        sleep_ms(200);
        rc = pl_lock_release(lock);
        pl_lock_free(lock);
        return rc == PL_OK ? 0 : 1;
    }
    wait_for(ready);
    pl_status rc = take(argv[2], 0, 1);
    if (rc != PL_ERR_ALREADY_LOCKED) {
        fprintf(stderr, "c: a held lock gave %s, not ALREADY_LOCKED\n", pl_error_name(rc));
        return 1;
    }
    touch(go);
    rc = take(argv[2], 10, 0);
    if (rc != PL_OK) {
        fprintf(stderr, "c: take: %s\n", pl_error_name(rc));
        return 1;
    }
    printf("c: waited for the holder, then took the lock (libportalocker %s)\n", pl_version_string());
    return 0;
}
