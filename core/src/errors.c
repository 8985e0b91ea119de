/* The error table's functions and the thread-local last error. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PL_LAST_ERROR_SIZE 512

static _Thread_local char last_message[PL_LAST_ERROR_SIZE];
static _Thread_local int last_errno;
static _Thread_local int last_code;

#define PL_ERROR_CASE_TEXT(name, value, exc, text) \
    case value:                                   \
        return text;
#define PL_ERROR_CASE_NAME(name, value, exc, text) \
    case value:                                   \
        return #name;
#define PL_ERROR_CASE_EXC(name, value, exc, text) \
    case value:                                  \
        return exc;
#define PL_ERROR_MIN(name, value, exc, text) \
    if ((value) < min)                       \
        min = value;

PL_EXPORT const char *pl_strerror(int code)
{
    switch (code) {
        PL_ERROR_TABLE(PL_ERROR_CASE_TEXT)
    default:
        return "unknown error";
    }
}

PL_EXPORT const char *pl_error_name(int code)
{
    switch (code) {
        PL_ERROR_TABLE(PL_ERROR_CASE_NAME)
    default:
        return "UNKNOWN";
    }
}

PL_EXPORT const char *pl_error_exception(int code)
{
    switch (code) {
        PL_ERROR_TABLE(PL_ERROR_CASE_EXC)
    default:
        return "LockException";
    }
}

PL_EXPORT int pl_error_min(void)
{
    int min = 0;
    PL_ERROR_TABLE(PL_ERROR_MIN)
    return min;
}

PL_EXPORT const char *pl_last_error_message(void)
{
    return last_message;
}

PL_EXPORT int pl_last_errno(void)
{
    return last_errno;
}

PL_EXPORT int pl_last_error_code(void)
{
    return last_code;
}

PL_EXPORT void pl_clear_error(void)
{
    last_message[0] = '\0';
    last_errno = 0;
    last_code = PL_OK;
}

int pl__ok(void)
{
    pl_clear_error();
    return PL_OK;
}

int pl__fail(int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* ap is va_start()ed just above; clang-analyzer 14 loses track of it.
       NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_errno = errnum;
    last_code = code;
    return code;
}

int pl__code_for_errno(int errnum, int fallback)
{
    switch (errnum) {
    case ENOMEM:
        return PL_ERR_NO_MEMORY;
    case EEXIST:
        return PL_ERR_EXISTS;
    case EFBIG:
    case EOVERFLOW:
        return PL_ERR_FILE_TOO_LARGE;
    case ENOSYS:
    case EOPNOTSUPP:
        return PL_ERR_UNSUPPORTED;
    case ENAMETOOLONG:
        return PL_ERR_INVALID_ARGUMENT;
    default:
        return fallback;
    }
}

int pl__fail_os(int fallback, int errnum, const char *what, const char *path)
{
    char buf[128];
    /* strerror_r (GNU) may return a static string instead of filling buf. */
    const char *msg = strerror_r(errnum, buf, sizeof buf);
    int code = pl__code_for_errno(errnum, fallback);
    if (path)
        return pl__fail(code, errnum, "cannot %s '%s': %s", what, path, msg);
    return pl__fail(code, errnum, "cannot %s: %s", what, msg);
}

int pl__check_seconds(const char *what, double seconds, int allow_infinity)
{
    if (isnan(seconds))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "%s must be a number, not NaN",
                        what);
    if (seconds < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "%s must not be negative (got %g)", what, seconds);
    if (isinf(seconds) && !allow_infinity)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "%s must be finite", what);
    return PL_OK;
}

int pl__check_mechanism(int mechanism)
{
    if (mechanism != PL_MECH_FLOCK && mechanism != PL_MECH_POSIX &&
        mechanism != PL_MECH_OFD)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "unknown lock mechanism %d (expected flock 0, posix 1 "
                        "or ofd 2)",
                        mechanism);
    return PL_OK;
}

int pl__check_lock_flags(int flags)
{
    int kind = flags & (PL_LOCK_SH | PL_LOCK_EX);
    if (flags & ~(PL_LOCK_SH | PL_LOCK_EX | PL_LOCK_NB | PL_LOCK_UN))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "unknown bits in lock flags 0x%x", (unsigned)flags);
    if (flags & PL_LOCK_UN) {
        if (flags != PL_LOCK_UN)
            return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                            "UNBLOCK cannot be combined with other flags "
                            "(flags 0x%x)",
                            (unsigned)flags);
        return PL_OK;
    }
    if (kind == 0 && (flags & PL_LOCK_NB))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "NON_BLOCKING alone is not a lock: add SHARED or "
                        "EXCLUSIVE");
    if (kind == 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "lock flags must include SHARED or EXCLUSIVE "
                        "(flags 0x%x)",
                        (unsigned)flags);
    if (kind == (PL_LOCK_SH | PL_LOCK_EX))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "SHARED and EXCLUSIVE cannot both be set");
    return PL_OK;
}

int pl__merge_wait_opts(const pl_wait_opts *base, double timeout,
                        double check_interval, int fail_when_locked,
                        pl_wait_opts *out)
{
    int rc;
    *out = *base;
    if (timeout != (double)PL_INHERIT) {
        if ((rc = pl__check_seconds("timeout", timeout, 1)) != PL_OK)
            return rc;
        out->timeout = timeout;
    }
    if (check_interval != (double)PL_INHERIT) {
        if ((rc = pl__check_seconds("check_interval", check_interval, 0)) != PL_OK)
            return rc;
        out->check_interval = check_interval;
    }
    if (fail_when_locked != PL_INHERIT)
        out->fail_when_locked = fail_when_locked != 0;
    return PL_OK;
}

char *pl__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
