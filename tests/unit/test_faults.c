/* Fault injection: the system calls the core makes are replaced with
   -Wl,--wrap (see FAULT_WRAP in the Makefile). Each __wrap_X passes
   through to __real_X unless a failure is armed ("fail the Nth call of X,
   counted from arming, with errno E, `times` times"). Every error path must
   give the documented code and a message naming the path and the OS error,
   and leave no descriptor, no temporary file and no half-held lock.

   testutil.c is linked in too and goes through the wraps: failures are
   armed only around the call under test. Both the plain and the 64-bit
   names are wrapped so the suite does not depend on how this glibc
   resolves them under _FILE_OFFSET_BITS=64. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- the fault table ---- */

enum fault_id {
    F_OPEN,
    F_CLOSE,
    F_FLOCK,
    F_FCNTL,
    F_FSTAT,
    F_LSTAT,
    F_FTRUNCATE,
    F_WRITE,
    F_FSYNC,
    F_LINK,
    F_UNLINK,
    F_MKOSTEMPS,
    F_INOTIFY,
    F_WATCH,
    F_MKDIR,
    F_READ,      /* read(2): the PID file, the inotify drain */
    F_LSEEK,     /* lseek(2) after ftruncate in mode 'w' */
    F_STAT,      /* stat(2): make_parents' final check */
    F_POLL,      /* poll(2): the waiter */
    F_GETRANDOM, /* getrandom(2): ids and random semaphore names */
    F_SETFLAGS,  /* fcntl(F_SETFL): back to blocking, clearing O_APPEND */
    F_GETFLAGS,  /* fcntl(F_GETFL): clearing O_APPEND */
    F_COUNT
};

typedef struct fault {
    int nth;           /* fail from the nth counted call on (0: never) */
    int times;         /* how many failures (-1: every call from nth) */
    int err;           /* errno to fail with */
    const char *match; /* path calls: only calls whose path contains it */
    int calls;         /* counted calls since arming */
    int failed;
} fault;

static fault faults[F_COUNT];
static int flock_ebadf_on_rdonly_ex; /* the NFS behaviour */
static int flock_blocking_calls;      /* flock calls without LOCK_NB */

static void disarm_all(void)
{
    memset(faults, 0, sizeof faults);
    flock_ebadf_on_rdonly_ex = 0;
    flock_blocking_calls = 0;
}

/* Arm X to fail its nth call (from now) with err, `times` times. */
static void arm(int id, int nth, int err, int times)
{
    faults[id].nth = nth;
    faults[id].times = times;
    faults[id].err = err;
    faults[id].match = NULL;
    faults[id].calls = 0;
    faults[id].failed = 0;
}

static void arm_path(int id, int nth, int err, int times, const char *match)
{
    arm(id, nth, err, times);
    faults[id].match = match;
}

/* Count calls of X from now on, failing none. */
static void count(int id)
{
    arm(id, 0, 0, 0);
}

static int should_fail(int id, const char *path)
{
    fault *f = &faults[id];
    if (f->match && (!path || !strstr(path, f->match)))
        return 0;
    f->calls++;
    if (f->nth <= 0 || f->calls < f->nth)
        return 0;
    if (f->times >= 0 && f->failed >= f->times)
        return 0;
    f->failed++;
    errno = f->err;
    return 1;
}

/* ---- the wraps ---- */

int __real_open(const char *path, int flags, ...);
int __real_open64(const char *path, int flags, ...);
int __real_close(int fd);
int __real_flock(int fd, int op);
int __real_fcntl(int fd, int cmd, ...);
int __real_fcntl64(int fd, int cmd, ...);
int __real_fstat(int fd, struct stat *st);
int __real_fstat64(int fd, struct stat64 *st);
int __real_lstat(const char *path, struct stat *st);
int __real_lstat64(const char *path, struct stat64 *st);
int __real_ftruncate(int fd, off_t len);
int __real_ftruncate64(int fd, off64_t len);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_link(const char *from, const char *to);
int __real_unlink(const char *path);
int __real_mkostemps(char *tmpl, int suffixlen, int flags);
int __real_mkostemps64(char *tmpl, int suffixlen, int flags);
int __real_inotify_init1(int flags);
int __real_mkdir(const char *path, mode_t mode);
int __real_inotify_add_watch(int fd, const char *path, uint32_t mask);
ssize_t __real_read(int fd, void *buf, size_t n);
off_t __real_lseek(int fd, off_t off, int whence);
off64_t __real_lseek64(int fd, off64_t off, int whence);
int __real_stat(const char *path, struct stat *st);
int __real_stat64(const char *path, struct stat64 *st);
int __real_poll(struct pollfd *fds, nfds_t n, int ms);
ssize_t __real_getrandom(void *buf, size_t n, unsigned int flags);

#define OPEN_MODE(flags, mode)                                               \
    do {                                                                     \
        if ((flags) & (O_CREAT | O_TMPFILE)) {                               \
            va_list ap;                                                      \
            va_start(ap, flags);                                             \
            mode = va_arg(ap, int);                                          \
            va_end(ap);                                                      \
        }                                                                    \
    } while (0)

int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    if (should_fail(F_OPEN, path))
        return -1;
    return __real_open(path, flags, mode);
}

int __wrap_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...)
{
    int mode = 0;
    OPEN_MODE(flags, mode);
    if (should_fail(F_OPEN, path))
        return -1;
    return __real_open64(path, flags, mode);
}

/* A failing close still closes (as Linux does with EIO/EINTR). */
int __wrap_close(int fd);
int __wrap_close(int fd)
{
    if (should_fail(F_CLOSE, NULL)) {
        int err = errno;
        __real_close(fd);
        errno = err;
        return -1;
    }
    return __real_close(fd);
}

int __wrap_flock(int fd, int op);
int __wrap_flock(int fd, int op)
{
    if (op & LOCK_UN)
        return __real_flock(fd, op);
    if (!(op & LOCK_NB))
        flock_blocking_calls++;
    if (flock_ebadf_on_rdonly_ex && (op & LOCK_EX)) {
        int fl = __real_fcntl64(fd, F_GETFL);
        faults[F_FLOCK].calls++;
        if (fl >= 0 && (fl & O_ACCMODE) == O_RDONLY) {
            errno = EBADF;
            return -1;
        }
        return __real_flock(fd, op);
    }
    if (should_fail(F_FLOCK, NULL))
        return -1;
    return __real_flock(fd, op);
}

static int is_lock_cmd(int cmd, void *arg)
{
    const struct flock *fl = arg;
    if (cmd != F_SETLK && cmd != F_SETLKW && cmd != F_OFD_SETLK &&
        cmd != F_OFD_SETLKW)
        return 0;
    return fl && fl->l_type != F_UNLCK;
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
    if (is_lock_cmd(cmd, arg) && should_fail(F_FCNTL, NULL))
        return -1;
    if (cmd == F_SETFL && should_fail(F_SETFLAGS, NULL))
        return -1;
    if (cmd == F_GETFL && should_fail(F_GETFLAGS, NULL))
        return -1;
    return real(fd, cmd, arg);
}

int __wrap_fcntl(int fd, int cmd, ...);
int __wrap_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;
    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(__real_fcntl, fd, cmd, arg);
}

int __wrap_fcntl64(int fd, int cmd, ...);
int __wrap_fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;
    va_start(ap, cmd);
    arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl_common(__real_fcntl64, fd, cmd, arg);
}

int __wrap_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st)
{
    if (should_fail(F_FSTAT, NULL))
        return -1;
    return __real_fstat(fd, st);
}

