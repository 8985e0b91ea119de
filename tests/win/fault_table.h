/* The fault table of the two Windows fault suites: "fail the nth call of
   X, counted from arming, `times` times, with error E", optionally only
   for paths ending with a given text. The includer defines its enum of
   fault ids, ending with F_COUNT, first; its wraps ask fault_fires()
   whether this call fails, and fail it with faults[id].err (an errno
   value at the platform seam, a Win32 or Winsock error below it). */
#ifndef PL_FAULT_TABLE_H
#define PL_FAULT_TABLE_H

#include <string.h>

typedef struct fault {
    int nth;           /* fail from the nth counted call on (0: never) */
    int times;         /* how many failures (-1: every call from nth) */
    unsigned long err; /* what to fail with */
    const char *match; /* path calls: only paths ending with it */
    int calls;         /* counted calls since arming */
    int failed;
} fault;

static fault faults[F_COUNT];

static inline void disarm_all(void)
{
    memset(faults, 0, sizeof faults);
}

static inline void arm(int id, int nth, unsigned long err, int times)
{
    memset(&faults[id], 0, sizeof faults[id]);
    faults[id].nth = nth;
    faults[id].times = times;
    faults[id].err = err;
}

static inline void arm_path(int id, int nth, unsigned long err, int times, const char *match)
{
    arm(id, nth, err, times);
    faults[id].match = match;
}

static inline int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Whether this call of `id` (on `path`, UTF-8, or NULL) fails. */
static inline int fault_fires(int id, const char *path)
{
    fault *f = &faults[id];
    if (f->match && (!path || !ends_with(path, f->match)))
        return 0;
    f->calls++;
    if (f->nth <= 0 || f->calls < f->nth)
        return 0;
    if (f->times >= 0 && f->failed >= f->times)
        return 0;
    f->failed++;
    return 1;
}

#endif
