/*
 * TLS for the Redis lock's connections (tls_openssl.c): OpenSSL over the
 * platform's sockets (platform.h pl__os_net_*: OpenSSL itself makes no OS
 * call, so a Winsock port needs nothing here). Not part of the ABI.
 */
#ifndef PL_TLS_H
#define PL_TLS_H

#include <stddef.h>

/* What a TLS connection checks and presents (strings may be NULL). */
typedef struct pl__tls_conf {
    const char *ca_file;     /* PEM bundle; NULL with ca_dir NULL: system store */
    const char *ca_dir;      /* directory of hashed certificates (c_rehash) */
    const char *cert_file;   /* client certificate chain (PEM), or NULL */
    const char *key_file;    /* its private key (PEM; NULL: in cert_file) */
    const char *server_name; /* SNI and the name checked; NULL: the host */
    int verify_peer;         /* 0: any certificate is accepted */
    int check_hostname;      /* with verify_peer: the name must match */
} pl__tls_conf;

/* Settings loaded once (CA store, client certificate) and the session of
   the last connection, resumed by the next (a handshake without
   certificate checks: the lock opens a connection per acquire). */
typedef struct pl__tls_ctx pl__tls_ctx;
/* 0, or an errno-style code with a message in err (a file that cannot
   be read, a key that does not match its certificate). */
int pl__tls_ctx_new(const pl__tls_conf *conf, pl__tls_ctx **out, char *err,
                    size_t err_size);
void pl__tls_ctx_free(pl__tls_ctx *ctx);

typedef struct pl__tls pl__tls;
/* The handshake on a connected non-blocking socket, bounded by deadline
   (pl__os_now() seconds): 0, ETIMEDOUT, or EPROTO/ECONNRESET/... with
   the cause in err ("certificate verify failed: hostname mismatch"). */
int pl__tls_open(pl__tls_ctx *ctx, int fd, const char *host, double deadline,
                 pl__tls **out, char *err, size_t err_size);
/* One read / write: 0 with *n bytes (read: 0 bytes = the peer closed),
   EAGAIN when the socket must first become readable (*want_write 0) or
   writable (1), or an error code with pl__tls_error's message. */
int pl__tls_read(pl__tls *t, void *buf, size_t len, size_t *n,
                 int *want_write);
int pl__tls_write(pl__tls *t, const void *buf, size_t len, size_t *n,
                  int *want_write);
/* Whether bytes already read from the socket wait inside (decrypted or
   read ahead: poll(2) on the socket cannot see them, read them before
   waiting). */
int pl__tls_pending(const pl__tls *t);
const char *pl__tls_error(const pl__tls *t);
/* NULL where TLS works, else why this build has none (set_tls(1) is
   then PL_ERR_UNSUPPORTED with that message). */
const char *pl__tls_unavailable(void);

/* Free without a close_notify (no traffic: a forked child drops its
   parent's connections this way too). Does not close the socket. */
void pl__tls_free(pl__tls *t);

#endif
