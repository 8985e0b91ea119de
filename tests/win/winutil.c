/* Windows implementations of the shared fixtures (testutil.h) the
   Windows suites use, and the process helpers of winutil.h. */
#include "winutil.h"
#include "posix_shim.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <direct.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tu_setup_dir(void **state)
{
    static LONG counter;
    tu_dir *d = calloc(1, sizeof *d);
    /* Not TMPDIR: under wine that is the wineserver's (a Linux path). */
    const char *tmp = getenv("PL_TEST_TMPDIR");
    char base[200];
    if (!d)
        return -1;
    if (!(tmp && *tmp)) {
        DWORD n = GetTempPathA(sizeof base, base);
        if (n == 0 || n >= sizeof base)
            return -1;
        base[n - 1] = '\0'; /* the trailing backslash */
        tmp = base;
    }
    /* PIDs repeat across fresh wine sessions: the time makes it unique. */
    snprintf(d->path, sizeof d->path, "%s\\pltest.%lu.%llu.%ld", tmp,
             (unsigned long)GetCurrentProcessId(),
             (unsigned long long)GetTickCount64(), (long)InterlockedIncrement(&counter));
    if (!CreateDirectoryA(d->path, NULL)) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static void remove_tree(const char *dir)
{
    char pattern[600], path[600];
    WIN32_FIND_DATAA fd;
    HANDLE h;
    snprintf(pattern, sizeof pattern, "%s\\*", dir);
    h = FindFirstFileA(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (!strcmp(fd.cFileName, ".") || !strcmp(fd.cFileName, ".."))
                continue;
            snprintf(path, sizeof path, "%s\\%s", dir, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
                remove_tree(path);
            } else {
                SetFileAttributesA(path, FILE_ATTRIBUTE_NORMAL);
                DeleteFileA(path);
            }
        } while (FindNextFileA(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryA(dir);
}

int tu_teardown_dir(void **state)
{
    tu_dir *d = *state;
    if (d) {
        remove_tree(d->path);
        free(d);
    }
    *state = NULL;
    return 0;
}

const char *tu_path(void **state, const char *name)
{
    static char bufs[8][512];
    static int next;
    tu_dir *d = *state;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s\\%s", d->path, name);
    return b;
}

double tu_now(void)
{
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)f.QuadPart;
}

/* The CRT descriptors open (what the library hands out); there are no
   inotify instances on Windows. */
int tu_count_fds(void)
{
    int fd, n = 0;
    for (fd = 0; fd < 2048; fd++)
        if (_get_osfhandle(fd) != -1)
            n++;
    return n;
}

int tu_count_inotify_fds(void)
{
    return 0;
}

long tu_read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t got;
    if (!f)
        return -1;
    got = fread(buf, 1, size - 1, f);
    buf[got] = '\0';
    fclose(f);
    return (long)got;
}

int tu_write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    size_t len = strlen(data);
    int ok;
    if (!f)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int tu_exists(const char *path)
{
    return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
}

int tu_probe_locked(const char *path, int mechanism)
{
    const char *args[] = {"probe", path, NULL};
    int rc;
    (void)mechanism; /* one kind of lock on Windows */
    rc = tw_run(args, 30);
    return rc >= 0 && rc <= 2 ? rc : -1;
}

/* ---- fcntl queries (posix_shim.h) ---- */

/* NtQueryInformationFile's FileAccessInformation: the granted access. */
typedef LONG(NTAPI *query_file_fn)(HANDLE, void *, void *, ULONG, int);

int tw_fcntl(int fd, int cmd)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    if (cmd == 1) { /* F_GETFD */
        DWORD info;
        if (!GetHandleInformation(h, &info))
            return -1;
        return (info & HANDLE_FLAG_INHERIT) ? 0 : 1;
    }
    if (cmd == 3) { /* F_GETFL */
        struct { ULONG_PTR status; ULONG_PTR info; } iosb;
        ULONG access = 0;
        query_file_fn q = (query_file_fn)(void (*)(void))GetProcAddress(
            GetModuleHandleA("ntdll.dll"), "NtQueryInformationFile");
        int r, w;
        if (!q || q(h, &iosb, &access, sizeof access, 8 /* FileAccessInformation */) != 0)
            return -1;
        r = (access & FILE_READ_DATA) != 0;
        w = (access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0;
        return r && w ? _O_RDWR : w ? _O_WRONLY : _O_RDONLY;
    }
    return -1;
}

static int identity(HANDLE h, struct stat *st)
{
    BY_HANDLE_FILE_INFORMATION info;
    unsigned long long idx;
    if (!GetFileInformationByHandle(h, &info))
        return -1;
    idx = ((unsigned long long)info.nFileIndexHigh << 32) | info.nFileIndexLow;
    st->st_dev = (_dev_t)info.dwVolumeSerialNumber;
    st->st_ino = (_ino_t)(idx ^ (idx >> 16) ^ (idx >> 32) ^ (idx >> 48));
    return 0;
}

#undef fstat
#undef lstat
int tw_fstat(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return -1;
    return identity((HANDLE)_get_osfhandle(fd), st);
}

int tw_lstat(const char *path, struct stat *st)
{
    HANDLE h;
    int rc;
    if (stat(path, st) != 0)
        return -1;
    h = CreateFileA(path, FILE_READ_ATTRIBUTES,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                    FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    rc = identity(h, st);
    CloseHandle(h);
    return rc;
}

static ssize_t at_offset(int fd, void *buf, size_t n, off_t offset, int write)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    LARGE_INTEGER zero, pos;
    OVERLAPPED ov;
    DWORD done = 0;
    BOOL ok;
    zero.QuadPart = 0;
    if (h == INVALID_HANDLE_VALUE || !SetFilePointerEx(h, zero, &pos, FILE_CURRENT))
        return -1;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)((unsigned long long)offset & 0xFFFFFFFFu);
    ov.OffsetHigh = (DWORD)((unsigned long long)offset >> 32);
    ok = write ? WriteFile(h, buf, (DWORD)n, &done, &ov) : ReadFile(h, buf, (DWORD)n, &done, &ov);
    SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
    if (!ok && GetLastError() != ERROR_HANDLE_EOF)
        return -1;
    return (ssize_t)done;
}

