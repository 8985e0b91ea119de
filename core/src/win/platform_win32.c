/* The Win32 implementation of platform.h: files, the process, time.
 *
 * Files are opened with CreateFileW (the UTF-8 path converted to UTF-16,
 * long paths through the \\?\ prefix), shared for read, write and delete
 * (so another process can open, lock, rename or delete the file like on
 * POSIX), never inheritable, and handed out as CRT descriptors
 * (_open_osfhandle) because the API gives callers an int descriptor.
 * The CRT's _O_APPEND flag gives append mode (the CRT seeks to the end
 * before each write).
 *
 * No FILE_FLAG_DELETE_ON_CLOSE (nor a delete disposition) for temporary
 * locks, PID files or their sidecars, although it would remove a killed
 * holder's file: it needs DELETE access on the holder's handle, and then
 * every open that does not share delete fails with a sharing violation.
 * The CRT's _open does not share delete, so Python's open() does not, and
 * with it the reference portalocker: its waiters would get PermissionError
 * instead of waiting, and its read_pid (or any reader) could not read a
 * held PID file. A killed holder's file is litter, not a held lock: the
 * next holder locks it and removes it on release, as on POSIX
 * (tests/win/test_windows_files.c). */
#include "platform.h"
#include "win_internal.h"

#include <bcrypt.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int last_errno(void)
{
    return pl__win_errno(GetLastError());
}

/* A directory where a file was asked for: CreateFileW says "access
   denied" for a directory opened without backup semantics. */
