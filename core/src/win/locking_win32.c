/* The locking primitives behind platform.h on Windows: LockFileEx and
 * UnlockFileEx on the file's handle.
 *
 * The range is the whole of it: offset 0, length 2^64-1, so a lock here
 * overlaps the ranges the reference portalocker takes on Windows and the
 * two exclude each other in both directions:
 *   - MsvcrtLocker (the reference's default, exclusive locks) calls
 *     msvcrt.locking() with 0x10000 bytes after seeking to 0: the CRT's
 *     _locking takes LockFile(offset 0, length 64 KiB);
 *   - Win32Locker (pywin32; also MsvcrtLocker's shared locks) calls
 *     LockFileEx(nbytes low 0, high -0x10000) at offset 0: the range
 *     offset 0, length 0xFFFF0000_00000000.
 * Windows byte-range locks belong to the handle's file object, like
 * flock(2)'s to the open file description, so PL_MECH_FLOCK is this
 * lock. fcntl record locks (PL_MECH_POSIX) and open-file-description locks
 * (PL_MECH_OFD) have no Windows equivalent: ENOSYS (PL_ERR_UNSUPPORTED).
 *
 * A relock on the same handle (shared <-> exclusive, as flock converts)
 * first drops the handle's lock, then takes the new one: LockFileEx
 * would otherwise stack a second lock (or fail against the handle's own
 * exclusive lock). Like flock(2), the conversion is not atomic.
 *
 * Blocking requests never wait in the kernel: wine never completes a
 * contended blocking LockFileEx, and a kernel wait cannot be cut short.
 * They retry LOCKFILE_FAIL_IMMEDIATELY, woken by a change notification
 * on the file's directory (wait_notify_win32.c) with a capped backoff. */
#include "platform.h"
#include "win_internal.h"

#include "portalocker.h"

#include <errno.h>
#include <string.h>

#define PL_WIN_BLOCK_FIRST 0.001
#define PL_WIN_BLOCK_MAX 0.05

static int lock_once(HANDLE h, int exclusive)
{
    OVERLAPPED ov;
    DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
    memset(&ov, 0, sizeof ov); /* offset 0 */
    if (LockFileEx(h, flags, 0, MAXDWORD, MAXDWORD, &ov))
        return 0;
    return GetLastError() == ERROR_LOCK_VIOLATION ? EAGAIN
                                                  : pl__win_errno(GetLastError());
}

/* Nothing locked on this handle is not an error (flock(LOCK_UN) on an
   unlocked descriptor succeeds): Windows says ERROR_NOT_LOCKED, wine
   ERROR_LOCK_VIOLATION. */
static int unlock_once(HANDLE h)
{
    OVERLAPPED ov;
    DWORD e;
    memset(&ov, 0, sizeof ov);
    if (UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov))
        return 0;
    e = GetLastError();
    if (e == ERROR_NOT_LOCKED || e == ERROR_LOCK_VIOLATION)
        return 0;
    return pl__win_errno(e);
}

static int lock_blocking(int fd, HANDLE h, int exclusive)
{
    pl__os_waiter *w = pl__os_waiter_open();
    double backoff = PL_WIN_BLOCK_FIRST;
    int err;
    for (;;) {
        pl__os_pollfd pfd;
        int ready = 0;
        pl__os_waiter_watch_fd(w, fd);
        if ((err = lock_once(h, exclusive)) != EAGAIN)
            break;
        pfd.fd = pl__os_waiter_fd(w);
        pfd.events = PL__OS_READABLE;
        pfd.revents = 0;
        if (pl__os_poll(&pfd, 1, (int)(backoff * 1000.0 + 0.5), &ready) == 0 && ready) {
            pl__os_waiter_drain(w);
            backoff = PL_WIN_BLOCK_FIRST;
        } else {
            backoff = backoff * 2 < PL_WIN_BLOCK_MAX ? backoff * 2 : PL_WIN_BLOCK_MAX;
        }
    }
    pl__os_waiter_close(w);
    return err;
}

int pl__os_lock(int fd, int mechanism, int exclusive, int blocking)
{
    HANDLE h;
    if (!pl__os_mechanism_supported(mechanism))
        return ENOSYS;
    if ((h = pl__win_handle(fd)) == INVALID_HANDLE_VALUE)
        return EBADF;
    /* Drop what this handle holds (nothing: fine). */
    (void)unlock_once(h);
    return blocking ? lock_blocking(fd, h, exclusive) : lock_once(h, exclusive);
}

int pl__os_unlock(int fd, int mechanism)
{
    HANDLE h;
    if (!pl__os_mechanism_supported(mechanism))
        return ENOSYS;
    if ((h = pl__win_handle(fd)) == INVALID_HANDLE_VALUE)
        return EBADF;
    return unlock_once(h);
}

int pl__os_mechanism_supported(int mechanism)
{
    return mechanism == PL_MECH_FLOCK;
}
