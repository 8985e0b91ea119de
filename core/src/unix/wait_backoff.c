/*
 * Waiting for a lock file to change where the platform has no file
 * notification the core uses (macOS and the BSDs, until a kqueue waiter):
 * the waiter only sleeps, and the caller's capped exponential backoff
 * (retry.c) carries the wait alone, so a release is noticed within
 * check_interval.
 */
#ifndef __linux__
#include "platform.h"

#include <stddef.h>

pl__os_waiter *pl__os_waiter_open(void)
{
    return NULL; /* nothing to keep: every call below just sleeps */
}

void pl__os_waiter_watch(pl__os_waiter *w, const char *path)
{
    (void)w;
    (void)path;
}

int pl__os_waiter_wait(pl__os_waiter *w, double seconds)
{
    (void)w;
    pl__os_sleep(seconds);
    return 0;
}

void pl__os_waiter_close(pl__os_waiter *w)
{
    (void)w;
}
#endif
