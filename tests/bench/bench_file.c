/*
 * `make bench`, file-lock half: measures the core against the raw syscall
 * floor. Prints machine-readable records, one per line:
 *
 *   R|<section>|<name>|key=value|key=value...
 *
 * which tests/bench/report.py turns into tables next to the reference
 * (tests/bench/bench_reference.py prints the same records).
 *
 * usage: bench_file DIR [section...]   sections: cycle handoff kill cpu semaphore
 *
 * Times are CLOCK_MONOTONIC (the clock Python's time.monotonic_ns reads).
 */
#define _GNU_SOURCE
#include "portalocker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_file: %s failed: %d %s (%s)\n", what, rc,
            pl_error_name(rc), pl_last_error_message());
    exit(2);
}

#define CHECK(call)                                                          \
    do {                                                                     \
        int rc_ = (call);                                                    \
        if (rc_ != PL_OK)                                                    \
            die(#call, rc_);                                                 \
    } while (0)

static void path_in_dir(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile (0..100) of a sorted array, nearest rank. */
static int64_t pct(const int64_t *sorted, size_t n, double p)
{
    size_t i;
    if (n == 0)
        return 0;
    i = (size_t)(p / 100.0 * (double)n + 0.5);
    if (i > 0)
        i--;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static void write_full(int fd, const void *buf, size_t len)
{
    if (write(fd, buf, len) != (ssize_t)len) {
        perror("bench_file: write to pipe");
        exit(2);
    }
}

/* ===================================================================== */
/* 1. Uncontended acquire+release cycles                                 */
/* ===================================================================== */

enum cycle_kind {
    C_FLOOR,
    C_TEMP_FLOOR,
    C_PID_FLOOR,
    C_LOCK,
    C_RLOCK,
    C_TEMP,
    C_PIDFILE,
    C_SEM1,
    C_SEM4,
    C_FLOCK_FD,
    C_PL_FD,
    C_COUNT
};

static const char *cycle_names[C_COUNT] = {
    "floor",     "temporary_floor", "pidfile_floor", "lock", "rlock", "temporary_lock", "pidfile_lock",
    "semaphore1", "semaphore4", "flock_fd", "pl_lock_fd",
};

struct cycle_state {
    char floor_path[4096], temp_floor_path[4096], pid_floor_path[4096];
    pl_lock *lock, *rlock, *temp, *pid;
    pl_semaphore *sem1, *sem4;
    int fd;
};

static void cycle_setup(struct cycle_state *s)
{
    char p[4096];
    path_in_dir(s->floor_path, sizeof s->floor_path, "floor.lock");
    path_in_dir(s->temp_floor_path, sizeof s->temp_floor_path, "floor.tmp");
    path_in_dir(s->pid_floor_path, sizeof s->pid_floor_path, "floor.pid");
    path_in_dir(p, sizeof p, "lock.lock");
    CHECK(pl_lock_new(&s->lock, p));
    path_in_dir(p, sizeof p, "rlock.lock");
    CHECK(pl_rlock_new(&s->rlock, p));
    path_in_dir(p, sizeof p, "temporary.lock");
    CHECK(pl_temporary_lock_new(&s->temp, p));
    path_in_dir(p, sizeof p, "bench.pid");
    CHECK(pl_pidfile_lock_new(&s->pid, p));
    CHECK(pl_semaphore_new(&s->sem1, 1, "bench_sem1"));
    CHECK(pl_semaphore_set_directory(s->sem1, dir));
    CHECK(pl_semaphore_new(&s->sem4, 4, "bench_sem4"));
    CHECK(pl_semaphore_set_directory(s->sem4, dir));
    path_in_dir(p, sizeof p, "fd.lock");
    s->fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        perror(p);
        exit(2);
    }
}

static void cycle_teardown(struct cycle_state *s)
{
    pl_lock_free(s->lock);
    pl_lock_free(s->rlock);
    pl_lock_free(s->temp);
    pl_lock_free(s->pid);
    pl_semaphore_free(s->sem1);
    pl_semaphore_free(s->sem4);
    close(s->fd);
}

/* One acquire+release; returns its duration in ns. */
static int64_t cycle_once(struct cycle_state *s, enum cycle_kind k)
{
    int64_t t0, t1;
    int fd;
    switch (k) {
    case C_FLOOR:
        /* The same open flags as a Lock in its default mode 'a'. */
        t0 = now_ns();
        fd = open(s->floor_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                  0666);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
            flock(fd, LOCK_UN) != 0 || close(fd) != 0) {
            perror("floor cycle");
            exit(2);
        }
        t1 = now_ns();
        return t1 - t0;
    case C_TEMP_FLOOR:
    case C_PID_FLOOR: {
        /* What a temporary lock cannot avoid: create the file, lock it,
           unlink it while locked, unlock, close. A PID-file lock adds the
           PID file: create+truncate, write, fsync, close, unlink. */
        static const char pid[] = "12345";
        int pfd;
        t0 = now_ns();
        fd = open(s->temp_floor_path,
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
            perror("temporary floor cycle");
            exit(2);
        }
        if (k == C_PID_FLOOR) {
            pfd = open(s->pid_floor_path,
                       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                       0666);
            if (pfd < 0 || write(pfd, pid, sizeof pid - 1) < 0 ||
                fsync(pfd) != 0 || close(pfd) != 0 ||
                unlink(s->pid_floor_path) != 0) {
                perror("PID-file floor cycle");
                exit(2);
            }
        }
        if (unlink(s->temp_floor_path) != 0 || flock(fd, LOCK_UN) != 0 ||
            close(fd) != 0) {
            perror("temporary floor cycle");
            exit(2);
        }
        t1 = now_ns();
        return t1 - t0;
    }
    case C_LOCK:
    case C_RLOCK:
    case C_TEMP:
    case C_PIDFILE: {
        pl_lock *l = k == C_LOCK    ? s->lock
                     : k == C_RLOCK ? s->rlock
                     : k == C_TEMP  ? s->temp
                                    : s->pid;
        int rc1, rc2;
        t0 = now_ns();
        rc1 = pl_lock_acquire(l, NULL);
        rc2 = pl_lock_release(l);
        t1 = now_ns();
        if (rc1 != PL_OK)
            die("pl_lock_acquire", rc1);
        if (rc2 != PL_OK)
            die("pl_lock_release", rc2);
        return t1 - t0;
    }
    case C_SEM1:
    case C_SEM4: {
        pl_semaphore *sem = k == C_SEM1 ? s->sem1 : s->sem4;
        int rc1, rc2;
        t0 = now_ns();
        rc1 = pl_semaphore_acquire(sem, NULL);
        rc2 = pl_semaphore_release(sem);
        t1 = now_ns();
        if (rc1 != PL_OK)
            die("pl_semaphore_acquire", rc1);
        if (rc2 != PL_OK)
            die("pl_semaphore_release", rc2);
        return t1 - t0;
    }
    case C_FLOCK_FD:
        t0 = now_ns();
        if (flock(s->fd, LOCK_EX | LOCK_NB) != 0 || flock(s->fd, LOCK_UN)) {
            perror("flock");
            exit(2);
        }
        t1 = now_ns();
        return t1 - t0;
    case C_PL_FD: {
        int rc1, rc2;
        t0 = now_ns();
        rc1 = pl_lock_fd(s->fd, PL_LOCK_EX | PL_LOCK_NB);
        rc2 = pl_unlock_fd(s->fd);
        t1 = now_ns();
        if (rc1 != PL_OK)
            die("pl_lock_fd", rc1);
        if (rc2 != PL_OK)
            die("pl_unlock_fd", rc2);
        return t1 - t0;
    }
    default:
        return 0;
    }
}

static int slow(int k)
{
    return k == C_PIDFILE || k == C_PID_FLOOR;
}

static void bench_cycles(void)
{
    /* Interleaved rounds, so that a busy neighbour on this shared machine
       slows every kind alike instead of whichever ran at that moment. The
       PID-file lock fsyncs on every acquire: far fewer iterations. */
    enum { ROUNDS = 10, PER_ROUND = 2000, PID_PER_ROUND = 100, WARMUP = 500 };
    struct cycle_state s;
    int64_t *samples[C_COUNT];
    size_t n[C_COUNT];
    int k, r, i;

    cycle_setup(&s);
    for (k = 0; k < C_COUNT; k++) {
        samples[k] = malloc(sizeof(int64_t) * ROUNDS * PER_ROUND);
        if (!samples[k])
            exit(2);
        n[k] = 0;
        for (i = 0; i < (slow(k) ? 20 : WARMUP); i++)
            (void)cycle_once(&s, (enum cycle_kind)k);
    }
    for (r = 0; r < ROUNDS; r++) {
        for (k = 0; k < C_COUNT; k++) {
            int per = slow(k) ? PID_PER_ROUND : PER_ROUND;
            for (i = 0; i < per; i++)
                samples[k][n[k]++] = cycle_once(&s, (enum cycle_kind)k);
        }
    }
    for (k = 0; k < C_COUNT; k++) {
        qsort(samples[k], n[k], sizeof(int64_t), cmp_i64);
        printf("R|cycle|%s|n=%zu|median_ns=%lld|p99_ns=%lld\n", cycle_names[k],
               n[k], (long long)pct(samples[k], n[k], 50),
               (long long)pct(samples[k], n[k], 99));
        free(samples[k]);
    }
    fflush(stdout);
    cycle_teardown(&s);
}

/* ===================================================================== */
/* 2. Contended handoff                                                   */
/* ===================================================================== */

struct waiter_result {
    int rc;
    int64_t started; /* just before pl_lock_acquire */
    int64_t got;     /* just after it returned */
};

/* The waiter: for each "go" byte, acquire with a deadline, report when it
   got the lock, release. */
static int bench_hook(void *ud)
{
    (void)ud;
    return 0;
}

static void waiter_loop(const char *path, int go_fd, int res_fd, double timeout,
                        double check_interval, int hooked)
{
    pl_lock *l;
    char c;
    CHECK(pl_lock_new(&l, path));
    /* What the Python binding installs: a hook every 50 ms. */
    if (hooked)
        CHECK(pl_set_wait_hook(bench_hook, NULL, 0.05));
    write_full(res_fd, "r", 1); /* ready: the first round is like the rest */
    while (read_full(go_fd, &c, 1) == 1) {
        struct waiter_result res;
        res.started = now_ns();
        res.rc = pl_lock_acquire_with(l, timeout, check_interval, 0, NULL);
        res.got = now_ns();
        pl_lock_release(l);
        write_full(res_fd, &res, sizeof res);
    }
    pl_lock_free(l);
    _exit(0);
}

/* Delay i of n before a release: spread evenly over [lo, hi) ms in a
   shuffled order, so releases land in every phase of the waiter's
   backoff. */
static int64_t spread_delay_ns(int i, int n, double lo_ms, double hi_ms)
{
    int j = (int)(((long long)i * 37) % n);
    return (int64_t)((lo_ms + (hi_ms - lo_ms) * j / n) * 1e6);
}

/* unlock_only: the holder drops the lock with flock(LOCK_UN) and keeps the
   descriptor open, so no inotify event fires: only the backoff finds it. */
static void bench_handoff(const char *name, int rounds, int unlock_only,
                          double hi_ms, double timeout, int hooked)
{
    char path[4096];
    int go[2], res[2], i, errors = 0, late_starts = 0;
    char c;
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)rounds);
    size_t n = 0;
    pid_t pid;
    pl_lock *h;
    path_in_dir(path, sizeof path, "handoff.lock");
    if (!lat || pipe(go) != 0 || pipe(res) != 0)
        exit(2);
    pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(res[0]);
        waiter_loop(path, go[0], res[1], timeout, PL_INHERIT, hooked);
    }
    close(go[0]);
    close(res[1]);
    if (read_full(res[0], &c, 1) != 1)
        exit(2);
    CHECK(pl_lock_new(&h, path));
    for (i = 0; i < rounds; i++) {
        struct waiter_result r;
        int64_t released;
        int fd;
        CHECK(pl_lock_acquire(h, &fd));
        write_full(go[1], "g", 1);
        sleep_ns(spread_delay_ns(i, rounds, 2, hi_ms));
        if (unlock_only) {
            released = now_ns();
            flock(fd, LOCK_UN);
        } else {
            released = now_ns();
            CHECK(pl_lock_release(h));
        }
        if (read_full(res[0], &r, sizeof r) < 0)
            exit(2);
        if (unlock_only)
            CHECK(pl_lock_release(h)); /* close the descriptor now */
        if (r.rc != PL_OK)
            errors++;
        else if (r.started > released)
            late_starts++; /* the waiter never waited: not a handoff */
        else
            lat[n++] = r.got - released;
    }
    close(go[1]);
    waitpid(pid, NULL, 0);
    close(res[0]);
    pl_lock_free(h);
    qsort(lat, n, sizeof(int64_t), cmp_i64);
    printf("R|handoff|%s|n=%zu|median_ns=%lld|p99_ns=%lld|max_ns=%lld|"
           "errors=%d|not_waiting=%d|spread_ms=2-%.0f\n",
           name, n, (long long)pct(lat, n, 50), (long long)pct(lat, n, 99),
           (long long)(n ? lat[n - 1] : 0), errors, late_starts, hi_ms);
    fflush(stdout);
    free(lat);
}

