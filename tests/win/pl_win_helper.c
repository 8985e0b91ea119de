/*
 * The second process of the Windows suites (there is no fork): it holds
 * or probes a lock as asked and reports by exit code; a holder creates
 * the READY file once it holds, then waits to be killed (or SECONDS).
 *
 *   probe PATH               raw LockFileEx, exclusive, whole range:
 *                            0 free, 1 locked, 2 no such file, 3 error
 *   hold PATH ex|sh READY [SECONDS]   the library's pl_lock
 *   try PATH ex|sh           the library, fail_when_locked: 0 got it,
 *                            1 PL_ERR_ALREADY_LOCKED, 3 other
 *   temp PATH READY [SECONDS]     a temporary lock (pl_temporary_lock_new)
 *   pidfile PATH READY [SECONDS]  a PID-file lock (pl_pidfile_lock_new);
 *                            both release (removing their files) after
 *                            SECONDS, else hold until killed
 *   ref-msvcrt PATH READY    the reference's MsvcrtLocker convention:
 *                            _locking(_LK_NBLCK) of 0x10000 bytes at 0
 *   ref-win32 PATH ex|sh READY   the reference's Win32Locker
 *                            convention: LockFileEx, nbytes low 0, high
 *                            0xFFFF0000 (pywin32 passes -0x10000), at 0
 *   ref-*-try ...            the same without READY: 0 got it, 1 locked
 *   temp-exit PATH, pidfile-exit PATH   take that lock and exit without
 *                            releasing it (the exit handler's cleanup)
 *   sem NAME DIR READY SECONDS   slot 0 of a one-slot semaphore, released
 *                            after SECONDS (the release touches the slot)
 *   wait-file PATH SECONDS   0 once PATH exists, 1 after SECONDS (the
 *                            Lua suite's wait for a holder to be ready)
 *   holder PATH READY DONE HOLD_FOR DATA   the holder of tests/unit's
 *                            lock suite: takes the lock (default flags),
 *                            writes DATA ("-": nothing), creates READY,
 *                            releases after HOLD_FOR seconds or (when
 *                            negative) once DONE exists; exit codes 10-15
 *                            as that suite's forked holder
 *   redis-hold PORT CHANNEL READY   the Redis lock on 127.0.0.1:PORT,
 *                            exclusive: holds until killed
 *   redis-try PORT CHANNEL TIMEOUT  the same within TIMEOUT seconds
 *                            (0: fail_when_locked): 0 got it (released
 *                            at once), 1 PL_ERR_ALREADY_LOCKED, 3 other
 *                            (the error printed)
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/locking.h>

#include "portalocker.h"

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w)
        MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

static HANDLE open_raw(const char *path, DWORD disposition)
{
    wchar_t *w = wide(path);
    HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    return h;
}

static void ready(const char *path)
{
    HANDLE h = open_raw(path, CREATE_ALWAYS);
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
}

static int hold_until(const char *ready_path, const char *seconds)
{
    ready(ready_path);
    Sleep(seconds ? (DWORD)(atof(seconds) * 1000) : INFINITE);
    return 0;
}

static int probe(const char *path, int exclusive)
{
    OVERLAPPED ov;
    HANDLE h = open_raw(path, OPEN_EXISTING);
    int rc;
    if (h == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 2 : 3;
    memset(&ov, 0, sizeof ov);
    if (LockFileEx(h, LOCKFILE_FAIL_IMMEDIATELY | (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0),
                   0, MAXDWORD, MAXDWORD, &ov)) {
        UnlockFileEx(h, 0, MAXDWORD, MAXDWORD, &ov);
        rc = 0;
    } else {
        rc = GetLastError() == ERROR_LOCK_VIOLATION ? 1 : 3;
    }
    CloseHandle(h);
    return rc;
}

static int lib_lock(pl_lock *l, const char *kind, int fail_when_locked)
{
    int rc;
    if (kind)
        pl_lock_set_flags(l, (strcmp(kind, "sh") == 0 ? PL_LOCK_SH : PL_LOCK_EX) | PL_LOCK_NB);
    pl_lock_set_fail_when_locked(l, fail_when_locked);
    pl_lock_set_timeout(l, fail_when_locked ? 0 : 20);
    rc = pl_lock_acquire(l, NULL);
    if (rc == PL_ERR_ALREADY_LOCKED)
        return 1;
    if (rc != PL_OK) {
        fprintf(stderr, "pl_win_helper: %s: %s\n", pl_error_name(rc), pl_last_error_message());
        return 3;
    }
    return 0;
}

static int ref_msvcrt(const char *path, const char *ready_path)
{
    int fd = _open(path, _O_RDWR | _O_CREAT | _O_BINARY, 0666);
    if (fd < 0)
        return 3;
    _lseek(fd, 0, SEEK_SET);
    if (_locking(fd, _LK_NBLCK, 0x10000) != 0)
        return 1;
    if (!ready_path)
        return 0; /* exiting releases it */
    return hold_until(ready_path, NULL);
}

