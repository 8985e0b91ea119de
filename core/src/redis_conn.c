/*
 * Connections for the Redis lock: a transport of our own (the platform's
 * non-blocking sockets, TLS from tls.h when asked for) feeding hiredis's
 * protocol reader and formatter; hiredis 0.14 has no TLS and its own
 * sockets bypass the platform seam. Pub/sub pushes are read without
 * blocking (poll(2) on the descriptor, then pl__redis_fill); a command
 * waits for its reply until the command timeout, one deadline for the
 * whole exchange.
 */
#include "redis_internal.h"
#include "platform.h"
#include "tls.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl__redis_endpoint(const pl_redis_conf *cf, char *buf, size_t size)
{
    if (cf->cluster && cf->cluster_host)
        snprintf(buf, size, "%s:%d%s (Redis Cluster node serving slot %d)",
                 cf->cluster_host, cf->cluster_port, cf->tls ? " (TLS)" : "",
                 cf->cluster_slot);
    else if (cf->sentinel_service)
        snprintf(buf, size, "%s:%d%s (master of sentinel service '%s')",
                 cf->host, cf->port, cf->tls ? " (TLS)" : "", cf->sentinel_service);
    else if (cf->unix_path)
        snprintf(buf, size, "unix:%s%s", cf->unix_path, cf->tls ? " (TLS)" : "");
    else if (strchr(cf->host, ':'))
        snprintf(buf, size, "[%s]:%d%s", cf->host, cf->port, cf->tls ? " (TLS)" : "");
    else
        snprintf(buf, size, "%s:%d%s", cf->host, cf->port, cf->tls ? " (TLS)" : "");
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

static void set_err(pl_redis_conn *c, int kind, int errnum, const char *fmt,
                    ...) PL_PRINTF(4, 5);
static void set_err(pl_redis_conn *c, int kind, int errnum, const char *fmt,
                    ...)
{
    va_list ap;
    if (c->err)
        return; /* the first cause is the one to report */
    c->err = kind;
    c->errnum = errnum;
    va_start(ap, fmt);
    vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
    va_end(ap);
}

static void set_os_err(pl_redis_conn *c, int errnum)
{
    char buf[128];
    set_err(c, PL_CONN_IO, errnum, "%s",
            errnum == ETIMEDOUT ? "timed out"
                                : pl__os_strerror(errnum, buf, sizeof buf));
}

/* Unparsed bytes beyond the bound: the server is broken or hostile. */
static int over_bound(pl_redis_conn *c)
{
    if (c->reader->len - c->reader->pos <= PL_REDIS_MAX_REPLY)
        return 0;
    set_err(c, PL_CONN_PROTOCOL, 0, "reply larger than %u bytes: refused",
            (unsigned)PL_REDIS_MAX_REPLY);
    return 1;
}

/* ---- the transport: one non-blocking read or write ---- */

/* 0 with *n bytes, EAGAIN (then wait for *want_write), or an error (set
   on the connection). A read of 0 bytes is the server closing. */
static int io(pl_redis_conn *c, int writing, void *buf, size_t len, size_t *n,
              int *want_write)
{
    int rc;
    *want_write = writing;
    if (c->tls) {
        rc = writing ? pl__tls_write(c->tls, buf, len, n, want_write)
                     : pl__tls_read(c->tls, buf, len, n, want_write);
        if (rc && rc != EAGAIN)
            set_err(c, PL_CONN_IO, rc, "%s", pl__tls_error(c->tls));
        return rc;
    }
    rc = writing ? pl__os_net_send(c->fd, buf, len, n)
                 : pl__os_net_recv(c->fd, buf, len, n);
    if (rc && rc != EAGAIN)
        set_os_err(c, rc);
    return rc;
}

static int wait_io(pl_redis_conn *c, int want_write, double deadline)
{
    for (;;) {
        double left = deadline - pl__os_now();
        int rc = left > 0 ? pl__os_net_wait(c->fd, want_write,
                                            (int)ceil(left * 1000))
                          : ETIMEDOUT;
        if (rc == EINTR)
            continue;
        if (rc)
            set_os_err(c, rc);
        return rc;
    }
}

static double deadline_of(double seconds)
{
    if (!(seconds > 0) || isinf(seconds) || seconds > 1e9)
        seconds = 1e9; /* no timeout */
    return pl__os_now() + seconds;
}

/* Write out everything queued, until deadline. */
static int flush(pl_redis_conn *c, double deadline)
{
    while (!c->err && c->opos < c->olen) {
        size_t n = 0;
        int ww, rc = io(c, 1, c->obuf + c->opos, c->olen - c->opos, &n, &ww);
        if (rc == EAGAIN) {
            if (wait_io(c, ww, deadline))
                return -1;
            continue;
        }
        if (rc)
            return -1;
        c->opos += n;
    }
    if (c->err)
        return -1;
    c->opos = c->olen = 0;
    return 0;
}

/* Read what there is into the reader: 1 when something came, 0 when the
   socket had nothing (EAGAIN: *want_write says for what to wait), -1
   when the connection broke or closed. */
static int read_some(pl_redis_conn *c, int *want_write)
{
    char buf[16384];
    size_t n = 0;
    int rc = io(c, 0, buf, sizeof buf, &n, want_write);
    if (rc == EAGAIN)
        return 0;
    if (rc)
        return -1;
    if (n == 0) {
        set_err(c, PL_CONN_EOF, 0, "the server closed the connection");
        return -1;
    }
    if (redisReaderFeed(c->reader, buf, n) != REDIS_OK) {
        set_err(c, PL_CONN_OOM, ENOMEM, "out of memory");
        return -1;
    }
    return over_bound(c) ? -1 : 1;
}

static int from_reader(pl_redis_conn *c, void **out)
{
    *out = NULL;
    if (redisReaderGetReply(c->reader, out) != REDIS_OK) {
        if (c->reader->err == REDIS_ERR_OOM)
            set_err(c, PL_CONN_OOM, ENOMEM, "out of memory or reply beyond the bounds");
        else
            set_err(c, PL_CONN_PROTOCOL, 0, "%s",
                    c->reader->errstr[0] ? c->reader->errstr : "protocol error");
        return -1;
    }
    return 0;
}

/* Queue a command (hiredis's formatter). */
static int append(pl_redis_conn *c, int argc, const char **argv,
                  const size_t *lens)
{
    char *cmd = NULL;
    int len;
    if (c->err)
        return -1;
    len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0 || !cmd) {
        set_err(c, PL_CONN_OOM, ENOMEM, "out of memory");
        return -1;
    }
    if (!c->obuf || c->olen + (size_t)len > c->ocap) {
        size_t cap = (c->olen + (size_t)len) * 2 + 64;
        char *nb = realloc(c->obuf, cap);
        if (!nb) {
            redisFreeCommand(cmd);
            set_err(c, PL_CONN_OOM, ENOMEM, "out of memory");
            return -1;
        }
        c->obuf = nb;
        c->ocap = cap;
    }
    memcpy(c->obuf + c->olen, cmd, (size_t)len);
    c->olen += (size_t)len;
    redisFreeCommand(cmd);
    c->used_at = pl__os_now();
    return 0;
}

