/*
 * Fault injection one level down from test_platform_faults.c: the Win32,
 * CRT and Winsock calls the Windows platform files (core/src/win/) make,
 * so that their own failure paths run (a CreateFileW that succeeds and an
 * _open_osfhandle that fails; a duplicate handle whose CRT slot cannot be
 * made; a socket whose event cannot be selected). mingw-w64 calls a DLL's
 * function through its import pointer, __imp_X; -Wl,--wrap=__imp_X points
 * the static library's references at __wrap___imp_X, a pointer to the
 * fake below, which passes through to __real___imp_X (the import) unless
 * a failure is armed. The Makefile's WIN_WIN32_WRAP lists the names.
 *
 * The test's own calls of these functions go through the wraps too, so
 * failures are armed only around the call under test (and path calls
 * match on the path's end). Each failure must give the documented code
 * and a message naming the path and the OS error, and leave no CRT
 * descriptor, no kernel handle, no temporary file and no half-held lock.
 */
#include "fault_checks.h"
#include "winutil.h"

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>
#include <bcrypt.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <math.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the fault table ---- */

enum fault_id {
    F_CREATEFILE,
    F_OPEN_OSFHANDLE,
    F_FILEINFO,
    F_DUPLICATE,
    F_DUP2,
    F_WRITE,
    F_FLUSH,
    F_SETEOF,
    F_DELETE,
    F_HARDLINK,
    F_MOVE,
    F_LOCKFILE,
    F_UNLOCKFILE,
    F_NOTIFY_FIRST,
    F_NOTIFY_NEXT,
    F_FINALPATH,
    F_CREATEEVENT,
    F_WAITMULTIPLE,
    F_MKDIR,
    F_THREAD,
    F_RANDOM,
    F_SOCKET,
    F_WSAEVENT,
    F_EVENTSELECT,
    F_CONNECT,
    F_RESOLVE,
    F_SEND,
    F_RECV,
    F_NTSTATUS,
    F_COUNT
};

#include "fault_table.h"

/* Whether this call fails (with faults[id].err); a wide path is matched
   as UTF-8. */
static int should_fail(int id, const wchar_t *path)
{
    char buf[1200];
    if (path && WideCharToMultiByte(CP_UTF8, 0, path, -1, buf, (int)sizeof buf, NULL, NULL) > 0)
        return fault_fires(id, buf);
    return fault_fires(id, NULL);
}

/* ---- the wraps: __wrap___imp_X points at fake_X ---- */

#define WRAP(ret, name)                                                      \
    extern __typeof__(&name) __real___imp_##name;                           \
    static __typeof__(name) fake_##name;                                     \
    __typeof__(&name) __wrap___imp_##name = fake_##name;                     \
    static ret fake_##name

/* kernel32: FALSE / INVALID_HANDLE_VALUE / NULL with SetLastError. */
#define FAIL_BOOL(id, path)                                                  \
    if (should_fail(id, path)) {                                             \
        SetLastError(faults[id].err);                                        \
        return FALSE;                                                        \
    }

WRAP(HANDLE WINAPI, CreateFileW)
(LPCWSTR path, DWORD access, DWORD share, LPSECURITY_ATTRIBUTES sa, DWORD disp,
 DWORD flags, HANDLE tmpl)
{
    if (should_fail(F_CREATEFILE, path)) {
        SetLastError(faults[F_CREATEFILE].err);
        return INVALID_HANDLE_VALUE;
    }
    return __real___imp_CreateFileW(path, access, share, sa, disp, flags, tmpl);
}

/* ntdll's last status: armed, it says STATUS_DELETE_PENDING (the err
   field is unused), as after opening a name whose file is being deleted
   while other handles keep it (which wine never produces). */
__declspec(dllimport) LONG WINAPI RtlGetLastNtStatus(void);
WRAP(LONG WINAPI, RtlGetLastNtStatus)(void)
{
    if (should_fail(F_NTSTATUS, NULL))
        return (LONG)0xC0000056L;
    return __real___imp_RtlGetLastNtStatus();
}

WRAP(int __cdecl, _open_osfhandle)(intptr_t h, int flags)
{
    if (should_fail(F_OPEN_OSFHANDLE, NULL)) {
        errno = (int)faults[F_OPEN_OSFHANDLE].err;
        return -1;
    }
    return __real___imp__open_osfhandle(h, flags);
}

WRAP(BOOL WINAPI, GetFileInformationByHandle)(HANDLE h, LPBY_HANDLE_FILE_INFORMATION info)
{
    FAIL_BOOL(F_FILEINFO, NULL)
    return __real___imp_GetFileInformationByHandle(h, info);
}

