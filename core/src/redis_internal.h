/*
 * Private declarations of the Redis lock's wire protocol
 * (redis_protocol.c: JSON records, CLIENT LIST parsing) and its connection
 * helpers (redis_conn.c). The handle itself is in redis_lock_handle.h.
 * Not part of the ABI.
 */
#ifndef PL_REDIS_INTERNAL_H
#define PL_REDIS_INTERNAL_H

#include "internal.h"

#include <hiredis/hiredis.h>
#include <stddef.h>

/* ---- protocol (redis-lock-protocol.md, version 1) ---- */

#define PL_REDIS_PROTOCOL 1
#define PL_REDIS_ID_LEN 32 /* lowercase hex characters, like uuid4().hex */

enum pl_redis_mode {
    PL_RMODE_SHARED = 0,
    PL_RMODE_PENDING = 1,
    PL_RMODE_EXCLUSIVE = 2
};

/* The wire name of a mode ("shared", "pending", "exclusive"). */
const char *pl__redis_mode_name(int mode);

/* 32 random lowercase hex characters and a NUL. */
void pl__redis_new_id(char out[PL_REDIS_ID_LEN + 1]);

/* Messages published on the lock channel are untrusted. Returns 1 and a
   malloc'ed copy of the response channel (not NUL-free: use *len) when the
   payload is a ping (a JSON object with a non-empty string
   response_channel), 0 when it is anything else, PL_ERR_NO_MEMORY. */
#define PL_REDIS_MAX_PING 65536 /* larger payloads are never pings */
int pl__redis_parse_ping(const char *payload, size_t len, char **resp,
                         size_t *resp_len);

/* The ping {"message": "ping", "response_channel": resp} (resp must be a
   NUL-terminated string) and the answer record {"holder_id", "mode",
   "protocol": 1, "elected": bool}; malloc'ed, NULL when out of memory. */
char *pl__redis_build_ping(const char *resp);
char *pl__redis_build_answer(const char *holder_id, int mode, int elected);

/* One answer to a probe. A payload that is not a valid protocol-1 record
   is a legacy holder: mode exclusive, id "legacy-<legacy_index>". */
typedef struct pl_redis_holder {
    char *id; /* malloc'ed */
    int mode;
    int legacy;
    int elected; /* 1, 0, or -1: no boolean `elected` (before 4.2) */
} pl_redis_holder;
int pl__redis_parse_answer(const char *payload, size_t len, int legacy_index,
                           pl_redis_holder *out);

/* Parse an answer (legacy index *nlegacy) and add it to the set v[0..*n)
   (capacity *cap, grown as needed): a later record of the same id
   replaces the earlier one, each legacy answer is a holder of its own.
   PL_OK or PL_ERR_NO_MEMORY (the set unchanged). */
int pl__redis_holders_add(pl_redis_holder **v, size_t *n, size_t *cap,
                          int *nlegacy, const char *payload, size_t len);

/* Reaping: the CLIENT LIST ids of the connections named "<C>-lock-<id>"
   (id: 32 lowercase hex) whose id is not in `answered`, and of "<C>-lock"
   when no legacy holder answered. *ids is malloc'ed (free it), *n its
   length. */
int pl__redis_reap_targets(const char *client_list, size_t list_len,
                           const char *channel, size_t channel_len,
                           const pl_redis_holder *answered, size_t nanswered,
                           long long **ids, size_t *n);

/* Whether Redis accepts `<channel>-lock-<id>` as a connection name (only
   the printable ASCII characters '!'..'~'). */
int pl__redis_nameable(const char *channel, size_t len);
/* Whether the bytes are UTF-8 without NUL (can travel in a JSON string). */
int pl__redis_json_safe(const char *s, size_t len);

/* ---- connections ---- */

struct pl__tls_ctx;
struct pl__tls;

