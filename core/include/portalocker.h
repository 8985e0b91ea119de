/*
 * libportalocker: cross-process locks (file locks, reentrant, temporary and
 * PID-file locks, bounded semaphores, atomic file writes, and a Redis
 * pub/sub distributed lock) behind a stable C ABI.
 *
 * Conventions (the same for every function in this header):
 *  - Every function that can fail returns a pl_status: PL_OK (0) or a
 *    negative PL_ERR_* code. The code is the truth; pl_last_error_message()
 *    adds detail (the path and the OS error), pl_last_errno() the saved errno.
 *  - Handles are opaque. They are created through out-parameters
 *    (pl_xxx_new(&handle, ...)) and freed with pl_xxx_free(handle), which
 *    accepts NULL and releases whatever the handle still holds.
 *  - Options are set with setter functions, never through public structs, so
 *    new options never change the ABI. Every setter pl_xxx_set_NAME has a
 *    getter pl_xxx_get_NAME of the same shape, with out-parameters.
 *  - pl_xxx_acquire_with is pl_xxx_acquire with per-call overrides of the
 *    handle's options (PL_INHERIT keeps the handle's); `_with` means
 *    nothing else.
 *  - Lengths are size_t.
 *  - A handle may be used from any thread but not from two threads at once
 *    (a second concurrent acquire or release is refused with
 *    PL_ERR_INVALID_STATE rather than corrupting the handle); the *_cancel
 *    calls are the exception: any thread, or a signal handler, at any time.
 *  - Every macro a foreign runtime needs has a function twin (ctypes and
 *    LuaJIT FFI cannot see macros): pl_version_number(), pl_flag_*().
 */
#ifndef PORTALOCKER_H
#define PORTALOCKER_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

#if defined(_WIN32) && defined(PL_BUILDING_LIBRARY)
#define PL_EXPORT __declspec(dllexport)
#elif defined(_WIN32) && !defined(PL_STATIC)
#define PL_EXPORT __declspec(dllimport)
#elif defined(__GNUC__)
#define PL_EXPORT __attribute__((visibility("default")))
#else
#define PL_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define PL_VERSION_MAJOR 1
#define PL_VERSION_MINOR 0
#define PL_VERSION_PATCH 0
#define PL_VERSION_STRING "1.0.0"
#define PL_VERSION_NUMBER \
    (PL_VERSION_MAJOR * 10000 + PL_VERSION_MINOR * 100 + PL_VERSION_PATCH)

/* Function twins of the version macros: the version of the loaded library. */
PL_EXPORT int pl_version_number(void);
PL_EXPORT const char *pl_version_string(void);

/* ------------------------------------------------------------------ */
/* Errors: one table generates the codes, pl_strerror, pl_error_name and  */
/* the exception names the bindings raise.                              */
/* X(NAME, value, exception class, description)                         */
/* ------------------------------------------------------------------ */

#define PL_ERROR_TABLE(X)                                                     \
    X(OK, 0, "", "success")                                                  \
    X(ALREADY_LOCKED, -1, "AlreadyLocked",                                   \
      "the lock is held by someone else (or the timeout ran out)")          \
    X(LOCK_FAILED, -2, "LockException", "the lock call failed")              \
    X(FILE_TOO_LARGE, -3, "FileToLarge", "file too large for the lock call") \
    X(INVALID_ARGUMENT, -4, "InvalidArgument", "invalid argument")           \
    X(NOT_HELD, -5, "NotHeld", "the lock is not held")                       \
    X(EXISTS, -6, "FileExists", "the destination already exists")            \
    X(IO, -7, "OSError", "input/output or operating system error")           \
    X(NO_MEMORY, -8, "NoMemory", "out of memory")                            \
    X(UNSUPPORTED, -9, "Unsupported", "not supported on this system")        \
    X(INVALID_STATE, -10, "InvalidState",                                    \
      "the handle is in the wrong state for this call")                     \
    X(LOCK_LOST, -11, "LockLost", "the lock was lost while held")            \
    X(CONNECTION, -12, "ConnectionError", "cannot reach the lock server")    \
    X(INTERRUPTED, -13, "Interrupted",                                       \
      "the wait was cancelled or interrupted")

#define PL_ERROR_ENUM_ENTRY(name, value, exc, text) PL_ERR_##name = (value),
typedef enum pl_error {
    PL_ERROR_TABLE(PL_ERROR_ENUM_ENTRY)
} pl_error;
#undef PL_ERROR_ENUM_ENTRY
#define PL_OK PL_ERR_OK

/* What every fallible call returns: PL_OK (0) or a negative PL_ERR_* code.
   An int, so that foreign runtimes bind it as one. */
typedef int pl_status;

/* A static description of a code ("unknown error" for an unknown code). */
PL_EXPORT const char *pl_strerror(int code);
/* The code's name without prefix ("ALREADY_LOCKED"); "UNKNOWN" if unknown. */
PL_EXPORT const char *pl_error_name(int code);
/* The exception class the bindings raise for a code ("AlreadyLocked"). */
PL_EXPORT const char *pl_error_exception(int code);
/* Lowest defined code (codes run from 0 down to this), for iterating. */
PL_EXPORT int pl_error_min(void);