WRAP(BOOL WINAPI, DuplicateHandle)
(HANDLE sp, HANDLE s, HANDLE tp, LPHANDLE t, DWORD access, BOOL inherit, DWORD options)
{
    FAIL_BOOL(F_DUPLICATE, NULL)
    return __real___imp_DuplicateHandle(sp, s, tp, t, access, inherit, options);
}

WRAP(int __cdecl, _dup2)(int a, int b)
{
    if (should_fail(F_DUP2, NULL)) {
        errno = (int)faults[F_DUP2].err;
        return -1;
    }
    return __real___imp__dup2(a, b);
}

WRAP(int __cdecl, _write)(int fd, const void *buf, unsigned int n)
{
    if (should_fail(F_WRITE, NULL)) {
        errno = (int)faults[F_WRITE].err;
        return -1;
    }
    return __real___imp__write(fd, buf, n);
}

WRAP(BOOL WINAPI, FlushFileBuffers)(HANDLE h)
{
    FAIL_BOOL(F_FLUSH, NULL)
    return __real___imp_FlushFileBuffers(h);
}

WRAP(BOOL WINAPI, SetEndOfFile)(HANDLE h)
{
    FAIL_BOOL(F_SETEOF, NULL)
    return __real___imp_SetEndOfFile(h);
}

WRAP(BOOL WINAPI, DeleteFileW)(LPCWSTR path)
{
    FAIL_BOOL(F_DELETE, path)
    return __real___imp_DeleteFileW(path);
}

WRAP(BOOL WINAPI, CreateHardLinkW)(LPCWSTR to, LPCWSTR from, LPSECURITY_ATTRIBUTES sa)
{
    FAIL_BOOL(F_HARDLINK, to)
    return __real___imp_CreateHardLinkW(to, from, sa);
}

WRAP(BOOL WINAPI, MoveFileExW)(LPCWSTR from, LPCWSTR to, DWORD flags)
{
    FAIL_BOOL(F_MOVE, to)
    return __real___imp_MoveFileExW(from, to, flags);
}

WRAP(BOOL WINAPI, LockFileEx)(HANDLE h, DWORD flags, DWORD res, DWORD lo, DWORD hi, LPOVERLAPPED ov)
{
    FAIL_BOOL(F_LOCKFILE, NULL)
    return __real___imp_LockFileEx(h, flags, res, lo, hi, ov);
}

WRAP(BOOL WINAPI, UnlockFileEx)(HANDLE h, DWORD res, DWORD lo, DWORD hi, LPOVERLAPPED ov)
{
    FAIL_BOOL(F_UNLOCKFILE, NULL)
    return __real___imp_UnlockFileEx(h, res, lo, hi, ov);
}

WRAP(HANDLE WINAPI, FindFirstChangeNotificationW)(LPCWSTR dir, BOOL sub, DWORD filter)
{
    if (should_fail(F_NOTIFY_FIRST, NULL)) {
        SetLastError(faults[F_NOTIFY_FIRST].err);
        return INVALID_HANDLE_VALUE;
    }
    return __real___imp_FindFirstChangeNotificationW(dir, sub, filter);
}

WRAP(BOOL WINAPI, FindNextChangeNotification)(HANDLE h)
{
    FAIL_BOOL(F_NOTIFY_NEXT, NULL)
    return __real___imp_FindNextChangeNotification(h);
}

WRAP(DWORD WINAPI, GetFinalPathNameByHandleW)(HANDLE h, LPWSTR buf, DWORD n, DWORD flags)
{
    if (should_fail(F_FINALPATH, NULL)) {
        SetLastError(faults[F_FINALPATH].err);
        return 0;
    }
    return __real___imp_GetFinalPathNameByHandleW(h, buf, n, flags);
}

WRAP(HANDLE WINAPI, CreateEventW)(LPSECURITY_ATTRIBUTES sa, BOOL manual, BOOL initial, LPCWSTR name)
{
    if (should_fail(F_CREATEEVENT, NULL)) {
        SetLastError(faults[F_CREATEEVENT].err);
        return NULL;
    }
    return __real___imp_CreateEventW(sa, manual, initial, name);
}

WRAP(DWORD WINAPI, WaitForMultipleObjects)(DWORD n, const HANDLE *hs, BOOL all, DWORD ms)
{
    if (should_fail(F_WAITMULTIPLE, NULL)) {
        SetLastError(faults[F_WAITMULTIPLE].err);
        return WAIT_FAILED;
    }
    return __real___imp_WaitForMultipleObjects(n, hs, all, ms);
}

WRAP(BOOL WINAPI, CreateDirectoryW)(LPCWSTR path, LPSECURITY_ATTRIBUTES sa)
{
    FAIL_BOOL(F_MKDIR, path)
    return __real___imp_CreateDirectoryW(path, sa);
}

