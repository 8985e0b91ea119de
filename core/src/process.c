/* This process's PID, cached and kept right across fork(), so recording
   the owner of every acquisition costs no system call. */
#include "internal.h"
#include "platform.h"

static long cached_pid;
static pl__os_once_t pid_once = PL__OS_ONCE_INIT;

static void refresh_pid(void)
{
    cached_pid = pl__os_getpid();
}

static void init_pid(void)
{
    refresh_pid();
    (void)pl__os_atfork_child(refresh_pid);
}

long pl__self_pid(void)
{
    pl__os_once(&pid_once, init_pid);
    return cached_pid;
}
