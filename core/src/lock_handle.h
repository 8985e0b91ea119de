/* The pl_lock handle shared by Lock, RLock, TemporaryFileLock and
   PidFileLock; private to the core. */
#ifndef PL_LOCK_HANDLE_H
#define PL_LOCK_HANDLE_H

#include "internal.h"

enum pl_lock_kind {
    PL_KIND_LOCK,
    PL_KIND_RLOCK,
    PL_KIND_TEMPORARY,
    PL_KIND_PIDFILE
};

struct pl_lock {
    enum pl_lock_kind kind;
    char *path;     /* the file the OS lock sits on (PID file: sidecar) */
    char *pid_path; /* PID-file lock: the file holding the PID */
    char *mode;
    int oflags;         /* PL_O_* from the mode */
    int truncate_after; /* mode had 'w': truncate once locked */
    int flags;          /* PL_LOCK_* */
    int mechanism;
    int held_mechanism; /* the one the held lock was taken with: release
                           must use it even if the setting changed since */
    unsigned int file_mode;
    int raise_on_release_error;
    pl_wait_opts wait;

    int fd;         /* -1 when nothing is open */
    int held;       /* the OS lock on fd is ours */
    int count;      /* RLock depth */
    long owner_pid; /* the process that took the lock (fork safety) */
    long holder_pid;
    struct pl_lock *exit_next; /* registry of temporary files to clean */
    int in_exit_registry;
};

/* Kind-specific steps (temporary_file_lock.c, pid_file_lock.c). */
int pl__temporary_verify(struct pl_lock *l, int *replaced);
int pl__temporary_unlink(struct pl_lock *l);
int pl__pidfile_write(struct pl_lock *l);
int pl__pidfile_unlink(struct pl_lock *l);
long pl__pidfile_read(const struct pl_lock *l);
int pl__lock_alloc(struct pl_lock **out, const char *path,
                   enum pl_lock_kind kind);

#endif