WRAP(uintptr_t __cdecl, _beginthreadex)
(void *sec, unsigned stack, unsigned(__stdcall *fn)(void *), void *arg, unsigned flags,
 unsigned *id)
{
    if (should_fail(F_THREAD, NULL)) {
        errno = (int)faults[F_THREAD].err;
        return 0;
    }
    return __real___imp__beginthreadex(sec, stack, fn, arg, flags, id);
}

/* bcrypt.h does not mark it dllimport: a plain --wrap. */
NTSTATUS WINAPI __real_BCryptGenRandom(BCRYPT_ALG_HANDLE, PUCHAR, ULONG, ULONG);
NTSTATUS WINAPI __wrap_BCryptGenRandom(BCRYPT_ALG_HANDLE a, PUCHAR b, ULONG n, ULONG f);
NTSTATUS WINAPI __wrap_BCryptGenRandom(BCRYPT_ALG_HANDLE a, PUCHAR b, ULONG n, ULONG f)
{
    if (should_fail(F_RANDOM, NULL))
        return (NTSTATUS)0xC0000001L; /* STATUS_UNSUCCESSFUL */
    return __real_BCryptGenRandom(a, b, n, f);
}

/* Winsock: SOCKET_ERROR / INVALID_SOCKET with WSASetLastError. */
WRAP(SOCKET WSAAPI, socket)(int af, int type, int proto)
{
    if (should_fail(F_SOCKET, NULL)) {
        WSASetLastError((int)faults[F_SOCKET].err);
        return INVALID_SOCKET;
    }
    return __real___imp_socket(af, type, proto);
}

WRAP(WSAEVENT WSAAPI, WSACreateEvent)(void)
{
    if (should_fail(F_WSAEVENT, NULL)) {
        WSASetLastError((int)faults[F_WSAEVENT].err);
        return WSA_INVALID_EVENT;
    }
    return __real___imp_WSACreateEvent();
}

WRAP(int WSAAPI, WSAEventSelect)(SOCKET s, WSAEVENT ev, long events)
{
    if (should_fail(F_EVENTSELECT, NULL)) {
        WSASetLastError((int)faults[F_EVENTSELECT].err);
        return SOCKET_ERROR;
    }
    return __real___imp_WSAEventSelect(s, ev, events);
}

WRAP(int WSAAPI, connect)(SOCKET s, const struct sockaddr *sa, int len)
{
    if (should_fail(F_CONNECT, NULL)) {
        WSASetLastError((int)faults[F_CONNECT].err);
        return SOCKET_ERROR;
    }
    return __real___imp_connect(s, sa, len);
}

WRAP(int WSAAPI, getaddrinfo)(const char *node, const char *svc, const struct addrinfo *hints,
                  struct addrinfo **res)
{
    if (should_fail(F_RESOLVE, NULL))
        return (int)faults[F_RESOLVE].err;
    return __real___imp_getaddrinfo(node, svc, hints, res);
}

WRAP(int WSAAPI, send)(SOCKET s, const char *buf, int len, int flags)
{
    if (should_fail(F_SEND, NULL)) {
        WSASetLastError((int)faults[F_SEND].err);
        return SOCKET_ERROR;
    }
    return __real___imp_send(s, buf, len, flags);
}

WRAP(int WSAAPI, recv)(SOCKET s, char *buf, int len, int flags)
{
    if (should_fail(F_RECV, NULL)) {
        WSASetLastError((int)faults[F_RECV].err);
        return SOCKET_ERROR;
    }
    return __real___imp_recv(s, buf, len, flags);
}

/* ---- fixtures (the checks: fault_checks.h) ---- */

static int setup(void **state)
{
    disarm_all();
    return tu_setup_dir(state);
}

static int teardown(void **state)
{
    disarm_all();
    return tu_teardown_dir(state);
}

/* ---- opening ---- */

static void createfile_errors_become_errno_values_naming_the_path(void **state)
{
    static const DWORD errs[] = {ERROR_SHARING_VIOLATION, ERROR_DISK_FULL,
                                 ERROR_TOO_MANY_OPEN_FILES, ERROR_PATH_NOT_FOUND,
                                 ERROR_WRITE_PROTECT};
    static const int want[] = {EACCES, ENOSPC, EMFILE, ENOENT, EROFS};
    const char *path = tu_path(state, "open.lock");
    size_t i;
    for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pl_lock *l = NULL;
        resources before;
        tu_ok(pl_lock_new(&l, path));
        before = snapshot();
        arm_path(F_CREATEFILE, 1, errs[i], 1, "open.lock");
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[F_CREATEFILE].failed, 1);
        disarm_all();
        expect_message(path, want[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
        pl_lock_free(l);
    }
}