ssize_t pread(int fd, void *buf, size_t n, off_t offset)
{
    return at_offset(fd, buf, n, offset, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset)
{
    return at_offset(fd, (void *)buf, n, offset, 1);
}

/* ---- processes ---- */

/* Quote one argument the way CommandLineToArgvW reads it back. */
static void append_arg(char *cmd, size_t size, const char *arg)
{
    size_t n = strlen(cmd);
    const char *p;
    int slashes = 0;
    if (n + 1 < size)
        cmd[n++] = ' ';
    if (n + 1 < size)
        cmd[n++] = '"';
    for (p = arg; *p && n + 4 < size; p++) {
        if (*p == '\\') {
            slashes++;
        } else if (*p == '"') {
            while (slashes-- > 0)
                cmd[n++] = '\\';
            cmd[n++] = '\\';
            slashes = 0;
        } else {
            slashes = 0;
        }
        cmd[n++] = *p;
    }
    while (slashes-- > 0 && n + 2 < size)
        cmd[n++] = '\\';
    if (n + 1 < size)
        cmd[n++] = '"';
    cmd[n] = '\0';
}

tw_proc tw_spawn(const char *const *args)
{
    char exe[MAX_PATH], *slash, cmd[4096];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (n == 0 || n >= sizeof exe || !(slash = strrchr(exe, '\\')))
        return 0;
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "pl_win_helper.exe");
    snprintf(cmd, sizeof cmd, "\"%s\"", exe);
    for (; *args; args++)
        append_arg(cmd, sizeof cmd, *args);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    fflush(stdout);
    fflush(stderr);
    /* bInheritHandles FALSE: the child gets none of our handles. */
    if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return 0;
    CloseHandle(pi.hThread);
    return (tw_proc)pi.hProcess;
}

int tw_wait(tw_proc p, double seconds)
{
    DWORD code, ms = seconds < 0 ? INFINITE : (DWORD)(seconds * 1000);
    if (!p)
        return -2;
    switch (WaitForSingleObject((HANDLE)p, ms)) {
    case WAIT_OBJECT_0:
        if (!GetExitCodeProcess((HANDLE)p, &code))
            code = (DWORD)-2;
        CloseHandle((HANDLE)p);
        return (int)code;
    case WAIT_TIMEOUT:
        return -1;
    default:
        return -2;
    }
}

void tw_kill(tw_proc p)
{
    if (!p)
        return;
    TerminateProcess((HANDLE)p, 137);
    WaitForSingleObject((HANDLE)p, 30000);
    CloseHandle((HANDLE)p);
}

tw_proc tw_spawn_ready(const char *const *args, const char *ready, double seconds)
{
    tw_proc p = tw_spawn(args);
    double end = tu_now() + seconds;
    if (!p)
        return 0;
    while (!tu_exists(ready)) {
        if (tu_now() > end || WaitForSingleObject((HANDLE)p, 0) == WAIT_OBJECT_0) {
            tw_kill(p);
            return 0;
        }
        Sleep(5);
    }
    return p;
}

