/* Threads, mutexes, once flags, unload hooks, pipes and waiting on
   several things at once behind platform.h, on Win32.
   Mutexes are slim reader/writer locks taken exclusively, once flags
   INIT_ONCE; both fit the pointer platform_types.h gives them. The
   things pl__os_poll waits on are waitable handles registered in the
   table of win_support.c (events, change notifications): the wake-up
   channel of a cancel is one manual-reset event. */
#include "platform.h"
#include "win_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <stdlib.h>

_Static_assert(sizeof(SRWLOCK) == sizeof(void *), "SRWLOCK is one pointer");
_Static_assert(sizeof(INIT_ONCE) == sizeof(void *), "INIT_ONCE is one pointer");

typedef struct start_record {
    void *(*fn)(void *);
    void *arg;
} start_record;

static unsigned __stdcall thread_main(void *p)
{
    start_record *s = p;
    (void)s->fn(s->arg);
    return 0;
}

int pl__os_thread_create(pl__os_thread *thread, void *(*fn)(void *), void *arg)
{
    start_record *s = malloc(sizeof *s);
    uintptr_t h;
    if (!s)
        return ENOMEM;
    s->fn = fn;
    s->arg = arg;
    /* _beginthreadex, not CreateThread: the CRT's per-thread state (errno,
       strerror's buffer) is set up for the new thread. */
    h = _beginthreadex(NULL, 0, thread_main, s, 0, NULL);
    if (h == 0) {
        int err = errno ? errno : EAGAIN;
        free(s);
        return err;
    }
    thread->handle = (void *)h;
    thread->start = s;
    return 0;
}

void pl__os_thread_join(pl__os_thread thread)
{
    WaitForSingleObject((HANDLE)thread.handle, INFINITE);
    CloseHandle((HANDLE)thread.handle);
    free(thread.start);
}

void pl__os_mutex_lock(pl__os_mutex *mutex)
{
    AcquireSRWLockExclusive((PSRWLOCK)&mutex->srw);
}

void pl__os_mutex_unlock(pl__os_mutex *mutex)
{
    ReleaseSRWLockExclusive((PSRWLOCK)&mutex->srw);
}

static BOOL CALLBACK once_trampoline(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)ctx;
    /* A function pointer travels through the object pointer: the one
       way INIT_ONCE passes an argument. */
    (*(void (**)(void))param)();
    return TRUE;
}

void pl__os_once(pl__os_once_t *once, void (*fn)(void))
{
    (void)InitOnceExecuteOnce((PINIT_ONCE)&once->init_once, once_trampoline,
                              (PVOID)&fn, NULL);
}

int pl__os_atfork_child(void (*fn)(void))
{
    (void)fn; /* no fork on Windows: a child process starts afresh */
    return 0;
}

static void (*unload_fn)(void);

static void run_unload(void)
{
    if (unload_fn)
        unload_fn();
}

void pl__os_at_unload(void (*fn)(void))
{
    /* mingw's atexit in a DLL runs when the DLL is unloaded (its own
       table, DLL_PROCESS_DETACH) and, linked statically, at exit. */
    if (!unload_fn && fn)
        (void)atexit(run_unload);
    unload_fn = fn;
}

int pl__os_pipe(int fds[2])
{
    /* The one pipe the core makes is a stop signal that pl__os_poll waits
       for (the Redis lock's holder thread), and a CRT pipe has no
       readiness to wait on. So it is a manual-reset event: a byte written
       sets it, a read drains it (platform_win32.c). Each end has its own
       handle to it (DuplicateHandle) and number, so closing both ends, as
       POSIX code does, closes each once. Not inheritable. */
    HANDLE e = CreateEventW(NULL, TRUE, FALSE, NULL), e2 = NULL;
    int rd = -1, wr = -1, err = 0;
    if (!e)
        return pl__win_errno(GetLastError());
    if (!DuplicateHandle(GetCurrentProcess(), e, GetCurrentProcess(), &e2, 0,
                         FALSE, DUPLICATE_SAME_ACCESS))
        err = pl__win_errno(GetLastError());
    else if ((rd = pl__win_wait_register(e)) < 0 || (wr = pl__win_wait_register(e2)) < 0)
        err = ENOMEM;
    if (err) {
        if (rd >= 0)
            pl__win_wait_release(rd);
        if (e2)
            CloseHandle(e2);
        CloseHandle(e);
        return err;
    }
    fds[0] = rd;
    fds[1] = wr;
    return 0;
}

int pl__os_poll(pl__os_pollfd *fds, size_t n, int timeout_ms, int *ready)
{
    HANDLE hs[MAXIMUM_WAIT_OBJECTS];
    size_t idx[MAXIMUM_WAIT_OBJECTS], i, nh = 0;
    DWORD rc, ms = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;
    *ready = 0;
    for (i = 0; i < n; i++) {
        HANDLE h;
        fds[i].revents = 0;
        if (fds[i].fd < 0 || !(fds[i].events & PL__OS_READABLE))
            continue;
        /* Only registered waitable handles can be waited for here: a CRT
           descriptor (a file, a pipe) has no readiness to wait on. */
        if (!(h = pl__win_wait_get(fds[i].fd)))
            return EBADF;
        if (nh == MAXIMUM_WAIT_OBJECTS)
            return EINVAL;
        hs[nh] = h;
        idx[nh++] = i;
    }
    if (nh == 0) {
        Sleep(ms);
        return 0;
    }
    rc = WaitForMultipleObjects((DWORD)nh, hs, FALSE, ms);
    if (rc == WAIT_TIMEOUT)
        return 0;
    if (rc >= WAIT_OBJECT_0 + nh)
        return pl__win_errno(GetLastError());
    /* The first one signalled; look at the others without waiting. */
    for (i = rc - WAIT_OBJECT_0; i < nh; i++) {
        if (i == rc - WAIT_OBJECT_0 || WaitForSingleObject(hs[i], 0) == WAIT_OBJECT_0) {
            fds[idx[i]].revents = PL__OS_READABLE;
            (*ready)++;
        }
    }
    return 0;
}

int pl__os_wake_open(int *rd, int *wr)
{
    /* Manual reset: stays signalled until drained, like a pipe with a
       byte in it. Not inheritable (NULL security attributes). */
    HANDLE e = CreateEventW(NULL, TRUE, FALSE, NULL);
    int id;
    if (!e)
        return pl__win_errno(GetLastError());
    if ((id = pl__win_wait_register(e)) < 0) {
        CloseHandle(e);
        return ENOMEM;
    }
    *rd = *wr = id;
    return 0;
}

void pl__os_wake_signal(int wr)
{
    int saved = errno;
    HANDLE e = pl__win_wait_get(wr);
    if (e)
        (void)SetEvent(e);
    errno = saved;
}

void pl__os_wake_drain(int rd)
{
    HANDLE e = pl__win_wait_get(rd);
    if (e)
        (void)ResetEvent(e);
}

void pl__os_wake_close(int rd, int wr)
{
    HANDLE e = pl__win_wait_get(rd);
    (void)wr; /* the same event */
    pl__win_wait_release(rd);
    if (e)
        CloseHandle(e);
}