static int is_directory(const wchar_t *wpath)
{
    DWORD a = GetFileAttributesW(wpath);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

/* ntdll's status of the last failed call: the one way to tell a name
   whose file is being deleted (delete pending: removed while other
   handles are still open, on FAT, network shares and Windows before
   POSIX delete semantics) from a real "access denied". Declared here:
   mingw-w64's headers leave it out. */
__declspec(dllimport) LONG WINAPI RtlGetLastNtStatus(void);
#define PL_STATUS_DELETE_PENDING ((LONG)0xC0000056L)

static int crt_fd(HANDLE h, int flags, int *fd_out)
{
    int cflags = _O_BINARY, fd;
    if (flags & PL_O_APPEND)
        cflags |= _O_APPEND;
    if (!(flags & PL_O_WRITE))
        cflags |= _O_RDONLY;
    else if (!(flags & PL_O_READ))
        cflags |= _O_WRONLY;
    fd = _open_osfhandle((intptr_t)h, cflags);
    if (fd < 0) {
        CloseHandle(h);
        return EMFILE;
    }
    *fd_out = fd;
    return 0;
}

/* No Windows file system takes a name of more than 255 UTF-16 units, nor
   a path of more than 32767: say so (ENAMETOOLONG) rather than let the
   file system answer "not found" or "invalid name". */
static int check_lengths(const wchar_t *w)
{
    size_t run = 0, total = 0;
    for (; *w; w++, total++) {
        run = *w == L'\\' ? 0 : run + 1;
        if (run > 255)
            return ENAMETOOLONG;
    }
    return total > 32767 ? ENAMETOOLONG : 0;
}

int pl__os_open(const char *path, int flags, unsigned int mode, int *fd_out)
{
    DWORD access = 0, disposition, attrs = FILE_ATTRIBUTE_NORMAL;
    wchar_t *w;
    HANDLE h;
    int err;
    if (flags & PL_O_READ)
        access |= GENERIC_READ;
    if (flags & PL_O_WRITE)
        access |= GENERIC_WRITE;
    if (!access)
        access = GENERIC_READ;
    if ((flags & PL_O_CREATE) && (flags & PL_O_EXCL))
        disposition = CREATE_NEW;
    else if ((flags & PL_O_CREATE) && (flags & PL_O_TRUNC))
        disposition = CREATE_ALWAYS;
    else if (flags & PL_O_CREATE)
        disposition = OPEN_ALWAYS;
    else if (flags & PL_O_TRUNC)
        disposition = TRUNCATE_EXISTING;
    else
        disposition = OPEN_EXISTING;
    /* The mode as the CRT's _open reads it: a file created without the
       owner's write bit (_S_IWRITE, 0200) is read-only; the other bits
       mean nothing on Windows (who may open it is the directory's ACL).
       The creating handle still writes: the attribute binds later opens,
       as mode 0444 does on POSIX. Unlike _open, the CRT's _umask is not
       applied: reading it means setting it, a race with every other
       thread that creates files. */
    if ((flags & PL_O_CREATE) && !(mode & 0200))
        attrs = FILE_ATTRIBUTE_READONLY;
    if (flags & PL_O_NOFOLLOW)
        attrs |= FILE_FLAG_OPEN_REPARSE_POINT;
    if ((err = pl__win_wide_path(path, &w)) != 0)
        return err;
    if ((err = check_lengths(w)) != 0) {
        free(w);
        return err;
    }
    /* NULL security attributes: the handle is not inherited by children
       (the close-on-exec of the POSIX side). */
    h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, disposition, attrs, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        /* The status first: is_directory's own call replaces it. */
        if (e == ERROR_ACCESS_DENIED && RtlGetLastNtStatus() == PL_STATUS_DELETE_PENDING)
            err = EBUSY;
        else
            err = e == ERROR_ACCESS_DENIED && is_directory(w) ? EISDIR : pl__win_errno(e);
        free(w);
        return err;
    }
    free(w);
    if (flags & PL_O_NOFOLLOW) {
        BY_HANDLE_FILE_INFORMATION info;
        if (GetFileInformationByHandle(h, &info) &&
            (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
            CloseHandle(h);
            return ELOOP;
        }
    }
    if ((err = crt_fd(h, flags, fd_out)) != 0)
        return err;
    if ((flags & PL_O_REGULAR) && (err = pl__os_check_regular(*fd_out)) != 0) {
        _close(*fd_out);
        *fd_out = -1;
        return err;
    }
    return 0;
}

int pl__os_close(int fd)
{
    if (fd >= PL__WIN_WAIT_BASE) { /* an end of pl__os_pipe's event */
        HANDLE h = pl__win_wait_get(fd);
        if (!h)
            return EBADF;
        pl__win_wait_release(fd);
        return CloseHandle(h) ? 0 : last_errno();
    }
    {
        int rc;
        PL__WIN_CRT_BEGIN
        rc = _close(fd);
        PL__WIN_CRT_END
        return rc != 0 ? errno : 0;
    }
}

int pl__os_check_regular(int fd)
{
    HANDLE h = pl__win_handle(fd);
    BY_HANDLE_FILE_INFORMATION info;
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    if (GetFileType(h) != FILE_TYPE_DISK)
        return EINVAL;
    if (!GetFileInformationByHandle(h, &info))
        return last_errno();
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        return EISDIR;
    return 0;
}

static void to_id(const BY_HANDLE_FILE_INFORMATION *info, pl__os_file_id *out)
{
    out->dev = info->dwVolumeSerialNumber;
    out->ino = ((unsigned long long)info->nFileIndexHigh << 32) | info->nFileIndexLow;
}

int pl__os_fd_id(int fd, pl__os_file_id *out)
{
    HANDLE h = pl__win_handle(fd);
    BY_HANDLE_FILE_INFORMATION info;
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    if (!GetFileInformationByHandle(h, &info))
        return last_errno();
    to_id(&info, out);
    return 0;
}

int pl__os_path_id(const char *path, pl__os_file_id *out)
{
    BY_HANDLE_FILE_INFORMATION info;
    wchar_t *w;
    HANDLE h;
    int err;
    if ((err = pl__win_wide_path(path, &w)) != 0)
        return err;
    /* The name itself (a reparse point is not followed), file or
       directory, without read access (only its attributes). */
    h = CreateFileW(w, FILE_READ_ATTRIBUTES,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return last_errno();
    err = GetFileInformationByHandle(h, &info) ? 0 : last_errno();
    CloseHandle(h);
    if (!err)
        to_id(&info, out);
    return err;
}

int pl__os_touch(int fd)
{
    HANDLE h = pl__win_handle(fd);
    FILETIME now;
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    GetSystemTimeAsFileTime(&now);
    /* A new last-write time raises FILE_NOTIFY_CHANGE_LAST_WRITE for the
       waiters watching the directory (wait_notify_win32.c). */
    return SetFileTime(h, NULL, &now, &now) ? 0 : last_errno();
}

int pl__os_truncate(int fd)
{
    HANDLE h = pl__win_handle(fd);
    LARGE_INTEGER zero;
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    zero.QuadPart = 0;
    /* The CRT keeps no position of its own in binary mode: the handle's
       file pointer is the descriptor's. */
    if (!SetFilePointerEx(h, zero, NULL, FILE_BEGIN) || !SetEndOfFile(h))
        return last_errno();
    return 0;
}

int pl__os_clear_append(int fd)
{
    HANDLE h = pl__win_handle(fd), dup;
    int tmp, err = 0;
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    /* The CRT has no fcntl(F_SETFL): the descriptor number is given a
       CRT entry without _O_APPEND over a duplicate of the same handle.
       The file object, and with it the byte-range lock, stays open all
       along (locks belong to the file object, which lives while any of
       its handles does). */
    if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0,
                         FALSE, DUPLICATE_SAME_ACCESS))
        return last_errno();
    tmp = _open_osfhandle((intptr_t)dup, _O_BINARY);
    if (tmp < 0) {
        CloseHandle(dup);
        return EMFILE;
    }
    if (_dup2(tmp, fd) != 0)
        err = errno;
    _close(tmp);
    return err;
}