/* The calling thread's last error: never NULL ("" when nothing failed). */
PL_EXPORT const char *pl_last_error_message(void);
/* The errno saved with the last error (0 if no OS call failed). */
PL_EXPORT int pl_last_errno(void);
/* The code of the calling thread's last failed call (PL_OK if none). */
PL_EXPORT int pl_last_error_code(void);
PL_EXPORT void pl_clear_error(void);

/* ------------------------------------------------------------------ */
/* Interrupting and cancelling waits                                    */
/* ------------------------------------------------------------------ */

/*
 * Every call that can wait for a lock (pl_lock_acquire*, pl_semaphore_
 * acquire*, pl_lock_fd* without PL_LOCK_NB, pl_redis_lock_acquire*) can be
 * ended early in two ways; either makes it return PL_ERR_INTERRUPTED with
 * nothing held (no lock, no slot, no subscription; the file a Lock opened
 * is closed again).
 *
 * 1. The calling thread's wait hook. While a thread waits, its hook runs at
 *    least every `interval` seconds, and as soon as a signal interrupts the
 *    wait (a handler installed without SA_RESTART; with SA_RESTART only the
 *    interval applies). A nonzero return ends the wait; zero resumes it
 *    (the deadline does not move). The hook runs on the waiting thread, in
 *    normal (not signal) context, holding nothing of the library's, so it
 *    may run an interpreter's signal handlers (Python: PyErr_CheckSignals)
 *    or check a flag an unblocking function set (Ruby). It must not use
 *    the handle being waited on. A wait that gets its lock returns PL_OK
 *    even if a signal arrived meanwhile: the caller decides what a late
 *    signal means (a binding that raises must release first).
 *    The hook is per thread: a new thread starts without one. hook NULL
 *    removes it. interval: > 0 and finite (a hook is cheap to call: 0.05 s
 *    suits an interactive program), else PL_ERR_INVALID_ARGUMENT; ignored
 *    when hook is NULL.
 */
typedef int (*pl_wait_hook)(void *userdata);
PL_EXPORT pl_status pl_set_wait_hook(pl_wait_hook hook, void *userdata,
                                     double interval);
/* The calling thread's hook (NULL, NULL, 0 when none); any out-parameter
   may be NULL. Neither call clears the thread's last error when it
   succeeds (a binding may swap hooks between a failure and its report). */
PL_EXPORT pl_status pl_get_wait_hook(pl_wait_hook *hook, void **userdata,
                                     double *interval);

/*
 * 2. Cancelling a handle: pl_lock_cancel / pl_semaphore_cancel (below).
 *    Safe from any thread and from a signal handler (an atomic flag and a
 *    write to a wake-up pipe: no lock, no allocation). Like pthread_cancel,
 *    a cancel is pending until a wait of that handle consumes it: the
 *    acquire in progress returns PL_ERR_INTERRUPTED within a few
 *    milliseconds, or, if none is in progress, the handle's next acquire
 *    that has to take the OS lock does, without trying. A cancel is
 *    consumed exactly once and never lost; cancelling twice before a wait
 *    is one cancel. An acquire that got its lock before it saw the cancel
 *    returns PL_OK and leaves the cancel pending for the next one (a race
 *    a canceller cannot avoid: it learns which happened from the result).
 *    The handle must outlive the cancel call.
 */

/* ------------------------------------------------------------------ */
/* Flags and mechanisms                                                 */
/* ------------------------------------------------------------------ */

/* The flock(2) values, as the reference uses them. */
#define PL_LOCK_SH 1 /* SHARED */
#define PL_LOCK_EX 2 /* EXCLUSIVE */
#define PL_LOCK_NB 4 /* NON_BLOCKING */
#define PL_LOCK_UN 8 /* UNBLOCK */

PL_EXPORT int pl_flag_shared(void);
PL_EXPORT int pl_flag_exclusive(void);
PL_EXPORT int pl_flag_non_blocking(void);
PL_EXPORT int pl_flag_unblock(void);

/* The OS primitive a lock uses. */
#define PL_MECH_FLOCK 0 /* flock(2): per open file description; the default
                           and what the reference uses */
#define PL_MECH_POSIX 1 /* fcntl(F_SETLK) record locks: per process, dropped
                           when the process closes ANY fd of the file */
#define PL_MECH_OFD 2   /* Linux open-file-description record locks */

PL_EXPORT int pl_mechanism_flock(void);
PL_EXPORT int pl_mechanism_posix(void);
PL_EXPORT int pl_mechanism_ofd(void);
/* PL_OK if the mechanism works here, PL_ERR_UNSUPPORTED if not. */
PL_EXPORT pl_status pl_mechanism_supported(int mechanism);

/* "Use the handle's setting" for the per-call overrides of acquire. */
#define PL_INHERIT (-1)
PL_EXPORT int pl_inherit(void);

/* ------------------------------------------------------------------ */
/* Low-level calls on a descriptor                                      */
/* ------------------------------------------------------------------ */

/*
 * Lock fd with flags (EXCLUSIVE or SHARED, optionally | NON_BLOCKING; or
 * UNBLOCK to unlock). NON_BLOCKING alone is PL_ERR_INVALID_ARGUMENT.
 * Contention -> PL_ERR_ALREADY_LOCKED; other failures -> PL_ERR_LOCK_FAILED.
 * Without NON_BLOCKING: if the calling thread has no wait hook, the
 * kernel's blocking call (a signal resumes it); with a hook, non-blocking
 * attempts woken by the descriptor's file closing and a backoff of at most
 * 50 ms (or the hook interval), so the hook runs on time and can end the
 * wait (PL_ERR_INTERRUPTED, nothing locked).
 */