int __wrap_fstat64(int fd, struct stat64 *st);
int __wrap_fstat64(int fd, struct stat64 *st)
{
    if (should_fail(F_FSTAT, NULL))
        return -1;
    return __real_fstat64(fd, st);
}

int __wrap_lstat(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st)
{
    if (should_fail(F_LSTAT, path))
        return -1;
    return __real_lstat(path, st);
}

int __wrap_lstat64(const char *path, struct stat64 *st);
int __wrap_lstat64(const char *path, struct stat64 *st)
{
    if (should_fail(F_LSTAT, path))
        return -1;
    return __real_lstat64(path, st);
}

int __wrap_ftruncate(int fd, off_t len);
int __wrap_ftruncate(int fd, off_t len)
{
    if (should_fail(F_FTRUNCATE, NULL))
        return -1;
    return __real_ftruncate(fd, len);
}

int __wrap_ftruncate64(int fd, off64_t len);
int __wrap_ftruncate64(int fd, off64_t len)
{
    if (should_fail(F_FTRUNCATE, NULL))
        return -1;
    return __real_ftruncate64(fd, len);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    if (should_fail(F_WRITE, NULL))
        return -1;
    return __real_write(fd, buf, n);
}

int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
    if (should_fail(F_FSYNC, NULL))
        return -1;
    return __real_fsync(fd);
}

int __wrap_link(const char *from, const char *to);
int __wrap_link(const char *from, const char *to)
{
    if (should_fail(F_LINK, to))
        return -1;
    return __real_link(from, to);
}

int __wrap_unlink(const char *path);
int __wrap_unlink(const char *path)
{
    if (should_fail(F_UNLINK, path))
        return -1;
    return __real_unlink(path);
}

int __wrap_mkostemps(char *tmpl, int suffixlen, int flags);
int __wrap_mkostemps(char *tmpl, int suffixlen, int flags)
{
    if (should_fail(F_MKOSTEMPS, tmpl))
        return -1;
    return __real_mkostemps(tmpl, suffixlen, flags);
}

int __wrap_mkostemps64(char *tmpl, int suffixlen, int flags);
int __wrap_mkostemps64(char *tmpl, int suffixlen, int flags)
{
    if (should_fail(F_MKOSTEMPS, tmpl))
        return -1;
    return __real_mkostemps64(tmpl, suffixlen, flags);
}

int __wrap_inotify_init1(int flags);
int __wrap_inotify_init1(int flags)
{
    if (should_fail(F_INOTIFY, NULL))
        return -1;
    return __real_inotify_init1(flags);
}

int __wrap_inotify_add_watch(int fd, const char *path, uint32_t mask);
int __wrap_inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    if (should_fail(F_WATCH, path))
        return -1;
    return __real_inotify_add_watch(fd, path, mask);
}

int __wrap_mkdir(const char *path, mode_t mode);
int __wrap_mkdir(const char *path, mode_t mode)
{
    if (should_fail(F_MKDIR, path))
        return -1;
    return __real_mkdir(path, mode);
}

/* Appended wraps: the rest of what `nm build/libportalocker.a | grep ' U '`
   lists for the file locks. read, poll and lseek have no path: they are
   armed only around the call under test (testutil uses them too). */
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    if (should_fail(F_READ, NULL))
        return -1;
    return __real_read(fd, buf, n);
}

off_t __wrap_lseek(int fd, off_t off, int whence);
off_t __wrap_lseek(int fd, off_t off, int whence)
{
    if (should_fail(F_LSEEK, NULL))
        return -1;
    return __real_lseek(fd, off, whence);
}

off64_t __wrap_lseek64(int fd, off64_t off, int whence);
off64_t __wrap_lseek64(int fd, off64_t off, int whence)
{
    if (should_fail(F_LSEEK, NULL))
        return -1;
    return __real_lseek64(fd, off, whence);
}

int __wrap_stat(const char *path, struct stat *st);
int __wrap_stat(const char *path, struct stat *st)
{
    if (should_fail(F_STAT, path))
        return -1;
    return __real_stat(path, st);
}

int __wrap_stat64(const char *path, struct stat64 *st);
int __wrap_stat64(const char *path, struct stat64 *st)
{
    if (should_fail(F_STAT, path))
        return -1;
    return __real_stat64(path, st);
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int ms);
int __wrap_poll(struct pollfd *fds, nfds_t n, int ms)
{
    if (should_fail(F_POLL, NULL))
        return -1;
    return __real_poll(fds, n, ms);
}

ssize_t __wrap_getrandom(void *buf, size_t n, unsigned int flags);
ssize_t __wrap_getrandom(void *buf, size_t n, unsigned int flags)
{
    if (should_fail(F_GETRANDOM, NULL))
        return -1;
    return __real_getrandom(buf, n, flags);
}

/* ---- fixtures and checks ---- */

static int setup(void **state)
{
    disarm_all();
    return tu_setup_dir(state);
}

static int teardown(void **state)
{
    disarm_all();
    return tu_teardown_dir(state);
}

static const char *dir_of(void **state)
{
    return ((tu_dir *)*state)->path;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The last error names the path and the OS error, with errno saved. */
static void expect_message(const char *path, int err)
{
    const char *msg = pl_last_error_message();
    if (path && !strstr(msg, path))
        fail_msg("message '%s' does not name '%s'", msg, path);
    if (!strstr(msg, strerror(err)))
        fail_msg("message '%s' does not give '%s'", msg, strerror(err));
    assert_int_equal(pl_last_errno(), err);
}

/* Nobody holds path: a fresh handle locks it at once. */
static void expect_lockable(const char *path)
{
    pl_lock *l = NULL;
    disarm_all();
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    pl_lock_free(l);
}

static double elapsed_since(double t0)
{
    return tu_now() - t0;
}

/* ---- Lock: open ---- */

static void open_failure_is_io_error_naming_path_and_leaves_nothing(void **state)
{
    static const int errs[] = {EACCES, EMFILE, ENOSPC};
    const char *path = tu_path(state, "open.lock");
    size_t i;
    for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        pl_lock *l = NULL;
        int before = tu_count_fds();
        tu_ok(pl_lock_new(&l, path));
        arm_path(F_OPEN, 1, errs[i], 1, "open.lock");
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 1, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[F_OPEN].failed, 1);
        disarm_all();
        expect_message(path, errs[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(pl_lock_held_fd(l), -1);
        assert_int_equal(tu_count_fds(), before);
        assert_int_equal(count_entries(dir_of(state)), 0);
        /* The handle works once the fault is gone. */
        tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        pl_lock_free(l);
        assert_int_equal(unlink(path), 0);
    }
}

static void open_failure_of_temporary_and_pidfile_locks_is_io_error(void **state)
{
    const char *tpath = tu_path(state, "t.lock");
    const char *ppath = tu_path(state, "p.pid");
    pl_lock *t = NULL, *p = NULL;
    int before = tu_count_fds();
    tu_ok(pl_temporary_lock_new(&t, tpath));
    tu_ok(pl_pidfile_lock_new(&p, ppath));
    arm_path(F_OPEN, 1, EACCES, 1, "t.lock");
    tu_expect(PL_ERR_IO, pl_lock_acquire(t, NULL));
    expect_message(tpath, EACCES);
    /* The PID file itself cannot be opened (the sidecar could). */
    /* The first open naming "p.pid" is the sidecar "p.pid.lock", the
       second the PID file. */
    arm_path(F_OPEN, 2, ENOSPC, 1, "p.pid");
    tu_expect(PL_ERR_IO, pl_lock_acquire(p, NULL));
    disarm_all();
    expect_message(ppath, ENOSPC);
    assert_int_equal(pl_lock_is_held(p), 0);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(count_entries(dir_of(state)), 0);
    expect_lockable(tu_path(state, "p.pid.lock"));
    tu_ok(pl_lock_acquire(t, NULL));
    tu_ok(pl_lock_acquire(p, NULL));
    pl_lock_free(t);
    pl_lock_free(p);
    assert_int_equal(count_entries(dir_of(state)), 0);
}

static void eintr_from_open_and_lock_calls_is_retried(void **state)
{
    const char *path = tu_path(state, "eintr.lock");
    pl_lock *l = NULL;
    int fd;
    tu_ok(pl_lock_new(&l, path));
    arm_path(F_OPEN, 1, EINTR, 1, "eintr.lock");
    arm(F_FLOCK, 1, EINTR, 1);
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_OPEN].calls, 2);
    assert_int_equal(faults[F_FLOCK].calls, 2);
    disarm_all();
    tu_ok(pl_lock_release(l));
    /* The same for fcntl record locks and a blocking low-level call. */
    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    arm(F_FCNTL, 1, EINTR, 1);
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_FCNTL].calls, 2);
    disarm_all();
    pl_lock_free(l);
    fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    arm(F_FLOCK, 1, EINTR, 2);
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    assert_int_equal(faults[F_FLOCK].calls, 3);
    disarm_all();
    close(fd);
}

