/* Parsing fopen/Python-style open modes ("a", "w+", "rb", ...). */
#include "internal.h"
#include "platform.h"

#include <string.h>

int pl__parse_mode(const char *mode, int *oflags, int *truncate_after)
{
    char kind = 0;
    int plus = 0, bin = 0, text = 0, flags = 0;
    const char *p;

    if (!mode || !*mode)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "open mode must not be empty");
    if (strlen(mode) > 4)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "invalid open mode '%s'",
                        mode);
    for (p = mode; *p; p++) {
        switch (*p) {
        case 'r':
        case 'w':
        case 'a':
        case 'x':
            if (kind)
                goto invalid;
            kind = *p;
            break;
        case '+':
            if (plus++)
                goto invalid;
            break;
        case 'b':
            if (bin++ || text)
                goto invalid;
            break;
        case 't':
            if (text++ || bin)
                goto invalid;
            break;
        default:
            goto invalid;
        }
    }
    if (!kind)
        goto invalid;

    *truncate_after = 0;
    switch (kind) {
    case 'r':
        flags = PL_O_READ | (plus ? PL_O_WRITE : 0);
        break;
    case 'w':
        /* Opened as 'a' and truncated only once the lock is held, so a
           waiting process never wipes the current holder's data. */
        *truncate_after = 1;
        /* fall through */
    case 'a':
        flags = PL_O_WRITE | PL_O_CREATE | PL_O_APPEND | (plus ? PL_O_READ : 0);
        break;
    case 'x':
        flags = PL_O_WRITE | PL_O_CREATE | PL_O_EXCL | (plus ? PL_O_READ : 0);
        break;
    }
    *oflags = flags;
    return PL_OK;

invalid:
    return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                    "invalid open mode '%s' (expected one of r, w, a, x, "
                    "optionally with +, b or t)",
                    mode);
}
