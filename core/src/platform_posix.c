/* The POSIX (Linux-first) implementation of platform.h. */
#define _GNU_SOURCE
#include "platform.h"

#include "portalocker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/inotify.h>
#include <sys/random.h>
#endif

static int to_oflags(int flags)
{
    int o = O_CLOEXEC;
    if ((flags & PL_O_READ) && (flags & PL_O_WRITE))
        o |= O_RDWR;
    else if (flags & PL_O_WRITE)
        o |= O_WRONLY;
    else
        o |= O_RDONLY;
    if (flags & PL_O_CREATE)
        o |= O_CREAT;
    if (flags & PL_O_EXCL)
        o |= O_EXCL;
    if (flags & PL_O_APPEND)
        o |= O_APPEND;
    if (flags & PL_O_TRUNC)
        o |= O_TRUNC;
    if (flags & PL_O_NOFOLLOW)
        o |= O_NOFOLLOW;
    return o;
}

int pl_os_open(const char *path, int flags, unsigned int mode, int *fd_out)
{
    int fd, oflags = to_oflags(flags);
    if (flags & PL_O_REGULAR)
        oflags |= O_NONBLOCK;
    do {
        fd = open(path, oflags, (mode_t)mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        /* A write-only non-blocking open of a FIFO without reader. */
        if (errno == ENXIO && (flags & PL_O_REGULAR))
            return EINVAL;
        return errno;
    }
    if (flags & PL_O_REGULAR) {
        int err = pl_os_check_regular(fd);
        /* Back to blocking mode: F_SETFL sets only the status flags, of
           which O_APPEND is the one we may have asked for. */
        if (!err && fcntl(fd, F_SETFL, oflags & O_APPEND) != 0)
            err = errno;
        if (err) {
            close(fd);
            return err;
        }
    }
    *fd_out = fd;
    return 0;
}

int pl_os_close(int fd)
{
    /* Linux closes the descriptor even when close reports EINTR: never
       retry (that could close a descriptor another thread just got). */
    if (close(fd) != 0 && errno != EINTR)
        return errno;
    return 0;
}

int pl_os_check_regular(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode))
        return EINVAL;
    return 0;
}

int pl_os_fd_id(int fd, pl_file_id *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}

int pl_os_path_id(const char *path, pl_file_id *out)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}

int pl_os_truncate(int fd)
{
    int rc;
    do {
        rc = ftruncate(fd, 0);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return errno;
    /* Like the reference's seek(0) + truncate(0). */
    if (lseek(fd, 0, SEEK_SET) < 0)
        return errno;
    return 0;
}

int pl_os_clear_append(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return errno;
    if ((flags & O_APPEND) && fcntl(fd, F_SETFL, flags & ~O_APPEND) != 0)
        return errno;
    return 0;
}

int pl_os_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int pl_os_read_small(const char *path, char *buf, size_t size, size_t *len)
{
    int fd = -1, err;
    size_t got = 0;
    err = pl_os_open(path, PL_O_READ | PL_O_NOFOLLOW | PL_O_REGULAR, 0, &fd);
    if (err)
        return err;
    while (got + 1 < size) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
    close(fd);
    return 0;
}

int pl_os_fsync(int fd)
{
    int rc;
    do {
        rc = fsync(fd);
    } while (rc != 0 && errno == EINTR);
    return rc != 0 ? errno : 0;
}

int pl_os_unlink(const char *path)
{
    return unlink(path) != 0 ? errno : 0;
}

int pl_os_link(const char *from, const char *to)
{
    return link(from, to) != 0 ? errno : 0;
}

int pl_os_exists(const char *path, int *exists)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        *exists = 1;
        return 0;
    }
    if (errno == ENOENT) {
        *exists = 0;
        return 0;
    }
    return errno;
}

/* Length of the directory part of path ("" -> 0, "/x" -> 1, "a/b" -> 1). */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    if (slash == path)
        return 1;
    return (size_t)(slash - path);
}

int pl_os_make_parents(const char *path)
{
    size_t n = dir_len(path), i;
    char *dir;
    int err = 0;
    if (n == 0)
        return 0;
    dir = malloc(n + 1);
    if (!dir)
        return ENOMEM;
    memcpy(dir, path, n);
    dir[n] = '\0';
    for (i = 1; i <= n && !err; i++) {
        if (i == n || dir[i] == '/') {
            char saved = dir[i];
            dir[i] = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST)
                err = errno;
            dir[i] = saved;
        }
    }
    if (!err) {
        struct stat st;
        if (stat(dir, &st) != 0)
            err = errno;
        else if (!S_ISDIR(st.st_mode))
            err = ENOTDIR;
    }
    free(dir);
    return err;
}