/* ---- Lock: the lock call ---- */

static void enolck_from_lock_call_is_lock_failed_and_leaves_nothing(void **state)
{
    const char *path = tu_path(state, "nolck.lock");
    static const int mechs[] = {PL_MECH_FLOCK, PL_MECH_POSIX, PL_MECH_OFD};
    size_t i;
    for (i = 0; i < 3; i++) {
        pl_lock *l = NULL;
        int before = tu_count_fds();
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_lock_set_mechanism(l, mechs[i]));
        if (mechs[i] == PL_MECH_OFD && pl_mechanism_supported(PL_MECH_OFD) != PL_OK) {
            pl_lock_free(l);
            continue;
        }
        arm(mechs[i] == PL_MECH_FLOCK ? F_FLOCK : F_FCNTL, 1, ENOLCK, -1);
        tu_expect(PL_ERR_LOCK_FAILED, pl_lock_acquire_with(l, 1, PL_INHERIT, 0, NULL));
        disarm_all();
        expect_message(path, ENOLCK);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(tu_count_fds(), before);
        expect_lockable(path);
        pl_lock_free(l);
    }
}

static void enosys_is_unsupported_and_never_retried(void **state)
{
    const char *path = tu_path(state, "nosys.lock");
    pl_lock *l = NULL;
    pl_semaphore *s = NULL;
    int before = tu_count_fds(), fd;
    double t0;
    tu_ok(pl_lock_new(&l, path));
    arm(F_FLOCK, 1, ENOSYS, -1);
    t0 = tu_now();
    tu_expect(PL_ERR_UNSUPPORTED, pl_lock_acquire_with(l, 2, 0.01, 0, NULL));
    assert_true(elapsed_since(t0) < 0.5);
    assert_int_equal(faults[F_FLOCK].calls, 1);
    expect_message(path, ENOSYS);
    /* Infinite timeout: the blocking path gives up too. */
    arm(F_FLOCK, 1, ENOSYS, -1);
    tu_expect(PL_ERR_UNSUPPORTED, pl_lock_acquire_with(l, INFINITY, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_FLOCK].calls, 1);
    /* POSIX record locks: the same through fcntl. */
    tu_ok(pl_lock_set_mechanism(l, PL_MECH_POSIX));
    arm(F_FCNTL, 1, ENOSYS, -1);
    tu_expect(PL_ERR_UNSUPPORTED, pl_lock_acquire_with(l, 2, 0.01, 0, NULL));
    assert_int_equal(faults[F_FCNTL].calls, 1);
    /* The low-level call. */
    disarm_all();
    fd = open(path, O_RDWR | O_CLOEXEC);
    arm(F_FLOCK, 1, ENOSYS, -1);
    tu_expect(PL_ERR_UNSUPPORTED, pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    assert_int_equal(pl_last_errno(), ENOSYS);
    disarm_all();
    close(fd);
    /* The semaphore: a lock call failure other than contention ends the
       acquire (as LOCK_FAILED / UNSUPPORTED), it is not waited out. */
    tu_ok(pl_semaphore_new(&s, 2, "nosys"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    arm(F_FLOCK, 1, ENOSYS, -1);
    t0 = tu_now();
    tu_expect(PL_ERR_UNSUPPORTED, pl_semaphore_acquire_with(s, 2, 0.01, NULL));
    assert_true(elapsed_since(t0) < 0.5);
    assert_int_equal(faults[F_FLOCK].calls, 1);
    disarm_all();
    assert_non_null(strstr(pl_last_error_message(), "nosys.00.lock"));
    pl_semaphore_free(s);
    assert_int_equal(pl_lock_is_held(l), 0);
    pl_lock_free(l);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(path);
}

static void ebadf_on_exclusive_lock_of_read_only_fd_reopens_read_write(void **state)
{
    /* NFS refuses an exclusive flock on a read-only descriptor (EBADF);
       the core reopens read-write once, as util-linux and gofrs/flock. */
    const char *path = tu_path(state, "nfs.lock");
    pl_lock *l = NULL;
    int fd = -1, before = tu_count_fds();
    assert_int_equal(tu_write_file(path, "data"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "r"));
    flock_ebadf_on_rdonly_ex = 1;
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, &fd));
    assert_int_equal(faults[F_FLOCK].calls, 2);
    disarm_all();
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 1);
    assert_int_equal(tu_count_fds(), before + 1);
    pl_lock_free(l);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
}

static void ebadf_persisting_after_reopen_is_lock_failed_without_leak(void **state)
{
    const char *path = tu_path(state, "ebadf.lock");
    pl_lock *l = NULL;
    int before = tu_count_fds();
    assert_int_equal(tu_write_file(path, "data"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "r"));
    arm(F_FLOCK, 1, EBADF, -1);
    tu_expect(PL_ERR_LOCK_FAILED, pl_lock_acquire_with(l, 1, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_FLOCK].calls, 2); /* one reopen, no loop */
    disarm_all();
    expect_message(path, EBADF);
    assert_int_equal(tu_count_fds(), before);
    /* The read-write reopen itself failing (EACCES) is reported as such. */
    flock_ebadf_on_rdonly_ex = 1;
    arm_path(F_OPEN, 2, EACCES, 1, "ebadf.lock");
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 1, PL_INHERIT, 0, NULL));
    disarm_all();
    expect_message(path, EACCES);
    assert_int_equal(tu_count_fds(), before);
    pl_lock_free(l);
    expect_lockable(path);
}

/* ---- Lock: after the lock is taken ---- */

static void ftruncate_failure_in_mode_w_drops_the_lock(void **state)
{
    const char *path = tu_path(state, "trunc.lock");
    pl_lock *l = NULL;
    char buf[32];
    int before = tu_count_fds();
    assert_int_equal(tu_write_file(path, "keep"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "w"));
    arm(F_FTRUNCATE, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_FTRUNCATE].calls, 1);
    disarm_all();
    expect_message(path, EIO);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 4);
    /* Working again: truncated once locked. */
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 0);
    pl_lock_free(l);
}

