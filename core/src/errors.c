/* The error table's functions and the thread-local last error. */
#include "internal.h"
#include "platform.h"

#include <errno.h>
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
    default:
        return fallback;
    }
}

int pl__fail_os(int fallback, int errnum, const char *what, const char *path)
{
    char buf[128];
    const char *msg = pl__os_strerror(errnum, buf, sizeof buf);
    int code = pl__code_for_errno(errnum, fallback);
    if (path)
        return pl__fail(code, errnum, "cannot %s '%s': %s", what, path, msg);
    return pl__fail(code, errnum, "cannot %s: %s", what, msg);
}