static int ref_win32(const char *path, const char *kind, const char *ready_path)
{
    OVERLAPPED ov;
    HANDLE h = open_raw(path, OPEN_ALWAYS);
    DWORD flags = LOCKFILE_FAIL_IMMEDIATELY;
    if (h == INVALID_HANDLE_VALUE)
        return 3;
    if (strcmp(kind, "ex") == 0)
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    memset(&ov, 0, sizeof ov);
    if (!LockFileEx(h, flags, 0, 0, 0xFFFF0000u, &ov))
        return GetLastError() == ERROR_LOCK_VIOLATION ? 1 : 3;
    if (!ready_path)
        return 0;
    return hold_until(ready_path, NULL);
}

static int unit_holder(char **a)
{
    pl_lock *l = NULL;
    double hold_for = atof(a[3]);
    int fd = -1;
    if (pl_lock_new(&l, a[0]) != PL_OK)
        return 10;
    if (pl_lock_acquire(l, &fd) != PL_OK)
        return 11;
    if (strcmp(a[4], "-") != 0 && _write(fd, a[4], (unsigned)strlen(a[4])) != (int)strlen(a[4]))
        return 12;
    ready(a[1]);
    if (hold_for >= 0) {
        Sleep((DWORD)(hold_for * 1000));
    } else {
        int i;
        for (i = 0; i < 4000 && GetFileAttributesA(a[2]) == INVALID_FILE_ATTRIBUTES; i++)
            Sleep(5);
        if (i == 4000)
            return 14;
    }
    if (pl_lock_release(l) != PL_OK)
        return 15;
    pl_lock_free(l);
    return 0;
}

/* redis-hold / redis-try (READY NULL: try within timeout). */
static int redis_lock(const char *port, const char *channel, const char *ready_path,
                      double timeout)
{
    pl_redis_lock *r = NULL;
    int rc;
    if ((rc = pl_redis_lock_new(&r, channel, strlen(channel))) == PL_OK &&
        (rc = pl_redis_lock_set_host(r, "127.0.0.1", atoi(port))) == PL_OK &&
        (rc = pl_redis_lock_set_timeout(r, timeout)) == PL_OK &&
        (rc = pl_redis_lock_set_check_interval(r, 0.05)) == PL_OK &&
        (rc = pl_redis_lock_set_fail_when_locked(r, ready_path || timeout <= 0)) == PL_OK)
        rc = pl_redis_lock_acquire(r);
    if (rc == PL_ERR_ALREADY_LOCKED) {
        pl_redis_lock_free(r);
        return 1;
    }
    if (rc != PL_OK) {
        fprintf(stderr, "pl_win_helper: %s: %s\n", pl_error_name(rc), pl_last_error_message());
        pl_redis_lock_free(r);
        return 3;
    }
    if (ready_path)
        hold_until(ready_path, NULL);
    rc = pl_redis_lock_release(r);
    pl_redis_lock_free(r);
    return rc == PL_OK ? 0 : 3;
}