/* The directory part of path as a new string ("." when there is none). */
static char *dir_of(const char *path)
{
    size_t n = dir_len(path);
    char *dir = malloc(n == 0 ? 2 : n + 1);
    if (!dir)
        return NULL;
    if (n == 0) {
        /* 2 bytes into the 2-byte buffer allocated just above.
           NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
        strcpy(dir, ".");
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

int pl_os_make_temp(const char *target, int *fd_out, char **path_out)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    char *dir = dir_of(target);
    size_t need;
    char *tmpl;
    int fd;
    if (!dir)
        return ENOMEM;
    need = strlen(dir) + strlen(base) + 32;
    tmpl = malloc(need);
    if (!tmpl) {
        free(dir);
        return ENOMEM;
    }
    /* Hidden, in the destination's directory (so link(2) is atomic), with
       a suffix that tools can recognise and clean. */
    snprintf(tmpl, need, "%s/.%s.XXXXXX.tmp", dir, base);
    free(dir);
    fd = mkostemps(tmpl, 4, O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        free(tmpl);
        return err;
    }
    *fd_out = fd;
    *path_out = tmpl;
    return 0;
}

int pl_os_fsync_parent(const char *path)
{
    char *dir = dir_of(path);
    int fd, err;
    if (!dir)
        return ENOMEM;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return errno;
    err = pl_os_fsync(fd);
    /* Some filesystems refuse fsync on directories; nothing to flush then. */
    if (err == EINVAL || err == EROFS)
        err = 0;
    close(fd);
    return err;
}

const char *pl_os_temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return (t && *t) ? t : "/tmp";
}

long pl_os_getpid(void)
{
    return (long)getpid();
}

unsigned long long pl_os_random(void)
{
    unsigned long long v = 0;
#ifdef __linux__
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
#endif
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((unsigned long long)ts.tv_nsec << 20) ^ (unsigned long long)ts.tv_sec ^
            ((unsigned long long)getpid() << 40);
    }
    return v;
}

/* ---- locking primitives ---- */

static int fcntl_lock(int fd, int cmd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0; /* the whole file, however large it grows */
    return fcntl(fd, cmd, &fl);
}

static int mech_cmd(int mechanism, int blocking)
{
#ifdef F_OFD_SETLK
    if (mechanism == PL_MECH_OFD)
        return blocking ? F_OFD_SETLKW : F_OFD_SETLK;
#endif
    return blocking ? F_SETLKW : F_SETLK;
}

int pl_os_lock(int fd, int mechanism, int exclusive, int blocking)
{
    int rc;
    if (mechanism == PL_MECH_OFD && !pl_os_mechanism_supported(PL_MECH_OFD))
        return ENOSYS;
    for (;;) {
        if (mechanism == PL_MECH_FLOCK)
            rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) |
                               (blocking ? 0 : LOCK_NB));
        else
            rc = fcntl_lock(fd, mech_cmd(mechanism, blocking),
                            exclusive ? F_WRLCK : F_RDLCK);
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            break;
    }
    /* fcntl reports contention as EACCES on some systems. */
    if (errno == EACCES || errno == EWOULDBLOCK)
        return EAGAIN;
    return errno;
}

int pl_os_unlock(int fd, int mechanism)
{
    int rc;
    if (mechanism == PL_MECH_FLOCK)
        rc = flock(fd, LOCK_UN);
    else
        rc = fcntl_lock(fd, mech_cmd(mechanism, 0), F_UNLCK);
    return rc != 0 ? errno : 0;
}

int pl_os_mechanism_supported(int mechanism)
{
    switch (mechanism) {
    case PL_MECH_FLOCK:
    case PL_MECH_POSIX:
        return 1;
    case PL_MECH_OFD: {
#ifdef F_OFD_GETLK
        /* Probe once: old kernels answer EINVAL for an unknown command. */
        static int cached = -1;
        if (cached < 0) {
            int fd = open("/", O_RDONLY | O_CLOEXEC);
            struct flock fl;
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_RDLCK;
            fl.l_whence = SEEK_SET;
            cached = fd >= 0 && fcntl(fd, F_OFD_GETLK, &fl) == 0;
            if (fd >= 0)
                close(fd);
        }
        return cached;
#else
        return 0;
#endif
    }
    default:
        return 0;
    }
}