int pl__os_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    if (fd >= PL__WIN_WAIT_BASE) { /* pl__os_pipe's write end: set it */
        HANDLE h = pl__win_wait_get(fd);
        (void)p;
        return !h ? EBADF : len == 0 || SetEvent(h) ? 0 : last_errno();
    }
    while (len > 0) {
        unsigned int chunk = len > 0x40000000u ? 0x40000000u : (unsigned int)len;
        int n;
        PL__WIN_CRT_BEGIN
        n = _write(fd, p, chunk);
        PL__WIN_CRT_END
        if (n < 0)
            return errno;
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pl__os_read(int fd, void *buf, size_t len, size_t *got)
{
    unsigned int chunk = len > 0x40000000u ? 0x40000000u : (unsigned int)len;
    int n;
    if (fd >= PL__WIN_WAIT_BASE) { /* pl__os_pipe's read end: drain it */
        HANDLE h = pl__win_wait_get(fd);
        *got = 0;
        if (!h)
            return EBADF;
        if (WaitForSingleObject(h, 0) == WAIT_OBJECT_0 && len > 0) {
            ((char *)buf)[0] = 1;
            *got = 1;
        }
        return ResetEvent(h) ? 0 : last_errno();
    }
    PL__WIN_CRT_BEGIN
    n = _read(fd, buf, chunk);
    PL__WIN_CRT_END
    if (n < 0)
        return errno;
    *got = (size_t)n;
    return 0;
}

int pl__os_read_small(const char *path, char *buf, size_t size, size_t *len)
{
    int fd = -1, err;
    size_t got = 0, n = 0;
    err = pl__os_open(path, PL_O_READ | PL_O_NOFOLLOW | PL_O_REGULAR, 0, &fd);
    if (err)
        return err;
    while (got + 1 < size) {
        if ((err = pl__os_read(fd, buf + got, size - 1 - got, &n)) != 0) {
            _close(fd);
            return err;
        }
        if (n == 0)
            break;
        got += n;
    }
    buf[got] = '\0';
    *len = got;
    _close(fd);
    return 0;
}

int pl__os_fsync(int fd)
{
    HANDLE h = pl__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    return FlushFileBuffers(h) ? 0 : last_errno();
}

int pl__os_unlink(const char *path)
{
    wchar_t *w;
    int err;
    if ((err = pl__win_wide_path(path, &w)) != 0)
        return err;
    /* Files are opened with FILE_SHARE_DELETE, so this succeeds while
       others have the file open; the name goes when the last handle
       closes (older Windows) or at once (POSIX delete semantics). */
    err = DeleteFileW(w) ? 0 : last_errno();
    /* unlink(2) does not look at the file's own mode, only at the
       directory; DeleteFileW refuses a read-only file (one created with
       a mode without 0200, above). So take the attribute off and try
       again, putting it back if that fails too. */
    if (err == EACCES) {
        DWORD a = GetFileAttributesW(w);
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_READONLY) &&
            !(a & FILE_ATTRIBUTE_DIRECTORY) &&
            SetFileAttributesW(w, (a & ~(DWORD)FILE_ATTRIBUTE_READONLY)
                                      ? (a & ~(DWORD)FILE_ATTRIBUTE_READONLY)
                                      : FILE_ATTRIBUTE_NORMAL)) {
            err = DeleteFileW(w) ? 0 : last_errno();
            if (err)
                (void)SetFileAttributesW(w, a);
        }
    }
    free(w);
    return err;
}

