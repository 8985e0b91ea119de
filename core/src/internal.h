/* Internal helpers shared by the core's sources; not part of the ABI. */
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include "portalocker.h"

#include <stddef.h>

#if defined(__MINGW32__)
/* The Windows build formats with mingw's C99 stdio
   (__USE_MINGW_ANSI_STDIO), not the CRT's: GNU format checking. */
#define PL_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define PL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PL_PRINTF(f, a)
#endif

#define PL_DEFAULT_TIMEOUT 5.0
#define PL_DEFAULT_CHECK_INTERVAL 0.25
#define PL_DEFAULT_FLAGS (PL_LOCK_EX | PL_LOCK_NB)
#define PL_DEFAULT_FILE_MODE 0666u

/* Record `code` as the calling thread's last error with a formatted message
   and errnum (0 for none); returns code so callers can `return pl__fail(..)`. */
int pl__fail(int code, int errnum, const char *fmt, ...) PL_PRINTF(3, 4);
/* "cannot <what> '<path>': <strerror(errnum)>" with a code chosen from
   errnum (ENOMEM -> NO_MEMORY, EEXIST -> EXISTS, EFBIG -> FILE_TOO_LARGE,
   else `fallback`). */
int pl__fail_os(int fallback, int errnum, const char *what, const char *path);
/* The code pl__fail_os would pick for errnum. */
int pl__code_for_errno(int errnum, int fallback);
/* Record success for the calling thread (clears code and message). */
int pl__ok(void);

/* Argument checks that set the last error and return its code
   (options.c). */
int pl__check_seconds(const char *what, double seconds, int allow_infinity);
int pl__check_mechanism(int mechanism);
int pl__check_lock_flags(int flags);
int pl__check_file_mode(unsigned int mode);
int pl__check_out(const void *out);

/* malloc'ed copies (strings.c); NULL when out of memory. */
char *pl__strdup(const char *s);
/* a (alen bytes) then b (blen bytes), NUL-terminated. */
char *pl__concat(const char *a, size_t alen, const char *b, size_t blen);

/* Options common to everything that waits for a lock. */
typedef struct pl_wait_opts {
    double timeout;
    double check_interval;
    int fail_when_locked;
} pl_wait_opts;

/* Merge per-call overrides (PL_INHERIT = keep) into *out, validating. */
int pl__merge_wait_opts(const pl_wait_opts *base, double timeout,
                        double check_interval, int fail_when_locked,
                        pl_wait_opts *out);
/* The setters every waiting handle shares: validate, store, pl__ok(). */
int pl__wait_set_timeout(pl_wait_opts *w, double seconds);
int pl__wait_set_check_interval(pl_wait_opts *w, double seconds);
int pl__wait_set_fail_when_locked(pl_wait_opts *w, int enabled);

/* One attempt at taking a lock, never waiting in the kernel. Returns
   PL_OK, PL_ERR_ALREADY_LOCKED (try again later) or another error (give
   up). */
typedef int (*pl_attempt_fn)(void *ctx);

struct pl__cancel;
struct pl__os_waiter;
/* Add the watches of the files a release would touch (pl__os_waiter_watch);
   called before every attempt, so it follows re-created files. */
typedef void (*pl_watch_fn)(void *ctx, struct pl__os_waiter *waiter);

/* The retry policy shared by every lock type: a pending cancel first
   (PL_ERR_INTERRUPTED without trying); first attempt at once; then,
   unless fail_when_locked, wait for a change on a watched file (inotify)
   or a capped exponential backoff (1 ms doubling up to check_interval),
   attempting again each time, until the deadline (none for an infinite
   timeout). The waits honour `cancel` (may be NULL) and the thread's
   wait hook (wait_control.h). `what` names the wait in messages. */
int pl__retry(const pl_wait_opts *opts, pl_attempt_fn attempt,
              pl_watch_fn watch, void *ctx, struct pl__cancel *cancel,
              const char *what);

/* fopen-style mode -> open(2) flags; *truncate_after set for 'w'. */
int pl__parse_mode(const char *mode, int *oflags, int *truncate_after);

/* The cached PID of this process (kept right across fork). */
long pl__self_pid(void);

#endif
