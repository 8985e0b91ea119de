/*
 * Waiting for a lock file to change, on Linux: an inotify watch on the
 * lock file(s) wakes a waiter when a holder closes its descriptor (release,
 * exit, SIGKILL) or unlinks the file.
 *
 * Inotify instances are reused from a small per-process pool: creating one
 * is cheap but closing one costs ~15 ms (the kernel waits for an RCU grace
 * period), which would land on every contended acquire; and instances are
 * a per-user resource (128 by default), so a process must not keep one
 * per thread that ever waited. A waiter takes an instance from the pool
 * (or creates one) and gives it back when the wait ends; only when more
 * than PL_INOTIFY_POOL waits end while the pool is full does an instance
 * get closed. So a process keeps at most PL_INOTIFY_POOL idle instances,
 * and up to that many concurrent waiters never pay the close.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#define PL_INOTIFY_POOL 4

struct pl__os_waiter {
    int fd;   /* notification descriptor, -1 when falling back to sleeping */
    int broken; /* its events cannot be read: sleep only, never pool it */
    int *wds; /* watches to remove when the wait ends */
    size_t nwds, cap;
};

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static int pool_fds[PL_INOTIFY_POOL];
static int pool_len;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_prepare(void)
{
    (void)pthread_mutex_lock(&pool_mutex);
}

static void pool_parent(void)
{
    (void)pthread_mutex_unlock(&pool_mutex);
}

/* A forked child must not reuse the parent's instances: both would read
   (steal) each other's events. Closing the child's copies is cheap (the
   parent keeps the instances alive). */
static void pool_child(void)
{
    int i;
    for (i = 0; i < pool_len; i++)
        close(pool_fds[i]);
    pool_len = 0;
    (void)pthread_mutex_unlock(&pool_mutex);
}

static void pool_init(void)
{
    (void)pthread_atfork(pool_prepare, pool_parent, pool_child);
}

/* Read every queued event; 0 when the queue is empty, else the errno
   of a failed read (the events stay queued: polling again would spin). */
static int drain(int fd)
{
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno;
        return 0;
    }
}

static int pool_take(void)
{
    int fd = -1;
    pthread_once(&pool_once, pool_init);
    (void)pthread_mutex_lock(&pool_mutex);
    if (pool_len > 0)
        fd = pool_fds[--pool_len];
    (void)pthread_mutex_unlock(&pool_mutex);
    if (fd < 0)
        /* Fails with EMFILE once the per-user instance limit is reached;
           the backoff then carries the wait alone. */
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return fd;
}

static void pool_give(int fd)
{
    int kept = 0;
    (void)pthread_mutex_lock(&pool_mutex);
    if (pool_len < PL_INOTIFY_POOL) {
        pool_fds[pool_len++] = fd;
        kept = 1;
    }
    (void)pthread_mutex_unlock(&pool_mutex);
    if (!kept)
        close(fd); /* outside the mutex: this is the slow close */
}

pl__os_waiter *pl__os_waiter_open(void)
{
    pl__os_waiter *w = malloc(sizeof *w);
    if (!w)
        return NULL; /* every call below then just sleeps */
    w->wds = NULL;
    w->nwds = w->cap = 0;
    w->fd = pool_take();
    w->broken = 0;
    /* Leftovers of an earlier wait (IN_IGNORED, ...). */
    if (w->fd >= 0 && drain(w->fd) != 0)
        w->broken = 1;
    return w;
}

static void watch(pl__os_waiter *w, const char *path, uint32_t mask)
{
    int wd;
    size_t i;
    if (!w || w->fd < 0)
        return;
    wd = inotify_add_watch(w->fd, path, mask);
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

void pl__os_waiter_watch(pl__os_waiter *w, const char *path)
{
    /* A holder's close (release, exit, SIGKILL) raises IN_CLOSE_*; a
       temporary lock's unlink raises IN_ATTRIB/IN_DELETE_SELF. Adding a
       watch for an inode already watched only updates it, so re-watching
       before each attempt is cheap and follows a re-created file. */
    watch(w, path,
          IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_DELETE_SELF |
              IN_MOVE_SELF);
}

void pl__os_waiter_watch_changes(pl__os_waiter *w, const char *path)
{
    watch(w, path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
}

void pl__os_waiter_watch_fd(pl__os_waiter *w, int fd)
{
    char path[40];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    pl__os_waiter_watch(w, path);
}

int pl__os_waiter_fd(const pl__os_waiter *w)
{
    return w && !w->broken ? w->fd : -1;
}

void pl__os_waiter_drain(pl__os_waiter *w)
{
    if (w && w->fd >= 0 && drain(w->fd) != 0)
        w->broken = 1; /* the backoff carries the rest of this wait */
}

void pl__os_waiter_close(pl__os_waiter *w)
{
    size_t i;
    if (!w)
        return;
    for (i = 0; i < w->nwds; i++)
        (void)inotify_rm_watch(w->fd, w->wds[i]);
    if (w->fd >= 0 && !w->broken)
        pool_give(w->fd);
    else if (w->fd >= 0)
        close(w->fd);
    free(w->wds);
    free(w);
}
#endif
