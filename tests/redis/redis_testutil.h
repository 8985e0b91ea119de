/* Helpers for the Redis lock suites: the server the scripts started
   (PL_TEST_REDIS_PORT, optional PL_TEST_REDIS_SOCKET), unique channels,
   handles pointed at it, and a raw hiredis connection to poke at it. */
#ifndef PL_REDIS_TESTUTIL_H
#define PL_REDIS_TESTUTIL_H

#include "helpers/testutil.h"

#include <hiredis/hiredis.h>

/* The test server's port. Exits with a failure when the variable is not
   set: these suites never pass without a server. */
int rt_port(void);
/* The unix socket of the test server, NULL if the script gave none. */
const char *rt_socket(void);
/* A channel name unique to this process and call: "pltest-<pid>-<n>-<tag>". */
const char *rt_channel(const char *tag);
/* A handle on `channel` at the test server, short test-friendly waits
   (check_interval 0.05 s). Fails the test on error. */
pl_redis_lock *rt_lock(const char *channel, int flags);
/* A raw connection to the test server (fails the test on error). */
redisContext *rt_connect(void);
/* PUBSUB NUMSUB channel on a fresh connection. */
long long rt_numsub(const char *channel);
/* Wait until NUMSUB channel == want (up to `seconds`); 0 when it did. */
int rt_wait_numsub(const char *channel, long long want, double seconds);
/* The CLIENT LIST id of the connection named `name`, -1 if none. */
long long rt_client_id(const char *name);
/* A free TCP port on 127.0.0.1 (bound and released). */
int rt_free_port(void);

#endif