/* ===================================================================== */
/* 3. A SIGKILL'd holder                                                 */
/* ===================================================================== */

static void bench_kill(int runs)
{
    char path[4096];
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)runs);
    size_t n = 0;
    int i, errors = 0;
    path_in_dir(path, sizeof path, "kill.lock");
    if (!lat)
        exit(2);
    for (i = 0; i < runs; i++) {
        int ready[2], go[2], res[2];
        pid_t holder, waiter;
        char c;
        struct waiter_result r;
        int64_t killed;
        if (pipe(ready) != 0 || pipe(go) != 0 || pipe(res) != 0)
            exit(2);
        holder = fork();
        if (holder == 0) {
            pl_lock *l;
            CHECK(pl_lock_new(&l, path));
            CHECK(pl_lock_acquire(l, NULL));
            write_full(ready[1], "r", 1);
            for (;;)
                pause();
        }
        if (read_full(ready[0], &c, 1) != 1)
            exit(2);
        waiter = fork();
        if (waiter == 0) {
            close(go[1]);
            close(res[0]);
            /* deadline set, default check_interval */
            waiter_loop(path, go[0], res[1], 10.0, PL_INHERIT, 0);
        }
        close(go[0]);
        close(res[1]);
        if (read_full(res[0], &c, 1) != 1)
            exit(2);
        write_full(go[1], "g", 1);
        /* Kill at every phase of the waiter's backoff, up to past the point
           where it is capped at check_interval (0.25 s). */
        sleep_ns(spread_delay_ns(i, runs, 5, 505));
        killed = now_ns();
        kill(holder, SIGKILL);
        if (read_full(res[0], &r, sizeof r) < 0)
            exit(2);
        close(go[1]);
        waitpid(holder, NULL, 0);
        waitpid(waiter, NULL, 0);
        close(res[0]);
        close(ready[0]);
        close(ready[1]);
        if (r.rc != PL_OK)
            errors++;
        else
            lat[n++] = r.got - killed;
    }
    qsort(lat, n, sizeof(int64_t), cmp_i64);
    printf("R|kill|lock|n=%zu|median_ns=%lld|max_ns=%lld|errors=%d\n", n,
           (long long)pct(lat, n, 50), (long long)(n ? lat[n - 1] : 0),
           errors);
    fflush(stdout);
    free(lat);
}