static void fstat_failure_checking_read_mode_file_is_io_error(void **state)
{
    /* Mode 'r' checks the file is regular with fstat: a failing fstat is
       an I/O error about the path, not "invalid argument". */
    const char *path = tu_path(state, "fstat.lock");
    pl_lock *l = NULL;
    int before = tu_count_fds();
    assert_int_equal(tu_write_file(path, "x"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "r+"));
    tu_ok(pl_lock_set_mode(l, "r"));
    arm(F_FSTAT, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    disarm_all();
    expect_message(path, EIO);
    assert_int_equal(tu_count_fds(), before);
    pl_lock_free(l);
    expect_lockable(path);
}

static void fstat_failure_verifying_temporary_lock_is_io_error(void **state)
{
    const char *path = tu_path(state, "verify.lock");
    pl_lock *l = NULL;
    int before = tu_count_fds();
    tu_ok(pl_temporary_lock_new(&l, path));
    arm(F_FSTAT, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
    disarm_all();
    expect_message(path, EIO);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(path);
    /* The same with lstat failing on the path. */
    arm_path(F_LSTAT, 1, EACCES, 1, "verify.lock");
    tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
    disarm_all();
    expect_message(path, EACCES);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(path);
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
}

/* ---- PID file ---- */

static void pid_write_or_fsync_failure_releases_sidecar_and_reports(void **state)
{
    const char *path = tu_path(state, "app.pid");
    const char *sidecar = tu_path(state, "app.pid.lock");
    static const int which[] = {F_WRITE, F_WRITE, F_FSYNC};
    static const int errs[] = {ENOSPC, EIO, EIO};
    size_t i;
    for (i = 0; i < 3; i++) {
        pl_lock *l = NULL;
        long pid = -1;
        int before = tu_count_fds();
        tu_ok(pl_pidfile_lock_new(&l, path));
        arm(which[i], 1, errs[i], 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire(l, NULL));
        disarm_all();
        expect_message(path, errs[i]);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(tu_count_fds(), before);
        /* Neither the PID file nor the sidecar is left behind, and the
           sidecar's lock is free. */
        assert_false(tu_exists(path));
        assert_false(tu_exists(sidecar));
        assert_int_equal(count_entries(dir_of(state)), 0);
        tu_ok(pl_lock_read_pid(l, &pid));
        assert_int_equal(pid, 0);
        /* The handle works afterwards. */
        tu_ok(pl_lock_acquire(l, NULL));
        tu_ok(pl_lock_read_pid(l, &pid));
        assert_int_equal(pid, (long)getpid());
        pl_lock_free(l);
        assert_int_equal(count_entries(dir_of(state)), 0);
    }
}

/* ---- release ---- */

static void close_failure_on_release_is_reported_only_when_asked(void **state)
{
    const char *path = tu_path(state, "close.lock");
    pl_lock *l = NULL;
    int before = tu_count_fds(), raise;
    tu_ok(pl_lock_new(&l, path));
    for (raise = 0; raise <= 1; raise++) {
        tu_ok(pl_lock_set_raise_on_release_error(l, raise));
        tu_ok(pl_lock_acquire(l, NULL));
        arm(F_CLOSE, 1, EIO, 1);
        tu_expect(raise ? PL_ERR_IO : PL_OK, pl_lock_release(l));
        assert_int_equal(faults[F_CLOSE].failed, 1);
        disarm_all();
        /* Either way the detail is in the last error. */
        expect_message(path, EIO);
        assert_non_null(strstr(pl_last_error_message(), "close"));
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(pl_lock_held_fd(l), -1);
        assert_int_equal(tu_count_fds(), before);
        expect_lockable(path);
        /* A second release is a plain no-op. */
        tu_ok(pl_lock_release(l));
    }
    pl_lock_free(l);
}

static void close_failure_on_semaphore_release_is_io_error_naming_slot(void **state)
{
    pl_semaphore *s = NULL;
    int before = tu_count_fds();
    tu_ok(pl_semaphore_new(&s, 1, "closing"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    tu_ok(pl_semaphore_acquire(s, NULL));
    arm(F_CLOSE, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_semaphore_release(s));
    disarm_all();
    expect_message(tu_path(state, "closing.00.lock"), EIO);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tu_path(state, "closing.00.lock"));
    tu_ok(pl_semaphore_acquire(s, NULL));
    pl_semaphore_free(s);
}

/* ---- semaphore ---- */

static void semaphore_slot_open_failure_is_io_error_naming_slot(void **state)
{
    pl_semaphore *s = NULL, *holder = NULL;
    int before, slot = -1;
    tu_ok(pl_semaphore_new(&s, 3, "sem"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    tu_ok(pl_semaphore_new(&holder, 3, "sem"));
    tu_ok(pl_semaphore_set_directory(holder, dir_of(state)));
    tu_ok(pl_semaphore_acquire(holder, NULL)); /* slot 0 */
    before = tu_count_fds();
    arm_path(F_OPEN, 1, EACCES, 1, "sem.01.lock");
    tu_expect(PL_ERR_IO, pl_semaphore_acquire_with(s, 1, PL_INHERIT, NULL));
    disarm_all();
    expect_message(tu_path(state, "sem.01.lock"), EACCES);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(tu_count_fds(), before);
    /* Usable afterwards. */
    tu_ok(pl_semaphore_acquire_with(s, 0, PL_INHERIT, &slot));
    assert_int_equal(slot, 1);
    pl_semaphore_free(s);
    pl_semaphore_free(holder);
}

static void semaphore_enolck_is_lock_failed_and_holds_nothing(void **state)
{
    pl_semaphore *s = NULL;
    int before = tu_count_fds();
    tu_ok(pl_semaphore_new(&s, 2, "nolck"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    arm(F_FLOCK, 1, ENOLCK, 1);
    tu_expect(PL_ERR_LOCK_FAILED, pl_semaphore_acquire(s, NULL));
    disarm_all();
    expect_message(tu_path(state, "nolck.00.lock"), ENOLCK);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tu_path(state, "nolck.00.lock"));
    expect_lockable(tu_path(state, "nolck.01.lock"));
    pl_semaphore_free(s);
}

/* ---- open_atomic ---- */

static void atomic_temp_create_failure_is_io_error_and_creates_nothing(void **state)
{
    static const int errs[] = {EMFILE, ENOSPC, EACCES};
    const char *path = tu_path(state, "out.txt");
    size_t i;
    for (i = 0; i < 3; i++) {
        pl_atomic_file *f = (pl_atomic_file *)0x1;
        int before = tu_count_fds();
        arm_path(F_OPEN, 1, errs[i], 1, ".portalocker.");
        tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
        assert_int_equal(faults[F_OPEN].failed, 1);
        disarm_all();
        expect_message(path, errs[i]);
        assert_null(f);
        assert_int_equal(tu_count_fds(), before);
        assert_int_equal(count_entries(dir_of(state)), 0);
    }
}

/* A random temporary name someone else took is rolled again; a source of
   randomness so broken that every name is taken ends in an I/O error,
   never PL_ERR_EXISTS (that would mean the destination exists). */
static void atomic_taken_temp_names_are_rolled_again(void **state)
{
    const char *path = tu_path(state, "rolled.txt");
    pl_atomic_file *f = NULL;
    int before = tu_count_fds();
    arm_path(F_OPEN, 1, EEXIST, 3, ".portalocker.");
    tu_ok(pl_atomic_open(&f, path));
    assert_int_equal(faults[F_OPEN].calls, 4);
    disarm_all();
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_true(tu_exists(path));
    arm_path(F_OPEN, 1, EEXIST, -1, ".portalocker.");
    f = (pl_atomic_file *)0x1;
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, tu_path(state, "never.txt")));
    assert_int_equal(faults[F_OPEN].calls, 10000);
    disarm_all();
    assert_null(f);
    assert_non_null(strstr(pl_last_error_message(), "never.txt"));
    assert_int_equal(count_entries(dir_of(state)), 1);
    assert_int_equal(tu_count_fds(), before);
}

static void atomic_mkdir_failure_is_io_error_naming_path(void **state)
{
    const char *path = tu_path(state, "sub/dir/out.txt");
    pl_atomic_file *f = NULL;
    arm_path(F_MKDIR, 1, EACCES, 1, "sub");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    disarm_all();
    expect_message(path, EACCES);
    assert_null(f);
    assert_int_equal(count_entries(dir_of(state)), 0);
}

/* Open, write "data", arm, commit: returns the commit's code. */
static int commit_with_fault(void **state, const char *name, int id, int nth,
                             int err, char *temp, size_t temp_size)
{
    pl_atomic_file *f = NULL;
    int rc;
    tu_ok(pl_atomic_open(&f, tu_path(state, name)));
    assert_int_equal(write(pl_atomic_fd(f), "data", 4), 4);
    snprintf(temp, temp_size, "%s", pl_atomic_temp_path(f));
    arm(id, nth, err, 1);
    rc = pl_atomic_commit(f);
    assert_int_equal(faults[id].failed, 1);
    disarm_all();
    /* The message survives freeing the handle (checked by the caller). */
    {
        char msg[512];
        int e = pl_last_errno();
        snprintf(msg, sizeof msg, "%s", pl_last_error_message());
        pl_atomic_free(f);
        /* EEXIST has its own wording ("appeared while ..."). */
        if (rc != PL_OK && err != EEXIST && !strstr(msg, strerror(err)))
            fail_msg("message '%s' lacks '%s'", msg, strerror(err));
        if (rc != PL_OK)
            assert_int_equal(e, err);
    }
    return rc;
}

static void atomic_fsync_failure_removes_temp_and_publishes_nothing(void **state)
{
    char temp[512];
    int before = tu_count_fds();
    tu_expect(PL_ERR_IO, commit_with_fault(state, "fsync.txt", F_FSYNC, 1, EIO, temp, sizeof temp));
    assert_false(tu_exists(temp));
    assert_false(tu_exists(tu_path(state, "fsync.txt")));
    assert_int_equal(count_entries(dir_of(state)), 0);
    assert_int_equal(tu_count_fds(), before);
}

static void atomic_close_failure_removes_temp_and_publishes_nothing(void **state)
{
    char temp[512];
    int before = tu_count_fds();
    tu_expect(PL_ERR_IO, commit_with_fault(state, "close.txt", F_CLOSE, 1, EIO, temp, sizeof temp));
    assert_false(tu_exists(temp));
    assert_false(tu_exists(tu_path(state, "close.txt")));
    assert_int_equal(count_entries(dir_of(state)), 0);
    assert_int_equal(tu_count_fds(), before);
}

static void atomic_link_failure_keeps_payload_and_publishes_nothing(void **state)
{
    static const int errs[] = {EIO, ENOSPC};
    size_t i;
    for (i = 0; i < 2; i++) {
        char temp[512], buf[16];
        int before = tu_count_fds();
        tu_expect(PL_ERR_IO, commit_with_fault(state, "link.txt", F_LINK, 1, errs[i], temp, sizeof temp));
        /* The finished payload is the caller's: kept, even after free. */
        assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
        assert_false(tu_exists(tu_path(state, "link.txt")));
        assert_int_equal(count_entries(dir_of(state)), 1);
        assert_int_equal(tu_count_fds(), before);
        assert_int_equal(unlink(temp), 0);
    }
    /* EEXIST from link is the "appeared meanwhile" case. */
    {
        char temp[512];
        tu_expect(PL_ERR_EXISTS, commit_with_fault(state, "link.txt", F_LINK, 1, EEXIST, temp, sizeof temp));
        assert_true(tu_exists(temp));
        assert_int_equal(count_entries(dir_of(state)), 1);
        assert_int_equal(unlink(temp), 0);
    }
}

/* Filesystems without hard links: link fails with EPERM/ENOTSUP/EMLINK and
   publication falls back to check-then-rename. */
static void atomic_without_hard_links_publishes_by_rename(void **state)
{
    static const int errs[] = {EPERM, ENOTSUP, EMLINK};
    size_t i;
    for (i = 0; i < 3; i++) {
        char temp[512], buf[16], name[32];
        snprintf(name, sizeof name, "nolink%zu.txt", i);
        tu_ok(commit_with_fault(state, name, F_LINK, 1, errs[i], temp, sizeof temp));
        assert_false(tu_exists(temp));
        assert_int_equal(tu_read_file(tu_path(state, name), buf, sizeof buf), 4);
        assert_int_equal(count_entries(dir_of(state)), (int)i + 1);
    }
}

static void atomic_without_hard_links_still_refuses_an_existing_name(void **state)
{
    const char *path = tu_path(state, "taken.txt");
    pl_atomic_file *f = NULL;
    char temp[512], buf[16];
    tu_ok(pl_atomic_open(&f, path));
    assert_int_equal(write(pl_atomic_fd(f), "ours", 4), 4);
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
    /* A dangling symlink appears meanwhile: refused like link(2) would. */
    assert_int_equal(symlink(tu_path(state, "nowhere"), path), 0);
    arm(F_LINK, 1, EPERM, 1);
    tu_expect(PL_ERR_EXISTS, pl_atomic_commit(f));
    disarm_all();
    pl_atomic_free(f);
    assert_false(tu_exists(tu_path(state, "nowhere")));
    assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
}

static void atomic_unlink_failure_after_publish_is_reported_and_free_removes_temp(void **state)
{
    const char *path = tu_path(state, "unlink.txt");
    pl_atomic_file *f = NULL;
    char temp[512], buf[16];
    int before = tu_count_fds();
    tu_ok(pl_atomic_open(&f, path));
    assert_int_equal(write(pl_atomic_fd(f), "data", 4), 4);
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
    arm_path(F_UNLINK, 1, EIO, 1, ".tmp");
    tu_expect(PL_ERR_IO, pl_atomic_commit(f));
    disarm_all();
    /* Published (link succeeded), but the caller learns the temporary
       file could not be removed, and which one. */
    expect_message(temp, EIO);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 4);
    tu_expect(PL_ERR_INVALID_STATE, pl_atomic_commit(f));
    /* Freeing the handle tries again. */
    pl_atomic_free(f);
    assert_false(tu_exists(temp));
    assert_int_equal(count_entries(dir_of(state)), 1);
    assert_int_equal(tu_count_fds(), before);
}

static void atomic_directory_fsync_failure_is_reported_after_publish(void **state)
{
    char temp[512], buf[16];
    int before = tu_count_fds();
    tu_expect(PL_ERR_IO, commit_with_fault(state, "dirsync.txt", F_FSYNC, 2, EIO, temp, sizeof temp));
    assert_false(tu_exists(temp));
    assert_int_equal(tu_read_file(tu_path(state, "dirsync.txt"), buf, sizeof buf), 4);
    assert_int_equal(count_entries(dir_of(state)), 1);
    assert_int_equal(tu_count_fds(), before);
}

static void atomic_existence_check_failure_is_io_error(void **state)
{
    const char *path = tu_path(state, "check.txt");
    pl_atomic_file *f = NULL;
    arm_path(F_LSTAT, 1, EACCES, 1, "check.txt");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    disarm_all();
    expect_message(path, EACCES);
    assert_null(f);
    assert_int_equal(count_entries(dir_of(state)), 0);
}

/* ---- waiting ---- */

typedef struct hold_arg {
    const char *path;
    double hold;
    tu_pipe ready;
} hold_arg;

static int child_hold_then_release(void *p)
{
    hold_arg *a = p;
    pl_lock *l = NULL;
    struct timespec ts;
    if (pl_lock_new(&l, a->path) != PL_OK || pl_lock_acquire(l, NULL) != PL_OK)
        return 1;
    tu_pipe_signal(&a->ready);
    ts.tv_sec = 0;
    ts.tv_nsec = (long)(a->hold * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    pl_lock_free(l);
    return 0;
}

static void inotify_init_failure_falls_back_to_backoff(void **state)
{
    hold_arg a;
    pid_t pid;
    pl_lock *l = NULL;
    double t0, e;
    int before;
    a.path = tu_path(state, "noinotify.lock");
    a.hold = 0.3;
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&l, a.path));
    pid = tu_fork(child_hold_then_release, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    before = tu_count_fds();
    arm(F_INOTIFY, 1, EMFILE, -1);
    t0 = tu_now();
    tu_ok(pl_lock_acquire_with(l, 5, 0.05, 0, NULL));
    e = elapsed_since(t0);
    assert_int_equal(faults[F_INOTIFY].failed, 1);
    disarm_all();
    assert_int_equal(tu_wait(pid), 0);
    /* Released ~0.3 s in; the backoff (capped at 50 ms) notices it. */
    assert_true(e >= 0.25);
    assert_true(e < 0.3 + 3 * 0.05 + 0.5);
    assert_int_equal(tu_count_fds(), before + 1); /* the held lock only */
    pl_lock_free(l);
    tu_pipe_close(&a.ready);
}

static void inotify_watch_failure_falls_back_to_backoff(void **state)
{
    /* The per-user watch limit reached (ENOSPC): no wake-ups, but the
       backoff still notices the release within ~check_interval. */
    hold_arg a;
    pid_t pid;
    pl_lock *l = NULL;
    double t0, e;
    a.path = tu_path(state, "nowatch.lock");
    a.hold = 0.3;
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&l, a.path));
    pid = tu_fork(child_hold_then_release, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    arm(F_WATCH, 1, ENOSPC, -1);
    t0 = tu_now();
    tu_ok(pl_lock_acquire_with(l, 5, 0.05, 0, NULL));
    e = elapsed_since(t0);
    assert_true(faults[F_WATCH].failed >= 1);
    disarm_all();
    assert_int_equal(tu_wait(pid), 0);
    assert_true(e >= 0.25);
    assert_true(e < 0.3 + 3 * 0.05 + 0.5);
    pl_lock_free(l);
    tu_pipe_close(&a.ready);
}

static void timeout_zero_makes_exactly_one_lock_call(void **state)
{
    const char *path = tu_path(state, "once.lock");
    pl_lock *holder = NULL, *l = NULL;
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    count(F_FLOCK);
    count(F_INOTIFY);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0, 0.25, 0, NULL));
    assert_int_equal(faults[F_FLOCK].calls, 1);
    assert_int_equal(faults[F_INOTIFY].calls, 0);
    disarm_all();
    pl_lock_free(holder);
    pl_lock_free(l);
}