typedef struct pl_redis_conf {
    char *host; /* NULL with a unix socket */
    int port;
    char *unix_path;
    int db;
    char *username;
    char *password;
    double connect_timeout;
    double command_timeout;
    /* TLS (tls.h): off by default; NULL strings are unset. */
    int tls;
    char *tls_ca_file;
    char *tls_ca_dir;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_server_name;
    int tls_verify_peer;
    int tls_check_hostname;
    /* Built at the first TLS connect, dropped by every setting above. */
    struct pl__tls_ctx *tls_ctx;
    /* Sentinel (redis_sentinel.c): the master of this service, asked of
       these sentinels ("host:port,..."), at every connect; host and port
       above are then the master last found. NULL: no Sentinel. */
    char *sentinel_service;
    char *sentinels;
    /* Cluster (redis_cluster.c): on, the seed nodes ("host:port,...";
       NULL: host and port above), and the node found serving the slot of
       cluster_key (the lock channel, not owned), NULL until asked.
       cluster_gen counts the times that node changed; every connection
       remembers the generation it was opened in. */
    int cluster;
    char *cluster_nodes;
    char *cluster_host;
    int cluster_port;
    int cluster_slot;
    const char *cluster_key;
    size_t cluster_key_len;
    unsigned cluster_gen;
    /* Set while a holder thread runs: nobody changes the route then (a
       MOVED only breaks its connection: the held lock is lost anyway). */
    int cluster_frozen;
    /* The node the last ASK named (NULL: none since). */
    char *cluster_ask_host;
    int cluster_ask_port;
} pl_redis_conf;

/* One connection: a socket (or TLS over it), hiredis's reply reader,
   and the commands queued for writing. */
enum { PL_CONN_IO = 1, PL_CONN_PROTOCOL, PL_CONN_OOM, PL_CONN_EOF };
typedef struct pl_redis_conn {
    int fd;
    struct pl__tls *tls; /* NULL: plain TCP or unix socket */
    redisReader *reader;
    char *obuf;
    size_t olen, opos, ocap;
    double command_timeout;
    int err;    /* 0, or PL_CONN_*: the connection is broken */
    int errnum; /* with PL_CONN_IO: the errno value (ETIMEDOUT: timeout) */
    unsigned gen; /* cf->cluster_gen when it was opened */
    /* pl__os_now() of the connect or the last command queued: how long
       the connection sat idle (an idle timeout of the server closes
       connections that sent nothing for a while: redis_acquire.c). */
    double used_at;
    char errstr[300];
} pl_redis_conn;

/* Forget the TLS settings loaded from files (after a setting changed). */
void pl__redis_conf_tls_reset(pl_redis_conf *cf);

/* "127.0.0.1:6379" or "unix:/path" for messages. */
void pl__redis_endpoint(const pl_redis_conf *cf, char *buf, size_t size);

/* Connect (close-on-exec, keep-alive, TLS when set, all within the
   connect timeout), AUTH, SELECT and
   CLIENT SETNAME when name is not NULL. PL_ERR_CONNECTION naming the
   endpoint on failure. */
int pl__redis_connect(pl_redis_conf *cf, const char *name,
                      pl_redis_conn **out);
/* The same to cf's host/port or socket, never asking a sentinel. */
int pl__redis_connect_direct(pl_redis_conf *cf, const char *name,
                             pl_redis_conn **out);
/* Load cf's TLS settings now (0, or an errno-style code and err). */
int pl__redis_tls_ready(pl_redis_conf *cf, char *err, size_t size);
/* The next "host[:port]" of a sentinel list (IPv6 in brackets; port
   default 26379), *p moved past it: 1, 0 at the end, -1 malformed. */
int pl__redis_sentinel_next(const char **p, char *host, size_t host_size,
                            int *port);

/* ---- Redis Cluster (redis_cluster.c) ---- */

/* The pub/sub commands of the mode: SUBSCRIBE, UNSUBSCRIBE, PUBLISH and
   NUMSUB, or their sharded forms (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH,
   SHARDNUMSUB) in cluster mode. Their pushes are matched by
   pl__redis_push, which takes "message" for "smessage" and so on. */
