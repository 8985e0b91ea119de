/* The Winsock implementation of platform.h's network sockets (the Redis
   lock's transport), mirroring unix/net_posix.c: non-blocking sockets,
   connects bounded by a timeout, Winsock errors as errno values.

   A socket's int is not the SOCKET: the lock's waits put a connection
   next to its cancel channel in one pl__os_poll, which on Windows waits
   for registered handles (win_support.c's table). So each socket gets an
   event that WSAEventSelect sets when it has something to read or was
   closed (FD_READ | FD_CLOSE), and the int handed out is that event's
   number in the table; net_win32.c keeps the SOCKET beside it. Before
   every recv the event is reset (WSAEnumNetworkEvents): Winsock posts
   FD_READ again after a recv that left data behind, so a set event
   means "there may be something to read", as poll's POLLIN does.
   Writability and connects are waited for with select(). */
#include "platform.h"
#include "win_internal.h"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_SOCKETS 4096 /* win_support.c's table holds at most that many */

static SRWLOCK sockets_lock = SRWLOCK_INIT;
static SOCKET sockets[MAX_SOCKETS]; /* by id - PL__WIN_WAIT_BASE */
static pl__os_once_t startup_once = PL__OS_ONCE_INIT;
static int startup_error;

static void startup(void)
{
    WSADATA data;
    int rc = WSAStartup(MAKEWORD(2, 2), &data);
    startup_error = rc ? pl__win_net_errno(rc) : 0;
}

int pl__win_net_errno(int wsa)
{
    switch (wsa) {
    case WSAEWOULDBLOCK:
    case WSAEINPROGRESS:
        return EAGAIN;
    case WSAEINTR:
        return EINTR;
    case WSAECONNREFUSED:
        return ECONNREFUSED;
    case WSAECONNRESET:
    case WSAENETRESET:
        return ECONNRESET;
    case WSAECONNABORTED:
        return ECONNABORTED;
    case WSAETIMEDOUT:
        return ETIMEDOUT;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
        return EHOSTUNREACH;
    case WSAENETUNREACH:
    case WSAENETDOWN:
        return ENETUNREACH;
    case WSAENOTCONN:
    case WSAESHUTDOWN:
        return ENOTCONN;
    case WSAEADDRNOTAVAIL:
        return EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:
        return EAFNOSUPPORT;
    case WSAEMFILE:
        return EMFILE;
    case WSAENOBUFS:
        return ENOBUFS;
    case WSAENOTSOCK:
        return EBADF;
    case WSA_NOT_ENOUGH_MEMORY:
        return ENOMEM;
    default:
        return EIO;
    }
}

/* The CRT's strerror knows none of the socket errno values. */
const char *pl__win_net_strerror(int errnum)
{
    switch (errnum) {
    case ECONNREFUSED: return "Connection refused";
    case ECONNRESET: return "Connection reset by peer";
    case ECONNABORTED: return "Software caused connection abort";
    case ETIMEDOUT: return "Connection timed out";
    case EHOSTUNREACH: return "No route to host";
    case ENETUNREACH: return "Network is unreachable";
    case ENOTCONN: return "Transport endpoint is not connected";
    case EADDRNOTAVAIL: return "Cannot assign requested address";
    case EAFNOSUPPORT: return "Address family not supported by protocol";
    case ENOBUFS: return "No buffer space available";
    default: return NULL;
    }
}

static int ms_left(double deadline)
{
    double left = deadline - pl__os_now();
    if (left <= 0)
        return 0;
    if (left > 1e6)
        return 1000000000;
    return (int)ceil(left * 1000);
}

/* The SOCKET behind an id (INVALID_SOCKET for anything else). */
static SOCKET socket_of(int fd)
{
    SOCKET s = INVALID_SOCKET;
    size_t i;
    if (fd < PL__WIN_WAIT_BASE)
        return s;
    i = (size_t)(fd - PL__WIN_WAIT_BASE);
    AcquireSRWLockShared(&sockets_lock);
    if (i < MAX_SOCKETS)
        s = sockets[i];
    ReleaseSRWLockShared(&sockets_lock);
    return s == 0 ? INVALID_SOCKET : s; /* 0: never a socket's (unset) */
}

