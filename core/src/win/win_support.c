/* Helpers of the Windows platform files: path conversion, error codes and
   the waitable-handle table (see win_internal.h). */
#include "win_internal.h"

#include <errno.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>

/* Whether a component of path is "." or "..". */
static int has_dot_component(const char *path)
{
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, "\\/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 1;
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

int pl__win_wide_path(const char *path, wchar_t **out)
{
    int n, abs_drive, abs_unc, prefix = 0;
    size_t i, j, len;
    wchar_t *w;
    *out = NULL;
    if (!path || !*path)
        return EINVAL;
    n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    if (n <= 0)
        return EINVAL;
    /* C:\... or C:/... and \\server\share (not \\?\ or \\.\ already). */
    abs_drive = ((path[0] >= 'A' && path[0] <= 'Z') ||
                 (path[0] >= 'a' && path[0] <= 'z')) &&
                path[1] == ':' && (path[2] == '\\' || path[2] == '/');
    abs_unc = (path[0] == '\\' || path[0] == '/') &&
              (path[1] == '\\' || path[1] == '/') && path[2] != '?' &&
              path[2] != '.';
    /* Only paths without "." or ".." components can take the prefix: the
       prefix turns off the normalisation that resolves them. */
    if ((abs_drive || abs_unc) && !has_dot_component(path))
        prefix = abs_drive ? 4 : 8; /* \\?\ or \\?\UNC\ minus one \ */
    w = malloc(((size_t)n + (size_t)prefix) * sizeof *w);
    if (!w)
        return ENOMEM;
    if (prefix == 4)
        memcpy(w, L"\\\\?\\", 4 * sizeof *w);
    else if (prefix == 8)
        memcpy(w, L"\\\\?\\UNC", 7 * sizeof *w);
    /* For UNC the source's leading "\\" becomes "\" after "\\?\UNC". */
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS,
                            prefix == 8 ? path + 1 : path, -1,
                            w + (prefix == 8 ? 7 : prefix), n) <= 0) {
        free(w);
        return EINVAL;
    }
    /* Separators: '/' becomes '\', and a run of them one (the \\?\
       prefix turns off that normalisation too); the leading pair of a
       UNC path or of the prefix stays. */
    len = wcslen(w);
    for (i = 0, j = 0; i < len; i++) {
        wchar_t ch = w[i] == L'/' ? L'\\' : w[i];
        if (ch == L'\\' && j > 2 && w[j - 1] == L'\\')
            continue;
        w[j++] = ch;
    }
    w[j] = L'\0';
    *out = w;
    return 0;
}

int pl__win_errno(DWORD error)
{
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
        return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_PRIVILEGE_NOT_HELD:
        return EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_LOCK_VIOLATION:
    case ERROR_IO_PENDING:
        return EAGAIN;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_INVALID_PARAMETER:
    case ERROR_NO_UNICODE_TRANSLATION:
        return EINVAL;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_DIRECTORY:
        return ENOTDIR;
    case ERROR_DIR_NOT_EMPTY:
        return ENOTEMPTY;
    case ERROR_INVALID_HANDLE:
        return EBADF;
    case ERROR_NOT_SAME_DEVICE:
        return EXDEV;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_WRITE_PROTECT:
        return EROFS;
    case ERROR_TOO_MANY_OPEN_FILES:
        return EMFILE;
    case ERROR_CANT_RESOLVE_FILENAME:
        return ELOOP;
    case ERROR_INVALID_FUNCTION:
    case ERROR_NOT_SUPPORTED:
    case ERROR_CALL_NOT_IMPLEMENTED:
        return ENOSYS;
    default:
        return EIO;
    }
}

HANDLE pl__win_handle(int fd)
{
    intptr_t h;
    if (fd < 0 || fd >= PL__WIN_WAIT_BASE)
        return INVALID_HANDLE_VALUE;
    PL__WIN_CRT_BEGIN
    h = _get_osfhandle(fd);
    PL__WIN_CRT_END
    return h == -1 ? INVALID_HANDLE_VALUE : (HANDLE)h;
}

#ifdef _UCRT
void pl__win_ignore_invalid_parameter(const wchar_t *expr, const wchar_t *fn,
                                      const wchar_t *file, unsigned int line,
                                      uintptr_t reserved)
{
    (void)expr;
    (void)fn;
    (void)file;
    (void)line;
    (void)reserved;
}
#endif

/* ---- waitable handles ---- */

/* Grown in steps, never shrunk: a process has a few waits at a time. */
static SRWLOCK table_lock = SRWLOCK_INIT;
static HANDLE *table;
static size_t table_len;

int pl__win_wait_register(HANDLE h)
{
    size_t i;
    int id = -1;
    AcquireSRWLockExclusive(&table_lock);
    for (i = 0; i < table_len && table[i]; i++)
        ;
    if (i == table_len && table_len < 4096) {
        size_t len = table_len ? table_len * 2 : 16;
        HANDLE *t = realloc(table, len * sizeof *t);
        if (t) {
            memset(t + table_len, 0, (len - table_len) * sizeof *t);
            table = t;
            table_len = len;
        }
    }
    if (i < table_len) {
        table[i] = h;
        id = PL__WIN_WAIT_BASE + (int)i;
    }
    ReleaseSRWLockExclusive(&table_lock);
    return id;
}

HANDLE pl__win_wait_get(int id)
{
    HANDLE h = NULL;
    size_t i;
    if (id < PL__WIN_WAIT_BASE)
        return NULL;
    i = (size_t)(id - PL__WIN_WAIT_BASE);
    AcquireSRWLockShared(&table_lock);
    if (i < table_len)
        h = table[i];
    ReleaseSRWLockShared(&table_lock);
    return h;
}

void pl__win_wait_release(int id)
{
    size_t i;
    if (id < PL__WIN_WAIT_BASE)
        return;
    i = (size_t)(id - PL__WIN_WAIT_BASE);
    AcquireSRWLockExclusive(&table_lock);
    if (i < table_len)
        table[i] = NULL;
    ReleaseSRWLockExclusive(&table_lock);
}