PL_EXPORT pl_status pl_lock_fd(int fd, int flags);
PL_EXPORT pl_status pl_unlock_fd(int fd);
/* The same with a lock mechanism (PL_MECH_*) instead of flock. */
PL_EXPORT pl_status pl_lock_fd_mechanism(int fd, int flags, int mechanism);
PL_EXPORT pl_status pl_unlock_fd_mechanism(int fd, int mechanism);

/* ------------------------------------------------------------------ */
/* File locks: Lock, RLock, TemporaryFileLock, PidFileLock              */
/* ------------------------------------------------------------------ */

typedef struct pl_lock pl_lock;

/* Lock: open `path` (mode "a" unless set), lock it. Never deletes the file. */
PL_EXPORT pl_status pl_lock_new(pl_lock **out, const char *path);
/* RLock: like Lock, reentrant per handle (acquire counts, release counts). */
PL_EXPORT pl_status pl_rlock_new(pl_lock **out, const char *path);
/* TemporaryFileLock: the file exists only while held (deleted on release). */
PL_EXPORT pl_status pl_temporary_lock_new(pl_lock **out, const char *path);
/* PidFileLock: locks "<path>.lock", writes this process's PID to <path>. */
PL_EXPORT pl_status pl_pidfile_lock_new(pl_lock **out, const char *path);
/* Releases what is held (unless another process owns it: see fork) and
   frees. NULL is fine. */
PL_EXPORT void pl_lock_free(pl_lock *lock);

/* Options. Defaults are the reference's: timeout 5 s, check_interval
   0.25 s, flags EXCLUSIVE|NON_BLOCKING, fail_when_locked 0 (1 for the
   temporary and PID-file locks), mode "a", mechanism flock, file mode 0666
   (minus umask). timeout may be INFINITY (wait until the lock is free);
   negative or NaN values are PL_ERR_INVALID_ARGUMENT. Flags without
   NON_BLOCKING also wait until free, ignoring the timeout. Neither waits
   in the kernel's blocking call (which only a signal could end): they
   wait like a deadline wait, so a cancel or the wait hook ends them, and
   a release that only unlocks is seen within check_interval. */
PL_EXPORT pl_status pl_lock_set_timeout(pl_lock *lock, double seconds);
PL_EXPORT pl_status pl_lock_set_check_interval(pl_lock *lock, double seconds);
PL_EXPORT pl_status pl_lock_set_fail_when_locked(pl_lock *lock, int enabled);
PL_EXPORT pl_status pl_lock_set_flags(pl_lock *lock, int flags);
/* fopen-style: r, w, a, x, each optionally with + b t ("w" truncates only
   after the lock is taken). Lock and RLock only. */
PL_EXPORT pl_status pl_lock_set_mode(pl_lock *lock, const char *mode);
PL_EXPORT pl_status pl_lock_set_mechanism(pl_lock *lock, int mechanism);
/* Permission bits for files the lock creates (umask still applies). */
PL_EXPORT pl_status pl_lock_set_file_mode(pl_lock *lock, unsigned int mode);
/* When enabled, pl_lock_release reports unlock/close failures and an owned
   lock file (temporary, PID file) it could not remove; when not (the
   default) it reports PL_OK and leaves the detail in the last error. */
PL_EXPORT pl_status pl_lock_set_raise_on_release_error(pl_lock *lock, int enabled);

PL_EXPORT pl_status pl_lock_get_timeout(const pl_lock *lock, double *out);
PL_EXPORT pl_status pl_lock_get_check_interval(const pl_lock *lock, double *out);
PL_EXPORT pl_status pl_lock_get_fail_when_locked(const pl_lock *lock, int *out);
PL_EXPORT pl_status pl_lock_get_flags(const pl_lock *lock, int *out);
/* The handle's string; valid until the mode is set again or the handle
   is freed. */
PL_EXPORT pl_status pl_lock_get_mode(const pl_lock *lock, const char **out);
PL_EXPORT pl_status pl_lock_get_mechanism(const pl_lock *lock, int *out);
PL_EXPORT pl_status pl_lock_get_file_mode(const pl_lock *lock,
                                          unsigned int *out);
PL_EXPORT pl_status pl_lock_get_raise_on_release_error(const pl_lock *lock,
                                                       int *out);
/* The path the handle locks (for a PID-file lock: the PID file). */
PL_EXPORT const char *pl_lock_path(const pl_lock *lock);

/*
 * Acquire with the handle's options. On success *fd_out (may be NULL) is the
 * locked descriptor; it belongs to the handle (do not close it) and stays
 * valid until release. Acquiring a handle that holds its lock returns the
 * same descriptor (RLock: and counts). PL_ERR_ALREADY_LOCKED on contention
 * or when the timeout runs out.
 */
PL_EXPORT pl_status pl_lock_acquire(pl_lock *lock, int *fd_out);
/* The same with per-call overrides; PL_INHERIT (-1) keeps the handle's. */
PL_EXPORT pl_status pl_lock_acquire_with(pl_lock *lock, double timeout,
                                   double check_interval, int fail_when_locked,
                                   int *fd_out);
/* Release; a no-op (PL_OK) when nothing is held, except for an RLock where
   releasing more often than acquired is PL_ERR_NOT_HELD. */
