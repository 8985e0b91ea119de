/* pl_redis_lock_set_url: a connection URL, as redis-py and the reference
   accept it, turned into calls of the public setters. Everything is parsed
   and checked before the first setter runs, so a bad URL leaves the handle
   as it was. */
#include "portalocker.h"
#include "internal.h"
#include "redis_lock_handle.h" /* pl__redis_cluster_check, the settings */
#include "tls.h"                /* pl__tls_unavailable */

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* pl__fail, with the code as the expression's value where the static
   analyzer can see it (pl__fail lives in another file, so it cannot tell
   that a failure path never returns PL_OK). */
#define URL_FAIL(code, errnum, ...) (pl__fail((code), (errnum), __VA_ARGS__), (code))

typedef struct url_parts {
    char *host;     /* TCP host (brackets of an IPv6 literal removed) */
    int port;
    char *socket;   /* unix socket path, NULL for TCP */
    int db;         /* -1: not given */
    char *username;
    char *password;
    double connect_timeout; /* 0: not given */
    double command_timeout;
    int tls;                /* rediss:// */
    int tls_option;         /* a TLS option was given (refused without TLS) */
    char *ca_file, *ca_dir, *cert_file, *key_file, *server_name;
    int verify_peer;        /* -1: not given */
    int check_hostname;     /* -1: not given */
    char *sentinels;        /* redis+sentinel://: the host list */
    char *service;          /* ... and the service name */
    char *cluster_nodes;    /* redis+cluster://: the seed nodes */
} url_parts;

static void parts_free(url_parts *p)
{
    free(p->host);
    free(p->socket);
    free(p->username);
    free(p->password);
    free(p->ca_file);
    free(p->ca_dir);
    free(p->cert_file);
    free(p->key_file);
    free(p->server_name);
    free(p->sentinels);
    free(p->service);
    free(p->cluster_nodes);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A percent-decoded copy of s[0..len) in *out. A NUL byte cannot reach the
   setters (C strings), so %00 is refused rather than silently cutting. */
static int decode(const char *s, size_t len, const char *what, char **out)
{
    char *d = malloc(len + 1);
    size_t i, n = 0;
    if (!d)
        return URL_FAIL(PL_ERR_NO_MEMORY, ENOMEM, "redis URL: out of memory");
    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (len - i < 3) {
                free(d);
                return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                                "redis URL: truncated %%-escape in the %s", what);
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(d);
                return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                                "redis URL: bad %%-escape \"%.3s\" in the %s",
                                s + i, what);
            }
            if (hi == 0 && lo == 0) {
                free(d);
                return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                                "redis URL: %%00 (a NUL byte) in the %s", what);
            }
            d[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[n++] = s[i];
        }
    }
    d[n] = '\0';
    *out = d;
    return PL_OK;
}

/* A decimal in [lo, hi], all of s[0..len). */
static int parse_int(const char *s, size_t len, long lo, long hi,
                     const char *what, int *out)
{
    long v = 0;
    size_t i;
    if (len == 0)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: empty %s", what);
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: %s \"%.*s\" is not a number", what,
                            (int)len, s);
        v = v * 10 + (s[i] - '0');
        if (v > hi)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: %s \"%.*s\" is out of range (%ld to %ld)",
                            what, (int)len, s, lo, hi);
    }
    if (v < lo)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: %s \"%.*s\" is out of range (%ld to %ld)",
                        what, (int)len, s, lo, hi);
    *out = (int)v;
    return PL_OK;
}

static int parse_seconds(const char *s, const char *what, double *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v > 0) || isinf(v))
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: %s \"%s\" is not a positive number of seconds",
                        what, s);
    *out = v;
    return PL_OK;
}

/* ssl_cert_reqs: Python's ssl names (CERT_NONE...) or redis-py's. */
static int parse_cert_reqs(const char *v, int *out)
{
    if (strcmp(v, "none") == 0 || strcmp(v, "CERT_NONE") == 0)
        *out = 0;
    else if (strcmp(v, "required") == 0 || strcmp(v, "CERT_REQUIRED") == 0 ||
             strcmp(v, "optional") == 0 || strcmp(v, "CERT_OPTIONAL") == 0)
        *out = 1; /* a client always gets a certificate: optional = required */
    else
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: ssl_cert_reqs \"%s\" is not none, "
                        "optional or required", v);
    return PL_OK;
}

static int parse_bool(const char *v, const char *what, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 ||
        strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 ||
             strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: %s \"%s\" is not true or false", what, v);
    return PL_OK;
}

