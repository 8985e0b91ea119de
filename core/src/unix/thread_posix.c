/* Threads, mutexes, once flags, fork and unload hooks, pipes and poll(2)
   behind platform.h, on POSIX threads. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

int pl__os_thread_create(pl__os_thread *thread, void *(*fn)(void *),
                         void *arg)
{
    return pthread_create(&thread->id, NULL, fn, arg);
}

void pl__os_thread_join(pl__os_thread thread)
{
    (void)pthread_join(thread.id, NULL);
}

void pl__os_mutex_lock(pl__os_mutex *mutex)
{
    (void)pthread_mutex_lock(&mutex->m);
}

void pl__os_mutex_unlock(pl__os_mutex *mutex)
{
    (void)pthread_mutex_unlock(&mutex->m);
}

void pl__os_once(pl__os_once_t *once, void (*fn)(void))
{
    (void)pthread_once(&once->o, fn);
}

int pl__os_atfork_child(void (*fn)(void))
{
    return pthread_atfork(NULL, NULL, fn);
}

static void (*unload_fn)(void);

void pl__os_at_unload(void (*fn)(void))
{
    unload_fn = fn;
}

/* Runs at normal exit and when the library is unloaded (dlclose). */
__attribute__((destructor)) static void run_unload(void)
{
    if (unload_fn)
        unload_fn();
}

int pl__os_pipe(int fds[2])
{
#if defined(__linux__) || defined(__FreeBSD__)
    return pipe2(fds, O_CLOEXEC) != 0 ? errno : 0;
#else
    /* No pipe2 (macOS): a fork between the two calls could leak the
       descriptors into a child that execs; the core opens this pipe once
       per Redis lock handle, not per acquire. */
    int i;
    if (pipe(fds) != 0)
        return errno;
    for (i = 0; i < 2; i++) {
        int flags = fcntl(fds[i], F_GETFD);
        if (flags < 0 || fcntl(fds[i], F_SETFD, flags | FD_CLOEXEC) != 0) {
            int err = errno;
            close(fds[0]);
            close(fds[1]);
            return err;
        }
    }
    return 0;
#endif
}

int pl__os_poll(pl__os_pollfd *fds, size_t n, int timeout_ms, int *ready)
{
    struct pollfd stack[4], *p = stack;
    size_t i;
    int rc, err = 0;
    *ready = 0;
    if (n > sizeof stack / sizeof stack[0] && !(p = malloc(n * sizeof *p)))
        return ENOMEM;
    for (i = 0; i < n; i++) {
        p[i].fd = fds[i].fd;
        p[i].events = (fds[i].events & PL__OS_READABLE) ? POLLIN : 0;
        p[i].revents = 0;
    }
    rc = poll(p, (nfds_t)n, timeout_ms);
    if (rc < 0)
        err = errno;
    for (i = 0; i < n; i++)
        fds[i].revents = rc > 0 && p[i].revents ? PL__OS_READABLE : 0;
    if (rc > 0)
        *ready = rc;
    if (p != stack)
        free(p);
    return err;
}

#ifdef __linux__
#include <sys/eventfd.h>
#endif

int pl__os_wake_open(int *rd, int *wr)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return errno;
    *rd = *wr = fd;
    return 0;
#else
    int fds[2], i, err;
    if ((err = pl__os_pipe(fds)) != 0)
        return err;
    for (i = 0; i < 2; i++) {
        int flags = fcntl(fds[i], F_GETFL);
        if (flags < 0 || fcntl(fds[i], F_SETFL, flags | O_NONBLOCK) != 0) {
            err = errno;
            close(fds[0]);
            close(fds[1]);
            return err;
        }
    }
    *rd = fds[0];
    *wr = fds[1];
    return 0;
#endif
}

void pl__os_wake_signal(int wr)
{
    int saved = errno; /* a signal handler may call this */
#ifdef __linux__
    unsigned long long one = 1;
    ssize_t n = write(wr, &one, sizeof one);
#else
    char one = 1;
    ssize_t n = write(wr, &one, 1);
#endif
    (void)n; /* EAGAIN: the channel is full, so already readable */
    errno = saved;
}

void pl__os_wake_drain(int rd)
{
    unsigned long long buf[8];
    while (read(rd, buf, sizeof buf) > 0)
        ;
}

void pl__os_wake_close(int rd, int wr)
{
    if (rd >= 0)
        close(rd);
    if (wr >= 0 && wr != rd)
        close(wr);
}