PL_EXPORT pl_status pl_lock_release(pl_lock *lock);
/* 1 if this handle holds its lock, else 0. */
PL_EXPORT int pl_lock_is_held(const pl_lock *lock);
/* The held descriptor, or -1. */
PL_EXPORT int pl_lock_held_fd(const pl_lock *lock);
/* RLock acquire count (0 or 1 for the other kinds). */
PL_EXPORT int pl_lock_count(const pl_lock *lock);
/* Cancel the handle's acquire in progress, or its next one (see
   "Interrupting and cancelling waits" above). Any thread, signal-safe. */
PL_EXPORT pl_status pl_lock_cancel(pl_lock *lock);

/* PID-file locks: the PID in the PID file, 0 if missing, empty or not a
   number. After an acquire failed with PL_ERR_ALREADY_LOCKED,
   pl_lock_holder_pid gives the PID the holder had written (0 if unknown). */
PL_EXPORT pl_status pl_lock_read_pid(const pl_lock *lock, long *pid_out);
PL_EXPORT long pl_lock_holder_pid(const pl_lock *lock);

/* ------------------------------------------------------------------ */
/* Bounded semaphores                                                   */
/* ------------------------------------------------------------------ */

typedef struct pl_semaphore pl_semaphore;

/* `maximum` slot files named by the pattern (default
   "{name}.{number:02d}.lock") in the directory (default: the system temp
   dir, $TMPDIR or /tmp). name NULL -> "bounded_semaphore.<random>". Names
   containing '/' or ".." are PL_ERR_INVALID_ARGUMENT. fail_when_locked
   defaults to 1. */
PL_EXPORT pl_status pl_semaphore_new(pl_semaphore **out, int maximum,
                               const char *name);
PL_EXPORT void pl_semaphore_free(pl_semaphore *sem);
PL_EXPORT pl_status pl_semaphore_set_directory(pl_semaphore *sem, const char *dir);
/* Placeholders: {name}, {number} with an optional format spec like :02d. */
PL_EXPORT pl_status pl_semaphore_set_filename_pattern(pl_semaphore *sem,
                                                const char *pattern);
PL_EXPORT pl_status pl_semaphore_set_timeout(pl_semaphore *sem, double seconds);
PL_EXPORT pl_status pl_semaphore_set_check_interval(pl_semaphore *sem,
                                              double seconds);
PL_EXPORT pl_status pl_semaphore_set_fail_when_locked(pl_semaphore *sem,
                                                int enabled);
PL_EXPORT pl_status pl_semaphore_set_mechanism(pl_semaphore *sem, int mechanism);
PL_EXPORT pl_status pl_semaphore_set_file_mode(pl_semaphore *sem, unsigned int mode);
PL_EXPORT pl_status pl_semaphore_get_directory(const pl_semaphore *sem,
                                               const char **out);
PL_EXPORT pl_status pl_semaphore_get_filename_pattern(const pl_semaphore *sem,
                                                      const char **out);
PL_EXPORT pl_status pl_semaphore_get_timeout(const pl_semaphore *sem,
                                             double *out);
PL_EXPORT pl_status pl_semaphore_get_check_interval(const pl_semaphore *sem,
                                                    double *out);
PL_EXPORT pl_status pl_semaphore_get_fail_when_locked(const pl_semaphore *sem,
                                                      int *out);
PL_EXPORT pl_status pl_semaphore_get_mechanism(const pl_semaphore *sem,
                                               int *out);
PL_EXPORT pl_status pl_semaphore_get_file_mode(const pl_semaphore *sem,
                                               unsigned int *out);
PL_EXPORT const char *pl_semaphore_name(const pl_semaphore *sem);
PL_EXPORT int pl_semaphore_maximum(const pl_semaphore *sem);
/* Writes slot i's full path into buf (NUL-terminated);
   PL_ERR_INVALID_ARGUMENT if the slot is out of range or buf too small. */
PL_EXPORT pl_status pl_semaphore_slot_path(const pl_semaphore *sem, int slot,
                                           char *buf, size_t size);

/* Take the first free slot (sweeping 0..maximum-1). *slot_out (may be
   NULL) is the slot taken. No slot within the timeout ->
   PL_ERR_ALREADY_LOCKED, whatever fail_when_locked says: that setting
   only tells the bindings whether to raise or to return "nothing", as the
   reference does, so it is no per-call override here. Acquiring while
   holding is PL_ERR_INVALID_STATE. */
PL_EXPORT pl_status pl_semaphore_acquire(pl_semaphore *sem, int *slot_out);
PL_EXPORT pl_status pl_semaphore_acquire_with(pl_semaphore *sem,
                                              double timeout,
                                              double check_interval,
                                              int *slot_out);
PL_EXPORT pl_status pl_semaphore_release(pl_semaphore *sem);
/* The held slot, or -1. */
PL_EXPORT int pl_semaphore_slot(const pl_semaphore *sem);
PL_EXPORT int pl_semaphore_fd(const pl_semaphore *sem);
/* Cancel the handle's acquire in progress, or its next one (see
   "Interrupting and cancelling waits" above). Any thread, signal-safe. */
PL_EXPORT pl_status pl_semaphore_cancel(pl_semaphore *sem);

/* ------------------------------------------------------------------ */
/* Atomic file writes (open_atomic)                                     */
/* ------------------------------------------------------------------ */

typedef struct pl_atomic_file pl_atomic_file;