int pl__os_link(const char *from, const char *to)
{
    wchar_t *wfrom, *wto;
    int err;
    DWORD e;
    if ((err = pl__win_wide_path(from, &wfrom)) != 0)
        return err;
    if ((err = pl__win_wide_path(to, &wto)) != 0) {
        free(wfrom);
        return err;
    }
    if (CreateHardLinkW(wto, wfrom, NULL)) {
        err = 0;
    } else {
        e = GetLastError();
        /* No hard links on this volume (FAT, some network shares): a
           rename that never replaces an existing name publishes just as
           atomically (the temporary name is then gone, which the caller
           accepts). */
        if (e == ERROR_INVALID_FUNCTION || e == ERROR_NOT_SUPPORTED ||
            e == ERROR_ACCESS_DENIED)
            err = MoveFileExW(wfrom, wto, MOVEFILE_WRITE_THROUGH) ? 0 : last_errno();
        else
            err = pl__win_errno(e);
    }
    free(wfrom);
    free(wto);
    return err;
}

/* The callers check that `to` does not exist first; without
   MOVEFILE_REPLACE_EXISTING a name that appeared meanwhile is refused
   (EEXIST) rather than replaced, which only narrows that window. */
int pl__os_rename(const char *from, const char *to)
{
    wchar_t *wfrom, *wto;
    int err;
    if ((err = pl__win_wide_path(from, &wfrom)) != 0)
        return err;
    if ((err = pl__win_wide_path(to, &wto)) != 0) {
        free(wfrom);
        return err;
    }
    err = MoveFileExW(wfrom, wto, MOVEFILE_WRITE_THROUGH) ? 0 : last_errno();
    free(wfrom);
    free(wto);
    return err;
}

int pl__os_exists(const char *path, int *exists)
{
    wchar_t *w;
    int err;
    DWORD e;
    if ((err = pl__win_wide_path(path, &w)) != 0)
        return err;
    *exists = GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
    e = GetLastError();
    free(w);
    if (!*exists && e != ERROR_FILE_NOT_FOUND && e != ERROR_PATH_NOT_FOUND)
        return pl__win_errno(e);
    return 0;
}

/* Length of the directory part of path: up to its last separator ('/'
   or '\'), keeping the separator of a root ("C:\", "\"). */
