/*
 * TemporaryFileLock: the lock file exists only while the lock is held.
 *
 * The engine's owned-file rules do the work (lock_handle.h): the file is
 * created without following symlinks, re-checked after locking (the
 * split-brain guard: a releasing holder unlinks the path while a waiter
 * may already have the old file open), and removed first on release, while
 * still locked. Locks still held at exit have their files removed (the
 * reference's atexit handler).
 */
#include "lock_handle.h"

static int remove_file(pl_lock *l)
{
    return pl__lock_unlink_if_ours(l, l->path);
}

static void remove_file_at_exit(pl_lock *l)
{
    (void)remove_file(l);
}

static const pl_lock_kind temporary_kind = {
    .name = "temporary",
    /* The reference opens the file with 'w' (truncated once locked). */
    .default_mode = "w",
    .default_fail_when_locked = 1,
    .fixed_mode = 1,
    .owns_file = 1,
    .before_unlock = remove_file,
    .at_exit = remove_file_at_exit,
};

PL_EXPORT pl_status pl_temporary_lock_new(pl_lock **out, const char *path)
{
    return pl__lock_new(out, path ? path : ".lock", &temporary_kind);
}