/* Create a temporary file next to `path` (the parent directory is created
   if missing): ".portalocker.<16 hex digits>.tmp" in the same directory
   (a fixed 33-byte name, so any basename the filesystem takes works),
   mode 0666 less the umask (the published file gets what a plain open()
   gives). PL_ERR_EXISTS if `path` exists already (a dangling symlink
   counts). */
PL_EXPORT pl_status pl_atomic_open(pl_atomic_file **out, const char *path);
/* The temporary file's descriptor (owned by the handle). */
PL_EXPORT int pl_atomic_fd(const pl_atomic_file *file);
/* The temporary file's path; "" once it is gone (published, removed). */
PL_EXPORT const char *pl_atomic_temp_path(const pl_atomic_file *file);
/* fsync, publish under `path` without ever replacing an existing file
   (PL_ERR_EXISTS, the other file untouched), fsync the directory.
   A failing fsync or close removes the temporary file. A failing
   publication (PL_ERR_EXISTS, or an OS error) keeps it, complete: the
   message names it, pl_atomic_temp_path() still gives it, and
   pl_atomic_free leaves it in place (it is the caller's now), as the
   reference portalocker does, so written data is never destroyed.
   Filesystems without hard links (link(2) fails with EPERM, ENOTSUP or
   EMLINK) fall back to "refuse if the name exists, else rename(2)": the
   content is still atomic, but two publishers racing there can both pass
   the check. */
PL_EXPORT pl_status pl_atomic_commit(pl_atomic_file *file);
/* Abandon (if not committed): the temporary file is removed, unless a
   failed publication kept it (see pl_atomic_commit). NULL ok. */
PL_EXPORT void pl_atomic_free(pl_atomic_file *file);

/* ------------------------------------------------------------------ */
/* Redis lock (pub/sub, wire-compatible with portalocker's RedisLock)   */
/* ------------------------------------------------------------------ */

typedef struct pl_redis_lock pl_redis_lock;

/* channel is binary-safe: channel_len bytes. Connection defaults:
   127.0.0.1:6379, db 0. Lock defaults: EXCLUSIVE, timeout 5 s,
   check_interval 0.25 s, fail_when_locked 0, unavailable_timeout 1 s. */
PL_EXPORT pl_status pl_redis_lock_new(pl_redis_lock **out,
                                      const char *channel,
                                      size_t channel_len);
PL_EXPORT void pl_redis_lock_free(pl_redis_lock *lock);
PL_EXPORT pl_status pl_redis_lock_set_host(pl_redis_lock *lock, const char *host,
                                     int port);
PL_EXPORT pl_status pl_redis_lock_set_unix_socket(pl_redis_lock *lock,
                                            const char *path);
PL_EXPORT pl_status pl_redis_lock_set_db(pl_redis_lock *lock, int db);
/* username may be NULL (plain AUTH password). */
PL_EXPORT pl_status pl_redis_lock_set_password(pl_redis_lock *lock,
                                         const char *username,
                                         const char *password);
PL_EXPORT pl_status pl_redis_lock_set_connect_timeout(pl_redis_lock *lock,
                                                double seconds);
PL_EXPORT pl_status pl_redis_lock_set_command_timeout(pl_redis_lock *lock,
                                                double seconds);
PL_EXPORT pl_status pl_redis_lock_set_flags(pl_redis_lock *lock, int flags);
PL_EXPORT pl_status pl_redis_lock_set_timeout(pl_redis_lock *lock, double seconds);
PL_EXPORT pl_status pl_redis_lock_set_check_interval(pl_redis_lock *lock,
                                               double seconds);
PL_EXPORT pl_status pl_redis_lock_set_fail_when_locked(pl_redis_lock *lock,
                                                 int enabled);
PL_EXPORT pl_status pl_redis_lock_set_unavailable_timeout(pl_redis_lock *lock,
                                                    double seconds);

/* Called at most once per acquisition, from the library's background
   thread, when a held lock is lost (its subscription died or its validity
   lapsed; a lapse found by check() is reported by the thread at its next
   wake-up, or as release stops it). It must not call back into this
   handle. */
typedef void (*pl_lost_callback)(pl_redis_lock *lock, void *userdata);
PL_EXPORT pl_status pl_redis_lock_set_lost_callback(pl_redis_lock *lock,
                                              pl_lost_callback callback,
                                              void *userdata);

/* Getters of the settings above. Strings belong to the handle and stay
   valid until the setting changes or the handle is freed. get_host reports
   the TCP endpoint even while a unix socket is set; get_unix_socket gives
   "" when connecting over TCP; get_password gives NULL for what is not
   set. */
PL_EXPORT pl_status pl_redis_lock_get_host(const pl_redis_lock *lock,
                                           const char **host, int *port);
PL_EXPORT pl_status pl_redis_lock_get_unix_socket(const pl_redis_lock *lock,
                                                  const char **path);
PL_EXPORT pl_status pl_redis_lock_get_db(const pl_redis_lock *lock, int *db);
PL_EXPORT pl_status pl_redis_lock_get_password(const pl_redis_lock *lock,
                                               const char **username,
                                               const char **password);
PL_EXPORT pl_status pl_redis_lock_get_connect_timeout(const pl_redis_lock *lock,
                                                      double *out);
PL_EXPORT pl_status pl_redis_lock_get_command_timeout(const pl_redis_lock *lock,
                                                      double *out);