static int run(int argc, char **argv)
{
    pl_lock *l = NULL;
    const char *cmd = argc > 1 ? argv[1] : "";
    int rc;
    if (argc >= 6 && strcmp(cmd, "sem") == 0) {
        pl_semaphore *sem = NULL;
        if (pl_semaphore_new(&sem, 1, argv[2]) != PL_OK ||
            pl_semaphore_set_directory(sem, argv[3]) != PL_OK ||
            pl_semaphore_acquire(sem, NULL) != PL_OK)
            return 3;
        hold_until(argv[4], argv[5]);
        return pl_semaphore_release(sem) == PL_OK ? 0 : 15;
    }
    if (argc >= 4 && strcmp(cmd, "wait-file") == 0) {
        DWORD end = GetTickCount() + (DWORD)(atof(argv[3]) * 1000);
        while (GetFileAttributesA(argv[2]) == INVALID_FILE_ATTRIBUTES)
            if ((LONG)(GetTickCount() - end) > 0)
                return 1;
            else
                Sleep(5);
        return 0;
    }
    if (argc >= 5 && strcmp(cmd, "redis-hold") == 0)
        return redis_lock(argv[2], argv[3], argv[4], 0);
    if (argc >= 5 && strcmp(cmd, "redis-try") == 0)
        return redis_lock(argv[2], argv[3], NULL, atof(argv[4]));
    if (argc >= 7 && strcmp(cmd, "holder") == 0)
        return unit_holder(argv + 2);
    if (argc >= 3 && strcmp(cmd, "probe") == 0)
        return probe(argv[2], 1);
    if (argc >= 4 && strcmp(cmd, "ref-msvcrt") == 0)
        return ref_msvcrt(argv[2], argv[3]);
    if (argc >= 3 && strcmp(cmd, "ref-msvcrt-try") == 0)
        return ref_msvcrt(argv[2], NULL);
    if (argc >= 5 && strcmp(cmd, "ref-win32") == 0)
        return ref_win32(argv[2], argv[3], argv[4]);
    if (argc >= 4 && strcmp(cmd, "ref-win32-try") == 0)
        return ref_win32(argv[2], argv[3], NULL);
    if (argc >= 3 && (strcmp(cmd, "hold") == 0 || strcmp(cmd, "try") == 0)) {
        if (pl_lock_new(&l, argv[2]) != PL_OK)
            return 3;
        rc = lib_lock(l, argc > 3 ? argv[3] : "ex", strcmp(cmd, "try") == 0);
        if (rc != 0 || strcmp(cmd, "try") == 0)
            return rc;
        return argc > 4 ? hold_until(argv[4], argc > 5 ? argv[5] : NULL) : 3;
    }
    if (argc >= 3 && (strcmp(cmd, "temp-exit") == 0 || strcmp(cmd, "pidfile-exit") == 0)) {
        rc = strcmp(cmd, "temp-exit") == 0 ? pl_temporary_lock_new(&l, argv[2])
                                           : pl_pidfile_lock_new(&l, argv[2]);
        if (rc != PL_OK || (rc = lib_lock(l, NULL, 0)) != 0)
            return rc ? rc : 3;
        return 0; /* still held: the library's exit handler cleans up */
    }
    if (argc >= 4 && (strcmp(cmd, "temp") == 0 || strcmp(cmd, "pidfile") == 0)) {
        rc = strcmp(cmd, "temp") == 0 ? pl_temporary_lock_new(&l, argv[2])
                                      : pl_pidfile_lock_new(&l, argv[2]);
        if (rc != PL_OK || (rc = lib_lock(l, NULL, 0)) != 0)
            return rc ? rc : 3;
        hold_until(argv[3], argc > 4 ? argv[4] : NULL);
        return pl_lock_release(l) == PL_OK ? 0 : 15; /* removes the file */
    }
    fprintf(stderr, "pl_win_helper: bad arguments (see the top of pl_win_helper.c)\n");
    return 64;
}

/* With PL_HELPER_REPORT=1 the exit code is also printed ("exit N"): Lua's
   os.execute and io.popen report a stale errno instead of it on Windows. */
int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    const char *report = getenv("PL_HELPER_REPORT");
    if (report && strcmp(report, "1") == 0) {
        printf("exit %d\n", rc);
        fflush(stdout);
    }
    return rc;
}
