/*
 * Redis Cluster mode (opt-in; README "Redis Cluster", the naming in
 * docs/redis-cluster-protocol.md). A lock lives on ONE shard: its channel
 * is "{<name>}" and every name derived from it (response channels, the
 * release notices, the fence key, the holder's connection name) starts
 * with it, so the hash tag puts them all in one slot. The lock speaks
 * sharded pub/sub there (SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB: the
 * count is exact on the node that serves the slot), and every connection
 * of the lock goes to that node, CLIENT LIST/KILL included.
 *
 * Routing: the seed nodes are asked CLUSTER KEYSLOT and CLUSTER SLOTS
 * once; the node found is kept until it stops answering or says MOVED.
 * MOVED re-routes (new acquisitions go to the new owner). During a
 * migration the old node serves the slot's pub/sub until the slot moves
 * (no ASK for those: a lock never has holders on two nodes); only the
 * fence key may be on the new node already, and its INCR follows ASK.
 * TRYAGAIN and CLUSTERDOWN cost the attempt only. A held lock whose slot moves gets SUNSUBSCRIBEd by
 * its node, and one whose node dies loses its connection: both are a
 * lost lock, never a re-subscription.
 */
#include "redis_lock_handle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pl__redis_cmd_subscribe(const pl_redis_conf *cf)
{
    return cf->cluster ? "SSUBSCRIBE" : "SUBSCRIBE";
}

const char *pl__redis_cmd_unsubscribe(const pl_redis_conf *cf)
{
    return cf->cluster ? "SUNSUBSCRIBE" : "UNSUBSCRIBE";
}

const char *pl__redis_cmd_publish(const pl_redis_conf *cf)
{
    return cf->cluster ? "SPUBLISH" : "PUBLISH";
}

const char *pl__redis_cmd_numsub(const pl_redis_conf *cf)
{
    return cf->cluster ? "SHARDNUMSUB" : "NUMSUB";
}

void pl__redis_cluster_free(pl_redis_conf *cf)
{
    free(cf->cluster_nodes);
    free(cf->cluster_host);
    free(cf->cluster_ask_host);
    cf->cluster_nodes = cf->cluster_host = cf->cluster_ask_host = NULL;
}

/* The next "host[:port]" of a node list (port 6379 when left out). */
static int next_node(const char **p, char *host, size_t size, int *port)
{
    const char *start = *p;
    int k = pl__redis_sentinel_next(p, host, size, port);
    if (k == 1) {
        const char *end = *p, *close = memchr(start, ']', (size_t)(end - start));
        const char *from = close ? close : start;
        if (!memchr(from, ':', (size_t)(end - from)))
            *port = 6379;
    }
    return k;
}

/* ---- the settings ---- */

/* Rebuild the wire names from the channel (wrapped in or out of its hash
   tag): the channel, the release notices, the fence key, the name of the
   holding connection. */
