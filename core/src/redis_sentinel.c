/*
 * Redis Sentinel: every connection the lock opens first asks the
 * sentinels, in the order given, for the master of the service
 * (SENTINEL get-master-addr-by-name), connects there and checks with ROLE
 * that it is the master (a sentinel may answer with the old master during
 * a failover: then it asks again, until the connect timeout). So new
 * acquisitions follow a failover. A lock held across a failover is lost:
 * Sentinel kills the demoted master's pub/sub clients, the subscription
 * dies and the holder reports it (never a silent re-subscription).
 * Sentinels get no AUTH and no SELECT; TLS settings apply to them too.
 */
#include "redis_internal.h"
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl__redis_sentinel_next(const char **p, char *host, size_t host_size,
                            int *port)
{
    const char *s = *p, *end, *h, *hend, *colon = NULL;
    size_t n;
    while (*s == ',' || *s == ' ')
        s++;
    if (!*s)
        return 0;
    end = s + strcspn(s, ",");
    h = s;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));
        if (!close || close == s + 1)
            return -1;
        h = s + 1;
        hend = close;
        if (close + 1 < end) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', (size_t)(end - s));
        hend = colon ? colon : end;
    }
    n = (size_t)(hend - h);
    if (n == 0 || n >= host_size)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = 26379;
    if (colon) {
        long v = 0;
        const char *d = colon + 1;
        if (d == end)
            return -1;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9' || (v = v * 10 + (*d - '0')) > 65535)
                return -1;
        }
        if (v < 1)
            return -1;
        *port = (int)v;
    }
    *p = end;
    return 1;
}

/* A decimal port 1-65535, else 0. */
static int port_of(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && *end == '\0' && v >= 1 && v <= 65535 ? (int)v : 0;
}

/* Ask one sentinel: 1 with the master in host/port, 0 with why in
   `why` (no answer, an unknown service). */
static int ask(pl_redis_conf *cf, const char *shost, int sport, char *host,
               size_t host_size, int *port, char *why, size_t why_size)
{
    pl_redis_conf s = *cf;
    pl_redis_conn *c = NULL;
    redisReply *r = NULL;
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name",
                           cf->sentinel_service};
    int ok = 0;
    s.host = (char *)shost;
    s.port = sport;
    s.unix_path = NULL;
    s.username = s.password = NULL;
    s.db = 0;
    s.sentinel_service = s.sentinels = NULL;
    if (pl__redis_connect_direct(&s, NULL, &c) != PL_OK ||
        pl__redis_call(&s, c, "SENTINEL get-master-addr-by-name", 3, argv,
                       NULL, &r) != PL_OK) {
        snprintf(why, why_size, "%s", pl_last_error_message());
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
               r->element[0]->type != REDIS_REPLY_STRING ||
               r->element[1]->type != REDIS_REPLY_STRING) {
        snprintf(why, why_size, "sentinel %s:%d does not know service '%s'",
                 shost, sport, cf->sentinel_service);
    } else if (r->element[0]->len >= host_size ||
               (*port = port_of(r->element[1]->str)) < 1) {
        snprintf(why, why_size, "sentinel %s:%d gave a bad address", shost, sport);
    } else {
        memcpy(host, r->element[0]->str, r->element[0]->len);
        host[r->element[0]->len] = '\0';
        ok = 1;
    }
    if (r)
        freeReplyObject(r);
    pl__redis_close(&c);
    return ok;
}

/* The master the first answering sentinel names, into cf->host/port. */
static int resolve(pl_redis_conf *cf, char *why, size_t why_size)
{
    const char *p = cf->sentinels ? cf->sentinels : "";
    char shost[256], host[256];
    int sport, port = 0, k, used = 0;
    why[0] = '\0';
    while ((k = pl__redis_sentinel_next(&p, shost, sizeof shost, &sport)) == 1) {
        char one[400];
        size_t len = strlen(why);
        if (ask(cf, shost, sport, host, sizeof host, &port, one, sizeof one)) {
            char *copy = pl__strdup(host);
            if (!copy)
                return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
            free(cf->host);
            cf->host = copy;
            cf->port = port;
            return PL_OK;
        }
        snprintf(why + len, why_size - len, "%s%s", used++ ? "; " : "", one);
    }
    if (k < 0 || !used)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis Sentinel: bad sentinel list \"%s\"",
                        cf->sentinels ? cf->sentinels : "");
    return pl__fail(PL_ERR_CONNECTION, 0,
                    "no sentinel gave the master of Redis Sentinel service "
                    "'%s' (%s)", cf->sentinel_service, why);
}

/* 1 when ROLE says master. */
static int is_master(pl_redis_conf *cf, pl_redis_conn *c)
{
    const char *argv[1] = {"ROLE"};
    redisReply *r = NULL;
    int yes;
    if (pl__redis_call(cf, c, "ROLE", 1, argv, NULL, &r) != PL_OK)
        return 0;
    yes = r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
          r->element[0]->type == REDIS_REPLY_STRING &&
          strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return yes;
}

int pl__redis_connect(pl_redis_conf *cf, const char *name, pl_redis_conn **out)
{
    double deadline;
    char why[1200], detail[300];
    int rc;
    if (cf->cluster)
        return pl__redis_cluster_connect(cf, name, out);
    if (!cf->sentinel_service)
        return pl__redis_connect_direct(cf, name, out);
    *out = NULL;
    if (cf->tls && (rc = pl__redis_tls_ready(cf, detail, sizeof detail)) != 0)
        return pl__fail(rc == ENOMEM ? PL_ERR_NO_MEMORY : PL_ERR_CONNECTION, rc,
                        "cannot set up TLS for Redis Sentinel service '%s': %s",
                        cf->sentinel_service, detail);
    deadline = pl__os_now() + (cf->connect_timeout > 0 ? cf->connect_timeout : 1e9);
    for (;;) {
        pl_redis_conn *c = NULL;
        char ep[400];
        if ((rc = resolve(cf, why, sizeof why)) != PL_OK)
            return rc;
        if ((rc = pl__redis_connect_direct(cf, name, &c)) == PL_OK &&
            is_master(cf, c)) {
            *out = c;
            return PL_OK;
        }
        pl__redis_close(&c);
        if (rc == PL_ERR_NO_MEMORY)
            return rc;
        /* A failover in progress: the sentinels will agree shortly. */
        if (pl__os_now() + 0.1 >= deadline) {
            int e = rc == PL_OK ? 0 : pl_last_errno();
            snprintf(why, sizeof why, "%s",
                     rc == PL_OK ? "not the master (ROLE): a failover in progress?"
                                 : pl_last_error_message());
            pl__redis_endpoint(cf, ep, sizeof ep);
            return pl__fail(PL_ERR_CONNECTION, e, "Redis at %s: %s", ep, why);
        }
        pl__os_sleep(0.1);
    }
}