static void a_name_being_deleted_is_waited_for_like_a_held_lock(void **state)
{
    /* Delete pending (a removed file other handles still have open, on
       FAT, shares, older Windows): CreateFileW says access denied, ntdll
       says STATUS_DELETE_PENDING. Contention, not an I/O error: refused
       with fail_when_locked, waited for otherwise (the second open
       works). A plain access denied stays EACCES. */
    const char *path = tu_path(state, "pending.lock");
    pl_lock *l = NULL;
    int fd = -1;
    resources before;
    tu_ok(pl_temporary_lock_new(&l, path));
    before = snapshot();
    arm_path(F_CREATEFILE, 1, ERROR_ACCESS_DENIED, 1, "pending.lock");
    arm(F_NTSTATUS, 1, 0, 1);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(faults[F_NTSTATUS].failed, 1);
    disarm_all();
    assert_non_null(strstr(pl_last_error_message(), "being removed"));
    expect_unchanged(before);
    arm_path(F_CREATEFILE, 1, ERROR_ACCESS_DENIED, 2, "pending.lock");
    arm(F_NTSTATUS, 1, 0, 2);
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, &fd));
    assert_int_equal(faults[F_CREATEFILE].failed, 2);
    disarm_all();
    assert_true(fd >= 0);
    tu_ok(pl_lock_release(l));
    expect_unchanged(before);
    arm_path(F_CREATEFILE, 1, ERROR_ACCESS_DENIED, 1, "pending.lock");
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    disarm_all();
    expect_message(path, EACCES);
    expect_unchanged(before);
    pl_lock_free(l);
    assert_int_equal(tw_count_entries(dir_of(state)), 0);
}

static void crt_slot_failure_closes_the_opened_handle(void **state)
{
    /* CreateFileW succeeded, the CRT could not give it a descriptor: the
       HANDLE is closed, nothing is held. */
    const char *path = tu_path(state, "slot.lock");
    const char *tpath = tu_path(state, "slot.tmp.lock");
    pl_lock *l = NULL, *t = NULL;
    resources before;
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_temporary_lock_new(&t, tpath));
    before = snapshot();
    arm(F_OPEN_OSFHANDLE, 1, EMFILE, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_OPEN_OSFHANDLE].failed, 1);
    disarm_all();
    expect_message(path, EMFILE);
    assert_int_equal(pl_lock_is_held(l), 0);
    expect_unchanged(before);
    expect_free(path);
    arm(F_OPEN_OSFHANDLE, 1, EMFILE, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire(t, NULL));
    disarm_all();
    expect_unchanged(before);
    tu_ok(pl_lock_acquire(l, NULL));
    tu_ok(pl_lock_acquire(t, NULL));
    pl_lock_free(l);
    pl_lock_free(t);
    expect_unchanged(before);
}

static void file_information_failure_is_io_error_and_holds_nothing(void **state)
{
    /* Mode 'r' checks the file is regular; a temporary lock compares the
       locked file with the one at the path: both read the file's
       information. */
    const char *rpath = tu_path(state, "r.lock");
    const char *tpath = tu_path(state, "t.lock");
    pl_lock *r = NULL, *t = NULL;
    resources before;
    assert_int_equal(tu_write_file(rpath, "x"), 0);
    tu_ok(pl_lock_new(&r, rpath));
    tu_ok(pl_lock_set_mode(r, "r"));
    tu_ok(pl_temporary_lock_new(&t, tpath));
    before = snapshot();
    arm(F_FILEINFO, 1, ERROR_IO_DEVICE, -1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(r, 0, PL_INHERIT, 0, NULL));
    disarm_all();
    expect_message(rpath, EIO);
    expect_unchanged(before);
    expect_free(rpath);
    /* Out of memory is said as such. */
    arm(F_FILEINFO, 1, ERROR_NOT_ENOUGH_MEMORY, -1);
    tu_expect(PL_ERR_NO_MEMORY, pl_lock_acquire_with(r, 0, PL_INHERIT, 0, NULL));
    disarm_all();
    expect_message(rpath, ENOMEM);
    expect_unchanged(before);
    arm(F_FILEINFO, 1, ERROR_INVALID_HANDLE, -1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(t, 0, PL_INHERIT, 0, NULL));
    disarm_all();
    expect_message(tpath, EBADF);
    assert_int_equal(pl_lock_is_held(t), 0);
    expect_unchanged(before);
    expect_free(tpath);
    pl_lock_free(r);
    tu_ok(pl_lock_acquire(t, NULL));
    pl_lock_free(t);
    assert_int_equal(tw_count_entries(dir_of(state)), 1); /* r.lock */
}

/* ---- mode 'w': truncating and clearing append mode ---- */