int tw_run(const char *const *args, double seconds)
{
    tw_proc p = tw_spawn(args);
    int rc;
    if (!p)
        return -2;
    rc = tw_wait(p, seconds);
    if (rc == -1)
        tw_kill(p);
    return rc;
}

/* ---- PIDs and pipes for the shared suites ---- */

static struct {
    pid_t pid;
    tw_proc proc;
} children[64];

pid_t tw_spawn_pid(const char *const *args)
{
    tw_proc p = tw_spawn(args);
    size_t i;
    if (!p)
        return -1;
    for (i = 0; i < sizeof children / sizeof children[0]; i++) {
        if (!children[i].proc) {
            children[i].proc = p;
            children[i].pid = (pid_t)GetProcessId((HANDLE)p);
            return children[i].pid;
        }
    }
    tw_kill(p);
    return -1;
}

int tu_wait(pid_t pid)
{
    size_t i;
    for (i = 0; i < sizeof children / sizeof children[0]; i++) {
        if (children[i].proc && children[i].pid == pid) {
            int rc = tw_wait(children[i].proc, 120);
            if (rc == -1) {
                tw_kill(children[i].proc);
                rc = -2;
            }
            children[i].proc = 0;
            return rc;
        }
    }
    return -1;
}

/* A CRT pipe within the process (children are separate programs here,
   so they never get one). */
void tu_pipe_open(tu_pipe *p)
{
    if (_pipe(p->fds, 64, _O_BINARY | _O_NOINHERIT) != 0)
        p->fds[0] = p->fds[1] = -1;
}

void tu_pipe_signal(tu_pipe *p)
{
    char c = 1;
    if (p->fds[1] >= 0)
        (void)_write(p->fds[1], &c, 1);
}

int tu_pipe_wait(tu_pipe *p, double seconds)
{
    double end = tu_now() + seconds;
    HANDLE h = (HANDLE)_get_osfhandle(p->fds[0]);
    do {
        DWORD avail = 0;
        char c;
        if (PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL) && avail > 0)
            return _read(p->fds[0], &c, 1) == 1 ? 0 : -1;
        Sleep(2);
    } while (tu_now() < end);
    return -1;
}

void tu_pipe_close(tu_pipe *p)
{
    int i;
    for (i = 0; i < 2; i++)
        if (p->fds[i] >= 0)
            _close(p->fds[i]);
    p->fds[0] = p->fds[1] = -1;
}

/* ---- counting handles and directory entries ---- */

typedef LONG(NTAPI *query_system_fn)(ULONG, void *, ULONG, ULONG *);
typedef struct handle_entry {
    PVOID object;
    ULONG_PTR pid;
    ULONG_PTR value;
    ULONG access;
    USHORT backtrace;
    USHORT type;
    ULONG attributes;
    ULONG reserved;
} handle_entry;
typedef struct handle_list {
    ULONG_PTR count;
    ULONG_PTR reserved;
    handle_entry entries[1];
} handle_list;
#define SYSTEM_EXTENDED_HANDLE_INFORMATION 64
#define STATUS_INFO_LENGTH_MISMATCH ((LONG)0xC0000004)

int tw_count_handles(void)
{
    query_system_fn query = (query_system_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleA("ntdll.dll"), "NtQuerySystemInformation");
    ULONG size = 1 << 20, got = 0;
    ULONG_PTR i, self = GetCurrentProcessId();
    handle_list *list;
    LONG status;
    int n = 0;
    if (!query)
        return -1;
    for (;;) {
        if (!(list = malloc(size)))
            return -1;
        status = query(SYSTEM_EXTENDED_HANDLE_INFORMATION, list, size, &got);
        if (status != STATUS_INFO_LENGTH_MISMATCH)
            break;
        free(list);
        size *= 2;
    }
    if (status != 0) {
        free(list);
        return -1;
    }
    for (i = 0; i < list->count; i++)
        if (list->entries[i].pid == self)
            n++;
    free(list);
    return n;
}

int tw_count_entries(const char *dir)
{
    char pattern[600];
    WIN32_FIND_DATAA fd;
    HANDLE h;
    int n = 0;
    snprintf(pattern, sizeof pattern, "%s\\*", dir);
    h = FindFirstFileA(pattern, &fd);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    do {
        if (strcmp(fd.cFileName, ".") != 0 && strcmp(fd.cFileName, "..") != 0)
            n++;
    } while (FindNextFileA(h, &fd));
    FindClose(h);
    return n;
}
