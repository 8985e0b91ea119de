/* Shared fixtures for the cmocka suites: a private temporary directory per
   test, child processes, descriptor counting. */
#ifndef PL_TESTUTIL_H
#define PL_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

#include "portalocker.h"

typedef struct tu_dir {
    char path[256];
} tu_dir;

/* cmocka setup/teardown: *state becomes a tu_dir with a fresh directory
   under $TMPDIR (removed recursively by the teardown). */
int tu_setup_dir(void **state);
int tu_teardown_dir(void **state);

/* "<dir>/<name>" in a static rotating buffer (8 slots). */
const char *tu_path(void **state, const char *name);

/* Monotonic seconds. */
double tu_now(void);

/* Number of open descriptors of this process (from /proc/self/fd). */
/* Open descriptors, not counting the library's idle inotify instances (a
   pool of at most a few per process, kept on purpose: closing one costs
   ~15 ms); tu_count_inotify_fds counts those. */
int tu_count_fds(void);
int tu_count_inotify_fds(void);

/* Fork a child that runs fn(arg) and _exit()s with its return value. */
pid_t tu_fork(int (*fn)(void *), void *arg);
/* Wait for a child; returns its exit status (or 128+signal). */
int tu_wait(pid_t pid);
/* Start `sleep 30` in a child and return once it has really exec'd (for
   close-on-exec checks); tu_stop_sleeper kills and reaps it. */
pid_t tu_spawn_sleeper(void);
void tu_stop_sleeper(pid_t pid);
/* How many of pid's descriptors point into dir, or are inotify instances
   (what a child must not have inherited). */
int tu_fds_into(pid_t pid, const char *dir);

/* A one-byte pipe handshake between processes. */
typedef struct tu_pipe {
    int fds[2];
} tu_pipe;
void tu_pipe_open(tu_pipe *p);
void tu_pipe_signal(tu_pipe *p);
/* 0 when the byte came within `seconds`, -1 otherwise. */
int tu_pipe_wait(tu_pipe *p, double seconds);
void tu_pipe_close(tu_pipe *p);

/* Assert a PL call returned `want`, printing the last error otherwise. */
#define tu_expect(want, call)                                                \
    do {                                                                     \
        int tu_rc_ = (call);                                                 \
        if (tu_rc_ != (want))                                                \
            fail_msg("%s returned %d (%s), want %d: %s", #call, tu_rc_,      \
                     pl_error_name(tu_rc_), (want), pl_last_error_message()); \
    } while (0)
#define tu_ok(call) tu_expect(PL_OK, call)

/* ---- file and lock probes (appended) ---- */

/* Read a whole small file into buf (NUL-terminated); its length, or -1. */
long tu_read_file(const char *path, char *buf, size_t size);
/* Create/truncate path with `data`; 0 or -1. */
int tu_write_file(const char *path, const char *data);
/* 1 if path exists (lstat), else 0. */
int tu_exists(const char *path);

/* Ask a fresh process, with raw syscalls (not the library), whether path
   is locked: mechanism PL_MECH_FLOCK, PL_MECH_POSIX or PL_MECH_OFD.
   1 = locked by someone, 0 = free, 2 = the file does not exist,
   -1 = the probe itself failed. */
int tu_probe_locked(const char *path, int mechanism);

/* Wait until /proc/locks shows a pending (blocked) lock request of `pid`:
   0 when it does within `seconds`, -1 otherwise. */
int tu_wait_blocked_lock(pid_t pid, double seconds);

#endif
