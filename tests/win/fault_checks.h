/* What the two Windows fault suites (test_platform_faults.c at the
   platform seam, test_win32_faults.c at the Win32 calls below it) check
   after every injected failure: no CRT descriptor and no kernel handle
   left behind, a message naming the path and the OS error, and a lock
   another process finds free. Included by each (static functions, one
   source), after winutil.h and cmocka. */
#ifndef PL_FAULT_CHECKS_H
#define PL_FAULT_CHECKS_H

#include "winutil.h"

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

#endif
