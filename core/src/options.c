/* Argument checks shared by every handle, and the options every waiting
   lock has (timeout, check_interval, fail_when_locked): their setters and
   the merge of per-call overrides, written once for Lock, the semaphore
   and the Redis lock. */
#include "internal.h"

#include <math.h>

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

int pl__wait_set_timeout(pl_wait_opts *w, double seconds)
{
    int rc = pl__check_seconds("timeout", seconds, 1);
    if (rc != PL_OK)
        return rc;
    w->timeout = seconds;
    return pl__ok();
}

int pl__wait_set_check_interval(pl_wait_opts *w, double seconds)
{
    int rc = pl__check_seconds("check_interval", seconds, 0);
    if (rc != PL_OK)
        return rc;
    w->check_interval = seconds;
    return pl__ok();
}

int pl__wait_set_fail_when_locked(pl_wait_opts *w, int enabled)
{
    w->fail_when_locked = enabled != 0;
    return pl__ok();
}

int pl__check_file_mode(unsigned int mode)
{
    if (mode & ~07777u)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "file mode %o has bits beyond 07777", mode);
    return PL_OK;
}

int pl__check_out(const void *out)
{
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    return PL_OK;
}