/* The TLS options; 1 when `name` is one (rc set), 0 when it is not. */
static int tls_option(url_parts *p, const char *name, char **value, int *rc)
{
    char **field = NULL;
    if (strcmp(name, "ssl_ca_certs") == 0)
        field = &p->ca_file;
    else if (strcmp(name, "ssl_ca_path") == 0)
        field = &p->ca_dir;
    else if (strcmp(name, "ssl_certfile") == 0)
        field = &p->cert_file;
    else if (strcmp(name, "ssl_keyfile") == 0)
        field = &p->key_file;
    else if (strcmp(name, "ssl_server_name") == 0)
        field = &p->server_name;
    else if (strcmp(name, "ssl_cert_reqs") == 0)
        *rc = parse_cert_reqs(*value, &p->verify_peer);
    else if (strcmp(name, "ssl_check_hostname") == 0)
        *rc = parse_bool(*value, name, &p->check_hostname);
    else
        return 0;
    if (field) {
        free(*field);
        *field = *value;
        *value = NULL;
        *rc = PL_OK;
    }
    p->tls_option = 1;
    return 1;
}

/* name=value&...: the options redis-py's from_url knows that map onto this
   library's settings; anything else is refused by name, because a silently
   ignored option (a typo in "password") would connect differently than
   the user wrote. */
static int parse_query(const char *q, url_parts *p)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        char *name = NULL, *value = NULL;
        int rc;
        if (len == 0) {
            q += 1;
            continue;
        }
        if (!eq)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: option \"%.*s\" has no value (name=value)",
                            (int)len, q);
        if ((rc = decode(q, (size_t)(eq - q), "option name", &name)) != PL_OK)
            return rc;
        if ((rc = decode(eq + 1, len - (size_t)(eq + 1 - q), name, &value)) != PL_OK) {
            free(name);
            return rc;
        }
        if (strcmp(name, "db") == 0) {
            rc = parse_int(value, strlen(value), 0, INT_MAX, "db", &p->db);
        } else if (strcmp(name, "password") == 0) {
            free(p->password);
            p->password = value;
            value = NULL;
        } else if (strcmp(name, "username") == 0) {
            free(p->username);
            p->username = value;
            value = NULL;
        } else if (strcmp(name, "socket_timeout") == 0) {
            rc = parse_seconds(value, name, &p->command_timeout);
        } else if (strcmp(name, "socket_connect_timeout") == 0) {
            rc = parse_seconds(value, name, &p->connect_timeout);
        } else if (tls_option(p, name, &value, &rc)) {
            /* rc set */
        } else {
            rc = pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                          "redis URL: unknown option \"%s\" (known: db, "
                          "username, password, socket_timeout, "
                          "socket_connect_timeout; with rediss://: "
                          "ssl_ca_certs, ssl_ca_path, ssl_certfile, "
                          "ssl_keyfile, ssl_cert_reqs, ssl_check_hostname, "
                          "ssl_server_name)", name);
        }
        free(name);
        free(value);
        if (rc != PL_OK)
            return rc;
        q += len + (amp ? 1 : 0);
    }
    return PL_OK;
}

/* [[user]:password@] at the start of a[0..len): *at is its '@' or NULL. */
static int parse_userinfo(const char *a, size_t len, url_parts *p,
                          const char **at)
{
    const char *c;
    size_t i;
    int rc;
    *at = NULL;
    for (i = 0; i < len; i++)
        if (a[i] == '@')
            *at = a + i; /* the last '@': a password may contain raw '@' */
    if (!*at)
        return PL_OK;
    c = memchr(a, ':', (size_t)(*at - a));
    if (!c)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: \"%.*s@\" has no password "
                        "(write user:password@ or :password@)",
                        (int)(*at - a), a);
    if (c > a && (rc = decode(a, (size_t)(c - a), "username", &p->username)) != PL_OK)
        return rc;
    return decode(c + 1, (size_t)(*at - c - 1), "password", &p->password);
}

/* The front of the host-list forms (redis+sentinel://, redis+cluster://):
   [[user]:password@]host[:port][,host[:port]...] up to the first '/' or
   '?', the list decoded into *hosts_out; *after: what follows it.
   `what` and `example` name the list in the message for an empty one. */
static int parse_host_list(const char *rest, url_parts *p, const char *what,
                           const char *example, char **hosts_out,
                           const char **after)
{
    size_t alen = strcspn(rest, "/?");
    const char *at, *hosts;
    int rc;
    if ((rc = parse_userinfo(rest, alen, p, &at)) != PL_OK)
        return rc;
    hosts = at ? at + 1 : rest;
    if (hosts == rest + alen)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0, "redis URL: no %s (%s)",
                        what, example);
    *after = rest + alen;
    return decode(hosts, (size_t)(rest + alen - hosts), what, hosts_out);
}

/* An optional "/db" at path (before the query q, or the end), at most
   max; `what` names it in the message. */