/* The next reply: write out what is queued, then read until a whole reply
   is there, all within the command timeout. */
static int get_reply(pl_redis_conn *c, void **out)
{
    double deadline;
    *out = NULL;
    if (c->err || from_reader(c, out) != 0)
        return REDIS_ERR;
    if (*out)
        return REDIS_OK;
    deadline = deadline_of(c->command_timeout);
    if (flush(c, deadline) != 0)
        return REDIS_ERR;
    /* Wait, then one read per readiness (as hiredis's blocking reads):
       no read that only says "nothing yet". TLS may hold bytes already
       read from the socket: those are read first. */
    {
        int ww = 0, need_wait = !(c->tls && pl__tls_pending(c->tls));
        for (;;) {
            int k;
            if (need_wait && wait_io(c, ww, deadline))
                return REDIS_ERR;
            k = read_some(c, &ww);
            if (k < 0)
                return REDIS_ERR;
            if (k == 0) { /* wait for what TLS asked (ww) */
                need_wait = 1;
                continue;
            }
            if (from_reader(c, out) != 0)
                return REDIS_ERR;
            if (*out)
                return REDIS_OK;
            ww = 0;
            need_wait = !(c->tls && pl__tls_pending(c->tls));
        }
    }
}

int pl__redis_get_reply(pl_redis_conn *c, void **out)
{
    return get_reply(c, out);
}

