/* What the two Windows fault suites (test_platform_faults.c at the
   platform seam, test_win32_faults.c at the Win32 calls below it) check
   after every injected failure: no CRT descriptor and no kernel handle
   left behind, a message naming the path and the OS error, and a lock
   another process finds free; and the Redis cases' server. Included by
   each (static functions, one source). */
#ifndef PL_FAULT_CHECKS_H
#define PL_FAULT_CHECKS_H

#include "winutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline const char *dir_of(void **state)
{
    return ((tu_dir *)*state)->path;
}

/* Kernel handles (winutil.c counts them). */
static inline int handles(void)
{
    int n = tw_count_handles();
    if (n < 0)
        fail_msg("cannot count this process's handles");
    return n;
}

/* Descriptors and handles as they were. */
typedef struct resources {
    int fds, handles;
} resources;

static inline resources snapshot(void)
{
    resources r;
    r.fds = tu_count_fds();
    r.handles = handles();
    return r;
}

static inline void expect_unchanged(resources before)
{
    resources now = snapshot();
    if (now.fds != before.fds || now.handles != before.handles)
        fail_msg("leaked: %d descriptors and %d handles before, %d and %d now",
                 before.fds, before.handles, now.fds, now.handles);
}

/* The last error names the path and the OS error, with the errno kept. */
static inline void expect_message(const char *path, int err)
{
    const char *msg = pl_last_error_message();
    if (path && !strstr(msg, path))
        fail_msg("message '%s' does not name '%s'", msg, path);
    if (!strstr(msg, strerror(err)))
        fail_msg("message '%s' does not give '%s'", msg, strerror(err));
    assert_int_equal(pl_last_errno(), err);
}

/* Nobody holds path: another process finds it free (2: no such file). */
static inline void expect_free(const char *path)
{
    int rc = tu_probe_locked(path, PL_MECH_FLOCK);
    if (rc != 0 && rc != 2)
        fail_msg("'%s' is still locked after the failure (probe: %d)", path, rc);
}

/* The Redis cases: the redis-server windows.sh started (its port in
   PL_TEST_REDIS_PORT, which wine passes through). */
static int redis_port;

static inline int redis_port_from_env(void)
{
    const char *p = getenv("PL_TEST_REDIS_PORT");
    if (!p || atoi(p) <= 0) {
        fprintf(stderr, "PL_TEST_REDIS_PORT is not set: ci/tests.d/windows.sh "
                        "starts the redis-server this suite needs\n");
        return -1;
    }
    return redis_port = atoi(p);
}

static inline pl_redis_lock *redis_new(const char *channel)
{
    pl_redis_lock *r = NULL;
    tu_ok(pl_redis_lock_new(&r, channel, strlen(channel)));
    tu_ok(pl_redis_lock_set_host(r, "127.0.0.1", redis_port));
    return r;
}

#endif
