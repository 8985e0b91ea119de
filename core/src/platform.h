/*
 * The platform seam: every operating-system call the core makes goes
 * through these functions, so a port is a new directory of platform files
 * (src/unix today, src/win next), not a rewrite. Nothing outside the
 * platform files includes an OS header.
 *
 * Conventions: functions return 0 on success or a positive errno value;
 * names are pl__os_* (two underscores: never exported, never mistaken for
 * the public pl_* API).
 */
#ifndef PL_PLATFORM_H
#define PL_PLATFORM_H

#include <stddef.h>

/* The platform's thread, mutex and once types (libuv-style: the core
   sees them by name, only the platform knows what they are). */
#if defined(_WIN32)
#include "win/platform_types.h"
#else
#include "unix/platform_types.h"
#endif

/* ---- files ---- */

/* Open flags independent of the OS headers (mapped inside the platform). */
enum {
    PL_O_READ = 1 << 0,
    PL_O_WRITE = 1 << 1,
    PL_O_CREATE = 1 << 2,
    PL_O_EXCL = 1 << 3,
    PL_O_APPEND = 1 << 4,
    PL_O_TRUNC = 1 << 5,
    PL_O_NOFOLLOW = 1 << 6, /* refuse a symlink as the last component */
    /* Refuse anything but a regular file, without blocking: a FIFO planted
       in a shared directory would otherwise hang open(2) forever. Fails
       with EINVAL (EISDIR for a directory). */
    PL_O_REGULAR = 1 << 7
};

/* Characters a file name must not contain where the core builds one from
   a caller's text (a semaphore's name and filename pattern): directory
   separators, and on Windows ':' too (drive and stream syntax). */
/* PL__OS_DIR_SEPARATOR joins a directory and a name the core builds
   (semaphore slots), as the reference's os.path.join does. */
#if defined(_WIN32)
#define PL__OS_DIR_SEPARATOR "\\"
#define PL__OS_NAME_SEPARATORS "/\\:"
#define PL__OS_NAME_SEPARATORS_TEXT "'/', '\\', ':'"
#else
#define PL__OS_DIR_SEPARATOR "/"
#define PL__OS_NAME_SEPARATORS "/"
#define PL__OS_NAME_SEPARATORS_TEXT "'/'"
#endif

/* Identity of a file: device and inode. */
typedef struct pl__os_file_id {
    unsigned long long dev;
    unsigned long long ino;
} pl__os_file_id;

/* Open (always close-on-exec; EINTR retried). EBUSY: the name's file is
   being deleted and cannot be opened until its last handle closes
   (Windows' delete pending); the engine waits as for a held lock. */
int pl__os_open(const char *path, int flags, unsigned int mode, int *fd_out);
int pl__os_close(int fd);
/* Whether fd is a regular file (EISDIR for a directory, EINVAL otherwise). */
int pl__os_check_regular(int fd);
int pl__os_fd_id(int fd, pl__os_file_id *out);
/* lstat: the path itself, not a symlink target. */
int pl__os_path_id(const char *path, pl__os_file_id *out);
int pl__os_truncate(int fd);
/* Set the file's times to now (futimens): an attribute change that wakes
   waiters watching with pl__os_waiter_watch_changes. */
int pl__os_touch(int fd);
/* Turn off O_APPEND so writes land at the file position again. */
int pl__os_clear_append(int fd);
int pl__os_write_all(int fd, const void *buf, size_t len);
/* One read of up to len bytes (EINTR retried); *got 0 at end of file. */
int pl__os_read(int fd, void *buf, size_t len, size_t *got);
int pl__os_read_small(const char *path, char *buf, size_t size, size_t *len);
int pl__os_fsync(int fd);
int pl__os_unlink(const char *path);
int pl__os_link(const char *from, const char *to);
int pl__os_exists(const char *path, int *exists);
/* mkdir -p of path's parent directory. */
int pl__os_make_parents(const char *path);
/* Create a unique temporary file "<dir>/.portalocker.<16 hex>.tmp" next
   to target, mode 0666 less the umask; *path_out is malloc'ed. */
int pl__os_make_temp(const char *target, int *fd_out, char **path_out);
/* rename(2): replaces `to` if it exists (callers check first). */
int pl__os_rename(const char *from, const char *to);
int pl__os_fsync_parent(const char *path);
const char *pl__os_temp_dir(void);
/* Mark a descriptor another library opened (a socket) close-on-exec. */
int pl__os_set_cloexec(int fd);

/* ---- locking primitives (locking_*.c) ---- */

/* mechanism: PL_MECH_*. EAGAIN on contention. blocking: wait in the
   kernel; a signal ends that wait with EINTR (returned, not retried: the
   caller runs the wait hook). ENOSYS for a mechanism the system lacks. */
int pl__os_lock(int fd, int mechanism, int exclusive, int blocking);
int pl__os_unlock(int fd, int mechanism);
int pl__os_mechanism_supported(int mechanism);

/* ---- the process ---- */

long pl__os_getpid(void);
unsigned long long pl__os_random(void);
/* The message for errnum, in buf or a static string. */
const char *pl__os_strerror(int errnum, char *buf, size_t size);
/* Monotonic clock in seconds. */
double pl__os_now(void);
/* Seconds on a clock that keeps counting while the process is stopped and
   while the machine sleeps: CLOCK_BOOTTIME where it exists (Linux),
   else CLOCK_MONOTONIC (macOS documents it as counting in sleep). For
   validity windows that must lapse across a freeze. */
