/* portalock: flock(1) on libportalocker, plus Redis locks, semaphores, PID
   files and `who`. Shared declarations of the tool's files:
     main.c     what runs in which order, and the exit codes
     options.c  the command line (flock(1)'s, then the extensions)
     waits.c    ending waits on a deadline or a signal (the wait hook)
     locks.c    taking and dropping each kind of lock
     run.c      the command: fork, exec, forward signals, its status
     who.c      the `who` subcommand (read-only)
     util.c     messages and error-code mapping */
#ifndef PORTALOCK_H
#define PORTALOCK_H

#include <stdarg.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "portalocker.h"

/* flock(1)'s exit codes are sysexits.h's; spelled out so the tool needs no
   BSD header and the man page can list the numbers. */
#define EXIT_USAGE 64       /* EX_USAGE: bad command line */
#define EXIT_DATAERR 65     /* EX_DATAERR: the lock call failed */
#define EXIT_NOINPUT 66     /* EX_NOINPUT: cannot open the lock file */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: cannot execute the command,
                               cannot reach the Redis server */
#define EXIT_OSERR 71       /* EX_OSERR: out of memory, descriptors, fork */
#define EXIT_CANTCREAT 73   /* EX_CANTCREAT: read-only file system, full disk */
/* The Redis lock was lost while the command ran (the command was
   signalled): EX_TEMPFAIL, since running again later is the remedy. */
#define EXIT_LOST 75
/* lock_take's "exit 0" for -E 0 (its 0 means the lock was taken). */
#define CONFLICT_ZERO 256

enum target_kind { T_FILE, T_FD, T_SEMAPHORE, T_PIDFILE, T_REDIS };

typedef struct cli {
    enum target_kind kind;
    int type;          /* PL_LOCK_SH, PL_LOCK_EX or PL_LOCK_UN */
    int nonblock;
    int have_timeout;  /* -w given (0 means "do not wait", as in flock(1)) */
    double timeout;
    int conflict_code;
    int close_fd;
    int no_fork;
    int fcntl;         /* OFD record locks instead of flock(2) */
    int verbose;
    const char *filename; /* T_FILE */
    int fd;               /* T_FD */
    const char *redis_url, *channel;
    int fencing;
    int on_lost_signal;
    int sem_max;
    const char *sem_name, *sem_dir;
    const char *pidfile;
    char **cmd;           /* NULL: lock and exit (descriptor form) */
    char *sh_argv[4];     /* -c: $SHELL -c STRING */
} cli;

void cli_parse(int argc, char **argv, cli *o);
void print_usage(void);

/* waits.c */
void waits_install(void);
void waits_arm(int have_deadline, double seconds);
void waits_disarm(void);
int waits_signal(void);   /* the signal that ended the wait, or 0 */
int waits_expired(void);
_Noreturn void die_by_signal(int sig);

/* locks.c: a taken lock of any kind. */
typedef struct held {
    int fd;               /* the locked descriptor (-1 for Redis) */
    int own_fd;           /* opened by the tool (T_FILE) */
    pl_lock *lock;
    pl_semaphore *sem;
    pl_redis_lock *redis;
} held;
/* 0 on success, else the exit code (the message printed; CONFLICT_ZERO
   for 0, -1 when a signal ended the wait). */
int lock_take(const cli *o, held *h);
void lock_drop(held *h);

/* run.c */
int run_command(const cli *o, held *h);
/* Set by the Redis lost callback (another thread); child_pid is the
   command once forked, 0 before. */
extern atomic_int lost_flag;
extern atomic_int child_pid;

/* who.c */
int who_main(int argc, char **argv);

/* util.c */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int exit_for_errno(int err, int fallback);
int parse_signal(const char *s);
const char *signal_name(int sig);
double now_seconds(void);

#endif
