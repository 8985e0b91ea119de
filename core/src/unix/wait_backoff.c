/*
 * Waiting for a lock file to change where the platform has no file
 * notification the core uses (macOS and the BSDs, until a kqueue waiter):
 * the waiter has no descriptor, so the wait (wait_control.c) only sleeps
 * in poll(2), and the caller's capped exponential backoff (retry.c)
 * carries the wait alone, so a release is noticed within check_interval.
 */
#ifndef __linux__
#include "platform.h"

#include <stddef.h>

pl__os_waiter *pl__os_waiter_open(void)
{
    return NULL; /* nothing to keep */
}

void pl__os_waiter_watch(pl__os_waiter *w, const char *path)
{
    (void)w;
    (void)path;
}

void pl__os_waiter_watch_changes(pl__os_waiter *w, const char *path)
{
    (void)w;
    (void)path;
}

void pl__os_waiter_watch_fd(pl__os_waiter *w, int fd)
{
    (void)w;
    (void)fd;
}

int pl__os_waiter_fd(const pl__os_waiter *w)
{
    (void)w;
    return -1;
}

void pl__os_waiter_drain(pl__os_waiter *w)
{
    (void)w;
}

void pl__os_waiter_close(pl__os_waiter *w)
{
    (void)w;
}
#endif
