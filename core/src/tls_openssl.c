/* TLS with OpenSSL (tls.h). OpenSSL reads and writes through a BIO of our
   own whose only calls are platform.h's pl__os_net_send/recv, so the
   sockets, their non-blocking mode, SIGPIPE and a future Winsock port are
   the platform's business, and fault injection on those functions
   reaches TLS connections too. */
#include "tls.h"
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct pl__tls_ctx {
    SSL_CTX *ssl;
    BIO_METHOD *bio;
    int check_hostname;
    char *server_name;
    pl__os_mutex mu;       /* guards the saved session (any thread reads) */
    SSL_SESSION *session;  /* the last one the server gave, or NULL */
    char *session_host;    /* the name it was made for */
};

struct pl__tls {
    SSL *ssl;
    int fd;
    int os_err; /* the last socket error seen by the BIO */
    char *name; /* the server name: the saved session's key */
    char err[256];
};

static int ex_index = -1;
static pl__os_once_t ex_once = PL__OS_ONCE_INIT;

static void ex_init(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* ---- the BIO: the platform's sockets ---- */

static int bio_write(BIO *b, const char *buf, int len)
{
    pl__tls *t = BIO_get_data(b);
    size_t n = 0;
    int rc = pl__os_net_send(t->fd, buf, (size_t)len, &n);
    BIO_clear_retry_flags(b);
    if (rc == EAGAIN) {
        BIO_set_retry_write(b);
        return -1;
    }
    if (rc) {
        t->os_err = rc;
        return -1;
    }
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    pl__tls *t = BIO_get_data(b);
    size_t n = 0;
    int rc = pl__os_net_recv(t->fd, buf, (size_t)len, &n);
    BIO_clear_retry_flags(b);
    if (rc == EAGAIN) {
        BIO_set_retry_read(b);
        return -1;
    }
    if (rc) {
        t->os_err = rc;
        return -1;
    }
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- the context ---- */

static void set_openssl_error(char *err, size_t size, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[200];
    if (e) {
        ERR_error_string_n(e, buf, sizeof buf);
        snprintf(err, size, "%s: %s", what, buf);
    } else {
        snprintf(err, size, "%s", what);
    }
    ERR_clear_error();
}

static int new_session(SSL *ssl, SSL_SESSION *s)
{
    pl__tls_ctx *ctx = SSL_get_ex_data(ssl, ex_index);
    const char *host = SSL_get_app_data(ssl);
    char *copy;
    if (!ctx || !host || !(copy = strdup(host)))
        return 0;
    pl__os_mutex_lock(&ctx->mu);
    if (ctx->session)
        SSL_SESSION_free(ctx->session);
    free(ctx->session_host);
    ctx->session = s;
    ctx->session_host = copy;
    pl__os_mutex_unlock(&ctx->mu);
    return 1; /* we keep the reference */
}

int pl__tls_ctx_new(const pl__tls_conf *conf, pl__tls_ctx **out, char *err,
                    size_t err_size)
{
    pl__tls_ctx *ctx = calloc(1, sizeof *ctx);
    pl__os_mutex init = PL__OS_MUTEX_INIT;
    *out = NULL;
    pl__os_once(&ex_once, ex_init);
    if (!ctx || ex_index < 0) {
        free(ctx);
        snprintf(err, err_size, "out of memory");
        return ENOMEM;
    }
    ctx->mu = init;
    ctx->check_hostname = conf->verify_peer && conf->check_hostname;
    if (conf->server_name && !(ctx->server_name = strdup(conf->server_name)))
        goto nomem;
    ERR_clear_error();
    if (!(ctx->ssl = SSL_CTX_new(TLS_client_method())))
        goto nomem;
    ctx->bio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                            "portalocker socket");
    if (!ctx->bio || !BIO_meth_set_write(ctx->bio, bio_write) ||
        !BIO_meth_set_read(ctx->bio, bio_read) ||
        !BIO_meth_set_ctrl(ctx->bio, bio_ctrl) ||
        !BIO_meth_set_create(ctx->bio, bio_create))
        goto nomem;
    (void)SSL_CTX_set_min_proto_version(ctx->ssl, TLS1_2_VERSION);
    /* Read whole socket buffers, not a record header and then its body
       (half the read calls); what is read ahead is pl__tls_pending's. */
    SSL_CTX_set_read_ahead(ctx->ssl, 1);
    SSL_CTX_set_mode(ctx->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx->ssl,
                       conf->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       NULL);
    if (conf->ca_file || conf->ca_dir) {
        if (SSL_CTX_load_verify_locations(ctx->ssl, conf->ca_file,
                                          conf->ca_dir) != 1) {
            char what[300];
            snprintf(what, sizeof what, "cannot load the CA certificates from %s",
                     conf->ca_file ? conf->ca_file : conf->ca_dir);
            set_openssl_error(err, err_size, what);
            pl__tls_ctx_free(ctx);
            return EINVAL;
        }
    } else if (conf->verify_peer &&
               SSL_CTX_set_default_verify_paths(ctx->ssl) != 1) {
        set_openssl_error(err, err_size, "cannot load the system's CA store");
        pl__tls_ctx_free(ctx);
        return EINVAL;
    }
    if (conf->cert_file) {
        const char *key = conf->key_file ? conf->key_file : conf->cert_file;
        const char *what = NULL;
        char msg[300];
        if (SSL_CTX_use_certificate_chain_file(ctx->ssl, conf->cert_file) != 1)
            what = "cannot load the client certificate";
        else if (SSL_CTX_use_PrivateKey_file(ctx->ssl, key, SSL_FILETYPE_PEM) != 1)
            what = "cannot load the client key";
        else if (SSL_CTX_check_private_key(ctx->ssl) != 1)
            what = "the client key does not match the certificate";
        if (what) {
            snprintf(msg, sizeof msg, "%s (%s, %s)", what, conf->cert_file, key);
            set_openssl_error(err, err_size, msg);
            pl__tls_ctx_free(ctx);
            return EINVAL;
        }
    }
    SSL_CTX_set_session_cache_mode(ctx->ssl, SSL_SESS_CACHE_CLIENT |
                                                 SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->ssl, new_session);
    *out = ctx;
    return 0;
nomem:
    pl__tls_ctx_free(ctx);
    ERR_clear_error();
    snprintf(err, err_size, "out of memory");
    return ENOMEM;
}

void pl__tls_ctx_free(pl__tls_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->session)
        SSL_SESSION_free(ctx->session);
    free(ctx->session_host);
    free(ctx->server_name);
    SSL_CTX_free(ctx->ssl);
    BIO_meth_free(ctx->bio);
    free(ctx);
}

