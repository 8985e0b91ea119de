/*
 * The pl_lock handle and the operations table that plugs a lock kind
 * (Lock, RLock, TemporaryFileLock, PidFileLock) into the one engine in
 * lock.c. Calls run kind -> engine only: the engine never names a kind,
 * it reads the kind's table. Private to the core.
 */
#ifndef PL_LOCK_HANDLE_H
#define PL_LOCK_HANDLE_H

#include "exit_registry.h"
#include "internal.h"
#include "wait_control.h"

typedef struct pl_lock_kind {
    /* For messages: "temporary", "PID-file", ... */
    const char *name;
    /* The open mode a new handle starts with. */
    const char *default_mode;
    int default_fail_when_locked;
    /* Acquire counts, release counts down (RLock). */
    unsigned reentrant : 1;
    /* The open mode cannot be changed. */
    unsigned fixed_mode : 1;
    /* The library creates the lock file in a shared directory and it
       exists only while held: opened without following a symlink or
       opening a FIFO, and re-checked after locking, because a releasing
       holder unlinks it while a waiter may already have it open (the
       split-brain guard). */
    unsigned owns_file : 1;

    /* Hooks; each may be NULL. */
    /* After the OS lock is taken, before the handle reports held. On
       failure the engine drops the lock (and an owned file). */
    int (*after_lock)(pl_lock *l);
    /* On release, while the lock is still held: files go first, or two
       processes could hold the lock at once. */
    int (*before_unlock)(pl_lock *l);
    /* An acquire failed with rc: the code to report instead (and a chance
       to record who holds the lock). */
    int (*on_contention)(pl_lock *l, int rc);
    /* The process exits while the lock is held (the kernel drops the OS
       lock itself): remove what must not outlive us. */
    void (*at_exit)(pl_lock *l);
    /* The path pl_lock_path reports (NULL: the locked file). */
    const char *(*public_path)(const pl_lock *l);
    /* Free the kind's data. */
    void (*free_data)(void *data);
} pl_lock_kind;

struct pl_lock {
    const pl_lock_kind *kind;
    void *data;  /* the kind's own (PID-file lock: the PID file's path) */
    char *path;  /* the file the OS lock sits on */
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
    pl__exit_entry exit_entry; /* files to remove at exit (kind->at_exit) */
    pl__cancel cancel;         /* pl_lock_cancel */
    pl__claim busy; /* an acquire or release runs: a second thread's
                       call is refused instead of corrupting the handle */
};

/* ---- what the engine offers the kinds ---- */

/* A new handle of `kind` on `path` with the kind's defaults. */
int pl__lock_new(pl_lock **out, const char *path, const pl_lock_kind *kind);
/* Unlink `path` only if the file we hold is still the one there: never
   delete a file that a later holder created. Sets the last error and
   returns its code on failure. */
int pl__lock_unlink_if_ours(pl_lock *l, const char *path);

#endif
