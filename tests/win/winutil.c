/* Windows implementations of the shared fixtures (testutil.h) the
   Windows suites use, and the process helpers of winutil.h. */
#include "winutil.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <direct.h>
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