/* ---- connections ---- */

/* The error of the last SSL call that failed, as a sentence. */
static int describe(pl__tls *t, int ret, const char *during)
{
    int e = SSL_get_error(t->ssl, ret);
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long oe = ERR_peek_last_error();
    char buf[200];
    int code = EPROTO;
    if (e == SSL_ERROR_SYSCALL || (e == SSL_ERROR_SSL && !oe && t->os_err)) {
        char sbuf[128];
        if (t->os_err) {
            code = t->os_err;
            snprintf(t->err, sizeof t->err, "%s: %s", during,
                     pl__os_strerror(t->os_err, sbuf, sizeof sbuf));
        } else {
            code = ECONNRESET;
            snprintf(t->err, sizeof t->err,
                     "%s: the server closed the connection", during);
        }
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        code = ECONNRESET;
        snprintf(t->err, sizeof t->err, "%s: the server closed TLS", during);
    } else if (vr != X509_V_OK && SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE) {
        snprintf(t->err, sizeof t->err,
                 "%s: server certificate verification failed: %s", during,
                 X509_verify_cert_error_string(vr));
    } else if (oe) {
        ERR_error_string_n(oe, buf, sizeof buf);
        snprintf(t->err, sizeof t->err, "%s: %s", during, buf);
    } else {
        snprintf(t->err, sizeof t->err, "%s failed", during);
    }
    ERR_clear_error();
    return code;
}

/* Whether s is a numeric IPv4/IPv6 address (checked against the
   certificate's IP entries, and never sent as SNI). */
static int set_ip(X509_VERIFY_PARAM *p, const char *s)
{
    return X509_VERIFY_PARAM_set1_ip_asc(p, s) == 1;
}