static void mode_w_steps_failing_drop_the_lock_and_the_duplicate(void **state)
{
    /* SetEndOfFile (the truncate), then the append flag: DuplicateHandle,
       the duplicate's CRT slot, _dup2. Each failure drops the lock and
       leaves no duplicate behind. */
    static const int which[] = {F_SETEOF, F_DUPLICATE, F_OPEN_OSFHANDLE, F_DUP2};
    static const DWORD errs[] = {ERROR_DISK_FULL, ERROR_TOO_MANY_OPEN_FILES, EMFILE, EBADF};
    static const int want[] = {ENOSPC, EMFILE, EMFILE, EBADF};
    const char *path = tu_path(state, "w.lock");
    size_t i;
    for (i = 0; i < sizeof which / sizeof which[0]; i++) {
        pl_lock *l = NULL;
        resources before;
        assert_int_equal(tu_write_file(path, "keep"), 0);
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_lock_set_mode(l, "w"));
        before = snapshot();
        /* The open's own CRT slot comes first. */
        arm(which[i], which[i] == F_OPEN_OSFHANDLE ? 2 : 1, errs[i], 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, want[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        expect_free(path);
        pl_lock_free(l);
    }
}

/* ---- the PID file ---- */

static void pid_write_or_flush_failure_removes_both_files(void **state)
{
    static const int which[] = {F_WRITE, F_FLUSH};
    static const DWORD errs[] = {ENOSPC, ERROR_DISK_FULL};
    const char *path = tu_path(state, "app.pid");
    size_t i;
    for (i = 0; i < 2; i++) {
        pl_lock *l = NULL;
        resources before;
        tu_ok(pl_pidfile_lock_new(&l, path));
        before = snapshot();
        arm(which[i], 1, errs[i], 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, ENOSPC);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
        tu_ok(pl_lock_acquire(l, NULL));
        pl_lock_free(l);
        assert_int_equal(tw_count_entries(dir_of(state)), 0);
    }
}

/* ---- the lock calls ---- */

static void lockfileex_errors_are_contention_failure_or_unsupported(void **state)
{
    static const DWORD errs[] = {ERROR_LOCK_VIOLATION, ERROR_NOT_ENOUGH_MEMORY,
                                 ERROR_INVALID_FUNCTION, ERROR_INVALID_HANDLE};
    static const int codes[] = {PL_ERR_ALREADY_LOCKED, PL_ERR_NO_MEMORY,
                                PL_ERR_UNSUPPORTED, PL_ERR_LOCK_FAILED};
    const char *path = tu_path(state, "lk.lock");
    size_t i;
    for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pl_lock *l = NULL;
        resources before;
        int fd;
        tu_ok(pl_lock_new(&l, path));
        before = snapshot();
        arm(F_LOCKFILE, 1, errs[i], -1);
        tu_expect(codes[i], pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        disarm_all();
        assert_non_null(strstr(pl_last_error_message(), path));
        assert_int_equal(pl_lock_is_held(l), 0);
        pl_lock_free(l);
        expect_unchanged(before);
        expect_free(path);
        /* The blocking call on a caller's descriptor (its wait opens a
           change notification, which must be closed too). */
        fd = _open(path, _O_RDWR | _O_BINARY);
        assert_true(fd >= 0);
        before = snapshot();
        arm(F_LOCKFILE, 1, errs[i], errs[i] == ERROR_LOCK_VIOLATION ? 3 : -1);
        if (errs[i] == ERROR_LOCK_VIOLATION)
            tu_ok(pl_lock_fd(fd, PL_LOCK_EX)); /* contention, then free */
        else
            tu_expect(codes[i], pl_lock_fd(fd, PL_LOCK_EX));
        disarm_all();
        tu_ok(pl_unlock_fd(fd));
        expect_unchanged(before);
        _close(fd);
    }
}

static void unlock_failure_on_release_still_closes(void **state)
{
    const char *path = tu_path(state, "ul.lock");
    pl_lock *l = NULL;
    resources before;
    int raise;
    for (raise = 0; raise <= 1; raise++) {
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_lock_set_raise_on_release_error(l, raise));
        before = snapshot();
        tu_ok(pl_lock_acquire(l, NULL));
        arm(F_UNLOCKFILE, 1, ERROR_NOT_ENOUGH_MEMORY, 1);
        tu_expect(raise ? PL_ERR_NO_MEMORY : PL_OK, pl_lock_release(l));
        assert_int_equal(faults[F_UNLOCKFILE].failed, 1);
        disarm_all();
        expect_message(path, ENOMEM);
        assert_int_equal(pl_lock_is_held(l), 0);
        expect_unchanged(before);
        expect_free(path);
        pl_lock_free(l);
    }
}

