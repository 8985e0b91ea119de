#define _GNU_SOURCE
#include "redis_testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int rt_port(void)
{
    const char *p = getenv("PL_TEST_REDIS_PORT");
    if (!p || !*p) {
        fprintf(stderr, "PL_TEST_REDIS_PORT is not set: run these tests "
                        "through ci/tests.d/redis.sh, which starts a "
                        "redis-server\n");
        exit(1);
    }
    return atoi(p);
}

const char *rt_socket(void)
{
    const char *p = getenv("PL_TEST_REDIS_SOCKET");
    return p && *p ? p : NULL;
}

const char *rt_channel(const char *tag)
{
    static char bufs[8][128];
    static int n;
    char *b = bufs[n % 8];
    snprintf(b, sizeof bufs[0], "pltest-%ld-%d-%s", (long)getpid(), n, tag);
    n++;
    return b;
}

pl_redis_lock *rt_lock(const char *channel, int flags)
{
    pl_redis_lock *l = NULL;
    tu_ok(pl_redis_lock_new(&l, channel, strlen(channel)));
    tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", rt_port()));
    tu_ok(pl_redis_lock_set_flags(l, flags));
    tu_ok(pl_redis_lock_set_check_interval(l, 0.05));
    return l;
}

redisContext *rt_connect(void)
{
    redisContext *c = redisConnect("127.0.0.1", rt_port());
    if (!c || c->err)
        fail_msg("cannot connect to the test redis-server: %s",
                 c ? c->errstr : "out of memory");
    return c;
}

long long rt_numsub(const char *channel)
{
    redisContext *c = rt_connect();
    redisReply *r = redisCommand(c, "PUBSUB NUMSUB %s", channel);
    long long n = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        n = r->element[1]->integer;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return n;
}

int rt_wait_numsub(const char *channel, long long want, double seconds)
{
    double end = tu_now() + seconds;
    do {
        if (rt_numsub(channel) == want)
            return 0;
        usleep(2000);
    } while (tu_now() < end);
    return -1;
}

long long rt_client_id(const char *name)
{
    redisContext *c = rt_connect();
    redisReply *r = redisCommand(c, "CLIENT LIST");
    long long id = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char needle[300];
        const char *line = r->str;
        snprintf(needle, sizeof needle, " name=%s ", name);
        while (line && *line) {
            const char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (memmem(line, len, needle, strlen(needle)))
                id = strtoll(line + 3, NULL, 10); /* "id=N ..." */
            line = nl ? nl + 1 : NULL;
        }
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return id;
}

int rt_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int s = socket(AF_INET, SOCK_STREAM, 0), port;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        fail_msg("cannot find a free port");
    port = ntohs(a.sin_port);
    close(s);
    return port;
}
