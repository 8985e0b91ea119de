/*
 * Waiting for a lock file to change, on Windows: a change notification
 * (FindFirstChangeNotificationW) on the directory of the watched file
 * wakes the waiter when a name in it is created, deleted or renamed, or a
 * file's size, attributes or last-write time change: a temporary lock or
 * PID file removed by its holder, a semaphore slot touched on release, a
 * holder writing its lock file. A bare unlock or a handle closed raises
 * none (Windows reports no close events), so the caller's capped backoff
 * (at most check_interval) sees those; the notification only makes the
 * common releases quicker to see. Events of other files in the directory
 * are spurious wake-ups: the caller simply tries again.
 */
#include "platform.h"
#include "win_internal.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct pl__os_waiter {
    HANDLE change;   /* INVALID_HANDLE_VALUE: only sleeping */
    int id;          /* its number in the waitable-handle table */
    wchar_t *dir;    /* the watched directory */
};

#define PL_WIN_NOTIFY_FILTER                                                \
    (FILE_NOTIFY_CHANGE_FILE_NAME | FILE_NOTIFY_CHANGE_SIZE |               \
     FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_ATTRIBUTES)

pl__os_waiter *pl__os_waiter_open(void)
{
    pl__os_waiter *w = calloc(1, sizeof *w);
    if (w) {
        w->change = INVALID_HANDLE_VALUE;
        w->id = -1;
    }
    return w;
}

static void unwatch(pl__os_waiter *w)
{
    if (w->id >= 0)
        pl__win_wait_release(w->id);
    if (w->change != INVALID_HANDLE_VALUE)
        FindCloseChangeNotification(w->change);
    free(w->dir);
    w->change = INVALID_HANDLE_VALUE;
    w->id = -1;
    w->dir = NULL;
}

/* Watch the directory part of the wide path wpath (consumed). */
static void watch_dir_of(pl__os_waiter *w, wchar_t *wpath)
{
    wchar_t *slash = wcsrchr(wpath, L'\\');
    if (!slash) {
        free(wpath);
        wpath = _wcsdup(L".");
        if (!wpath)
            return;
    } else if (slash == wpath || slash[-1] == L':') {
        slash[1] = L'\0'; /* a root keeps its separator */
    } else {
        *slash = L'\0';
    }
    /* Re-watching the same directory, as the callers do before every
       attempt, keeps the armed notification and its pending events. */
    if (w->dir && wcscmp(w->dir, wpath) == 0) {
        free(wpath);
        return;
    }
    unwatch(w);
    w->change = FindFirstChangeNotificationW(wpath, FALSE, PL_WIN_NOTIFY_FILTER);
    if (w->change == INVALID_HANDLE_VALUE) {
        free(wpath);
        return;
    }
    if ((w->id = pl__win_wait_register(w->change)) < 0) {
        FindCloseChangeNotification(w->change);
        w->change = INVALID_HANDLE_VALUE;
        free(wpath);
        return;
    }
    w->dir = wpath;
}

void pl__os_waiter_watch(pl__os_waiter *w, const char *path)
{
    wchar_t *wpath;
    if (!w || pl__win_wide_path(path, &wpath) != 0)
        return;
    watch_dir_of(w, wpath);
}

void pl__os_waiter_watch_changes(pl__os_waiter *w, const char *path)
{
    /* Closes raise no directory notification anyway. */
    pl__os_waiter_watch(w, path);
}

void pl__os_waiter_watch_fd(pl__os_waiter *w, int fd)
{
    HANDLE h = pl__win_handle(fd);
    wchar_t *wpath;
    DWORD n;
    if (!w || h == INVALID_HANDLE_VALUE)
        return;
    /* The file's current name (it may have been renamed since opening). */
    n = GetFinalPathNameByHandleW(h, NULL, 0, FILE_NAME_NORMALIZED);
    if (n == 0 || !(wpath = malloc(((size_t)n + 1) * sizeof *wpath)))
        return;
    if (GetFinalPathNameByHandleW(h, wpath, n + 1, FILE_NAME_NORMALIZED) == 0) {
        free(wpath);
        return;
    }
    watch_dir_of(w, wpath);
}

int pl__os_waiter_fd(const pl__os_waiter *w)
{
    return w ? w->id : -1;
}

void pl__os_waiter_drain(pl__os_waiter *w)
{
    /* Re-arm; if that fails, fall back to sleeping rather than poll a
       handle that stays signalled (a spin). */
    if (w && w->change != INVALID_HANDLE_VALUE && !FindNextChangeNotification(w->change))
        unwatch(w);
}

void pl__os_waiter_close(pl__os_waiter *w)
{
    if (!w)
        return;
    unwatch(w);
    free(w);
}