static void remove_failure_on_release_is_reported(void **state)
{
    /* A sharing violation: another process (a reference waiter: the
       CRT's _open shares no delete) has the file open. The lock is
       released all the same; PL_OK with the detail in the last error,
       PL_ERR_IO with raise_on_release_error. */
    const char *tpath = tu_path(state, "del.lock");
    pl_lock *t = NULL;
    resources before;
    tu_ok(pl_temporary_lock_new(&t, tpath));
    before = snapshot();
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_DELETE, 1, ERROR_SHARING_VIOLATION, -1, "del.lock");
    tu_ok(pl_lock_release(t));
    disarm_all();
    assert_int_equal(pl_last_error_code(), PL_ERR_IO);
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    expect_unchanged(before);
    expect_free(tpath);
    tu_ok(pl_lock_set_raise_on_release_error(t, 1));
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_DELETE, 1, ERROR_SHARING_VIOLATION, -1, "del.lock");
    tu_expect(PL_ERR_IO, pl_lock_release(t));
    disarm_all();
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    expect_unchanged(before);
    expect_free(tpath);
    assert_true(tu_exists(tpath));
    pl_lock_free(t);
}

/* ---- open_atomic ---- */

static void atomic_temp_and_directory_failures_create_nothing(void **state)
{
    const char *path = tu_path(state, "sub\\out.txt");
    pl_atomic_file *f = NULL;
    resources before = snapshot();
    arm_path(F_MKDIR, 1, ERROR_ACCESS_DENIED, 1, "sub");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    disarm_all();
    expect_message(path, EACCES);
    assert_null(f);
    assert_int_equal(tw_count_entries(dir_of(state)), 0);
    arm_path(F_CREATEFILE, 1, ERROR_DISK_FULL, -1, ".tmp");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    disarm_all();
    expect_message(path, ENOSPC);
    assert_null(f);
    expect_unchanged(before);
    /* The directory was made on purpose; nothing in it. */
    assert_int_equal(tw_count_entries(tu_path(state, "sub")), 0);
}

static int commit_armed(void **state, const char *name, char *temp, size_t size)
{
    pl_atomic_file *f = NULL;
    int rc;
    tu_ok(pl_atomic_open(&f, tu_path(state, name)));
    assert_int_equal(_write(pl_atomic_fd(f), "data", 4), 4);
    snprintf(temp, size, "%s", pl_atomic_temp_path(f));
    rc = pl_atomic_commit(f);
    pl_atomic_free(f);
    return rc;
}

static void atomic_publication_failures(void **state)
{
    char temp[600], buf[16];
    resources before = snapshot();
    /* The flush: the temporary file goes, nothing is published. */
    arm(F_FLUSH, 1, ERROR_DISK_FULL, 1);
    tu_expect(PL_ERR_IO, commit_armed(state, "a.txt", temp, sizeof temp));
    disarm_all();
    assert_false(tu_exists(temp));
    assert_false(tu_exists(tu_path(state, "a.txt")));
    /* No hard links on the volume: MoveFileExW publishes instead. */
    arm(F_HARDLINK, 1, ERROR_NOT_SUPPORTED, 1);
    tu_ok(commit_armed(state, "b.txt", temp, sizeof temp));
    assert_int_equal(faults[F_HARDLINK].failed, 1);
    disarm_all();
    assert_false(tu_exists(temp));
    assert_int_equal(tu_read_file(tu_path(state, "b.txt"), buf, sizeof buf), 4);
    /* ...and that move failing keeps the payload. */
    arm(F_HARDLINK, 1, ERROR_INVALID_FUNCTION, 1);
    arm(F_MOVE, 1, ERROR_ACCESS_DENIED, 1);
    tu_expect(PL_ERR_IO, commit_armed(state, "c.txt", temp, sizeof temp));
    assert_int_equal(faults[F_MOVE].failed, 1);
    disarm_all();
    assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
    assert_false(tu_exists(tu_path(state, "c.txt")));
    assert_int_equal(_unlink(temp), 0);
    /* The name appeared meanwhile. */
    arm(F_HARDLINK, 1, ERROR_ALREADY_EXISTS, 1);
    tu_expect(PL_ERR_EXISTS, commit_armed(state, "d.txt", temp, sizeof temp));
    disarm_all();
    assert_true(tu_exists(temp));
    assert_int_equal(_unlink(temp), 0);
    /* A disk error linking: the payload is kept. */
    arm(F_HARDLINK, 1, ERROR_DISK_FULL, 1);
    tu_expect(PL_ERR_IO, commit_armed(state, "e.txt", temp, sizeof temp));
    disarm_all();
    assert_true(tu_exists(temp));
    assert_int_equal(_unlink(temp), 0);
    expect_unchanged(before);
    assert_int_equal(tw_count_entries(dir_of(state)), 1); /* b.txt */
}