/* ===================================================================== */
/* 4. A waiter's CPU use                                                  */
/* ===================================================================== */

struct cpu_result {
    int rc;
    int64_t wall_ns, cpu_ns, got;
    long wakeups; /* voluntary context switches while waiting */
};

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void bench_cpu(const char *name, int unlock_only, double hold_s)
{
    char path[4096];
    int res[2], started[2], fd;
    pid_t pid;
    char c;
    struct cpu_result r;
    int64_t released;
    path_in_dir(path, sizeof path, "cpu.lock");
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || pipe(res) != 0 ||
        pipe(started) != 0)
        exit(2);
    pid = fork();
    if (pid == 0) {
        pl_lock *l;
        struct rusage a, b;
        int64_t t0;
        /* Our copy of the holder's descriptor shares its open file
           description: keeping it would hide the holder's close. */
        close(fd);
        CHECK(pl_lock_new(&l, path));
        write_full(started[1], "s", 1);
        getrusage(RUSAGE_SELF, &a);
        t0 = now_ns();
        r.rc = pl_lock_acquire_with(l, 10.0, PL_INHERIT, 0, NULL);
        r.got = now_ns();
        getrusage(RUSAGE_SELF, &b);
        r.wall_ns = r.got - t0;
        r.cpu_ns = tv_ns(b.ru_utime) - tv_ns(a.ru_utime) + tv_ns(b.ru_stime) -
                   tv_ns(a.ru_stime);
        r.wakeups = b.ru_nvcsw - a.ru_nvcsw;
        pl_lock_free(l);
        write_full(res[1], &r, sizeof r);
        _exit(0);
    }
    if (read_full(started[0], &c, 1) != 1)
        exit(2);
    sleep_ns((int64_t)(hold_s * 1e9));
    released = now_ns();
    if (unlock_only) {
        flock(fd, LOCK_UN);
    } else {
        flock(fd, LOCK_UN);
        close(fd);
    }
    if (read_full(res[0], &r, sizeof r) < 0)
        exit(2);
    if (unlock_only)
        close(fd);
    waitpid(pid, NULL, 0);
    close(res[0]);
    close(res[1]);
    close(started[0]);
    close(started[1]);
    printf("R|cpu|%s|rc=%d|wall_ns=%lld|cpu_ns=%lld|wakeups=%ld|"
           "latency_ns=%lld\n",
           name, r.rc, (long long)r.wall_ns, (long long)r.cpu_ns, r.wakeups,
           (long long)(r.got - released));
    fflush(stdout);
}

