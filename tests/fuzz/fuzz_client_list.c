/* libFuzzer target: the CLIENT LIST reply parsed for reaping,
   pl__redis_reap_targets (its text comes from the server and holds names
   any client can set). Input layout: byte 0 = channel length (mod 64),
   then the channel, then byte = number of answered holders (mod 4), each a
   32-byte id, then the CLIENT LIST text. Every id returned must come from
   an "id=" field of a line whose name is "<channel>-lock-<32 hex>" or
   "<channel>-lock". */
#include "redis_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_redis_holder held[4];
    char ids[4][PL_REDIS_ID_LEN + 1];
    const char *channel;
    size_t clen, nheld, i, n = 0;
    long long *targets = NULL;
    if (size < 2)
        return 0;
    clen = data[0] % 64;
    if (size < 1 + clen + 1)
        return 0;
    channel = (const char *)data + 1;
    data += 1 + clen;
    size -= 1 + clen;
    nheld = data[0] % 4;
    data++;
    size--;
    for (i = 0; i < nheld; i++) {
        size_t take = size < PL_REDIS_ID_LEN ? size : PL_REDIS_ID_LEN;
        memcpy(ids[i], data, take);
        ids[i][take] = '\0';
        held[i].id = ids[i];
        held[i].mode = PL_RMODE_EXCLUSIVE;
        held[i].legacy = (int)(i == 3);
        data += take;
        size -= take;
    }
    if (pl__redis_reap_targets((const char *)data, size, channel, clen, held,
                               nheld, &targets, &n) != PL_OK)
        return 0;
    if (n && !targets)
        abort();
    /* Each id is parsed from at most 20 digits of one line. */
    if (n > size / 8 + 1)
        abort();
    free(targets);
    return 0;
}
