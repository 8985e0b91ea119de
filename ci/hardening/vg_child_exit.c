/* LD_PRELOAD shim for ci/hardening/valgrind.sh (only ever loaded under
   valgrind). The cmocka suites fork children that do their part (take a
   lock, probe one, ...) and leave with _exit() without freeing: the heap
   they leave behind is the parent's, copied by fork, which the child
   neither owns nor could free (the handles live in the parent's test
   function). Valgrind would still leak-check each child at exit and,
   with --error-exitcode, turn those blocks into a failing exit status.
   This shim interposes _exit/_Exit: in a forked child (pid != the pid
   that loaded the shim) it turns the leak check off (a dynamic option,
   VALGRIND_CLO_CHANGE) just before exiting, so the exit-time leak check of
   the copied heap is skipped. Errors the child made while running (invalid reads/writes,
   uninitialised values, bad frees) were already counted and still give
   the child the error exit code, which the tests see as a failed child;
   they are also written to the per-process valgrind log the script
   checks. The main test process is untouched: its leak check is full. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

static pid_t main_pid;

__attribute__((constructor)) static void record_main_pid(void)
{
    main_pid = getpid();
}

static void child_exit(int status) __attribute__((noreturn));
static void child_exit(int status)
{
    if (getpid() != main_pid)
        VALGRIND_CLO_CHANGE("--leak-check=no");
    for (;;)
        syscall(SYS_exit_group, status);
}

void _exit(int status)
{
    child_exit(status);
}

void _Exit(int status)
{
    child_exit(status);
}
