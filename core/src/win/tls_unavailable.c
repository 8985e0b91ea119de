/* The Redis lock's TLS on Windows: none in this build. TLS is OpenSSL
   (tls_openssl.c) and Debian has no OpenSSL for mingw-w64 to build and
   link against, so the Windows build leaves tls_openssl.c out
   (PL_SRC_EXCLUDE_win in core/build.mk) and these take its place:
   pl_redis_lock_set_tls(1) and rediss:// URLs are PL_ERR_UNSUPPORTED with
   the reason below, so no connection ever reaches the functions after
   it, which fail the same way should one try. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>

static const char reason[] =
    "not available on Windows in this build (no OpenSSL for mingw-w64 in "
    "Debian to build it with)";

const char *pl__tls_unavailable(void)
{
    return reason;
}

int pl__tls_ctx_new(const pl__tls_conf *conf, pl__tls_ctx **out, char *err,
                    size_t err_size)
{
    (void)conf;
    *out = NULL;
    snprintf(err, err_size, "TLS %s", reason);
    return ENOTSUP;
}

void pl__tls_ctx_free(pl__tls_ctx *ctx)
{
    (void)ctx;
}

int pl__tls_open(pl__tls_ctx *ctx, int fd, const char *host, double deadline,
                 pl__tls **out, char *err, size_t err_size)
{
    (void)ctx;
    (void)fd;
    (void)host;
    (void)deadline;
    *out = NULL;
    snprintf(err, err_size, "TLS %s", reason);
    return ENOTSUP;
}

int pl__tls_read(pl__tls *t, void *buf, size_t len, size_t *n, int *want_write)
{
    (void)t;
    (void)buf;
    (void)len;
    *n = 0;
    *want_write = 0;
    return ENOTSUP;
}

int pl__tls_write(pl__tls *t, const void *buf, size_t len, size_t *n,
                  int *want_write)
{
    (void)t;
    (void)buf;
    (void)len;
    *n = 0;
    *want_write = 0;
    return ENOTSUP;
}

int pl__tls_pending(const pl__tls *t)
{
    (void)t;
    return 0;
}

const char *pl__tls_error(const pl__tls *t)
{
    (void)t;
    return reason;
}

void pl__tls_free(pl__tls *t)
{
    (void)t;
}