PL_EXPORT pl_status pl_redis_lock_get_flags(const pl_redis_lock *lock,
                                            int *out);
PL_EXPORT pl_status pl_redis_lock_get_timeout(const pl_redis_lock *lock,
                                              double *out);
PL_EXPORT pl_status pl_redis_lock_get_check_interval(const pl_redis_lock *lock,
                                                     double *out);
PL_EXPORT pl_status pl_redis_lock_get_fail_when_locked(
    const pl_redis_lock *lock, int *out);
PL_EXPORT pl_status pl_redis_lock_get_unavailable_timeout(
    const pl_redis_lock *lock, double *out);
PL_EXPORT pl_status pl_redis_lock_get_lost_callback(const pl_redis_lock *lock,
                                                    pl_lost_callback *callback,
                                                    void **userdata);

PL_EXPORT pl_status pl_redis_lock_acquire(pl_redis_lock *lock);
PL_EXPORT pl_status pl_redis_lock_acquire_with(pl_redis_lock *lock, double timeout,
                                         double check_interval,
                                         int fail_when_locked);
/* Cancel the handle's acquire or probe in progress, or its next one (see
   "Interrupting and cancelling waits" above): it returns
   PL_ERR_INTERRUPTED with nothing subscribed. Any thread, signal-safe. */
PL_EXPORT pl_status pl_redis_lock_cancel(pl_redis_lock *lock);
/* UNSUBSCRIBE and close: that is the release. No-op (PL_OK) when nothing
   is held. If the lock had been lost meanwhile, everything is still cleaned
   up and the result is PL_ERR_LOCK_LOST, so a loss is never silent. */
PL_EXPORT pl_status pl_redis_lock_release(pl_redis_lock *lock);
/* PL_OK while held (provably: see "What held guarantees" below),
   PL_ERR_LOCK_LOST if the held lock was lost or its validity lapsed,
   PL_ERR_NOT_HELD if nothing is held.
   Lost locks: the lock is the subscription; when it dies (server restart,
   CLIENT KILL, a stalled path that stops the confirmations) the library
   never resubscribes (that would be a silent re-acquisition that skipped
   the election): check() reports PL_ERR_LOCK_LOST (no round trip: it
   reads the last confirmation) and the lost callback fires once. Another process may hold
   the lock from that moment on, so a holder should check before each
   step that needs exclusion (or react in the callback), stop the work,
   release, and acquire again. No call touches the network of an inherited
   lock in a forked child: there it is simply not held. */
PL_EXPORT pl_status pl_redis_lock_check(pl_redis_lock *lock);
PL_EXPORT const char *pl_redis_lock_holder_id(const pl_redis_lock *lock);

/* What "held" guarantees.
   check() returns PL_OK only while the hold is provable: the holder's
   background thread confirmed, with a round trip to the server on the
   subscription that IS the lock, that the subscription was alive at a
   moment less than a validity window ago. The window is
   unavailable_timeout minus a margin (half of it, at most 1 s less), on a
   clock that keeps counting while the process is stopped or the machine
   sleeps (CLOCK_BOOTTIME on Linux), so a process frozen past the window
   and resumed finds its hold lapsed at its first check, before it can act
   on it. The thread confirms several times per window, so a healthy
   holder never lapses. Once lapsed or lost the hold stays lost (sticky):
   the lost callback fires once, release() reports PL_ERR_LOCK_LOST, and
   is_lost() says 1 until the next acquire.
   A waiter may reap a holder silent for its own unavailable_timeout, so a
   holder's window is only as safe as the shortest unavailable_timeout
   used on the channel, by this library or by the reference: give every
   participant the same value. "Held" is a statement about the past (the
   last confirmation) bounded by the window; a holder paused between its
   check and its write (GC, swap, SIGSTOP) can still write after losing
   the lock. Only a fencing token, checked by the resource itself,
   protects against that: see set_fencing.
   Threads: use a handle from one thread at a time. A call made while
   another thread is inside acquire, release or probe on the same handle
   does not wait for it: it fails with PL_ERR_INVALID_STATE saying what
   the handle is busy with (check() may run beside check() and probe()).
   pl_redis_lock_free, which cannot fail, waits for such a call to
   return (at most its timeout) instead of freeing what it uses. */

/* Holder record modes on the wire ("shared", "pending", "exclusive"). The
   functions return the same values, for bindings without the macros. */
#define PL_REDIS_MODE_SHARED 0
#define PL_REDIS_MODE_PENDING 1
#define PL_REDIS_MODE_EXCLUSIVE 2
PL_EXPORT int pl_redis_mode_shared(void);
PL_EXPORT int pl_redis_mode_pending(void);
PL_EXPORT int pl_redis_mode_exclusive(void);

/* Fencing tokens (opt-in, off by default; not while held). With fencing
   on, every exclusive grant draws a token: after the grant is confirmed
   and before acquire reports it, INCR "<channel>-fence" in the lock's
   database; a failed INCR fails the attempt. Tokens drawn on one server
   and database by any fenced writer (this library or the reference with
   fencing=True) increase strictly in grant order; unfenced writers draw
   none, readers never. Hand the token to the resource with every write
   and have it reject tokens lower than the highest it has seen. */
PL_EXPORT pl_status pl_redis_lock_set_fencing(pl_redis_lock *lock,
                                              int enabled);
PL_EXPORT pl_status pl_redis_lock_get_fencing(const pl_redis_lock *lock,
                                              int *out);
