/*
 * The platform layer: every operating-system call the core makes goes
 * through these functions, so a port (Windows) is a new platform_*.c file,
 * not a rewrite. Functions return 0 on success or a positive errno value.
 */
#ifndef PL_PLATFORM_H
#define PL_PLATFORM_H

#include <stddef.h>

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

/* Identity of a file: device and inode. */
typedef struct pl_file_id {
    unsigned long long dev;
    unsigned long long ino;
} pl_file_id;

/* Open (always close-on-exec; EINTR retried). */
int pl_os_open(const char *path, int flags, unsigned int mode, int *fd_out);
int pl_os_close(int fd);
/* Whether fd is a regular file (EISDIR for a directory, EINVAL otherwise). */
int pl_os_check_regular(int fd);
int pl_os_fd_id(int fd, pl_file_id *out);
/* lstat: the path itself, not a symlink target. */
int pl_os_path_id(const char *path, pl_file_id *out);
int pl_os_truncate(int fd);
/* Turn off O_APPEND so writes land at the file position again. */
int pl_os_clear_append(int fd);
int pl_os_write_all(int fd, const void *buf, size_t len);
int pl_os_read_small(const char *path, char *buf, size_t size, size_t *len);
int pl_os_fsync(int fd);
int pl_os_unlink(const char *path);
int pl_os_link(const char *from, const char *to);
int pl_os_exists(const char *path, int *exists);
/* mkdir -p of path's parent directory. */
int pl_os_make_parents(const char *path);
/* Create a unique temporary file "<dir>/.<base>.XXXXXX.tmp"; *path_out is
   malloc'ed. */
int pl_os_make_temp(const char *target, int *fd_out, char **path_out);
int pl_os_fsync_parent(const char *path);
const char *pl_os_temp_dir(void);
long pl_os_getpid(void);
unsigned long long pl_os_random(void);

/* Locking primitive (mechanism: PL_MECH_*). EAGAIN on contention.
   blocking: wait in the kernel (EINTR retried). */
int pl_os_lock(int fd, int mechanism, int exclusive, int blocking);
int pl_os_unlock(int fd, int mechanism);
int pl_os_mechanism_supported(int mechanism);

/* Monotonic clock in seconds. */
double pl_os_now(void);
void pl_os_sleep(double seconds);

/* Waiting for a lock file to change: a kernel notification (inotify) on
   close/delete of the watched files, or a plain sleep where there is none.
   The notification descriptor is cached per thread and reused: creating
   one is cheap but closing one costs ~15 ms (the kernel waits for an RCU
   grace period), which would land on every contended acquire. */
typedef struct pl_os_waiter {
    int fd;   /* notification descriptor, -1 when falling back to sleeping */
    int *wds; /* watches to remove when the wait ends */
    size_t nwds, cap;
} pl_os_waiter;

void pl_os_waiter_open(pl_os_waiter *w);
/* (Re)watch a path; failures fall back silently to the backoff. */
void pl_os_waiter_watch(pl_os_waiter *w, const char *path);
/* Wait up to `seconds` for an event; 1 if something happened, else 0. */
int pl_os_waiter_wait(pl_os_waiter *w, double seconds);
/* Remove the watches; the thread keeps its descriptor for the next wait. */
void pl_os_waiter_close(pl_os_waiter *w);

#endif