/* ---- time ---- */

double pl_os_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pl_os_sleep(double seconds)
{
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- waiting ---- */

#ifdef __linux__
static _Thread_local int thread_inotify_fd = -1;
static _Thread_local pid_t thread_inotify_pid;
static pthread_key_t thread_inotify_key;
static pthread_once_t thread_inotify_once = PTHREAD_ONCE_INIT;

static void close_thread_inotify(void *unused)
{
    (void)unused;
    if (thread_inotify_fd >= 0)
        close(thread_inotify_fd);
    thread_inotify_fd = -1;
}

static void make_thread_inotify_key(void)
{
    (void)pthread_key_create(&thread_inotify_key, close_thread_inotify);
}

static void drain(int fd)
{
    char buf[4096] __attribute__((aligned(8)));
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

/* This thread's inotify descriptor, created on first use. A forked child
   gets its own: sharing the parent's would let each steal the other's
   events. */
static int thread_inotify(void)
{
    pid_t pid = getpid();
    if (thread_inotify_fd >= 0 && thread_inotify_pid != pid) {
        close(thread_inotify_fd); /* the parent still holds the instance */
        thread_inotify_fd = -1;
    }
    if (thread_inotify_fd < 0) {
        /* Fails with EMFILE once the per-user instance limit (128 by
           default) is reached; the backoff then carries the wait alone. */
        thread_inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (thread_inotify_fd < 0)
            return -1;
        thread_inotify_pid = pid;
        pthread_once(&thread_inotify_once, make_thread_inotify_key);
        /* A non-NULL value makes the key's destructor run at thread exit. */
        (void)pthread_setspecific(thread_inotify_key, (void *)1);
    }
    return thread_inotify_fd;
}
#endif

void pl_os_waiter_open(pl_os_waiter *w)
{
    w->wds = NULL;
    w->nwds = w->cap = 0;
#ifdef __linux__
    w->fd = thread_inotify();
    if (w->fd >= 0)
        drain(w->fd); /* leftovers of an earlier wait (IN_IGNORED, ...) */
#else
    w->fd = -1;
#endif
}

void pl_os_waiter_watch(pl_os_waiter *w, const char *path)
{
#ifdef __linux__
    int wd;
    size_t i;
    if (w->fd < 0)
        return;
    /* A holder's close (release, exit, SIGKILL) raises IN_CLOSE_*; a
       temporary lock's unlink raises IN_ATTRIB/IN_DELETE_SELF. Adding a
       watch for an inode already watched only updates it, so re-watching
       before each attempt is cheap and follows a re-created file. */
    wd = inotify_add_watch(w->fd, path,
                           IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB |
                               IN_DELETE_SELF | IN_MOVE_SELF);
    if (wd < 0)
        return;
    for (i = 0; i < w->nwds; i++)
        if (w->wds[i] == wd)
            return;
    if (w->nwds == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        int *wds = realloc(w->wds, cap * sizeof *wds);
        if (!wds) {
            (void)inotify_rm_watch(w->fd, wd);
            return;
        }
        w->wds = wds;
        w->cap = cap;
    }
    w->wds[w->nwds++] = wd;
#else
    (void)w;
    (void)path;
#endif
}

int pl_os_waiter_wait(pl_os_waiter *w, double seconds)
{
    struct pollfd pfd;
    int ms, rc;
    if (w->fd < 0) {
        pl_os_sleep(seconds);
        return 0;
    }
    ms = seconds <= 0 ? 0 : (int)(seconds * 1000.0 + 0.999);
    if (seconds > (double)INT_MAX / 1000.0)
        ms = INT_MAX;
    pfd.fd = w->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    rc = poll(&pfd, 1, ms);
    if (rc < 0) {
        /* EINTR, ENOMEM: the caller re-checks anyway, but only after the
           wait it asked for, or it would spin until its deadline. */
        pl_os_sleep(seconds);
        return 0;
    }
    if (rc == 0)
        return 0; /* timeout */
#ifdef __linux__
    drain(w->fd); /* the events only say "look again" */
#endif
    return 1;
}

void pl_os_waiter_close(pl_os_waiter *w)
{
#ifdef __linux__
    size_t i;
    for (i = 0; i < w->nwds; i++)
        (void)inotify_rm_watch(w->fd, w->wds[i]);
#endif
    free(w->wds);
    w->wds = NULL;
    w->nwds = w->cap = 0;
    w->fd = -1;
}
