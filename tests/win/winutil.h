/* The Windows side of the cmocka fixtures (tests/unit/helpers/testutil.h
   declares the shared ones; winutil.c implements those the Windows suites
   use) and what replaces fork(2) there: spawning pl_win_helper.exe, the
   process that holds and probes locks for a test. */
#ifndef PL_WINUTIL_H
#define PL_WINUTIL_H

#include "testutil.h"

/* A child process (a HANDLE as an integer, 0 when none). */
typedef intptr_t tw_proc;

/* Start pl_win_helper.exe (next to the test program) with the given
   arguments (NULL-terminated); 0 on failure. */
tw_proc tw_spawn(const char *const *args);
/* Its exit code within `seconds`, -1 on timeout (the child keeps
   running), -2 on error. The handle is closed once it exited. */
int tw_wait(tw_proc p, double seconds);
/* TerminateProcess (the kill -9 of Windows) and reap it. */
void tw_kill(tw_proc p);
/* Start the helper and wait for it to create `ready` (it does once it
   holds what it was asked to); 0 when it did within `seconds`. */
tw_proc tw_spawn_ready(const char *const *args, const char *ready, double seconds);
/* Run the helper to completion: its exit code (-1 on timeout). */
int tw_run(const char *const *args, double seconds);

/* tw_spawn for the shared suites, which speak of PIDs: the child's PID,
   whose handle is kept until tu_wait(pid) reaps it (so the PID is not
   reused meanwhile); -1 on failure. */
pid_t tw_spawn_pid(const char *const *args);

/* Kernel handles this process has open (files, events, change
   notifications, threads, sockets), from ntdll's system handle list
   (SystemExtendedHandleInformation): wine's GetProcessHandleCount always
   says 0. -1 if the list cannot be read. */
int tw_count_handles(void);
/* Entries of dir, "." and ".." left out; -1 if it cannot be listed. */
int tw_count_entries(const char *dir);

#endif