/* The token of the current or most recent fenced grant (still readable
   after release and after a loss); 0 when none was drawn yet (tokens
   start at 1). A new acquire attempt resets it. */
PL_EXPORT pl_status pl_redis_lock_get_fence_token(const pl_redis_lock *lock,
                                                  long long *out);
/* The counter's key, "<channel>-fence" (binary-safe: *len bytes; owned by
   the handle). */
PL_EXPORT pl_status pl_redis_lock_get_fence_key(const pl_redis_lock *lock,
                                                const char **key,
                                                size_t *len);

/* End-to-end self-check (the reference's self_check_interval): every
   `seconds` the holder publishes an ordinary ping on the channel and needs
   its own answer back within min(seconds, unavailable_timeout), else the
   hold is lost. 0 (default) = off. The validity confirmation above runs
   regardless; this additionally proves the publish/answer path. Not while
   held. */
PL_EXPORT pl_status pl_redis_lock_set_self_check_interval(pl_redis_lock *lock,
                                                          double seconds);
PL_EXPORT pl_status pl_redis_lock_get_self_check_interval(
    const pl_redis_lock *lock, double *out);

/* 1 from the moment a held lock was lost (or its validity lapsed) until
   the next acquire, also after release (the reference's `lost`); else 0.
   No round trip. */
PL_EXPORT pl_status pl_redis_lock_is_lost(const pl_redis_lock *lock,
                                          int *out);
/* The mode this handle advertises right now (PL_REDIS_MODE_*: while
   acquiring it changes; SHARED or EXCLUSIVE while held; the requested
   mode's idle value when nothing is held), and whether it is the elected
   writer (the reference's `writer_elected`). */
PL_EXPORT pl_status pl_redis_lock_get_mode(const pl_redis_lock *lock,
                                           int *out);
PL_EXPORT pl_status pl_redis_lock_get_elected(const pl_redis_lock *lock,
                                              int *out);

/* Read-only probe (the reference's RedisLock.probe()): who holds the
   channel right now. Never subscribes to the channel, never reaps, never
   changes the handle's state; usable whether or not this handle holds
   (its own answer is then included). A subscriber count of 0 gives an
   empty list at once; otherwise pings are sent and answers collected,
   retried until a probe is conclusive or `timeout` seconds pass
   (PL_INHERIT: unavailable_timeout), then PL_ERR_LOCK_FAILED (an
   unanswered probe is never reported as an empty channel). *out is freed
   with pl_redis_holders_free. */
typedef struct pl_redis_holders pl_redis_holders;
PL_EXPORT pl_status pl_redis_lock_probe(pl_redis_lock *lock, double timeout,
                                        pl_redis_holders **out);
PL_EXPORT size_t pl_redis_holders_count(const pl_redis_holders *holders);
/* Entry i: holder_id (owned by the list; "legacy-<n>" for a pre-record
   peer), mode (PL_REDIS_MODE_*), elected 1/0, or -1 when the record has
   no boolean `elected` (a peer older than 4.2). Any out may be NULL. */
PL_EXPORT pl_status pl_redis_holders_get(const pl_redis_holders *holders,
                                         size_t i, const char **holder_id,
                                         int *mode, int *elected);
PL_EXPORT void pl_redis_holders_free(pl_redis_holders *holders);

/* TLS (off by default). With set_tls(1) every connection the lock opens
   (subscription, commands, probes, the holder's, CLIENT LIST/KILL) is TLS
   1.2 or later, within the connect timeout for TCP connect and handshake
   together. verify_peer (default 1) checks the server's certificate
   against ca_file (PEM bundle) and/or ca_dir (hashed directory), or the
   system's store when both are unset; check_hostname (default 1, only with
   verify_peer) requires the certificate to name the host (DNS name, or IP
   address for a numeric host) or server_name when set. server_name is
   also the SNI (never sent for a numeric address). cert_file and key_file
   (PEM; key_file unset: the key is in cert_file) are the client
   certificate for servers that require one (tls-auth-clients). Strings:
   NULL or "" clears; getters give NULL for unset, owned by the handle
   until the setting changes. Files are read at the next connection; a
   failure there, a failed handshake, an untrusted certificate or a wrong
   name are PL_ERR_CONNECTION naming the endpoint and the cause. Not while
   held. */
PL_EXPORT pl_status pl_redis_lock_set_tls(pl_redis_lock *lock, int enabled);
PL_EXPORT pl_status pl_redis_lock_get_tls(const pl_redis_lock *lock, int *out);
PL_EXPORT pl_status pl_redis_lock_set_tls_verify_peer(pl_redis_lock *lock,
                                                      int enabled);
PL_EXPORT pl_status pl_redis_lock_get_tls_verify_peer(const pl_redis_lock *lock,
                                                      int *out);
PL_EXPORT pl_status pl_redis_lock_set_tls_check_hostname(pl_redis_lock *lock,
                                                         int enabled);
PL_EXPORT pl_status pl_redis_lock_get_tls_check_hostname(
    const pl_redis_lock *lock, int *out);
PL_EXPORT pl_status pl_redis_lock_set_tls_ca_file(pl_redis_lock *lock,
                                                  const char *path);
PL_EXPORT pl_status pl_redis_lock_get_tls_ca_file(const pl_redis_lock *lock,
                                                  const char **out);
PL_EXPORT pl_status pl_redis_lock_set_tls_ca_dir(pl_redis_lock *lock,
                                                 const char *path);