static void infinite_timeout_waits_without_the_blocking_lock_call(void **state)
{
    hold_arg a;
    pid_t pid;
    pl_lock *l = NULL;
    a.path = tu_path(state, "block.lock");
    a.hold = 0.2;
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&l, a.path));
    pid = tu_fork(child_hold_then_release, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    count(F_FLOCK);
    count(F_INOTIFY);
    tu_ok(pl_lock_acquire_with(l, INFINITY, PL_INHERIT, 0, NULL));
    /* Never the kernel's blocking call (only a signal could end it, not a
       cancel or the wait hook); the inotify wake-up keeps the attempts
       few: ~0.2 s of backoff capped at 0.25 s. */
    assert_int_equal(flock_blocking_calls, 0);
    assert_true(faults[F_FLOCK].calls >= 2);
    assert_true(faults[F_FLOCK].calls < 30);
    disarm_all();
    assert_int_equal(tu_wait(pid), 0);
    pl_lock_free(l);
    tu_pipe_close(&a.ready);
}

/* ---- appended: read, lseek, stat, poll, fcntl(F_GETFL/F_SETFL),
   getrandom, unlink/lstat on release ---- */

static void read_failure_reading_pid_is_no_pid_without_leak(void **state)
{
    const char *path = tu_path(state, "rd.pid");
    pl_lock *holder = NULL, *l = NULL;
    long pid = -1;
    int before;
    tu_ok(pl_pidfile_lock_new(&holder, path));
    tu_ok(pl_pidfile_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    before = tu_count_fds();
    /* read_pid: EIO is "no PID" (the reference's None), EINTR is retried. */
    arm(F_READ, 1, EIO, 1);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(faults[F_READ].failed, 1);
    disarm_all();
    assert_int_equal(pid, 0);
    assert_int_equal(tu_count_fds(), before);
    arm(F_READ, 1, EINTR, 1);
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(faults[F_READ].failed, 1);
    disarm_all();
    assert_int_equal(pid, (long)getpid());
    /* Contention: the holder's PID cannot be read; the error stays the
       contention, not the read failure. */
    arm(F_READ, 1, EIO, 1);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(faults[F_READ].failed, 1);
    disarm_all();
    assert_null(strstr(pl_last_error_message(), strerror(EIO)));
    assert_int_equal(pl_lock_holder_pid(l), 0);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(tu_count_fds(), before);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0, PL_INHERIT, 1, NULL));
    assert_int_equal(pl_lock_holder_pid(l), (long)getpid());
    pl_lock_free(holder);
    tu_ok(pl_lock_acquire(l, NULL));
    pl_lock_free(l);
    assert_int_equal(count_entries(dir_of(state)), 0);
}