int pl__tls_open(pl__tls_ctx *ctx, int fd, const char *host, double deadline,
                 pl__tls **out, char *err, size_t err_size)
{
    pl__tls *t = calloc(1, sizeof *t);
    const char *name = ctx->server_name ? ctx->server_name : host;
    BIO *bio = NULL;
    int is_ip;
    *out = NULL;
    if (!t) {
        snprintf(err, err_size, "out of memory");
        return ENOMEM;
    }
    t->fd = fd;
    ERR_clear_error();
    if (!(t->name = strdup(name)) || !(t->ssl = SSL_new(ctx->ssl)) || !(bio = BIO_new(ctx->bio))) {
        BIO_free(bio);
        pl__tls_free(t);
        snprintf(err, err_size, "out of memory");
        return ENOMEM;
    }
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    SSL_set_ex_data(t->ssl, ex_index, ctx);
    SSL_set_app_data(t->ssl, t->name);
    is_ip = set_ip(SSL_get0_param(t->ssl), name);
    if (!is_ip)
        (void)SSL_set_tlsext_host_name(t->ssl, name);
    if (ctx->check_hostname) {
        /* X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: as the browsers do */
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!is_ip && SSL_set1_host(t->ssl, name) != 1) {
            pl__tls_free(t);
            snprintf(err, err_size, "out of memory");
            return ENOMEM;
        }
    } else if (is_ip) {
        (void)X509_VERIFY_PARAM_set1_ip(SSL_get0_param(t->ssl), NULL, 0);
    }
    pl__os_mutex_lock(&ctx->mu);
    if (ctx->session && ctx->session_host && strcmp(ctx->session_host, name) == 0)
        (void)SSL_set_session(t->ssl, ctx->session);
    pl__os_mutex_unlock(&ctx->mu);
    for (;;) {
        int ret = SSL_connect(t->ssl), e, rc;
        double left;
        if (ret == 1)
            break;
        e = SSL_get_error(t->ssl, ret);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            rc = describe(t, ret, "TLS handshake");
            snprintf(err, err_size, "%s", t->err);
            pl__tls_free(t);
            return rc;
        }
        left = deadline - pl__os_now();
        rc = left > 0 ? pl__os_net_wait(fd, e == SSL_ERROR_WANT_WRITE,
                                        (int)(left * 1000) + 1)
                      : ETIMEDOUT;
        if (rc == EINTR)
            continue;
        if (rc) {
            char sbuf[128];
            snprintf(err, err_size, "TLS handshake: %s",
                     rc == ETIMEDOUT ? "timed out"
                                     : pl__os_strerror(rc, sbuf, sizeof sbuf));
            pl__tls_free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

static int io_result(pl__tls *t, int ret, size_t *n, int *want_write,
                     const char *during)
{
    int e;
    if (ret > 0) {
        *n = (size_t)ret;
        return 0;
    }
    e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want_write = e == SSL_ERROR_WANT_WRITE;
        ERR_clear_error();
        return EAGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: an orderly end */
        ERR_clear_error();
        return 0;
    }
    return describe(t, ret, during);
}

int pl__tls_read(pl__tls *t, void *buf, size_t len, size_t *n, int *want_write)
{
    int cap = len > 1 << 30 ? 1 << 30 : (int)len;
    *n = 0;
    *want_write = 0;
    t->os_err = 0;
    ERR_clear_error();
    return io_result(t, SSL_read(t->ssl, buf, cap), n, want_write, "TLS read");
}

int pl__tls_write(pl__tls *t, const void *buf, size_t len, size_t *n,
                  int *want_write)
{
    int cap = len > 1 << 30 ? 1 << 30 : (int)len;
    *n = 0;
    *want_write = 0;
    t->os_err = 0;
    ERR_clear_error();
    int rc = io_result(t, SSL_write(t->ssl, buf, cap), n, want_write,
                       "TLS write");
    if (rc && rc != EAGAIN) {
        /* A server that refuses us (no client certificate, TLS 1.3) sends
           an alert and closes; the write only sees the reset. The alert
           waits in the socket: read it for the cause. */
        char tmp[256], saved[sizeof t->err];
        size_t got = 0;
        int ww = 0;
        memcpy(saved, t->err, sizeof saved);
        t->os_err = 0;
        ERR_clear_error();
        if (io_result(t, SSL_read(t->ssl, tmp, sizeof tmp), &got, &ww,
                      "TLS write") != EPROTO)
            memcpy(t->err, saved, sizeof saved);
    }
    return rc;
}

int pl__tls_pending(const pl__tls *t)
{
    return SSL_has_pending(t->ssl);
}

const char *pl__tls_error(const pl__tls *t)
{
    return t->err;
}

void pl__tls_free(pl__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* also frees the BIO */
    free(t->name);
    free(t);
}

const char *pl__tls_unavailable(void)
{
    return NULL;
}