double pl__os_now_boot(void);
void pl__os_sleep(double seconds);

/* ---- threads (thread_*.c) ---- */

int pl__os_thread_create(pl__os_thread *thread, void *(*fn)(void *),
                         void *arg);
void pl__os_thread_join(pl__os_thread thread);
void pl__os_mutex_lock(pl__os_mutex *mutex);
void pl__os_mutex_unlock(pl__os_mutex *mutex);
void pl__os_once(pl__os_once_t *once, void (*fn)(void));
/* Run fn in the child after every fork(). */
int pl__os_atfork_child(void (*fn)(void));
/* Run fn once when the process exits normally or the library is unloaded
   (one function: the core's exit registry). */
void pl__os_at_unload(void (*fn)(void));

/* ---- descriptors to wait on (thread_*.c) ---- */

/* A pipe, both ends close-on-exec. */
int pl__os_pipe(int fds[2]);

#define PL__OS_READABLE 1
typedef struct pl__os_pollfd {
    int fd;
    int events;  /* PL__OS_READABLE */
    int revents; /* set: readable, or hung up / in error (read to see) */
} pl__os_pollfd;
/* Wait up to timeout_ms (-1: forever) until one is readable; *ready is the
   number that are. EINTR is returned, not retried: the caller decides. */
int pl__os_poll(pl__os_pollfd *fds, size_t n, int timeout_ms, int *ready);

/* A wake-up channel for cancelling a wait: rd becomes readable after
   pl__os_wake_signal(wr). Linux: one eventfd (rd == wr); elsewhere a
   non-blocking pipe. Both close-on-exec. */
int pl__os_wake_open(int *rd, int *wr);
/* Async-signal-safe (keeps errno); never blocks; a full channel is
   already awake. */
void pl__os_wake_signal(int wr);
/* Read whatever is pending (never blocks). */
void pl__os_wake_drain(int rd);
void pl__os_wake_close(int rd, int wr);

/* ---- network sockets (net_*.c) ----
   The Redis lock's transport. Sockets are non-blocking; waiting is
   pl__os_net_wait, so one deadline covers a whole exchange. POSIX:
   unix/net_posix.c; Winsock: win/net_win32.c. */

/* A connected TCP socket to host:port: every address the name resolves
   to, in order, until one connects before `timeout` seconds pass.
   Non-blocking, close-on-exec, TCP_NODELAY, keep-alive. 0 or an errno
   value (ETIMEDOUT: the timeout passed); a name that does not resolve is
   EHOSTUNREACH with the resolver's message in detail. */
int pl__os_net_connect_tcp(const char *host, int port, double timeout,
                           int *fd_out, char *detail, size_t detail_size);
/* The same for a unix-domain socket path. */
int pl__os_net_connect_unix(const char *path, double timeout, int *fd_out);
/* NULL where unix-domain sockets work, else why not (the setter's
   PL_ERR_UNSUPPORTED message). */
const char *pl__os_net_unix_unavailable(void);
/* One send (never raises SIGPIPE) / one receive. EAGAIN when it would
   block; *got 0 from recv: the peer closed. EINTR retried. */
int pl__os_net_send(int fd, const void *buf, size_t len, size_t *sent);
int pl__os_net_recv(int fd, void *buf, size_t len, size_t *got);
/* Wait until fd is readable (want_write 0) or writable, at most
   timeout_ms: 0, ETIMEDOUT, or poll's error. Hang-ups count as ready
   (the next send/recv says what happened). */
int pl__os_net_wait(int fd, int want_write, int timeout_ms);
int pl__os_net_close(int fd);

/* ---- waiting for a lock file to change (wait_*.c) ---- */

/* A kernel notification on close/delete of the watched files (Linux:
   inotify, wait_inotify.c) or a plain sleep where there is none
   (wait_backoff.c). Opaque: each platform keeps what it needs. */
typedef struct pl__os_waiter pl__os_waiter;

/* Never fails: without notifications (or memory) the waiter sleeps. */
pl__os_waiter *pl__os_waiter_open(void);
/* (Re)watch a path; failures fall back silently to sleeping. */
void pl__os_waiter_watch(pl__os_waiter *w, const char *path);
/* Watch path for attribute changes, deletion and renames only, not
   closes (semaphore slots: every attempt opens and closes them). */
void pl__os_waiter_watch_changes(pl__os_waiter *w, const char *path);
/* Watch the file open on fd (Linux: through /proc/self/fd/N, which
   reaches the file even if unlinked or renamed). */
void pl__os_waiter_watch_fd(pl__os_waiter *w, int fd);
/* The descriptor that becomes readable on an event, to poll together
   with others (wait_control.c); -1 when there is none (only sleeping). */
int pl__os_waiter_fd(const pl__os_waiter *w);
/* After the descriptor was readable: consume the events (they only say
   "look again"). */
void pl__os_waiter_drain(pl__os_waiter *w);
/* End the wait (NULL is fine). The notification instance goes back to a
   small per-process pool (closing one costs ~15 ms in the kernel). */
void pl__os_waiter_close(pl__os_waiter *w);

#endif