/* A contended wait of ~0.3 s with a fault armed on every call of `id`:
   still acquired once the holder leaves, within loose bounds, without
   spinning (few lock calls), with no descriptor left. */
static void contended_wait_with_fault(void **state, const char *name, int id,
                                      int err)
{
    hold_arg a;
    pid_t pid;
    pl_lock *l = NULL;
    double t0, e;
    int before;
    a.path = tu_path(state, name);
    a.hold = 0.3;
    tu_pipe_open(&a.ready);
    tu_ok(pl_lock_new(&l, a.path));
    pid = tu_fork(child_hold_then_release, &a);
    assert_int_equal(tu_pipe_wait(&a.ready, 10), 0);
    before = tu_count_fds();
    arm(id, 1, err, -1);
    count(F_FLOCK);
    t0 = tu_now();
    tu_ok(pl_lock_acquire_with(l, 5, 0.05, 0, NULL));
    e = elapsed_since(t0);
    assert_true(faults[id].failed >= 1);
    /* Backoff 1, 2, 4, ... capped at 50 ms over ~0.3 s: a few dozen
       attempts at most; a waiter that spins makes thousands. */
    if (faults[F_FLOCK].calls > 200)
        fail_msg("%d lock calls in %.2f s: the waiter spins", faults[F_FLOCK].calls, e);
    disarm_all();
    assert_int_equal(tu_wait(pid), 0);
    assert_true(e >= 0.25);
    assert_true(e < 0.3 + 3 * 0.05 + 1.0);
    assert_int_equal(tu_count_fds(), before + 1); /* the held lock only */
    pl_lock_free(l);
    tu_pipe_close(&a.ready);
}

