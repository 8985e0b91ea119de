/*
 * Connections for the Redis lock, on hiredis's blocking contexts. Reads of
 * pub/sub pushes are done without blocking (poll(2) on the descriptor,
 * then one read into hiredis's reader), so one thread can serve several
 * connections at once; plain commands use hiredis's blocking call with the
 * command timeout set on the socket.
 */
#include "redis_internal.h"
#include "platform.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void pl__redis_endpoint(const pl_redis_conf *cf, char *buf, size_t size)
{
    if (cf->unix_path)
        snprintf(buf, size, "unix:%s", cf->unix_path);
    else
        snprintf(buf, size, "%s:%d", cf->host, cf->port);
}

static struct timeval to_timeval(double seconds)
{
    struct timeval tv;
    if (!(seconds > 0) || isinf(seconds) || seconds > 1e9)
        seconds = 1e9; /* "no timeout": hiredis wants a value */
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0)
        tv.tv_usec = 1;
    return tv;
}

/* ---- bounded replies ----
   hiredis 0.14 has no limit of its own: maxbuf only says when to free an
   idle buffer, and an array header "*2147483647" makes it allocate the
   element table at once. The reader's object functions are wrapped so an
   array longer than PL_REDIS_MAX_ELEMENTS fails the reader (as out of
   memory: the connection is then broken), and every read checks the
   bytes buffered for the reply in progress against PL_REDIS_MAX_REPLY. The
   original functions travel in the reader's privdata, so the table below
   is constant. */

static const redisReplyObjectFunctions *orig_fn(const redisReadTask *t)
{
    return (const redisReplyObjectFunctions *)t->privdata;
}

static void *bounded_string(const redisReadTask *t, char *s, size_t len)
{
    if (len > PL_REDIS_MAX_REPLY)
        return NULL;
    return orig_fn(t)->createString(t, s, len);
}

static void *bounded_array(const redisReadTask *t, int elements)
{
    if (elements < 0 || (size_t)elements > PL_REDIS_MAX_ELEMENTS)
        return NULL;
    return orig_fn(t)->createArray(t, elements);
}

static void *bounded_integer(const redisReadTask *t, long long value)
{
    return orig_fn(t)->createInteger(t, value);
}

static void *bounded_nil(const redisReadTask *t)
{
    return orig_fn(t)->createNil(t);
}

static redisReplyObjectFunctions bounded_fns = {
    bounded_string, bounded_array, bounded_integer, bounded_nil,
    freeReplyObject};

static void bound_reader(redisContext *c)
{
    if (c->reader->fn != &bounded_fns) {
        c->reader->privdata = c->reader->fn;
        c->reader->fn = &bounded_fns;
    }
}

/* Unparsed bytes beyond the bound: the server is broken or hostile. */
static int over_bound(redisContext *c)
{
    if (c->reader->len - c->reader->pos <= PL_REDIS_MAX_REPLY)
        return 0;
    c->err = REDIS_ERR_PROTOCOL;
    snprintf(c->errstr, sizeof c->errstr,
             "reply larger than %u bytes: refused",
             (unsigned)PL_REDIS_MAX_REPLY);
    return 1;
}

/* hiredis's redisGetReply with the byte bound checked after every read. */
static int get_reply(redisContext *c, void **out)
{
    void *r = NULL;
    int done = 0;
    *out = NULL;
    if (c->err)
        return REDIS_ERR;
    if (redisGetReplyFromReader(c, &r) != REDIS_OK)
        return REDIS_ERR;
    if (r) {
        *out = r;
        return REDIS_OK;
    }
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return REDIS_ERR;
    for (;;) {
        if (redisBufferRead(c) != REDIS_OK || over_bound(c))
            return REDIS_ERR;
        if (redisGetReplyFromReader(c, &r) != REDIS_OK)
            return REDIS_ERR;
        if (r) {
            *out = r;
            return REDIS_OK;
        }
    }
}

int pl__redis_get_reply(redisContext *c, void **out)
{
    return get_reply(c, out);
}

void pl__redis_close(redisContext **c)
{
    if (*c)
        redisFree(*c);
    *c = NULL;
}

/* Whether the last PL_ERR_CONNECTION of this thread was a command on an
   established connection timing out (a server pause), which costs an
   attempt, rather than a refusal or a reset (no server, bad password, a
   broken connection), which ends the acquire. */
static _Thread_local int last_broke;

int pl__redis_broke(void)
{
    return last_broke;
}

static int reply_error(const pl_redis_conf *cf, redisContext *c,
                       const char *what, const redisReply *r)
{
    char ep[300];
    pl__redis_endpoint(cf, ep, sizeof ep);
    if (!r && c->err == REDIS_ERR_OOM) {
        last_broke = 0;
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "Redis at %s sent a reply during %s beyond the "
                        "bounds (more than %zu elements or %zu bytes), or "
                        "memory ran out: connection dropped",
                        ep, what, PL_REDIS_MAX_ELEMENTS, PL_REDIS_MAX_REPLY);
    }
    last_broke = !r && c->err == REDIS_ERR_IO &&
                 (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT);
    if (!r)
        return pl__fail(PL_ERR_CONNECTION, c->err == REDIS_ERR_IO ? errno : 0,
                        "lost the connection to Redis at %s during %s: %s",
                        ep, what, c->errstr[0] ? c->errstr : "no reply");
    return pl__fail(PL_ERR_CONNECTION, 0, "Redis at %s refused %s: %.*s", ep,
                    what, (int)r->len, r->str ? r->str : "");
}

