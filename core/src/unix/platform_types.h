/* The POSIX types behind the platform seam's threads, mutexes and once
   flags (see platform.h). Only platform.h includes this file. */
#ifndef PL_UNIX_PLATFORM_TYPES_H
#define PL_UNIX_PLATFORM_TYPES_H

#include <pthread.h>

typedef struct pl__os_thread {
    pthread_t id;
} pl__os_thread;

typedef struct pl__os_mutex {
    pthread_mutex_t m;
} pl__os_mutex;
#define PL__OS_MUTEX_INIT {PTHREAD_MUTEX_INITIALIZER}

typedef struct pl__os_once_t {
    pthread_once_t o;
} pl__os_once_t;
#define PL__OS_ONCE_INIT {PTHREAD_ONCE_INIT}

#endif
