/* The Win32 types behind the platform seam's threads, mutexes and once
   flags (see platform.h). Only platform.h includes this file. They are
   declared without <windows.h> (which would bring its macros into every
   core file): a slim reader/writer lock and an INIT_ONCE are each one
   pointer, zero-initialised; thread_win32.c checks the sizes. */
#ifndef PL_WIN_PLATFORM_TYPES_H
#define PL_WIN_PLATFORM_TYPES_H

typedef struct pl__os_thread {
    void *handle; /* HANDLE of the thread */
    void *start;  /* the start record (thread_win32.c), freed by join */
} pl__os_thread;

typedef struct pl__os_mutex {
    void *srw; /* SRWLOCK, used exclusively */
} pl__os_mutex;
#define PL__OS_MUTEX_INIT {0}

typedef struct pl__os_once_t {
    void *init_once; /* INIT_ONCE */
} pl__os_once_t;
#define PL__OS_ONCE_INIT {0}

#endif