static int wait_socket(SOCKET s, int want_write, int timeout_ms)
{
    fd_set rd, wr, ex;
    struct timeval tv;
    int rc;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    if (want_write) {
        FD_SET(s, &wr);
        FD_SET(s, &ex); /* a failed connect is reported here */
    } else {
        FD_SET(s, &rd);
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    rc = select(0, &rd, &wr, &ex, timeout_ms < 0 ? NULL : &tv);
    if (rc == SOCKET_ERROR)
        return pl__win_net_errno(WSAGetLastError());
    return rc == 0 ? ETIMEDOUT : 0;
}

int pl__os_net_wait(int fd, int want_write, int timeout_ms)
{
    SOCKET s = socket_of(fd);
    if (s == INVALID_SOCKET)
        return EBADF;
    return wait_socket(s, want_write, timeout_ms);
}

/* A socket with its event registered: the id in *fd_out. */
static int new_socket(int family, SOCKET *s_out, int *fd_out)
{
    SOCKET s = socket(family, SOCK_STREAM, IPPROTO_TCP);
    WSAEVENT ev;
    int id, err;
    if (s == INVALID_SOCKET)
        return pl__win_net_errno(WSAGetLastError());
    /* Not inherited by child processes (POSIX: close-on-exec). */
    (void)SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    if ((ev = WSACreateEvent()) == WSA_INVALID_EVENT) {
        err = pl__win_net_errno(WSAGetLastError());
        closesocket(s);
        return err;
    }
    /* Also makes the socket non-blocking. */
    if (WSAEventSelect(s, ev, FD_READ | FD_CLOSE) == SOCKET_ERROR) {
        err = pl__win_net_errno(WSAGetLastError());
        WSACloseEvent(ev);
        closesocket(s);
        return err;
    }
    id = pl__win_wait_register(ev);
    /* Registered ids start at PL__WIN_WAIT_BASE; the table has room for
       MAX_SOCKETS of them. */
    if (id < PL__WIN_WAIT_BASE || id - PL__WIN_WAIT_BASE >= (int)MAX_SOCKETS) {
        if (id >= 0)
            pl__win_wait_release(id);
        WSACloseEvent(ev);
        closesocket(s);
        return EMFILE;
    }
    AcquireSRWLockExclusive(&sockets_lock);
    sockets[id - PL__WIN_WAIT_BASE] = s;
    ReleaseSRWLockExclusive(&sockets_lock);
    *s_out = s;
    *fd_out = id;
    return 0;
}

/* connect() on a non-blocking socket, waiting for it until deadline. */
static int connect_until(SOCKET s, const struct sockaddr *sa, int len,
                         double deadline)
{
    int err = 0, elen = sizeof err, rc;
    if (connect(s, sa, len) == 0)
        return 0;
    rc = WSAGetLastError();
    if (rc != WSAEWOULDBLOCK && rc != WSAEINPROGRESS)
        return pl__win_net_errno(rc);
    if ((rc = wait_socket(s, 1, ms_left(deadline))) != 0)
        return rc;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&err, &elen) != 0)
        return pl__win_net_errno(WSAGetLastError());
    return err ? pl__win_net_errno(err) : 0;
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
    pl__os_once(&startup_once, startup);
    if (startup_error)
        return startup_error;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(detail, detail_size, "cannot resolve \"%s\": %s", host,
                 gai_strerrorA(rc));
        return EHOSTUNREACH;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        SOCKET s = INVALID_SOCKET;
        int fd = -1, one = 1;
        if ((err = new_socket(ai->ai_family, &s, &fd)) != 0)
            continue;
        err = connect_until(s, ai->ai_addr, (int)ai->ai_addrlen, deadline);
        if (err == 0) {
            (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
            (void)setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, (const char *)&one, sizeof one);
            *fd_out = fd;
            break;
        }
        (void)pl__os_net_close(fd);
        if (err == ETIMEDOUT)
            break; /* the time is gone for the other addresses too */
    }
    freeaddrinfo(res);
    return *fd_out >= 0 ? 0 : err;
}

const char *pl__os_net_unix_unavailable(void)
{
    return "unix-domain sockets are not supported by the Redis lock on "
           "Windows (connect with host and port)";
}

int pl__os_net_connect_unix(const char *path, double timeout, int *fd_out)
{
    (void)path;
    (void)timeout;
    *fd_out = -1;
    return EAFNOSUPPORT; /* refused by the setter already */
}

int pl__os_net_send(int fd, const void *buf, size_t len, size_t *sent)
{
    SOCKET s = socket_of(fd);
    int n;
    *sent = 0;
    if (s == INVALID_SOCKET)
        return EBADF;
    n = send(s, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    if (n == SOCKET_ERROR)
        return pl__win_net_errno(WSAGetLastError());
    *sent = (size_t)n;
    return 0;
}

int pl__os_net_recv(int fd, void *buf, size_t len, size_t *got)
{
    SOCKET s = socket_of(fd);
    WSANETWORKEVENTS seen;
    int n;
    *got = 0;
    if (s == INVALID_SOCKET)
        return EBADF;
    /* Reset the event first: whatever arrives from here on sets it again
       (see the top of the file). */
    (void)WSAEnumNetworkEvents(s, pl__win_wait_get(fd), &seen);
    n = recv(s, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    if (n == SOCKET_ERROR)
        return pl__win_net_errno(WSAGetLastError());
    *got = (size_t)n;
    return 0;
}

int pl__os_net_close(int fd)
{
    SOCKET s = socket_of(fd);
    HANDLE ev;
    int err = 0;
    if (s == INVALID_SOCKET)
        return fd < 0 ? 0 : EBADF;
    ev = pl__win_wait_get(fd);
    AcquireSRWLockExclusive(&sockets_lock);
    sockets[fd - PL__WIN_WAIT_BASE] = INVALID_SOCKET;
    ReleaseSRWLockExclusive(&sockets_lock);
    pl__win_wait_release(fd);
    if (closesocket(s) == SOCKET_ERROR)
        err = pl__win_net_errno(WSAGetLastError());
    if (ev)
        WSACloseEvent(ev);
    return err;
}
