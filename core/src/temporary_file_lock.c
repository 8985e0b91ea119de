/*
 * TemporaryFileLock: the lock file exists only while the lock is held.
 *
 * Split-brain guard: a releasing holder unlinks the path while a waiter may
 * already have the old file open. After locking, the file we hold must
 * still be the one at the path (same device and inode); otherwise it is
 * dropped and the current one locked (lock.c). Release unlinks first, while
 * still holding the lock, then unlocks. Locks still held at exit have their
 * files removed by a library destructor (the reference's atexit handler).
 */
#include "lock_handle.h"
#include "platform.h"

#include <errno.h>
#include <pthread.h>

PL_EXPORT int pl_temporary_lock_new(pl_lock **out, const char *path)
{
    return pl__lock_alloc(out, path ? path : ".lock", PL_KIND_TEMPORARY);
}

int pl__temporary_verify(pl_lock *l, int *replaced)
{
    pl_file_id held, current;
    int err = pl_os_fd_id(l->fd, &held);
    if (err)
        return pl__fail_os(PL_ERR_IO, err, "stat", l->path);
    err = pl_os_path_id(l->path, &current);
    if (err == ENOENT) {
        *replaced = 1;
        return PL_OK;
    }
    if (err)
        return pl__fail_os(PL_ERR_IO, err, "stat", l->path);
    *replaced = held.dev != current.dev || held.ino != current.ino;
    return PL_OK;
}

/* Unlink `path` only if it is still the file we hold: never delete a file
   that a later holder created. */
static int unlink_if_ours(pl_lock *l, const char *path)
{
    pl_file_id held, current;
    int err;
    if (pl_os_fd_id(l->fd, &held) == 0 && pl_os_path_id(path, &current) == 0 &&
        (held.dev != current.dev || held.ino != current.ino))
        return PL_OK;
    err = pl_os_unlink(path);
    if (err && err != ENOENT)
        return pl__fail_os(PL_ERR_IO, err, "remove", path);
    return PL_OK;
}

int pl__temporary_unlink(pl_lock *l)
{
    return unlink_if_ours(l, l->path);
}

/* ---- locks whose files must go at exit ---- */

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static pl_lock *registry_head;

void pl__exit_registry_add(pl_lock *l)
{
    pthread_mutex_lock(&registry_mutex);
    if (!l->in_exit_registry) {
        l->exit_next = registry_head;
        registry_head = l;
        l->in_exit_registry = 1;
    }
    pthread_mutex_unlock(&registry_mutex);
}

void pl__exit_registry_remove(pl_lock *l)
{
    pl_lock **p;
    pthread_mutex_lock(&registry_mutex);
    if (l->in_exit_registry) {
        for (p = &registry_head; *p; p = &(*p)->exit_next) {
            if (*p == l) {
                *p = l->exit_next;
                break;
            }
        }
        l->in_exit_registry = 0;
        l->exit_next = NULL;
    }
    pthread_mutex_unlock(&registry_mutex);
}

/* Runs at normal exit and when the library is unloaded. */
__attribute__((destructor)) static void release_temporary_files_at_exit(void)
{
    pl_lock *l;
    pthread_mutex_lock(&registry_mutex);
    for (l = registry_head; l; l = l->exit_next)
        pl__lock_release_at_exit(l);
    pthread_mutex_unlock(&registry_mutex);
}