static int parse_db_segment(const char *path, const char *q, int max,
                            const char *what, url_parts *p)
{
    size_t plen;
    if (*path != '/')
        return PL_OK;
    plen = q ? (size_t)(q - path - 1) : strlen(path + 1);
    return plen > 0 ? parse_int(path + 1, plen, 0, max, what, &p->db) : PL_OK;
}

/* redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]
   (rest: after the scheme). */
static int parse_sentinel(const char *rest, url_parts *p)
{
    size_t slen;
    const char *q, *svc;
    int rc;
    if ((rc = parse_host_list(rest, p, "sentinels",
                              "redis+sentinel://host:26379,host2:26379/service",
                              &p->sentinels, &rest)) != PL_OK)
        return rc;
    q = strchr(rest, '?');
    svc = *rest == '/' ? rest + 1 : rest;
    slen = strcspn(svc, "/?");
    if (slen == 0)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL: no Sentinel service name "
                        "(redis+sentinel://host:26379/service[/db])");
    if ((rc = decode(svc, slen, "service", &p->service)) != PL_OK ||
        (rc = parse_db_segment(svc + slen, q, INT_MAX, "db", p)) != PL_OK)
        return rc;
    return q ? parse_query(q + 1, p) : PL_OK;
}

/* redis+cluster://[[user]:password@]host[:port][,host[:port]...][/0][?options]
   (rest: after the scheme): the seed nodes, in the redis+sentinel://
   form; a cluster has database 0 only. */
static int parse_cluster(const char *rest, url_parts *p)
{
    const char *q;
    int rc;
    if ((rc = parse_host_list(rest, p, "cluster nodes",
                              "redis+cluster://host:7000,host2:7001",
                              &p->cluster_nodes, &rest)) != PL_OK)
        return rc;
    q = strchr(rest, '?');
    if ((rc = parse_db_segment(rest, q, 0, "db (a cluster has db 0 only)", p)) != PL_OK)
        return rc;
    return q ? parse_query(q + 1, p) : PL_OK;
}

/* [[user]:password@]host[:port] */
static int parse_authority(const char *a, size_t len, url_parts *p)
{
    const char *at = NULL, *h, *end = a + len, *colon;
    int rc;
    if ((rc = parse_userinfo(a, len, p, &at)) != PL_OK)
        return rc;
    h = at ? at + 1 : a;
    if (h < end && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: IPv6 address \"%.*s\" has no closing ']'",
                            (int)(end - h), h);
        if (close == h + 1)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: empty IPv6 address \"[]\"");
        if ((rc = decode(h + 1, (size_t)(close - h - 1), "host", &p->host)) != PL_OK)
            return rc;
        colon = close + 1;
        if (colon < end && *colon != ':')
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL: unexpected \"%.*s\" after the IPv6 address",
                            (int)(end - colon), colon);
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (!colon)
            colon = end;
        if (colon > h) {
            if ((rc = decode(h, (size_t)(colon - h), "host", &p->host)) != PL_OK)
                return rc;
        }
    }
    if (colon < end) {
        if ((rc = parse_int(colon + 1, (size_t)(end - colon - 1), 1, 65535,
                            "port", &p->port)) != PL_OK)
            return rc;
    }
    return PL_OK;
}

static int parse_url(const char *url, url_parts *p)
{
    const char *rest, *q;
    int rc;
    if (strncmp(url, "redis+sentinel://", 17) == 0)
        return parse_sentinel(url + 17, p);
    if (strncmp(url, "rediss+sentinel://", 18) == 0) {
        p->tls = 1;
        return parse_sentinel(url + 18, p);
    }
    if (strncmp(url, "redis+cluster://", 16) == 0)
        return parse_cluster(url + 16, p);
    if (strncmp(url, "rediss+cluster://", 17) == 0) {
        p->tls = 1;
        return parse_cluster(url + 17, p);
    }
    if (strncmp(url, "redis-sentinel://", 17) == 0 ||
        strncmp(url, "sentinel://", 11) == 0)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL \"%s\": write Sentinel URLs as "
                        "redis+sentinel://host:26379,host2:26379/service[/db]",
                        url);
    if (strncmp(url, "unix://", 7) == 0) {
        rest = url + 7;
        q = strchr(rest, '?');
        if (*rest != '/')
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL \"%s\": the socket path must be absolute "
                            "(unix:///path/to/redis.sock)", url);
        if ((rc = decode(rest, q ? (size_t)(q - rest) : strlen(rest),
                         "socket path", &p->socket)) != PL_OK)
            return rc;
        if (strcmp(p->socket, "/") == 0)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL \"%s\": no socket path", url);
        return q ? parse_query(q + 1, p) : PL_OK;
    }
    if (strncmp(url, "rediss://", 9) == 0)
        p->tls = 1;
    else if (strncmp(url, "redis://", 8) != 0) {
        const char *sep = strstr(url, "://");
        if (sep)
            return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                            "redis URL \"%s\": unknown scheme \"%.*s://\" "
                            "(redis://, rediss://, redis+sentinel://, redis+cluster:// or unix://)", url, (int)(sep - url), url);
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0,
                        "redis URL \"%s\": no scheme (redis://host:port/db or "
                        "unix:///path)", url);
    }
    rest = url + (p->tls ? 9 : 8);
    {
        size_t alen = strcspn(rest, "/?");
        if ((rc = parse_authority(rest, alen, p)) != PL_OK)
            return rc;
        rest += alen;
    }
    q = strchr(rest, '?');
    if (*rest == '/') {
        size_t plen = q ? (size_t)(q - rest - 1) : strlen(rest + 1);
        if (plen > 0 &&
            (rc = parse_int(rest + 1, plen, 0, INT_MAX, "db", &p->db)) != PL_OK)
            return rc;
    }
    return q ? parse_query(q + 1, p) : PL_OK;
}