void pl__redis_close(pl_redis_conn **c)
{
    pl_redis_conn *x = *c;
    if (!x)
        return;
    pl__tls_free(x->tls);
    (void)pl__os_net_close(x->fd);
    if (x->reader)
        redisReaderFree(x->reader);
    free(x->obuf);
    free(x);
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

static int reply_error(const pl_redis_conf *cf, pl_redis_conn *c,
                       const char *what, const redisReply *r)
{
    char ep[300];
    pl__redis_endpoint(cf, ep, sizeof ep);
    if (!r && c->err == PL_CONN_OOM) {
        last_broke = 0;
        return pl__fail(PL_ERR_CONNECTION, 0,
                        "Redis at %s sent a reply during %s beyond the "
                        "bounds (more than %zu elements or %zu bytes), or "
                        "memory ran out: connection dropped",
                        ep, what, PL_REDIS_MAX_ELEMENTS, PL_REDIS_MAX_REPLY);
    }
    last_broke = !r && c->err == PL_CONN_IO &&
                 (c->errnum == EAGAIN || c->errnum == ETIMEDOUT);
    if (!r)
        return pl__fail(PL_ERR_CONNECTION,
                        c->err == PL_CONN_IO ? c->errnum : 0,
                        "lost the connection to Redis at %s during %s: %s",
                        ep, what, c->errstr[0] ? c->errstr : "no reply");
    return pl__fail(PL_ERR_CONNECTION, 0, "Redis at %s refused %s: %.*s", ep,
                    what, (int)r->len, r->str ? r->str : "");
}

int pl__redis_call(const pl_redis_conf *cf, pl_redis_conn *c, const char *what,
                   int argc, const char **argv, const size_t *lens,
                   redisReply **out)
{
    redisReply *r = NULL;
    if (out)
        *out = NULL;
    if (append(c, argc, argv, lens) == 0) {
        void *v = NULL;
        if (get_reply(c, &v) == REDIS_OK)
            r = v;
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        int rc = reply_error(cf, c, what, r);
        /* The configuration belongs to the caller's handle: the cast only
           lets a redirect re-route it (after the message named the node
           that refused). */
        if (r && cf->cluster &&
            pl__redis_cluster_redirect((pl_redis_conf *)cf, c, r))
            last_broke = 1; /* the attempt is repeated on the right node */
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

int pl__redis_send(const pl_redis_conf *cf, pl_redis_conn *c, const char *what,
                   int argc, const char **argv, const size_t *lens)
{
    if (append(c, argc, argv, lens) != 0 ||
        flush(c, deadline_of(c->command_timeout)) != 0)
        return reply_error(cf, c, what, NULL);
    return PL_OK;
}

int pl__redis_buffered(pl_redis_conn *c, redisReply **out)
{
    void *r = NULL;
    *out = NULL;
    if (c->err || from_reader(c, &r) != 0)
        return -1;
    /* Records TLS read ahead from the socket: poll(2) will not see them. */
    while (!r && c->tls && pl__tls_pending(c->tls)) {
        int ww = 0, k = read_some(c, &ww);
        if (k < 0)
            return -1;
        if (k == 0)
            break; /* an incomplete record: the socket will say */
        if (from_reader(c, &r) != 0)
            return -1;
    }
    *out = r;
    return r != NULL;
}

int pl__redis_fill(pl_redis_conn *c)
{
    int ww = 0, k;
    if (c->err)
        return -1;
    /* One read (the caller's poll said readable), and with TLS whatever
       it decrypted beyond that read, which poll(2) cannot see. */
    do
        k = read_some(c, &ww);
    while (k > 0 && c->tls && pl__tls_pending(c->tls));
    return k < 0 ? -1 : 0;
}

/* "message" also matches "smessage", "subscribe" "ssubscribe" and so on:
   the sharded pushes of cluster mode (a connection gets those only if it
   SSUBSCRIBEd). */
int pl__redis_push(const redisReply *r, const char *kind,
                   const redisReply **channel, const redisReply **payload)
{
    size_t klen = strlen(kind), off;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    off = r->element[0]->len == klen + 1 && r->element[0]->str[0] == 's';
    if (r->element[0]->len != klen + off ||
        memcmp(r->element[0]->str + off, kind, klen) != 0)
        return 0;
    if (channel)
        *channel = r->element[1];
    if (payload)
        *payload = r->elements > 2 ? r->element[2] : NULL;
    return 1;
}

/* AUTH, SELECT and SETNAME pipelined: one round trip for all three. */
static int handshake(const pl_redis_conf *cf, pl_redis_conn *c,
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
            if (append(c, 3, argv, NULL) != 0)
                return reply_error(cf, c, "AUTH", NULL);
        } else {
            argv[1] = cf->password;
            if (append(c, 2, argv, NULL) != 0)
                return reply_error(cf, c, "AUTH", NULL);
        }
        what[n++] = "AUTH";
    }
    if (cf->db != 0) {
        snprintf(dbbuf, sizeof dbbuf, "%d", cf->db);
        argv[0] = "SELECT";
        argv[1] = dbbuf;
        if (append(c, 2, argv, NULL) != 0)
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
        if (append(c, 3, argv, lens) != 0)
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

static int connect_fail(const pl_redis_conf *cf, int errnum, const char *why)
{
    char ep[300], buf[128];
    pl__redis_endpoint(cf, ep, sizeof ep);
    last_broke = 0;
    if (errnum == ENOMEM)
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM,
                        "out of memory connecting to Redis at %s", ep);
    if (!why || !*why)
        why = errnum == ETIMEDOUT ? "connection timed out"
                                  : pl__os_strerror(errnum, buf, sizeof buf);
    return pl__fail(PL_ERR_CONNECTION, errnum,
                    "cannot connect to Redis at %s: %s", ep, why);
}

/* The TLS settings loaded once per handle (dropped by a setter). */
int pl__redis_tls_ready(pl_redis_conf *cf, char *err, size_t size)
{
    pl__tls_conf tc;
    if (cf->tls_ctx)
        return 0;
    tc.ca_file = cf->tls_ca_file;
    tc.ca_dir = cf->tls_ca_dir;
    tc.cert_file = cf->tls_cert_file;
    tc.key_file = cf->tls_key_file;
    tc.server_name = cf->tls_server_name;
    tc.verify_peer = cf->tls_verify_peer;
    tc.check_hostname = cf->tls_check_hostname;
    return pl__tls_ctx_new(&tc, &cf->tls_ctx, err, size);
}

int pl__redis_connect_direct(pl_redis_conf *cf, const char *name,
                             pl_redis_conn **out)
{
    double deadline = deadline_of(cf->connect_timeout);
    pl_redis_conn *c;
    char detail[300];
    int rc, fd = -1;

    *out = NULL;
    detail[0] = '\0';
    if (cf->tls && (rc = pl__redis_tls_ready(cf, detail, sizeof detail)) != 0)
        return connect_fail(cf, rc, detail);
    if (cf->unix_path)
        rc = pl__os_net_connect_unix(cf->unix_path, cf->connect_timeout, &fd);
    else
        rc = pl__os_net_connect_tcp(cf->host, cf->port, cf->connect_timeout,
                                    &fd, detail, sizeof detail);
    if (rc)
        return connect_fail(cf, rc, detail);
    if (!(c = calloc(1, sizeof *c)) ||
        !(c->reader = redisReaderCreateWithFunctions(&bounded_fns))) {
        free(c);
        (void)pl__os_net_close(fd);
        return connect_fail(cf, ENOMEM, NULL);
    }
    /* The default functions, which the bounded ones call. */
    {
        redisReader *plain = redisReaderCreate();
        if (!plain) {
            redisReaderFree(c->reader);
            free(c);
            (void)pl__os_net_close(fd);
            return connect_fail(cf, ENOMEM, NULL);
        }
        c->reader->privdata = plain->fn;
        redisReaderFree(plain);
    }
    c->fd = fd;
    c->command_timeout = cf->command_timeout;
    c->used_at = pl__os_now();
    if (cf->tls) {
        rc = pl__tls_open(cf->tls_ctx, fd,
                          cf->unix_path ? "localhost" : cf->host, deadline,
                          &c->tls, detail, sizeof detail);
        if (rc) {
            pl__redis_close(&c);
            return connect_fail(cf, rc, detail);
        }
    }
    if ((rc = handshake(cf, c, name)) != PL_OK) {
        pl__redis_close(&c);
        return rc;
    }
    *out = c;
    return PL_OK;
}

void pl__redis_conf_tls_reset(pl_redis_conf *cf)
{
    pl__tls_ctx_free(cf->tls_ctx);
    cf->tls_ctx = NULL;
}
