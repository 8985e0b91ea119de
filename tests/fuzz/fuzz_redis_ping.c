/* libFuzzer target: a message published on a Redis lock channel (untrusted:
   anyone can PUBLISH there) parsed as a ping, pl__redis_parse_ping. When it
   is a ping whose response channel is a C string, building a ping for that
   channel and parsing it again must give the same channel back. */
#include "redis_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *resp = NULL, *again = NULL, *built;
    size_t len = 0, len2 = 0;
    int rc = pl__redis_parse_ping((const char *)data, size, &resp, &len);
    if (rc != 1) {
        if (resp)
            abort(); /* nothing allocated unless it is a ping */
        return 0;
    }
    if (!resp || len == 0)
        abort();
    if (strlen(resp) == len && (built = pl__redis_build_ping(resp)) != NULL) {
        if (pl__redis_parse_ping(built, strlen(built), &again, &len2) != 1 ||
            len2 != len || memcmp(again, resp, len) != 0)
            abort();
        free(again);
        free(built);
    }
    free(resp);
    return 0;
}