static int rename_wire(pl_redis_lock *l, int cluster)
{
    size_t n = l->channel_len;
    char *ch = cluster ? pl__concat("{", 1, l->channel, n)
                       : pl__concat(l->channel + 1, n - 2, "", 0);
    char *full, *notice, *fence, *name = NULL;
    size_t len = cluster ? n + 2 : n - 2;
    if (!ch || !(full = cluster ? pl__concat(ch, n + 1, "}", 1) : ch)) {
        free(ch);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    if (full != ch)
        free(ch);
    notice = pl__concat(full, len, PL_REDIS_NOTICE_SUFFIX,
                        sizeof PL_REDIS_NOTICE_SUFFIX - 1);
    fence = pl__concat(full, len, "-fence", 6);
    if (pl__redis_nameable(full, len)) {
        char suffix[8 + PL_REDIS_ID_LEN];
        int k = snprintf(suffix, sizeof suffix, "-lock-%s", l->id);
        name = pl__concat(full, len, suffix, (size_t)k);
    }
    if (!notice || !fence || (!name && pl__redis_nameable(full, len))) {
        free(full);
        free(notice);
        free(fence);
        free(name);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    free(l->channel);
    free(l->notice);
    free(l->fence_key);
    free(l->client_name);
    l->channel = full;
    l->channel_len = len;
    l->notice = notice;
    l->notice_len = len + sizeof PL_REDIS_NOTICE_SUFFIX - 1;
    l->fence_key = fence;
    l->fence_key_len = len + 6;
    l->client_name = name;
    l->conf.cluster_key = cluster ? full : NULL;
    l->conf.cluster_key_len = cluster ? len : 0;
    return PL_OK;
}

static void forget_route(pl_redis_conf *cf)
{
    free(cf->cluster_host);
    cf->cluster_host = NULL;
    cf->cluster_gen++;
}

void pl__redis_cluster_reroute(pl_redis_conf *cf)
{
    forget_route(cf);
}

int pl__redis_cluster_check(const pl_redis_lock *l, int on, const char *list)
{
    char host[256];
    const char *p = list ? list : "";
    int port, k, n = 0;
    /* the channel as the user named it (wrapped in cluster mode) */
    if (on && !l->conf.cluster && l->channel[0] == '}')
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock '%s': in cluster mode a name must not "
                        "start with '}' (its hash tag would be empty)",
                        l->display);
    while ((k = next_node(&p, host, sizeof host, &port)) == 1)
        n++;
    if (k < 0 || (list && *list && n == 0))
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis Cluster nodes \"%s\": expected host[:port] "
                        "separated by commas (IPv6 in brackets)", list);
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_set_cluster(pl_redis_lock *l, int on)
{
    int rc = pl__redis_setting_begin(l, "cluster mode");
    if (rc != PL_OK)
        return rc;
    on = on != 0;
    if ((rc = pl__redis_cluster_check(l, on, NULL)) != PL_OK)
        return rc;
    if (on != l->conf.cluster) {
        if ((rc = rename_wire(l, on)) != PL_OK)
            return rc;
        l->conf.cluster = on;
    }
    forget_route(&l->conf);
    pl__redis_setting_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_get_cluster(const pl_redis_lock *l, int *out)
{
    int rc = pl__redis_get_check(l, out);
    if (rc != PL_OK)
        return rc;
    *out = l->conf.cluster;
    return PL_OK;
}

PL_EXPORT pl_status pl_redis_lock_set_cluster_nodes(pl_redis_lock *l,
                                                    const char *list)
{
    char *copy = NULL;
    int rc = pl__redis_setting_begin(l, "cluster nodes");
    if (rc != PL_OK || (rc = pl__redis_cluster_check(l, 0, list)) != PL_OK)
        return rc;
    if (list && *list && !(copy = pl__strdup(list)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    free(l->conf.cluster_nodes);
    l->conf.cluster_nodes = copy;
    forget_route(&l->conf);
    pl__redis_setting_changed(l);
    return pl__ok();
}

PL_EXPORT pl_status pl_redis_lock_get_cluster_nodes(const pl_redis_lock *l,
                                                    const char **out)
{
    int rc = pl__redis_get_check(l, out);
    if (rc != PL_OK)
        return rc;
    *out = l->conf.cluster_nodes;
    return PL_OK;
}

/* ---- routing ---- */

/* A copy of cf aimed at host:port (no database, no Sentinel). */
static pl_redis_conf aimed(const pl_redis_conf *cf, const char *host, int port)
{
    pl_redis_conf s = *cf;
    s.host = (char *)host;
    s.port = port;
    s.unix_path = NULL;
    s.sentinel_service = s.sentinels = NULL;
    return s;
}

/* The master serving `slot` in a CLUSTER SLOTS reply. */
static int owner_in(const redisReply *r, long long slot, const char *seed,
                    char *host, size_t size, int *port)
{
    size_t i;
    if (r->type != REDIS_REPLY_ARRAY)
        return 0;
    for (i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *m;
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER ||
            slot < e->element[0]->integer || slot > e->element[1]->integer)
            continue;
        m = e->element[2];
        if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
            m->element[0]->type != REDIS_REPLY_STRING ||
            m->element[1]->type != REDIS_REPLY_INTEGER ||
            m->element[1]->integer < 1 || m->element[1]->integer > 65535 ||
            m->element[0]->len >= size)
            return 0;
        /* An empty address is the node we asked. */
        snprintf(host, size, "%s", m->element[0]->len ? m->element[0]->str : seed);
        *port = (int)m->element[1]->integer;
        return 1;
    }
    return 0;
}

/* Ask one seed: 1 with the owner of the key's slot, 0 with why. */
static int ask_seed(pl_redis_conf *cf, const char *seed, int sport, char *host,
                    size_t size, int *port, char *why, size_t why_size)
{
    pl_redis_conf s = aimed(cf, seed, sport);
    pl_redis_conn *c = NULL;
    redisReply *ks = NULL, *slots = NULL;
    const char *kargv[3] = {"CLUSTER", "KEYSLOT", cf->cluster_key};
    size_t klens[3] = {7, 7, cf->cluster_key_len};
    const char *sargv[2] = {"CLUSTER", "SLOTS"};
    int ok = 0;
    s.cluster_host = NULL;
    if (pl__redis_connect_direct(&s, NULL, &c) != PL_OK ||
        pl__redis_call(&s, c, "CLUSTER KEYSLOT", 3, kargv, klens, &ks) != PL_OK ||
        pl__redis_call(&s, c, "CLUSTER SLOTS", 2, sargv, NULL, &slots) != PL_OK) {
        snprintf(why, why_size, "%s", pl_last_error_message());
    } else if (ks->type != REDIS_REPLY_INTEGER) {
        snprintf(why, why_size, "%s:%d gave no slot", seed, sport);
    } else if (!owner_in(slots, ks->integer, seed, host, size, port)) {
        snprintf(why, why_size, "%s:%d: slot %lld is served by no node",
                 seed, sport, ks->integer);
        cf->cluster_slot = (int)ks->integer;
    } else {
        cf->cluster_slot = (int)ks->integer;
        ok = 1;
    }
    if (ks)
        freeReplyObject(ks);
    if (slots)
        freeReplyObject(slots);
    pl__redis_close(&c);
    return ok;
}

/* The owner of the lock's slot as the first answering seed says. */
static int resolve(pl_redis_conf *cf)
{
    char seeds[300], shost[256], host[256], why[1200];
    const char *p;
    int sport, port = 0, used = 0;
    if (cf->cluster_nodes)
        p = cf->cluster_nodes;
    else if (!cf->host)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis Cluster: no seed nodes (a unix socket cannot "
                        "be one: set cluster nodes or a host)");
    else {
        snprintf(seeds, sizeof seeds, strchr(cf->host, ':') ? "[%s]:%d" : "%s:%d",
                 cf->host, cf->port);
        p = seeds;
    }
    why[0] = '\0';
    while (next_node(&p, shost, sizeof shost, &sport) == 1) {
        char one[400];
        size_t len = strlen(why);
        if (ask_seed(cf, shost, sport, host, sizeof host, &port, one, sizeof one)) {
            char *copy = pl__strdup(host);
            if (!copy)
                return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
            free(cf->cluster_host);
            cf->cluster_host = copy;
            cf->cluster_port = port;
            cf->cluster_gen++;
            return PL_OK;
        }
        snprintf(why + len, sizeof why - len, "%s%s", used++ ? "; " : "", one);
    }
    return pl__fail(PL_ERR_CONNECTION, 0,
                    "no Redis Cluster node named the owner of the lock's "
                    "slot (%s)", why);
}

int pl__redis_cluster_connect(pl_redis_conf *cf, const char *name,
                              pl_redis_conn **out)
{
    char detail[300];
    int rc, tries;
    *out = NULL;
    if (cf->db != 0)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis Cluster has database 0 only (db %d asked for)",
                        cf->db);
    if (cf->sentinel_service)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "Redis lock: cluster mode and a Sentinel service "
                        "exclude each other");
    if (cf->tls && (rc = pl__redis_tls_ready(cf, detail, sizeof detail)) != 0)
        return pl__fail(rc == ENOMEM ? PL_ERR_NO_MEMORY : PL_ERR_CONNECTION, rc,
                        "cannot set up TLS for Redis Cluster: %s", detail);
    /* The node found last; once it fails, whoever the seeds name now. */
    for (tries = 0; tries < 2; tries++) {
        pl_redis_conf s;
        if (!cf->cluster_host && cf->cluster_frozen)
            return pl__fail(PL_ERR_CONNECTION, 0,
                            "Redis Cluster: the node of the lock's slot is "
                            "not known while the lock is held");
        if (!cf->cluster_host && (rc = resolve(cf)) != PL_OK)
            return rc;
        s = aimed(cf, cf->cluster_host, cf->cluster_port);
        s.host = s.cluster_host;
        s.port = s.cluster_port;
        if ((rc = pl__redis_connect_direct(&s, name, out)) == PL_OK) {
            (*out)->gen = cf->cluster_gen;
            return PL_OK;
        }
        if (rc == PL_ERR_NO_MEMORY || tries || cf->cluster_frozen)
            return rc;
        forget_route(cf);
    }
    return rc;
}