PL_EXPORT pl_status pl_redis_lock_get_tls_ca_dir(const pl_redis_lock *lock,
                                                 const char **out);
PL_EXPORT pl_status pl_redis_lock_set_tls_cert_file(pl_redis_lock *lock,
                                                    const char *path);
PL_EXPORT pl_status pl_redis_lock_get_tls_cert_file(const pl_redis_lock *lock,
                                                    const char **out);
PL_EXPORT pl_status pl_redis_lock_set_tls_key_file(pl_redis_lock *lock,
                                                   const char *path);
PL_EXPORT pl_status pl_redis_lock_get_tls_key_file(const pl_redis_lock *lock,
                                                   const char **out);
PL_EXPORT pl_status pl_redis_lock_set_tls_server_name(pl_redis_lock *lock,
                                                      const char *name);
PL_EXPORT pl_status pl_redis_lock_get_tls_server_name(const pl_redis_lock *lock,
                                                      const char **out);

/* Redis Sentinel. With a service name set, every connection the lock
   opens asks the sentinels (list: "host[:port],..." with port 26379 by
   default, IPv6 in brackets; asked in order until one answers) for the
   service's master, connects there and checks with ROLE that it is the
   master (during a failover it asks again, until the connect timeout), so
   new acquisitions follow a failover; get_host then reports the master
   last found. A lock held across a failover is lost (Sentinel kills the
   demoted master's pub/sub clients: the subscription dies), reported like
   any loss; never a silent re-subscription. Password, username and db
   are the master's; sentinels get neither (TLS settings apply to both).
   Unreachable sentinels or an unknown service are PL_ERR_CONNECTION
   naming each sentinel's answer. NULL or "" clears; not while held. */
PL_EXPORT pl_status pl_redis_lock_set_sentinel_service(pl_redis_lock *lock,
                                                       const char *service);
PL_EXPORT pl_status pl_redis_lock_get_sentinel_service(
    const pl_redis_lock *lock, const char **out);
PL_EXPORT pl_status pl_redis_lock_set_sentinels(pl_redis_lock *lock,
                                                const char *list);
PL_EXPORT pl_status pl_redis_lock_get_sentinels(const pl_redis_lock *lock,
                                                const char **out);

/* Redis Cluster (Redis 7+: sharded pub/sub). Off by default. In cluster
   mode the lock lives on one shard: its channel is "{<name>}" and every
   name derived from it (response channels, fence key, connection name)
   starts with it, so the hash tag keeps them in one slot; the lock speaks
   SSUBSCRIBE, SPUBLISH and PUBSUB SHARDNUMSUB there, on the node serving
   that slot (asked of the seed nodes with CLUSTER KEYSLOT and CLUSTER
   SLOTS, followed on MOVED; the fence key's INCR follows ASK). Cluster
   locks and standalone locks of the same name never see each other
   (other channels, another pub/sub namespace): every peer of a name must
   use the same mode. A slot migration or the node's failure while held is
   a lost lock (never a silent re-subscription). Only database 0; not with
   Sentinel. The name must not start with '}'. Seed nodes:
   "host[:port],..." (port 6379 by default, IPv6 in brackets), asked in
   order; NULL or "" means host and port. Not while held. */
PL_EXPORT pl_status pl_redis_lock_set_cluster(pl_redis_lock *lock, int on);
PL_EXPORT pl_status pl_redis_lock_get_cluster(const pl_redis_lock *lock,
                                              int *out);
PL_EXPORT pl_status pl_redis_lock_set_cluster_nodes(pl_redis_lock *lock,
                                                    const char *list);
PL_EXPORT pl_status pl_redis_lock_get_cluster_nodes(const pl_redis_lock *lock,
                                                    const char **out);

/* The connection from a URL, as redis-py's from_url writes it:
   redis://[[user]:password@]host[:port][/db][?options] (an IPv6 host in
   brackets; user, password and path %-decoded), rediss://... the same
   over TLS, or unix:///path/to/socket[?db=N&password=...]. Options: db,
   username, password, socket_timeout (the command timeout),
   socket_connect_timeout; with rediss:// also (redis-py's names)
   ssl_ca_certs (CA file), ssl_ca_path (CA directory), ssl_certfile and
   ssl_keyfile (client certificate and key), ssl_cert_reqs (none, or
   optional/required: verify the server), ssl_check_hostname (true/false)
   and ssl_server_name (SNI and the name checked; ours). rediss://
   verifies the server and its name unless told otherwise; the CA is the
   system's store when no ssl_ca_* is given.
   What the URL leaves out gets the default (127.0.0.1, 6379, db 0, no
   password, TLS off or its defaults); the timeouts stay as set when not
   given. redis+sentinel://[[user]:password@]host[:port],.../service[/db]
   is Sentinel and redis+cluster://[[user]:password@]host[:port],...[/0]
   cluster mode (rediss+... with TLS; see the setters above); an unknown option, an
   ssl_* option without rediss:// or a malformed URL is
   PL_ERR_INVALID_ARGUMENT naming the part, and leaves the handle
   unchanged. Not while held. There is no get_url: the getters of the
   settings above read the result back (and a URL would carry the
   password). */
PL_EXPORT pl_status pl_redis_lock_set_url(pl_redis_lock *lock, const char *url);

#ifdef __cplusplus
}
#endif

#endif /* PORTALOCKER_H */
