/* The POSIX implementation of platform.h: files, the process, time. */
#define _GNU_SOURCE
#include "platform.h"

#include "portalocker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) || defined(__FreeBSD__)
#include <sys/random.h>
#define PL_HAVE_GETRANDOM 1
#elif defined(__APPLE__)
/* No getrandom(2); arc4random_buf (<stdlib.h>) is seeded by the kernel
   and cannot fail. */
#define PL_HAVE_ARC4RANDOM 1
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

int pl__os_open(const char *path, int flags, unsigned int mode, int *fd_out)
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
        int err = pl__os_check_regular(fd);
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

int pl__os_close(int fd)
{
    /* Linux closes the descriptor even when close reports EINTR: never
       retry (that could close a descriptor another thread just got). */
    if (close(fd) != 0 && errno != EINTR)
        return errno;
    return 0;
}

int pl__os_check_regular(int fd)
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

int pl__os_fd_id(int fd, pl__os_file_id *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}

int pl__os_path_id(const char *path, pl__os_file_id *out)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    return 0;
}

int pl__os_touch(int fd)
{
#ifdef __linux__
    return futimens(fd, NULL) != 0 ? errno : 0;
#else
    /* Only the inotify waiter (Linux) listens for it; elsewhere waiters
       poll, and futimens is missing on older macOS. */
    (void)fd;
    return 0;
#endif
}

int pl__os_truncate(int fd)
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

int pl__os_clear_append(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return errno;
    if ((flags & O_APPEND) && fcntl(fd, F_SETFL, flags & ~O_APPEND) != 0)
        return errno;
    return 0;
}

int pl__os_write_all(int fd, const void *buf, size_t len)
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

int pl__os_read(int fd, void *buf, size_t len, size_t *got)
{
    ssize_t n;
    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno;
    *got = (size_t)n;
    return 0;
}

int pl__os_read_small(const char *path, char *buf, size_t size, size_t *len)
{
    int fd = -1, err;
    size_t got = 0;
    err = pl__os_open(path, PL_O_READ | PL_O_NOFOLLOW | PL_O_REGULAR, 0, &fd);
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

int pl__os_fsync(int fd)
{
    int rc;
    do {
        rc = fsync(fd);
    } while (rc != 0 && errno == EINTR);
    return rc != 0 ? errno : 0;
}

int pl__os_unlink(const char *path)
{
    return unlink(path) != 0 ? errno : 0;
}

int pl__os_link(const char *from, const char *to)
{
    return link(from, to) != 0 ? errno : 0;
}

int pl__os_exists(const char *path, int *exists)
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

int pl__os_make_parents(const char *path)
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

/* Random names tried before giving up (tempfile.TMP_MAX's bound): with 64
   random bits a name is taken only when the randomness source is broken,
   and then an error beats an endless loop. */
#define TEMP_NAME_ATTEMPTS 10000

int pl__os_make_temp(const char *target, int *fd_out, char **path_out)
{
    char *dir = dir_of(target);
    size_t need;
    char *name;
    int attempt, err = EEXIST;
    if (!dir)
        return ENOMEM;
    /* Hidden, in the destination's directory (so link(2) is atomic), a
       fixed 33 bytes that never embed the destination's name (a 255-byte
       basename must still work), and the reference portalocker's pattern,
       so tools clean both alike. */
    need = strlen(dir) + sizeof "/.portalocker.0123456789abcdef.tmp";
    name = malloc(need);
    if (!name) {
        free(dir);
        return ENOMEM;
    }
    for (attempt = 0; attempt < TEMP_NAME_ATTEMPTS; attempt++) {
        int fd;
        snprintf(name, need, "%s/.portalocker.%016llx.tmp", dir, pl__os_random());
        /* Mode 0666: the kernel applies the umask, so the published file
           gets the permissions a plain open() gives (mkstemp's 0600 would
           be kept by link(2)); the process umask is never touched. */
        fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            free(dir);
            *fd_out = fd;
            *path_out = name;
            return 0;
        }
        err = errno;
        if (err != EEXIST && err != EINTR)
            break;
    }
    free(dir);
    free(name);
    /* Never EEXIST: that would read as "the destination exists". */
    return err == EEXIST ? EAGAIN : err;
}

int pl__os_rename(const char *from, const char *to)
{
    return rename(from, to) != 0 ? errno : 0;
}

int pl__os_fsync_parent(const char *path)
{
    char *dir = dir_of(path);
    int fd, err;
    if (!dir)
        return ENOMEM;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return errno;
    err = pl__os_fsync(fd);
    /* Some filesystems refuse fsync on directories; nothing to flush then. */
    if (err == EINVAL || err == EROFS)
        err = 0;
    close(fd);
    return err;
}

int pl__os_set_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
        return errno;
    return 0;
}

const char *pl__os_temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return (t && *t) ? t : "/tmp";
}

long pl__os_getpid(void)
{
    return (long)getpid();
}

unsigned long long pl__os_random(void)
{
    unsigned long long v = 0;
#if defined(PL_HAVE_ARC4RANDOM)
    arc4random_buf(&v, sizeof v);
    return v;
#else
#ifdef PL_HAVE_GETRANDOM
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
#endif
}

const char *pl__os_strerror(int errnum, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    /* GNU strerror_r may return a static string instead of filling buf. */
    return strerror_r(errnum, buf, size);
#else
    if (strerror_r(errnum, buf, size) != 0)
        snprintf(buf, size, "error %d", errnum);
    return buf;
#endif
}

/* ---- time ---- */

double pl__os_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double pl__os_now_boot(void)
{
    struct timespec ts;
#if defined(CLOCK_BOOTTIME)
    if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void pl__os_sleep(double seconds)
{
    struct timespec ts;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