/* ===================================================================== */
/* 5. Semaphore waiter cost vs maximum                                   */
/* ===================================================================== */

static int count_fds(void)
{
    char p[64];
    int fd, n = 0;
    for (fd = 0; fd < 4096; fd++) {
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        if (access(p, F_OK) == 0)
            n++;
    }
    return n;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* BUSY slots held, `maximum` slots in all: create a semaphore (time),
   acquire the first free slot (time), and the descriptors and memory the
   waiter used, in a fresh child (RSS is per process). */
static void bench_semaphore(int maximum)
{
    enum { BUSY = 16 };
    pl_semaphore *held[BUSY];
    char name[64];
    int i, slot, fds[2];
    pid_t pid;
    snprintf(name, sizeof name, "bench_sem_%d", maximum);
    for (i = 0; i < BUSY; i++) {
        CHECK(pl_semaphore_new(&held[i], maximum, name));
        CHECK(pl_semaphore_set_directory(held[i], dir));
        CHECK(pl_semaphore_set_filename_pattern(held[i], "{name}.{number}.lock"));
        CHECK(pl_semaphore_acquire(held[i], &slot));
    }
    if (pipe(fds) != 0)
        exit(2);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        pl_semaphore *s;
        int64_t t0, t1, t2;
        long rss0 = rss_kb();
        int fd0 = count_fds(), fd1;
        t0 = now_ns();
        CHECK(pl_semaphore_new(&s, maximum, name));
        CHECK(pl_semaphore_set_directory(s, dir));
        CHECK(pl_semaphore_set_filename_pattern(s, "{name}.{number}.lock"));
        t1 = now_ns();
        CHECK(pl_semaphore_acquire_with(s, 5, 0.05, &slot));
        t2 = now_ns();
        fd1 = count_fds();
        printf("R|semaphore|max_%d|maximum=%d|busy=%d|slot=%d|new_ns=%lld|"
               "acquire_ns=%lld|fds_after_acquire=%d|rss_delta_kb=%ld\n",
               maximum, maximum, BUSY, slot, (long long)(t1 - t0),
               (long long)(t2 - t1), fd1 - fd0, rss_kb() - rss0);
        fflush(stdout);
        pl_semaphore_free(s);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    for (i = 0; i < BUSY; i++)
        pl_semaphore_free(held[i]);
}

int main(int argc, char **argv)
{
    int i, all;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [cycle|handoff|kill|cpu|semaphore]...\n",
                argv[0]);
        return 2;
    }
    dir = argv[1];
    all = argc == 2;
    signal(SIGPIPE, SIG_IGN);
    printf("R|meta|c|library=%s\n", pl_version_string());
    for (i = all ? 0 : 2; i < (all ? 1 : argc); i++) {
        const char *s = all ? "all" : argv[i];
        int every = strcmp(s, "all") == 0;
        if (every || strcmp(s, "cycle") == 0)
            bench_cycles();
        if (every || strcmp(s, "handoff") == 0) {
            bench_handoff("lock", 200, 0, 130, 10.0, 0);
            /* Up to past the point where the backoff is capped. */
            bench_handoff("lock_unlock_only", 24, 1, 600, 10.0, 0);
            /* A wait hook installed (the bindings' case) and an infinite
               timeout (no kernel blocking call any more). */
            bench_handoff("lock_hooked", 100, 0, 130, 10.0, 1);
            bench_handoff("lock_infinite", 100, 0, 130, 1.0 / 0.0, 0);
        }
        if (every || strcmp(s, "semaphore") == 0) {
            bench_semaphore(64);
            bench_semaphore(100000);
            bench_semaphore(2147483647);
        }
        if (every || strcmp(s, "kill") == 0)
            bench_kill(20);
        if (every || strcmp(s, "cpu") == 0) {
            bench_cpu("inotify", 0, 2.0);
            bench_cpu("unlock_only", 1, 2.0);
        }
    }
    return 0;
}
