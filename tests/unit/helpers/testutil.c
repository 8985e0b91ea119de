#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int tu_setup_dir(void **state)
{
    tu_dir *d = calloc(1, sizeof *d);
    const char *tmp = getenv("TMPDIR");
    if (!d)
        return -1;
    snprintf(d->path, sizeof d->path, "%s/pltest.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->path)) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_teardown_dir(void **state)
{
    tu_dir *d = *state;
    if (d) {
        /* Tests may leave read-only directories behind: open them up. */
        chmod(d->path, 0700);
        nftw(d->path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(d);
    }
    *state = NULL;
    return 0;
}

const char *tu_path(void **state, const char *name)
{
    static char bufs[8][512];
    static int next;
    tu_dir *d = *state;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", d->path, name);
    return b;
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count /proc/self/fd entries; with `inotify` 1 only inotify instances,
   with 0 everything else. */
static int count_fds(int inotify)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0, self;
    if (!dir)
        return -1;
    self = dirfd(dir);
    while ((e = readdir(dir)) != NULL) {
        char link[300], target[256];
        ssize_t len;
        int is_inotify;
        if (e->d_name[0] == '.' || atoi(e->d_name) == self)
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        len = readlink(link, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        is_inotify = strcmp(target, "anon_inode:inotify") == 0;
        if (is_inotify == inotify)
            n++;
    }
    closedir(dir);
    return n;
}

int tu_count_fds(void)
{
    return count_fds(0);
}

int tu_count_inotify_fds(void)
{
    return count_fds(1);
}

pid_t tu_fork(int (*fn)(void *), void *arg)
{
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

int tu_wait(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

pid_t tu_spawn_sleeper(void)
{
    pid_t pid;
    double end = tu_now() + 10;
    char path[64], comm[64];
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    while (tu_now() < end) {
        if (tu_read_file(path, comm, sizeof comm) > 0 &&
            strcmp(comm, "sleep\n") == 0)
            return pid;
        usleep(2000);
    }
    kill(pid, SIGKILL);
    tu_wait(pid);
    fail_msg("the exec'd child never started");
    return -1;
}

void tu_stop_sleeper(pid_t pid)
{
    kill(pid, SIGKILL);
    assert_int_equal(tu_wait(pid), 128 + SIGKILL);
}

int tu_fds_into(pid_t pid, const char *dir)
{
    char fddir[64], link[PATH_MAX + 64], target[PATH_MAX], real[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int n = 0;
    assert_non_null(realpath(dir, real));
    snprintf(fddir, sizeof fddir, "/proc/%ld/fd", (long)pid);
    d = opendir(fddir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        ssize_t len;
        if (e->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", fddir, e->d_name);
        len = readlink(link, target, sizeof target - 1);
        if (len < 0)
            continue;
        target[len] = '\0';
        if (strncmp(target, real, strlen(real)) == 0 ||
            strstr(target, "inotify"))
            n++;
    }
    closedir(d);
    return n;
}

void tu_pipe_open(tu_pipe *p)
{
    if (pipe2(p->fds, O_CLOEXEC) != 0)
        abort();
}

void tu_pipe_signal(tu_pipe *p)
{
    char c = 'x';
    while (write(p->fds[1], &c, 1) < 0 && errno == EINTR)
        ;
}

int tu_pipe_wait(tu_pipe *p, double seconds)
{
    struct pollfd pfd = {p->fds[0], POLLIN, 0};
    char c;
    if (poll(&pfd, 1, (int)(seconds * 1000)) != 1)
        return -1;
    return read(p->fds[0], &c, 1) == 1 ? 0 : -1;
}

void tu_pipe_close(tu_pipe *p)
{
    close(p->fds[0]);
    close(p->fds[1]);
}

/* ---- file and lock probes ---- */

#include <sys/file.h>
#include <sys/stat.h>

long tu_read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    if (fd < 0)
        return -1;
    while (got + 1 < size) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return (long)got;
}

int tu_write_file(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    size_t len = strlen(data);
    ssize_t n;
    if (fd < 0)
        return -1;
    n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int probe_child(const char *path, int mechanism)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct flock fl;
    int rc;
    if (fd < 0)
        return errno == ENOENT ? 2 : 3;
    if (mechanism == PL_MECH_FLOCK) {
        rc = flock(fd, LOCK_EX | LOCK_NB);
    } else {
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        rc = fcntl(fd, mechanism == PL_MECH_OFD ? F_OFD_SETLK : F_SETLK, &fl);
    }
    if (rc == 0)
        return 0;
    return (errno == EWOULDBLOCK || errno == EAGAIN || errno == EACCES) ? 1 : 3;
}

int tu_probe_locked(const char *path, int mechanism)
{
    pid_t pid;
    int st;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(probe_child(path, mechanism));
    st = tu_wait(pid);
    return (st >= 0 && st <= 2) ? st : -1;
}

int tu_wait_blocked_lock(pid_t pid, double seconds)
{
    double end = tu_now() + seconds;
    char want[32];
    snprintf(want, sizeof want, " %ld ", (long)pid);
    do {
        char line[512];
        FILE *f = fopen("/proc/locks", "re");
        if (f) {
            while (fgets(line, sizeof line, f)) {
                if (strstr(line, "->") && strstr(line, want)) {
                    fclose(f);
                    return 0;
                }
            }
            fclose(f);
        }
        usleep(2000);
    } while (tu_now() < end);
    return -1;
}
