/* The POSIX implementation of platform.h's network sockets (the Redis
   lock's transport): non-blocking sockets, connects bounded by a timeout,
   sends that never raise SIGPIPE. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

static int ms_left(double deadline)
{
    double left = deadline - pl__os_now();
    if (left <= 0)
        return 0;
    if (left > 1e6)
        return 1000000000;
    return (int)ceil(left * 1000);
}

int pl__os_net_wait(int fd, int want_write, int timeout_ms)
{
    struct pollfd p;
    int rc;
    p.fd = fd;
    p.events = want_write ? POLLOUT : POLLIN;
    p.revents = 0;
    rc = poll(&p, 1, timeout_ms);
    if (rc < 0)
        return errno;
    return rc == 0 ? ETIMEDOUT : 0;
}

static int new_socket(int family, int *fd_out)
{
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
#else /* macOS: no atomic flags */
    int fd = socket(family, SOCK_STREAM, 0), fl;
    if (fd < 0)
        return errno;
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
#endif
#ifdef SO_NOSIGPIPE
    {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    *fd_out = fd;
    return 0;
}

/* connect(2) on a non-blocking socket, waiting for it until deadline. */
static int connect_until(int fd, const struct sockaddr *sa, socklen_t len,
                         double deadline)
{
    int err = 0;
    socklen_t elen = sizeof err;
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN)
        return errno;
    for (;;) {
        int rc = pl__os_net_wait(fd, 1, ms_left(deadline));
        if (rc == EINTR)
            continue;
        if (rc)
            return rc;
        break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return errno;
    return err;
}

int pl__os_net_connect_tcp(const char *host, int port, double timeout,
                           int *fd_out, char *detail, size_t detail_size)
{
    struct addrinfo hints, *res = NULL, *ai;
    char service[16];
    double deadline = pl__os_now() + timeout;
    int rc, err = ECONNREFUSED;

    *fd_out = -1;
    if (detail_size)
        detail[0] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        if (rc == EAI_SYSTEM)
            return errno ? errno : EHOSTUNREACH;
        snprintf(detail, detail_size, "cannot resolve \"%s\": %s", host,
                 gai_strerror(rc));
        return EHOSTUNREACH;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int fd = -1, one = 1;
        if ((err = new_socket(ai->ai_family, &fd)) != 0)
            continue;
        err = connect_until(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        if (err == 0) {
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
            *fd_out = fd;
            break;
        }
        close(fd);
        if (err == ETIMEDOUT)
            break; /* the time is gone for the other addresses too */
    }
    freeaddrinfo(res);
    return *fd_out >= 0 ? 0 : err;
}

int pl__os_net_connect_unix(const char *path, double timeout, int *fd_out)
{
    struct sockaddr_un sa;
    int fd = -1, err;
    *fd_out = -1;
    if (strlen(path) >= sizeof sa.sun_path)
        return ENAMETOOLONG;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((err = new_socket(AF_UNIX, &fd)) != 0)
        return err;
    err = connect_until(fd, (const struct sockaddr *)&sa, sizeof sa,
                        pl__os_now() + timeout);
    if (err) {
        close(fd);
        return err;
    }
    *fd_out = fd;
    return 0;
}

const char *pl__os_net_unix_unavailable(void)
{
    return NULL;
}

int pl__os_net_send(int fd, const void *buf, size_t len, size_t *sent)
{
    ssize_t n;
    *sent = 0;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    *sent = (size_t)n;
    return 0;
}

int pl__os_net_recv(int fd, void *buf, size_t len, size_t *got)
{
    ssize_t n;
    *got = 0;
    do
        n = recv(fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    *got = (size_t)n;
    return 0;
}

int pl__os_net_close(int fd)
{
    return fd >= 0 && close(fd) != 0 ? errno : 0;
}