/* ---- waiting ---- */

static void contended_wait(void **state, const char *name, int id, DWORD err)
{
    const char *path = tu_path(state, name);
    const char *ready = tu_path(state, "ready");
    const char *args[] = {"hold", path, "ex", ready, "0.4", NULL};
    pl_lock *l = NULL;
    resources before;
    tw_proc p;
    double t0, e;
    _unlink(ready);
    tu_ok(pl_lock_new(&l, path));
    before = snapshot();
    p = tw_spawn_ready(args, ready, 30);
    assert_true(p != 0);
    arm(id, 1, err, -1);
    arm(F_LOCKFILE, 0, 0, 0); /* counted */
    t0 = tu_now();
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    e = tu_now() - t0;
    if (faults[id].failed < 1)
        fail_msg("fault %d never reached", id);
    if (faults[F_LOCKFILE].calls > 400)
        fail_msg("%d lock calls in %.2f s: the waiter spins", faults[F_LOCKFILE].calls, e);
    disarm_all();
    assert_int_equal(tw_wait(p, 30), 0);
    assert_true(e < 0.4 + 5.0);
    pl_lock_free(l);
    expect_unchanged(before);
}

static void wait_failures_fall_back_to_the_backoff(void **state)
{
    contended_wait(state, "first.lock", F_NOTIFY_FIRST, ERROR_NOT_ENOUGH_MEMORY);
    contended_wait(state, "wait.lock", F_WAITMULTIPLE, ERROR_INVALID_HANDLE);
}

static void rearm_failure_after_a_notification_does_not_spin(void **state)
{
    /* A temporary lock's holder removes its file on release: the waiter's
       notification fires and is re-armed; that failing, the waiter falls
       back to sleeping instead of polling a handle that stays signalled. */
    const char *path = tu_path(state, "next.lock");
    const char *ready = tu_path(state, "ready");
    const char *args[] = {"temp", path, ready, "0.4", NULL};
    pl_lock *l = NULL;
    resources before;
    tw_proc p;
    tu_ok(pl_temporary_lock_new(&l, path));
    before = snapshot();
    p = tw_spawn_ready(args, ready, 30);
    assert_true(p != 0);
    arm(F_NOTIFY_NEXT, 1, ERROR_NOT_ENOUGH_MEMORY, -1);
    arm(F_LOCKFILE, 0, 0, 0);
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    if (faults[F_LOCKFILE].calls > 400)
        fail_msg("%d lock calls: the waiter spins", faults[F_LOCKFILE].calls);
    disarm_all();
    assert_int_equal(tw_wait(p, 30), 0);
    pl_lock_free(l);
    expect_unchanged(before);
    assert_int_equal(tw_count_entries(dir_of(state)), 1); /* ready */
}

static void blocking_wait_without_the_files_name_still_waits(void **state)
{
    /* pl_lock_fd without NB: the wait watches the descriptor's directory
       through its final path; without that name it only sleeps. */
    const char *path = tu_path(state, "final.lock");
    const char *ready = tu_path(state, "ready");
    const char *args[] = {"hold", path, "ex", ready, "0.4", NULL};
    resources before;
    tw_proc p;
    int fd;
    assert_int_equal(tu_write_file(path, ""), 0);
    fd = _open(path, _O_RDWR | _O_BINARY);
    assert_true(fd >= 0);
    before = snapshot();
    p = tw_spawn_ready(args, ready, 30);
    assert_true(p != 0);
    arm(F_FINALPATH, 1, ERROR_NOT_ENOUGH_MEMORY, -1);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    assert_true(faults[F_FINALPATH].failed >= 1);
    disarm_all();
    tu_ok(pl_unlock_fd(fd));
    assert_int_equal(tw_wait(p, 30), 0);
    expect_unchanged(before);
    _close(fd);
}

typedef struct cancel_arg {
    pl_lock *l;
} cancel_arg;

static DWORD WINAPI cancel_later(void *p)
{
    Sleep(300);
    pl_lock_cancel(((cancel_arg *)p)->l);
    return 0;
}

static void cancel_without_its_event_still_ends_the_wait(void **state)
{
    const char *path = tu_path(state, "cancel.lock");
    pl_lock *holder = NULL, *l = NULL;
    cancel_arg a;
    HANDLE t;
    double t0, e;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    a.l = l;
    t = CreateThread(NULL, 0, cancel_later, &a, 0, NULL);
    assert_non_null(t);
    arm(F_CREATEEVENT, 1, ERROR_NOT_ENOUGH_MEMORY, -1);
    t0 = tu_now();
    tu_expect(PL_ERR_INTERRUPTED, pl_lock_acquire_with(l, 20, 0.05, 0, NULL));
    e = tu_now() - t0;
    assert_true(faults[F_CREATEEVENT].failed >= 1);
    disarm_all();
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    assert_true(e < 0.3 + 3.0);
    pl_lock_free(holder);
    pl_lock_free(l);
}

