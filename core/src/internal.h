/* Internal helpers shared by the core's sources; not part of the ABI. */
#ifndef PL_INTERNAL_H
#define PL_INTERNAL_H

#include "portalocker.h"

#include <stddef.h>

#if defined(__GNUC__)
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

/* One attempt at taking a lock. `blocking` asks the attempt to wait in the
   kernel (only offered when there is no deadline). Returns PL_OK,
   PL_ERR_ALREADY_LOCKED (try again later) or another error (give up). */
typedef int (*pl_attempt_fn)(void *ctx, int blocking);

/* The retry policy shared by every lock type: first attempt at once; then,
   unless fail_when_locked, wait for a change on one of `paths` (inotify)
   or a capped exponential backoff (1 ms doubling up to check_interval),
   attempting again each time, until the deadline. `can_block`: the attempt
   supports blocking, used when the timeout is infinite. */
int pl__retry(const pl_wait_opts *opts, pl_attempt_fn attempt, void *ctx,
              const char *const *paths, size_t npaths, int can_block);

/* fopen-style mode -> open(2) flags; *truncate_after set for 'w'. */
int pl__parse_mode(const char *mode, int *oflags, int *truncate_after);

/* The cached PID of this process (kept right across fork). */
long pl__self_pid(void);

#endif