/* The parts through the public setters, each checking its own value.
   The URL says everything about the connection: what it leaves out is
   the default, not whatever the handle had before. A setter that still
   refuses (a value only it checks, or no memory) puts back every setting
   as it was: a refused URL changes nothing. Cluster mode goes last (it
   renames the lock's keys): everything before it can be put back without
   allocating. */
static int apply(pl_redis_lock *lock, const url_parts *p)
{
    pl_redis_conf saved;
    int rc = pl__redis_settings_save(lock, &saved);
    if (rc != PL_OK)
        return rc;
    rc = pl_redis_lock_set_sentinels(lock, p->sentinels);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_sentinel_service(lock, p->service);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_cluster_nodes(lock, p->cluster_nodes);
    if (rc == PL_OK) {
        if (p->socket)
            rc = pl_redis_lock_set_unix_socket(lock, p->socket);
        else /* also leaves any unix socket set before */
            rc = pl_redis_lock_set_host(lock, p->host ? p->host : "127.0.0.1",
                                        p->port);
    }
    if (rc == PL_OK)
        rc = pl_redis_lock_set_db(lock, p->db < 0 ? 0 : p->db);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_password(lock, p->username, p->password);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls(lock, p->tls);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_ca_file(lock, p->ca_file);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_ca_dir(lock, p->ca_dir);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_cert_file(lock, p->cert_file);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_key_file(lock, p->key_file);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_server_name(lock, p->server_name);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_verify_peer(lock, p->verify_peer != 0);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_tls_check_hostname(lock, p->check_hostname != 0);
    if (rc == PL_OK && p->connect_timeout > 0)
        rc = pl_redis_lock_set_connect_timeout(lock, p->connect_timeout);
    if (rc == PL_OK && p->command_timeout > 0)
        rc = pl_redis_lock_set_command_timeout(lock, p->command_timeout);
    if (rc == PL_OK)
        rc = pl_redis_lock_set_cluster(lock, p->cluster_nodes != NULL);
    if (rc != PL_OK) {
        /* The refusal's message stays the last error. */
        pl__redis_settings_restore(lock, &saved);
    }
    pl__redis_settings_discard(&saved);
    return rc;
}

PL_EXPORT pl_status pl_redis_lock_set_url(pl_redis_lock *lock, const char *url)
{
    url_parts p;
    int rc;
    if (!lock)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0, "lock is NULL");
    if (!url)
        return URL_FAIL(PL_ERR_INVALID_ARGUMENT, 0, "url is NULL");
    memset(&p, 0, sizeof p);
    p.port = 6379;
    p.db = -1;
    p.verify_peer = -1;
    p.check_hostname = -1;
    rc = parse_url(url, &p);
    if (rc == PL_OK && p.tls_option && !p.tls)
        rc = pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                      "redis URL: ssl_* options need TLS (rediss://host...)");
    if (rc == PL_OK && p.username && !p.password)
        rc = pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                      "redis URL: username \"%s\" without a password", p.username);
    /* What this build refuses outright (Windows: TLS, unix sockets), by
       name, before anything else is looked at. */
    if (rc == PL_OK && p.tls && pl__tls_unavailable())
        rc = pl__fail(PL_ERR_UNSUPPORTED, 0, "Redis over TLS (a rediss:// URL): %s",
                      pl__tls_unavailable());
    if (rc == PL_OK && p.socket)
        rc = pl__redis_unix_socket_supported();
    /* What the cluster settings would refuse (a node list, a name with
       no hash tag), before anything changed. */
    if (rc == PL_OK)
        rc = pl__redis_cluster_check(lock, p.cluster_nodes != NULL, p.cluster_nodes);
    if (rc == PL_OK)
        rc = pl__redis_setting_begin(lock, "connection URL");
    if (rc == PL_OK)
        rc = apply(lock, &p);
    parts_free(&p);
    return rc == PL_OK ? pl__ok() : rc;
}