static void random_failure_still_gives_distinct_names_and_ids(void **state)
{
    pl_semaphore *a = NULL, *b = NULL;
    pl_redis_lock *x = NULL, *y = NULL;
    (void)state;
    arm(F_RANDOM, 1, 0, -1);
    tu_ok(pl_semaphore_new(&a, 1, NULL));
    tu_ok(pl_semaphore_new(&b, 1, NULL));
    tu_ok(pl_redis_lock_new(&x, "ch", 2));
    tu_ok(pl_redis_lock_new(&y, "ch", 2));
    assert_true(faults[F_RANDOM].failed >= 4);
    disarm_all();
    assert_int_equal(strlen(pl_redis_lock_holder_id(x)), 32);
    assert_string_not_equal(pl_redis_lock_holder_id(x), pl_redis_lock_holder_id(y));
    assert_string_not_equal(pl_semaphore_name(a), pl_semaphore_name(b));
    pl_semaphore_free(a);
    pl_semaphore_free(b);
    pl_redis_lock_free(x);
    pl_redis_lock_free(y);
}

/* ---- Winsock ---- */

static int redis_setup(void **state)
{
    if (redis_port_from_env() < 0)
        return -1;
    return setup(state);
}

static void winsock_failures_leave_no_socket_and_no_lock(void **state)
{
    static const int which[] = {F_SOCKET, F_WSAEVENT, F_EVENTSELECT, F_CONNECT,
                                F_RESOLVE, F_SEND, F_RECV, F_THREAD};
    static const DWORD errs[] = {WSAEMFILE, WSA_NOT_ENOUGH_MEMORY, WSAENOBUFS,
                                 WSAECONNREFUSED, WSANO_RECOVERY, WSAECONNRESET,
                                 WSAECONNRESET, EAGAIN};
    char channel[64];
    size_t i;
    (void)state;
    snprintf(channel, sizeof channel, "pl-win32-faults-%lu",
             (unsigned long)GetCurrentProcessId());
    /* Winsock's own handles come with the first connection: warm up. */
    {
        pl_redis_lock *r = redis_new(channel);
        tu_ok(pl_redis_lock_acquire_with(r, 0, PL_INHERIT, 1));
        pl_redis_lock_free(r);
    }
    for (i = 0; i < sizeof which / sizeof which[0]; i++) {
        pl_redis_lock *r = redis_new(channel), *again;
        resources before = snapshot();
        int rc, failed;
        arm(which[i], 1, errs[i], -1);
        rc = pl_redis_lock_acquire_with(r, 1, 0.05, 1);
        failed = faults[which[i]].failed;
        disarm_all();
        if (rc == PL_OK)
            fail_msg("fault %d armed, yet the acquire succeeded", (int)i);
        if (failed == 0)
            fail_msg("fault %d was never reached", (int)i);
        print_message("  %s\n", pl_last_error_message());
        assert_true(strlen(pl_last_error_message()) > 10);
        assert_int_not_equal(pl_redis_lock_check(r), PL_OK);
        pl_redis_lock_free(r);
        expect_unchanged(before);
        again = redis_new(channel);
        tu_ok(pl_redis_lock_acquire_with(again, 0, PL_INHERIT, 1));
        pl_redis_lock_free(again);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define R(f) cmocka_unit_test_setup_teardown(f, redis_setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(createfile_errors_become_errno_values_naming_the_path),
        T(a_name_being_deleted_is_waited_for_like_a_held_lock),
        T(crt_slot_failure_closes_the_opened_handle),
        T(file_information_failure_is_io_error_and_holds_nothing),
        T(mode_w_steps_failing_drop_the_lock_and_the_duplicate),
        T(pid_write_or_flush_failure_removes_both_files),
        T(lockfileex_errors_are_contention_failure_or_unsupported),
        T(unlock_failure_on_release_still_closes),
        T(remove_failure_on_release_is_reported),
        T(atomic_temp_and_directory_failures_create_nothing),
        T(atomic_publication_failures),
        T(wait_failures_fall_back_to_the_backoff),
        T(rearm_failure_after_a_notification_does_not_spin),
        T(blocking_wait_without_the_files_name_still_waits),
        T(cancel_without_its_event_still_ends_the_wait),
        T(random_failure_still_gives_distinct_names_and_ids),
        R(winsock_failures_leave_no_socket_and_no_lock),
    };
    return cmocka_run_group_tests_name("Win32 faults", tests, NULL, NULL);
}