static size_t dir_len(const char *path)
{
    const char *last = NULL, *p;
    for (p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            last = p;
    if (!last)
        return 0;
    if (last == path || (last == path + 2 && path[1] == ':'))
        return (size_t)(last - path) + 1;
    return (size_t)(last - path);
}

/* Where the components to create begin: after "C:\", "\\server\share\"
   or a leading separator. */
static size_t root_len(const char *dir)
{
    size_t i = 0;
    int seps = 0;
    if ((dir[0] == '\\' || dir[0] == '/') && (dir[1] == '\\' || dir[1] == '/')) {
        for (i = 2; dir[i]; i++)
            if ((dir[i] == '\\' || dir[i] == '/') && ++seps == 2)
                return i + 1;
        return i;
    }
    if (dir[0] && dir[1] == ':')
        i = 2;
    if (dir[i] == '\\' || dir[i] == '/')
        i++;
    return i;
}

static int make_dir(const char *dir)
{
    wchar_t *w;
    int err;
    DWORD a;
    if ((err = pl__win_wide_path(dir, &w)) != 0)
        return err;
    if (CreateDirectoryW(w, NULL) || GetLastError() == ERROR_ALREADY_EXISTS) {
        a = GetFileAttributesW(w);
        err = a == INVALID_FILE_ATTRIBUTES ? last_errno()
              : (a & FILE_ATTRIBUTE_DIRECTORY) ? 0
                                               : ENOTDIR;
    } else {
        err = last_errno();
    }
    free(w);
    return err;
}

int pl__os_make_parents(const char *path)
{
    size_t n = dir_len(path), i, start;
    char *dir;
    int err = 0;
    if (n == 0)
        return 0;
    if (!(dir = malloc(n + 1)))
        return ENOMEM;
    memcpy(dir, path, n);
    dir[n] = '\0';
    start = root_len(dir);
    for (i = start + 1; i <= n && !err; i++) {
        if (i == n || dir[i] == '/' || dir[i] == '\\') {
            char saved = dir[i];
            dir[i] = '\0';
            err = make_dir(dir);
            dir[i] = saved;
        }
    }
    free(dir);
    return err;
}

int pl__os_make_temp(const char *target, int *fd_out, char **path_out)
{
    size_t n = dir_len(target), need;
    char *tmpl;
    int attempt, err = EEXIST;
    need = n + sizeof "/.portalocker.0123456789abcdef.tmp";
    if (!(tmpl = malloc(need)))
        return ENOMEM;
    /* Hidden, in the destination's directory (so the hard link is
       possible), the POSIX build's fixed 33-byte name that never embeds
       the destination's (a 255-unit basename must still work).
       CREATE_NEW: a name someone else took is never reused. */
    for (attempt = 0; attempt < 100 && err == EEXIST; attempt++) {
        unsigned long long r = pl__os_random();
        if (n == 0)
            snprintf(tmpl, need, ".portalocker.%016llx.tmp", r);
        else
            /* The destination's own separator (the reference joins with
               os.path.join, so callers compare names with backslashes). */
            snprintf(tmpl, need, "%.*s%.*s.portalocker.%016llx.tmp", (int)n, target,
                     (target[n - 1] == '/' || target[n - 1] == '\\') ? 0 : 1,
                     target + n, r);
        err = pl__os_open(tmpl, PL_O_READ | PL_O_WRITE | PL_O_CREATE | PL_O_EXCL,
                          0600, fd_out);
    }
    if (err) {
        free(tmpl);
        return err;
    }
    *path_out = tmpl;
    return 0;
}

int pl__os_fsync_parent(const char *path)
{
    /* NTFS journals its directory entries; a directory cannot be flushed
       through a handle without backup privileges. Nothing to do. */
    (void)path;
    return 0;
}

int pl__os_set_cloexec(int fd)
{
    HANDLE h = pl__win_handle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return EBADF;
    return SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0) ? 0 : last_errno();
}

const char *pl__os_temp_dir(void)
{
    static _Thread_local char buf[MAX_PATH * 3 + 1];
    wchar_t w[MAX_PATH + 2];
    const char *t = getenv("TMPDIR");
    DWORD n;
    int len;
    if (t && *t)
        return t;
    n = GetTempPathW(MAX_PATH + 1, w);
    if (n == 0 || n > MAX_PATH + 1)
        return "C:\\Windows\\Temp";
    if (n > 3 && w[n - 1] == L'\\')
        w[n - 1] = L'\0';
    len = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, (int)sizeof buf, NULL, NULL);
    return len > 0 ? buf : "C:\\Windows\\Temp";
}

long pl__os_getpid(void)
{
    return (long)GetCurrentProcessId();
}

unsigned long long pl__os_random(void)
{
    unsigned long long v = 0;
    LARGE_INTEGER t;
    if (BCryptGenRandom(NULL, (PUCHAR)&v, sizeof v, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0)
        return v;
    QueryPerformanceCounter(&t);
    return ((unsigned long long)t.QuadPart << 20) ^
           ((unsigned long long)GetCurrentProcessId() << 40) ^ GetTickCount64();
}

const char *pl__os_strerror(int errnum, char *buf, size_t size)
{
    /* The CRT's strerror keeps its buffer per thread; it has no text
       for the socket errors. */
    const char *net = pl__win_net_strerror(errnum);
    snprintf(buf, size, "%s", net ? net : strerror(errnum));
    return buf;
}

/* ---- time ---- */

double pl__os_now(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)freq.QuadPart;
}

double pl__os_now_boot(void)
{
    /* Counts while the process is suspended and while the machine sleeps
       (QueryUnbiasedInterruptTime would not). */
    return (double)GetTickCount64() / 1000.0;
}

void pl__os_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    Sleep(seconds > 4e6 ? 4000000000u : (DWORD)(seconds * 1000.0 + 0.999));
}
