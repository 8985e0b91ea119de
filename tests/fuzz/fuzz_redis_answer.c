/* libFuzzer target: an answer to a probe (untrusted), pl__redis_parse_answer.
   Every input gives a holder: a protocol-1 record, or a legacy exclusive
   holder "legacy-<n>"; `elected` is 1, 0 or -1 (absent). A holder that
   parsed as protocol 1 must round-trip through pl__redis_build_answer
   (which always sends a boolean `elected`). */
#include "redis_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_redis_holder h, h2;
    char *built;
    if (pl__redis_parse_answer((const char *)data, size, 7, &h) != PL_OK)
        return 0; /* out of memory */
    if (!h.id || h.mode < PL_RMODE_SHARED || h.mode > PL_RMODE_EXCLUSIVE)
        abort();
    if (h.legacy && (strcmp(h.id, "legacy-7") != 0 || h.mode != PL_RMODE_EXCLUSIVE))
        abort();
    if (h.elected < -1 || h.elected > 1)
        abort();
    if (!h.legacy &&
        (built = pl__redis_build_answer(h.id, h.mode, h.elected == 1)) != NULL) {
        if (pl__redis_parse_answer(built, strlen(built), 8, &h2) != PL_OK)
            abort();
        if (h2.legacy || h2.mode != h.mode || strcmp(h2.id, h.id) != 0 ||
            h2.elected != (h.elected == 1))
            abort();
        free(h2.id);
        free(built);
    }
    free(h.id);
    return 0;
}
