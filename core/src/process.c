/* This process's PID, cached and kept right across fork(), so recording
   the owner of every acquisition costs no system call. */
#include "internal.h"
#include "platform.h"

#include <pthread.h>

static long cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void refresh_pid(void)
{
    cached_pid = pl_os_getpid();
}

static void init_pid(void)
{
    refresh_pid();
    pthread_atfork(NULL, NULL, refresh_pid);
}

long pl__self_pid(void)
{
    pthread_once(&pid_once, init_pid);
    return cached_pid;
}