int pl__redis_cluster_current(const pl_redis_conf *cf, const pl_redis_conn *c)
{
    return !cf->cluster || (c && c->gen == cf->cluster_gen && cf->cluster_host);
}

static int starts(const redisReply *r, const char *word)
{
    size_t n = strlen(word);
    return r->len > n && memcmp(r->str, word, n) == 0 && r->str[n] == ' ';
}

int pl__redis_cluster_redirect(pl_redis_conf *cf, pl_redis_conn *c,
                               const redisReply *r)
{
    if (r->type != REDIS_REPLY_ERROR || !r->str)
        return 0;
    if ((starts(r, "MOVED") || starts(r, "ASK")) && cf->cluster_frozen) {
        c->err = PL_CONN_PROTOCOL; /* the route stays (see cluster_frozen) */
        snprintf(c->errstr, sizeof c->errstr, "%.*s", (int)r->len, r->str);
        return 1;
    }
    if (starts(r, "MOVED")) {
        /* "MOVED <slot> <host>:<port>" (an empty host: the same one) */
        const char *addr = strchr(r->str + 6, ' '), *colon;
        char *host;
        long port;
        if (!addr || !(colon = strrchr(addr + 1, ':')) ||
            (port = strtol(colon + 1, NULL, 10)) < 1 || port > 65535)
            return 0;
        host = colon > addr + 1
                   ? pl__concat(addr + 1, (size_t)(colon - addr - 1), "", 0)
                   : pl__strdup(cf->cluster_host ? cf->cluster_host : cf->host);
        if (!host)
            return 0;
        free(cf->cluster_host);
        cf->cluster_host = host;
        cf->cluster_port = (int)port;
        cf->cluster_slot = (int)strtol(r->str + 6, NULL, 10);
        cf->cluster_gen++;
        c->err = PL_CONN_PROTOCOL; /* on the wrong node: never used again */
        snprintf(c->errstr, sizeof c->errstr, "%.*s", (int)r->len, r->str);
        return 1;
    }
    if (starts(r, "ASK")) {
        /* "ASK <slot> <host>:<port>": kept for pl__redis_cluster_ask */
        const char *addr = strchr(r->str + 4, ' '), *colon;
        long port;
        free(cf->cluster_ask_host);
        cf->cluster_ask_host = NULL;
        if (addr && (colon = strrchr(addr + 1, ':')) &&
            (port = strtol(colon + 1, NULL, 10)) >= 1 && port <= 65535) {
            cf->cluster_ask_host =
                colon > addr + 1
                    ? pl__concat(addr + 1, (size_t)(colon - addr - 1), "", 0)
                    : pl__strdup(cf->cluster_host ? cf->cluster_host : cf->host);
            cf->cluster_ask_port = (int)port;
        }
        return 1;
    }
    return starts(r, "TRYAGAIN") || starts(r, "CLUSTERDOWN");
}

void pl__redis_cluster_forget_ask(pl_redis_conf *cf)
{
    free(cf->cluster_ask_host);
    cf->cluster_ask_host = NULL;
}

int pl__redis_cluster_ask(pl_redis_conf *cf, const char *what, int argc,
                          const char **argv, const size_t *lens,
                          redisReply **out)
{
    static const char *asking[1] = {"ASKING"};
    pl_redis_conf s;
    pl_redis_conn *c = NULL;
    char *host = cf->cluster_ask_host;
    int rc;
    *out = NULL;
    if (!host)
        return pl__fail(PL_ERR_CONNECTION, 0, "Redis Cluster: no ASK to follow");
    cf->cluster_ask_host = NULL;
    s = aimed(cf, host, cf->cluster_ask_port);
    s.cluster = 0; /* one node, one command: no redirect of the copy */
    if ((rc = pl__redis_connect_direct(&s, NULL, &c)) == PL_OK &&
        (rc = pl__redis_call(&s, c, "ASKING", 1, asking, NULL, NULL)) == PL_OK)
        rc = pl__redis_call(&s, c, what, argc, argv, lens, out);
    pl__redis_close(&c);
    free(host);
    return rc;
}