int pl__redis_call(const pl_redis_conf *cf, redisContext *c, const char *what,
                   int argc, const char **argv, const size_t *lens,
                   redisReply **out)
{
    redisReply *r = NULL;
    if (out)
        *out = NULL;
    if (redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK) {
        void *v = NULL;
        if (get_reply(c, &v) == REDIS_OK)
            r = v;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        int rc = reply_error(cf, c, what, r);
        if (r)
            freeReplyObject(r);
        return rc;
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return PL_OK;
}

int pl__redis_send(const pl_redis_conf *cf, redisContext *c, const char *what,
                   int argc, const char **argv, const size_t *lens)
{
    int done = 0;
    if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK)
        return reply_error(cf, c, what, NULL);
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return reply_error(cf, c, what, NULL);
    return PL_OK;
}

int pl__redis_buffered(redisContext *c, redisReply **out)
{
    void *r = NULL;
    *out = NULL;
    if (c->err || redisGetReplyFromReader(c, &r) != REDIS_OK)
        return -1;
    *out = r;
    return r != NULL;
}

int pl__redis_fill(redisContext *c)
{
    if (c->err || redisBufferRead(c) != REDIS_OK || over_bound(c))
        return -1;
    return 0;
}

int pl__redis_push(const redisReply *r, const char *kind,
                   const redisReply **channel, const redisReply **payload)
{
    size_t klen = strlen(kind);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len != klen ||
        memcmp(r->element[0]->str, kind, klen) != 0)
        return 0;
    if (channel)
        *channel = r->element[1];
    if (payload)
        *payload = r->elements > 2 ? r->element[2] : NULL;
    return 1;
}

/* AUTH, SELECT and SETNAME pipelined: one round trip for all three. */
static int handshake(const pl_redis_conf *cf, redisContext *c,
                     const char *name)
{
    const char *argv[3];
    size_t lens[3];
    const char *what[3];
    char dbbuf[16];
    int n = 0, i, rc = PL_OK;

    if (cf->password) {
        argv[0] = "AUTH";
        if (cf->username) {
            argv[1] = cf->username;
            argv[2] = cf->password;
            if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK)
                return reply_error(cf, c, "AUTH", NULL);
        } else {
            argv[1] = cf->password;
            if (redisAppendCommandArgv(c, 2, argv, NULL) != REDIS_OK)
                return reply_error(cf, c, "AUTH", NULL);
        }
        what[n++] = "AUTH";
    }
    if (cf->db != 0) {
        snprintf(dbbuf, sizeof dbbuf, "%d", cf->db);
        argv[0] = "SELECT";
        argv[1] = dbbuf;
        if (redisAppendCommandArgv(c, 2, argv, NULL) != REDIS_OK)
            return reply_error(cf, c, "SELECT", NULL);
        what[n++] = "SELECT";
    }
    if (name) {
        argv[0] = "CLIENT";
        argv[1] = "SETNAME";
        argv[2] = name;
        lens[0] = 6;
        lens[1] = 7;
        lens[2] = strlen(name);
        if (redisAppendCommandArgv(c, 3, argv, lens) != REDIS_OK)
            return reply_error(cf, c, "CLIENT SETNAME", NULL);
        what[n++] = "CLIENT SETNAME";
    }
    /* Read every reply (keeps the stream in step), report the first error. */
    for (i = 0; i < n; i++) {
        void *r = NULL;
        if (get_reply(c, &r) != REDIS_OK)
            return rc != PL_OK ? rc : reply_error(cf, c, what[i], NULL);
        if (((redisReply *)r)->type == REDIS_REPLY_ERROR && rc == PL_OK)
            rc = reply_error(cf, c, what[i], r);
        freeReplyObject(r);
    }
    return rc;
}

int pl__redis_connect(const pl_redis_conf *cf, const char *name,
                      redisContext **out)
{
    struct timeval ctv = to_timeval(cf->connect_timeout);
    redisContext *c;
    char ep[300];
    int rc;

    *out = NULL;
    if (cf->unix_path)
        c = redisConnectUnixWithTimeout(cf->unix_path, ctv);
    else
        c = redisConnectWithTimeout(cf->host, cf->port, ctv);
    if (!c)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    if (c->err) {
        int e = c->err == REDIS_ERR_IO ? errno : 0;
        pl__redis_endpoint(cf, ep, sizeof ep);
        last_broke = 0;
        rc = pl__fail(PL_ERR_CONNECTION, e, "cannot connect to Redis at %s: %s",
                      ep, c->errstr);
        redisFree(c);
        return rc;
    }
    bound_reader(c);
    /* A child that exec()s must not keep our subscription (the lock)
       alive after we are gone. */
    (void)pl__os_set_cloexec(c->fd);
    /* TCP only: on a unix socket hiredis 0.14 fails it and marks the
       whole context broken. */
    if (!cf->unix_path)
        (void)redisEnableKeepAlive(c);
    if (redisSetTimeout(c, to_timeval(cf->command_timeout)) != REDIS_OK) {
        rc = reply_error(cf, c, "setting the command timeout", NULL);
        redisFree(c);
        return rc;
    }
    if ((rc = handshake(cf, c, name)) != PL_OK) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return PL_OK;
}