static void inotify_drain_read_failure_still_waits_and_wakes(void **state)
{
    /* read(2) of the inotify descriptor failing: the events stay queued,
       the waiter must neither spin nor miss the release. */
    contended_wait_with_fault(state, "drain.lock", F_READ, EIO);
}

static void poll_failure_in_waiter_respects_backoff_and_deadline(void **state)
{
    const char *path = tu_path(state, "poll.lock");
    static const int errs[] = {EINTR, ENOMEM};
    pl_lock *holder = NULL, *l = NULL;
    size_t i;
    contended_wait_with_fault(state, "pollwake.lock", F_POLL, EINTR);
    contended_wait_with_fault(state, "pollwake.lock", F_POLL, ENOMEM);
    /* Never released: the deadline still ends the wait, on time. */
    tu_ok(pl_lock_new(&holder, path));
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_acquire(holder, NULL));
    for (i = 0; i < 2; i++) {
        int before = tu_count_fds();
        double t0, e;
        arm(F_POLL, 1, errs[i], -1);
        count(F_FLOCK);
        t0 = tu_now();
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire_with(l, 0.3, 0.05, 0, NULL));
        e = elapsed_since(t0);
        assert_true(faults[F_POLL].failed >= 1);
        if (faults[F_FLOCK].calls > 200)
            fail_msg("%d lock calls in %.2f s: the waiter spins", faults[F_FLOCK].calls, e);
        disarm_all();
        assert_true(e >= 0.28);
        assert_true(e < 0.3 + 1.0);
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(tu_count_fds(), before);
    }
    pl_lock_free(holder);
    pl_lock_free(l);
    expect_lockable(path);
}

static void lseek_failure_in_mode_w_drops_the_lock(void **state)
{
    const char *path = tu_path(state, "seek.lock");
    pl_lock *l = NULL;
    int before = tu_count_fds();
    assert_int_equal(tu_write_file(path, "keep"), 0);
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_mode(l, "w"));
    arm(F_LSEEK, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    assert_int_equal(faults[F_LSEEK].failed, 1);
    disarm_all();
    expect_message(path, EIO);
    assert_non_null(strstr(pl_last_error_message(), "truncate"));
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_int_equal(pl_lock_held_fd(l), -1);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
    expect_lockable(path);
    tu_ok(pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
    pl_lock_free(l);
}

static void clear_append_fcntl_failure_in_mode_w_drops_the_lock(void **state)
{
    /* Mode 'w' is opened as 'a' and O_APPEND is cleared once locked:
       F_GETFL or F_SETFL failing drops the lock. */
    const char *path = tu_path(state, "append.lock");
    static const int which[] = {F_GETFLAGS, F_SETFLAGS};
    size_t i;
    for (i = 0; i < 2; i++) {
        pl_lock *l = NULL;
        int before = tu_count_fds();
        tu_ok(pl_lock_new(&l, path));
        tu_ok(pl_lock_set_mode(l, "w"));
        /* F_SETFL: the open's own (back to blocking mode after the
           non-blocking open that keeps FIFOs out) comes first. */
        arm(which[i], which[i] == F_SETFLAGS ? 2 : 1, EIO, 1);
        tu_expect(PL_ERR_IO, pl_lock_acquire_with(l, 0, PL_INHERIT, 0, NULL));
        assert_int_equal(faults[which[i]].failed, 1);
        disarm_all();
        expect_message(path, EIO);
        assert_non_null(strstr(pl_last_error_message(), "O_APPEND"));
        assert_int_equal(pl_lock_is_held(l), 0);
        assert_int_equal(tu_count_fds(), before);
        assert_int_equal(tu_probe_locked(path, PL_MECH_FLOCK), 0);
        expect_lockable(path);
        pl_lock_free(l);
    }
}

static void setfl_failure_after_regular_file_check_is_io_error(void **state)
{
    /* PL_O_REGULAR opens non-blocking (a FIFO must not hang us), checks
       with fstat, then sets blocking mode back with F_SETFL. That F_SETFL
       failing is an I/O error, not "not a regular file", and closes. */
    const char *tpath = tu_path(state, "setfl.lock");
    const char *ppath = tu_path(state, "setfl.pid");
    pl_lock *t = NULL, *p = NULL;
    pl_semaphore *s = NULL;
    long pid = -1;
    int before = tu_count_fds();

    /* A temporary lock's own file. The file may have been created by the
       open: it is not ours to remove (we do not hold the lock), so the
       next holder's release removes it. */
    tu_ok(pl_temporary_lock_new(&t, tpath));
    arm(F_SETFLAGS, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire(t, NULL));
    assert_int_equal(faults[F_SETFLAGS].failed, 1);
    disarm_all();
    expect_message(tpath, EIO);
    assert_int_equal(pl_lock_is_held(t), 0);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tpath);
    tu_ok(pl_lock_acquire(t, NULL));
    pl_lock_free(t);
    assert_int_equal(count_entries(dir_of(state)), 0);

    /* The PID file, opened once the sidecar is locked (the third F_SETFL:
       the sidecar's open, then clearing its O_APPEND). Neither file is
       left. */
    tu_ok(pl_pidfile_lock_new(&p, ppath));
    arm(F_SETFLAGS, 3, EIO, 1);
    tu_expect(PL_ERR_IO, pl_lock_acquire(p, NULL));
    assert_int_equal(faults[F_SETFLAGS].failed, 1);
    disarm_all();
    expect_message(ppath, EIO);
    assert_non_null(strstr(pl_last_error_message(), "PID file"));
    assert_int_equal(pl_lock_is_held(p), 0);
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(count_entries(dir_of(state)), 0);
    expect_lockable(tu_path(state, "setfl.pid.lock"));

    /* Reading the PID: no PID, no descriptor. */
    tu_ok(pl_lock_acquire(p, NULL));
    arm(F_SETFLAGS, 1, EIO, 1);
    tu_ok(pl_lock_read_pid(p, &pid));
    assert_int_equal(faults[F_SETFLAGS].failed, 1);
    disarm_all();
    assert_int_equal(pid, 0);
    assert_int_equal(tu_count_fds(), before + 1);
    pl_lock_free(p);
    assert_int_equal(count_entries(dir_of(state)), 0);

    /* A semaphore slot. */
    tu_ok(pl_semaphore_new(&s, 2, "setfl"));
    tu_ok(pl_semaphore_set_directory(s, dir_of(state)));
    arm(F_SETFLAGS, 1, EIO, 1);
    tu_expect(PL_ERR_IO, pl_semaphore_acquire(s, NULL));
    disarm_all();
    expect_message(tu_path(state, "setfl.00.lock"), EIO);
    assert_int_equal(pl_semaphore_slot(s), -1);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tu_path(state, "setfl.00.lock"));
    tu_ok(pl_semaphore_acquire(s, NULL));
    pl_semaphore_free(s);
    assert_int_equal(tu_count_fds(), before);
}

