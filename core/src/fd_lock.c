/* The low-level calls: lock / unlock a descriptor the caller owns. */
#include "internal.h"
#include "platform.h"

#include <errno.h>

PL_EXPORT pl_status pl_lock_fd_mechanism(int fd, int flags, int mechanism)
{
    int rc, err;
    if (fd < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, EBADF,
                        "invalid file descriptor %d", fd);
    if ((rc = pl__check_lock_flags(flags)) != PL_OK ||
        (rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    if (flags & PL_LOCK_UN)
        return pl_unlock_fd_mechanism(fd, mechanism);
    err = pl__os_lock(fd, mechanism, (flags & PL_LOCK_EX) != 0,
                     !(flags & PL_LOCK_NB));
    if (err == 0)
        return pl__ok();
    if (err == EAGAIN)
        return pl__fail(PL_ERR_ALREADY_LOCKED, err,
                        "descriptor %d is locked by another holder", fd);
    {
        char buf[128];
        return pl__fail(pl__code_for_errno(err, PL_ERR_LOCK_FAILED), err,
                        "cannot lock descriptor %d: %s", fd,
                        pl__os_strerror(err, buf, sizeof buf));
    }
}

PL_EXPORT pl_status pl_unlock_fd_mechanism(int fd, int mechanism)
{
    int rc, err;
    if (fd < 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, EBADF,
                        "invalid file descriptor %d", fd);
    if ((rc = pl__check_mechanism(mechanism)) != PL_OK)
        return rc;
    err = pl__os_unlock(fd, mechanism);
    if (err) {
        char buf[128];
        return pl__fail(pl__code_for_errno(err, PL_ERR_LOCK_FAILED), err,
                        "cannot unlock descriptor %d: %s", fd,
                        pl__os_strerror(err, buf, sizeof buf));
    }
    return pl__ok();
}

PL_EXPORT pl_status pl_lock_fd(int fd, int flags)
{
    return pl_lock_fd_mechanism(fd, flags, PL_MECH_FLOCK);
}

PL_EXPORT pl_status pl_unlock_fd(int fd)
{
    return pl_unlock_fd_mechanism(fd, PL_MECH_FLOCK);
}