const char *pl__redis_cmd_subscribe(const pl_redis_conf *cf);
const char *pl__redis_cmd_unsubscribe(const pl_redis_conf *cf);
const char *pl__redis_cmd_publish(const pl_redis_conf *cf);
const char *pl__redis_cmd_numsub(const pl_redis_conf *cf);
/* Connect to the node serving the slot of cf->cluster_key: the one found
   last, else (or when it does not answer) the one the seed nodes name. */
int pl__redis_cluster_connect(pl_redis_conf *cf, const char *name,
                              pl_redis_conn **out);
/* An error reply in cluster mode: MOVED re-routes cf (its generation
   moves on) and breaks c; ASK, TRYAGAIN and CLUSTERDOWN say the slot is
   between nodes. 1 when it was one of those (then the error costs the
   attempt only), 0 for any other error. */
int pl__redis_cluster_redirect(pl_redis_conf *cf, pl_redis_conn *c,
                               const redisReply *r);
/* A key command (the fence key's INCR) that got ASK: ASKING and the
   command again on the node the ASK named, on a connection of its own.
   During a migration the lock's pub/sub stays on the old node until the
   slot moves (never ASK); only the key may be on the new one already. */
int pl__redis_cluster_ask(pl_redis_conf *cf, const char *what, int argc,
                          const char **argv, const size_t *lens,
                          redisReply **out);
/* Forget an ASK seen before (call before the command that may get one). */
void pl__redis_cluster_forget_ask(pl_redis_conf *cf);
/* Forget the node found: the next connection asks the seeds again (the
   open connections are then not current). */
void pl__redis_cluster_reroute(pl_redis_conf *cf);
/* Whether c was opened on the node cf routes to now. */
int pl__redis_cluster_current(const pl_redis_conf *cf, const pl_redis_conn *c);

/* Replies are bounded: an array of more elements or a reply of more
   bytes than these breaks the connection (a broken or hostile server
   cannot exhaust memory or CPU). The largest legitimate reply is CLIENT
   LIST, about 300 bytes per client. */
#define PL_REDIS_MAX_ELEMENTS ((size_t)4096)
#define PL_REDIS_MAX_REPLY ((size_t)16 * 1024 * 1024)

/* redisGetReply with the bounds above (blocking, command timeout). */
int pl__redis_get_reply(pl_redis_conn *c, void **out);

/* 1 when this thread's last PL_ERR_CONNECTION from the calls here was a
   command timing out on an established connection (a server pause:
   transient, it costs an attempt), 0 for anything else (refused, reset,
   error reply: the acquire ends). */
int pl__redis_broke(void);

/* Close, free and NULL the pointer (nothing when it is NULL already). */
void pl__redis_close(pl_redis_conn **c);

/* One command, its reply in *out (may be NULL to discard). A lost
   connection or an error reply is PL_ERR_CONNECTION; the message names
   the endpoint and `what`. */
int pl__redis_call(const pl_redis_conf *cf, pl_redis_conn *c, const char *what,
                   int argc, const char **argv, const size_t *lens,
                   redisReply **out);

/* Queue a command and write it out without waiting for the reply. */
int pl__redis_send(const pl_redis_conf *cf, pl_redis_conn *c, const char *what,
                   int argc, const char **argv, const size_t *lens);

/* A complete reply already read: 1 (in *out), 0 (none), -1 (broken). */
int pl__redis_buffered(pl_redis_conn *c, redisReply **out);
/* Read what the socket holds (call when poll(2) said it is readable):
   0, or -1 when the connection broke or closed. */
int pl__redis_fill(pl_redis_conn *c);

/* A pub/sub push ["message"|"subscribe"|..., channel, payload|count]:
   the kind and the channel (and payload for a message), else 0. */
int pl__redis_push(const redisReply *r, const char *kind,
                   const redisReply **channel, const redisReply **payload);

#endif