static void make_parents_stat_or_mkdir_failure_is_io_error(void **state)
{
    const char *path = tu_path(state, "a/b/out.txt");
    char sub[512];
    pl_atomic_file *f = NULL;
    int before = tu_count_fds();
    snprintf(sub, sizeof sub, "%s", tu_path(state, "a/b"));
    /* The final stat of the created directory. */
    arm_path(F_STAT, 1, EIO, 1, "a/b");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    assert_int_equal(faults[F_STAT].failed, 1);
    disarm_all();
    expect_message(path, EIO);
    assert_null(f);
    assert_int_equal(tu_count_fds(), before);
    /* The directories are made on purpose; no file in them. */
    assert_int_equal(count_entries(sub), 0);
    /* mkdir of the second level failing (the first exists). */
    assert_int_equal(rmdir(sub), 0);
    arm_path(F_MKDIR, 1, ENOSPC, 1, "a/b");
    tu_expect(PL_ERR_IO, pl_atomic_open(&f, path));
    assert_int_equal(faults[F_MKDIR].failed, 1);
    disarm_all();
    expect_message(path, ENOSPC);
    assert_null(f);
    assert_false(tu_exists(sub));
    assert_int_equal(tu_count_fds(), before);
    /* Working again. */
    tu_ok(pl_atomic_open(&f, path));
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(count_entries(sub), 1);
}

static void release_unlink_or_lstat_failure_of_temporary_and_pidfile(void **state)
{
    const char *tpath = tu_path(state, "rel.lock");
    const char *ppath = tu_path(state, "rel.pid");
    pl_lock *t = NULL, *p = NULL;
    int before = tu_count_fds();
    tu_ok(pl_temporary_lock_new(&t, tpath));
    tu_ok(pl_pidfile_lock_new(&p, ppath));
    /* unlink refused: the lock is gone, the file stays; as with unlock
       and close failures, PL_OK with the detail in the last error unless
       raise_on_release_error. */
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "rel.lock");
    tu_ok(pl_lock_release(t));
    assert_int_equal(faults[F_UNLINK].failed, 1);
    disarm_all();
    assert_int_equal(pl_last_error_code(), PL_ERR_IO);
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tpath);
    tu_ok(pl_lock_set_raise_on_release_error(t, 1));
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "rel.lock");
    tu_expect(PL_ERR_IO, pl_lock_release(t));
    disarm_all();
    expect_message(tpath, EACCES);
    assert_int_equal(pl_lock_is_held(t), 0);
    assert_int_equal(tu_count_fds(), before);
    expect_lockable(tpath);
    tu_ok(pl_lock_set_raise_on_release_error(t, 0));
    assert_int_equal(unlink(tpath), 0);
    /* lstat failing while checking the file is still ours: it is removed
       anyway (the held descriptor is still the file at the path). */
    tu_ok(pl_lock_acquire(t, NULL));
    arm_path(F_LSTAT, 1, EIO, 1, "rel.lock");
    tu_ok(pl_lock_release(t));
    assert_int_equal(faults[F_LSTAT].failed, 1);
    disarm_all();
    assert_false(tu_exists(tpath));
    assert_int_equal(tu_count_fds(), before);
    /* The PID file: unlink refused is reported (raise_on_release_error),
       the sidecar still goes, its lock is free. */
    tu_ok(pl_lock_set_raise_on_release_error(p, 1));
    tu_ok(pl_lock_acquire(p, NULL));
    arm_path(F_UNLINK, 1, EACCES, 1, "rel.pid");
    tu_expect(PL_ERR_IO, pl_lock_release(p));
    disarm_all();
    expect_message(ppath, EACCES);
    assert_int_equal(pl_lock_is_held(p), 0);
    assert_int_equal(tu_count_fds(), before);
    assert_false(tu_exists(tu_path(state, "rel.pid.lock")));
    expect_lockable(tu_path(state, "rel.pid.lock"));
    assert_int_equal(unlink(ppath), 0);
    assert_int_equal(unlink(tu_path(state, "rel.pid.lock")), 0);
    pl_lock_free(t);
    pl_lock_free(p);
    assert_int_equal(count_entries(dir_of(state)), 0);
}

static void getrandom_failure_still_gives_distinct_names_and_ids(void **state)
{
    pl_semaphore *a = NULL, *b = NULL;
    pl_redis_lock *x = NULL, *y = NULL;
    char name[128];
    (void)state;
    arm(F_GETRANDOM, 1, ENOSYS, -1);
    tu_ok(pl_semaphore_new(&a, 1, NULL));
    tu_ok(pl_semaphore_new(&b, 1, NULL));
    tu_ok(pl_redis_lock_new(&x, "ch", 2));
    tu_ok(pl_redis_lock_new(&y, "ch", 2));
    assert_true(faults[F_GETRANDOM].failed >= 4);
    disarm_all();
    snprintf(name, sizeof name, "%s", pl_semaphore_name(a));
    assert_non_null(strstr(name, "bounded_semaphore."));
    assert_int_equal(strlen(pl_redis_lock_holder_id(x)), 32);
    assert_string_not_equal(pl_redis_lock_holder_id(x), pl_redis_lock_holder_id(y));
    /* Names are drawn from 0..1000000: equal by chance once in a million;
       the fallback must not make them equal by construction. */
    assert_string_not_equal(name, pl_semaphore_name(b));
    pl_semaphore_free(a);
    pl_semaphore_free(b);
    pl_redis_lock_free(x);
    pl_redis_lock_free(y);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(open_failure_is_io_error_naming_path_and_leaves_nothing),
        T(open_failure_of_temporary_and_pidfile_locks_is_io_error),
        T(eintr_from_open_and_lock_calls_is_retried),
        T(enolck_from_lock_call_is_lock_failed_and_leaves_nothing),
        T(enosys_is_unsupported_and_never_retried),
        T(ebadf_on_exclusive_lock_of_read_only_fd_reopens_read_write),
        T(ebadf_persisting_after_reopen_is_lock_failed_without_leak),
        T(ftruncate_failure_in_mode_w_drops_the_lock),
        T(fstat_failure_checking_read_mode_file_is_io_error),
        T(fstat_failure_verifying_temporary_lock_is_io_error),
        T(pid_write_or_fsync_failure_releases_sidecar_and_reports),
        T(close_failure_on_release_is_reported_only_when_asked),
        T(close_failure_on_semaphore_release_is_io_error_naming_slot),
        T(semaphore_slot_open_failure_is_io_error_naming_slot),
        T(semaphore_enolck_is_lock_failed_and_holds_nothing),
        T(atomic_temp_create_failure_is_io_error_and_creates_nothing),
        T(atomic_taken_temp_names_are_rolled_again),
        T(atomic_mkdir_failure_is_io_error_naming_path),
        T(atomic_fsync_failure_removes_temp_and_publishes_nothing),
        T(atomic_close_failure_removes_temp_and_publishes_nothing),
        T(atomic_link_failure_keeps_payload_and_publishes_nothing),
        T(atomic_without_hard_links_publishes_by_rename),
        T(atomic_without_hard_links_still_refuses_an_existing_name),
        T(atomic_unlink_failure_after_publish_is_reported_and_free_removes_temp),
        T(atomic_directory_fsync_failure_is_reported_after_publish),
        T(atomic_existence_check_failure_is_io_error),
        T(inotify_init_failure_falls_back_to_backoff),
        T(inotify_watch_failure_falls_back_to_backoff),
        T(timeout_zero_makes_exactly_one_lock_call),
        T(infinite_timeout_waits_without_the_blocking_lock_call),
        T(read_failure_reading_pid_is_no_pid_without_leak),
        T(inotify_drain_read_failure_still_waits_and_wakes),
        T(poll_failure_in_waiter_respects_backoff_and_deadline),
        T(lseek_failure_in_mode_w_drops_the_lock),
        T(clear_append_fcntl_failure_in_mode_w_drops_the_lock),
        T(setfl_failure_after_regular_file_check_is_io_error),
        T(make_parents_stat_or_mkdir_failure_is_io_error),
        T(release_unlink_or_lstat_failure_of_temporary_and_pidfile),
        T(getrandom_failure_still_gives_distinct_names_and_ids),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
