/* Linked against the cross-compiled libportalocker for each target by
   ci/tests.d/cross.sh (never run here: linking is the proof). Calls into
   each part of the API so the link needs the library's file locks,
   semaphores and Redis lock. */
#include <portalocker.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "cross-app.lock";
    pl_lock *lock = NULL;
    pl_semaphore *sem = NULL;
    pl_redis_lock *redis = NULL;
    int rc = pl_lock_new(&lock, path);
    if (rc == PL_OK)
        rc = pl_lock_acquire(lock, NULL);
    if (rc == PL_OK)
        rc = pl_lock_release(lock);
    pl_lock_free(lock);
    if (rc == PL_OK)
        rc = pl_semaphore_new(&sem, 2, "cross-app");
    pl_semaphore_free(sem);
    if (rc == PL_OK)
        rc = pl_redis_lock_new(&redis, "cross-app", 9);
    pl_redis_lock_free(redis);
    printf("libportalocker %s: %s (OFD locks: %s)\n", pl_version_string(),
           pl_error_name(rc),
           pl_mechanism_supported(PL_MECH_OFD) == PL_OK ? "yes" : "no");
    return rc == PL_OK ? 0 : 1;
}
