/* The POSIX locking primitives behind platform.h: flock(2), fcntl(2)
   record locks and (where the system has them) open-file-description
   locks. */
#define _GNU_SOURCE
#include "platform.h"

#include "portalocker.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Open-file-description locks are Linux's. macOS's SDK declares F_OFD_*
   too, but undocumented and with its own semantics: outside Linux the
   mechanism is reported unsupported (ENOSYS, so PL_ERR_UNSUPPORTED). */
#if defined(__linux__) && defined(F_OFD_SETLK) && defined(F_OFD_GETLK)
#define PL_HAVE_OFD 1
#endif

static int fcntl_lock(int fd, int cmd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0; /* the whole file, however large it grows */
    return fcntl(fd, cmd, &fl);
}

static int mech_cmd(int mechanism, int blocking)
{
#ifdef PL_HAVE_OFD
    if (mechanism == PL_MECH_OFD)
        return blocking ? F_OFD_SETLKW : F_OFD_SETLK;
#else
    (void)mechanism; /* only PL_MECH_POSIX gets here */
#endif
    return blocking ? F_SETLKW : F_SETLK;
}

int pl__os_lock(int fd, int mechanism, int exclusive, int blocking)
{
    int rc;
    /* OFD where the system lacks it: ENOSYS, so PL_ERR_UNSUPPORTED. */
    if (mechanism == PL_MECH_OFD && !pl__os_mechanism_supported(PL_MECH_OFD))
        return ENOSYS;
    for (;;) {
        if (mechanism == PL_MECH_FLOCK)
            rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) |
                               (blocking ? 0 : LOCK_NB));
        else
            rc = fcntl_lock(fd, mech_cmd(mechanism, blocking),
                            exclusive ? F_WRLCK : F_RDLCK);
        if (rc == 0)
            return 0;
        /* A blocking wait ended by a signal goes back to the caller, who
           runs the wait hook; a non-blocking call is simply retried. */
        if (errno != EINTR || blocking)
            break;
    }
    /* fcntl reports contention as EACCES on some systems. */
    if (errno == EACCES || errno == EWOULDBLOCK)
        return EAGAIN;
    return errno;
}

int pl__os_unlock(int fd, int mechanism)
{
    int rc;
    if (mechanism == PL_MECH_OFD && !pl__os_mechanism_supported(PL_MECH_OFD))
        return ENOSYS;
    if (mechanism == PL_MECH_FLOCK)
        rc = flock(fd, LOCK_UN);
    else
        rc = fcntl_lock(fd, mech_cmd(mechanism, 0), F_UNLCK);
    return rc != 0 ? errno : 0;
}

int pl__os_mechanism_supported(int mechanism)
{
    switch (mechanism) {
    case PL_MECH_FLOCK:
    case PL_MECH_POSIX:
        return 1;
    case PL_MECH_OFD: {
#ifdef PL_HAVE_OFD
        /* Probe once: old kernels answer EINVAL for an unknown command. */
        static int cached = -1;
        if (cached < 0) {
            int fd = open("/", O_RDONLY | O_CLOEXEC);
            struct flock fl;
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_RDLCK;
            fl.l_whence = SEEK_SET;
            cached = fd >= 0 && fcntl(fd, F_OFD_GETLK, &fl) == 0;
            if (fd >= 0)
                close(fd);
        }
        return cached;
#else
        return 0;
#endif
    }
    default:
        return 0;
    }
}

