/*
 * Waiting for a lock file to change, on Linux: an inotify watch on the
 * lock file(s) wakes a waiter when a holder closes its descriptor (release,
 * exit, SIGKILL) or unlinks the file.
 *
 * The inotify descriptor is cached per thread and reused: creating one is
 * cheap but closing one costs ~15 ms (the kernel waits for an RCU grace
 * period), which would land on every contended acquire.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

struct pl__os_waiter {
    int fd;   /* notification descriptor, -1 when falling back to sleeping */
    int *wds; /* watches to remove when the wait ends */
    size_t nwds, cap;
};

static _Thread_local int thread_inotify_fd = -1;
static _Thread_local pid_t thread_inotify_pid;
static pthread_key_t thread_inotify_key;
static pthread_once_t thread_inotify_once = PTHREAD_ONCE_INIT;

static void close_thread_inotify(void *unused)
{
    (void)unused;
    if (thread_inotify_fd >= 0)
        close(thread_inotify_fd);
    thread_inotify_fd = -1;
}

static void make_thread_inotify_key(void)
{
    (void)pthread_key_create(&thread_inotify_key, close_thread_inotify);
}

static void drain(int fd)
{
    char buf[4096] __attribute__((aligned(8)));
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* This thread's inotify descriptor, created on first use. A forked child
   gets its own: sharing the parent's would let each steal the other's
   events. */
static int thread_inotify(void)
{
    pid_t pid = getpid();
    if (thread_inotify_fd >= 0 && thread_inotify_pid != pid) {
        close(thread_inotify_fd); /* the parent still holds the instance */
        thread_inotify_fd = -1;
    }
    if (thread_inotify_fd < 0) {
        /* Fails with EMFILE once the per-user instance limit (128 by
           default) is reached; the backoff then carries the wait alone. */
        thread_inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (thread_inotify_fd < 0)
            return -1;
        thread_inotify_pid = pid;
        pthread_once(&thread_inotify_once, make_thread_inotify_key);
        /* A non-NULL value makes the key's destructor run at thread exit. */
        (void)pthread_setspecific(thread_inotify_key, (void *)1);
    }
    return thread_inotify_fd;
}

pl__os_waiter *pl__os_waiter_open(void)
{
    pl__os_waiter *w = malloc(sizeof *w);
    if (!w)
        return NULL; /* every call below then just sleeps */
    w->wds = NULL;
    w->nwds = w->cap = 0;
    w->fd = thread_inotify();
    if (w->fd >= 0)
        drain(w->fd); /* leftovers of an earlier wait (IN_IGNORED, ...) */
    return w;
}

void pl__os_waiter_watch(pl__os_waiter *w, const char *path)
{
    int wd;
    size_t i;
    if (!w || w->fd < 0)
        return;
    /* A holder's close (release, exit, SIGKILL) raises IN_CLOSE_*; a
       temporary lock's unlink raises IN_ATTRIB/IN_DELETE_SELF. Adding a
       watch for an inode already watched only updates it, so re-watching
       before each attempt is cheap and follows a re-created file. */
    wd = inotify_add_watch(w->fd, path,
                           IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB |
                               IN_DELETE_SELF | IN_MOVE_SELF);
    if (wd < 0)
        return;
    for (i = 0; i < w->nwds; i++)
        if (w->wds[i] == wd)
            return;
    if (w->nwds == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        int *wds = realloc(w->wds, cap * sizeof *wds);
        if (!wds) {
            (void)inotify_rm_watch(w->fd, wd);
            return;
        }
        w->wds = wds;
        w->cap = cap;
    }
    w->wds[w->nwds++] = wd;
}

int pl__os_waiter_wait(pl__os_waiter *w, double seconds)
{
    struct pollfd pfd;
    int ms, rc;
    if (!w || w->fd < 0) {
        pl__os_sleep(seconds);
        return 0;
    }
    ms = seconds <= 0 ? 0 : (int)(seconds * 1000.0 + 0.999);
    if (seconds > (double)INT_MAX / 1000.0)
        ms = INT_MAX;
    pfd.fd = w->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    rc = poll(&pfd, 1, ms);
    if (rc < 0) {
        /* EINTR, ENOMEM: the caller re-checks anyway, but only after the
           wait it asked for, or it would spin until its deadline. */
        pl__os_sleep(seconds);
        return 0;
    }
    if (rc == 0)
        return 0; /* timeout */
    drain(w->fd); /* the events only say "look again" */
    return 1;
}

void pl__os_waiter_close(pl__os_waiter *w)
{
    size_t i;
    if (!w)
        return;
    for (i = 0; i < w->nwds; i++)
        (void)inotify_rm_watch(w->fd, w->wds[i]);
    free(w->wds);
    free(w);
}
#endif
