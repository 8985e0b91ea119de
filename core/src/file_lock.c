/* Lock and RLock: a lock on a file the user names. The file is never
   deleted; the mode defaults to 'a' so that waiting never wipes it. */
#include "lock_handle.h"

static const pl_lock_kind lock_kind = {
    .name = "file",
    .default_mode = "a",
};

static const pl_lock_kind rlock_kind = {
    .name = "reentrant file",
    .default_mode = "a",
    .reentrant = 1,
};

PL_EXPORT pl_status pl_lock_new(pl_lock **out, const char *path)
{
    return pl__lock_new(out, path, &lock_kind);
}

PL_EXPORT pl_status pl_rlock_new(pl_lock **out, const char *path)
{
    return pl__lock_new(out, path, &rlock_kind);
}
