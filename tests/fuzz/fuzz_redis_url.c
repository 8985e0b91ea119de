/* libFuzzer target: Redis connection URLs (pl_redis_lock_set_url; the
   portalock command passes them from its command line). Any input is
   accepted or refused with PL_ERR_INVALID_ARGUMENT or PL_ERR_UNSUPPORTED;
   an accepted URL leaves a TCP port in range and a non-negative db, TLS
   and cluster mode exactly as the scheme says, and a
   refused one leaves the handle's settings as they were. */
#include "portalocker.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_redis_lock *l = NULL;
    char *url = malloc(size + 1);
    const char *host = NULL;
    int port = 0, db = -1, tls = -1, cluster = -1, rc;
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    if (pl_redis_lock_new(&l, "c", 1) != PL_OK ||
        pl_redis_lock_set_host(l, "before", 1234) != PL_OK ||
        pl_redis_lock_set_db(l, 7) != PL_OK)
        abort();
    rc = pl_redis_lock_set_url(l, url);
    pl_redis_lock_get_host(l, &host, &port);
    pl_redis_lock_get_db(l, &db);
    pl_redis_lock_get_tls(l, &tls);
    pl_redis_lock_get_cluster(l, &cluster);
    if (rc == PL_OK) {
        if (tls != (strncmp(url, "rediss://", 9) == 0 || strncmp(url, "rediss+sentinel://", 18) == 0 ||
                    strncmp(url, "rediss+cluster://", 17) == 0))
            abort();
        if (cluster != (strncmp(url, "redis+cluster://", 16) == 0 ||
                        strncmp(url, "rediss+cluster://", 17) == 0))
            abort();
        if (port < 1 || port > 65535 || db < 0 || !host || !*host)
            abort();
    } else if (rc == PL_ERR_INVALID_ARGUMENT || rc == PL_ERR_UNSUPPORTED) {
        if (strcmp(host, "before") != 0 || port != 1234 || db != 7 || tls != 0 ||
            cluster != 0)
            abort();
    } else {
        abort();
    }
    pl_redis_lock_free(l);
    free(url);
    return 0;
}
