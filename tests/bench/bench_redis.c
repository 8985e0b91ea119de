/*
 * bench_redis: measures this library's Redis lock against a running
 * redis-server (tests/bench/redis.sh starts one). Prints one record per
 * line: "<name> <n> <median_us> <p99_us>".
 *
 *   bench_redis <port> cycle <n>    uncontended acquire+release (one handle)
 *   bench_redis <port> handoff <n>  holder in one process releases, a waiter
 *                                   in another takes it (both ours), from the
 *                                   release call to the waiter's return
 *   bench_redis <port> killed <n>   holder SIGKILLed, default-settings waiter
 *                                   takes it: from the kill to the return
 */
#define _GNU_SOURCE
#include "portalocker.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int port;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* PL_BENCH_TLS_DIR: the port is a TLS port and the directory holds
   ca.crt, client.crt and client.key (ci/lib/redis-tls.sh); the records
   get a _tls suffix. */
static const char *tls_dir;
/* PL_BENCH_CLUSTER=1: the port is a seed node of a Redis Cluster and the
   lock is in cluster mode; the records get a _cluster suffix. */
static int cluster;

static void report(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s%s%s %d %.1f %.1f\n", name, tls_dir ? "_tls" : "",
           cluster ? "_cluster" : "", n, v[n / 2] * 1e6,
           v[(int)((n - 1) * 0.99)] * 1e6);
    fflush(stdout);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_redis: %s: %s (%s)\n", what,
            pl_error_name(pl_last_error_code()), pl_last_error_message());
    exit(1);
}

static pl_redis_lock *new_lock(const char *ch)
{
    pl_redis_lock *l = NULL;
    if (pl_redis_lock_new(&l, ch, strlen(ch)) != PL_OK ||
        pl_redis_lock_set_host(l, "127.0.0.1", port) != PL_OK)
        die("new");
    if (cluster && pl_redis_lock_set_cluster(l, 1) != PL_OK)
        die("cluster mode");
    if (tls_dir) {
        char ca[512], cert[512], key[512];
        snprintf(ca, sizeof ca, "%s/ca.crt", tls_dir);
        snprintf(cert, sizeof cert, "%s/client.crt", tls_dir);
        snprintf(key, sizeof key, "%s/client.key", tls_dir);
        if (pl_redis_lock_set_tls(l, 1) != PL_OK ||
            pl_redis_lock_set_tls_ca_file(l, ca) != PL_OK ||
            pl_redis_lock_set_tls_cert_file(l, cert) != PL_OK ||
            pl_redis_lock_set_tls_key_file(l, key) != PL_OK)
            die("tls settings");
    }
    return l;
}

static void bench_cycle(int n)
{
    char ch[64];
    pl_redis_lock *l;
    double *v = malloc((size_t)n * sizeof *v);
    int i;
    snprintf(ch, sizeof ch, "bench-cycle-%ld", (long)getpid());
    l = new_lock(ch);
    for (i = -50; i < n; i++) { /* 50 warm-up cycles */
        double t0 = now();
        if (pl_redis_lock_acquire(l) != PL_OK)
            die("acquire");
        if (pl_redis_lock_release(l) != PL_OK)
            die("release");
        if (i >= 0)
            v[i] = now() - t0;
    }
    report("ours_cycle", v, n);
    pl_redis_lock_free(l);
    free(v);
}

/* Ping-pong between two processes: each round the holder waits until the
   other side is waiting, stamps the time and releases; the waiter stamps
   its return. */
struct shared {
    atomic_int turn;    /* which side holds: 0 or 1 */
    atomic_int waiting; /* the other side entered acquire */
    atomic_int round;
    double released_at;
    double took[100000];
};

static void pingpong(struct shared *s, int me, int n, const char *ch)
{
    pl_redis_lock *l = new_lock(ch);
    if (pl_redis_lock_set_timeout(l, 30) != PL_OK)
        die("timeout");
    if (me == 0 && pl_redis_lock_acquire(l) != PL_OK)
        die("first acquire");
    if (me == 0)
        atomic_store(&s->turn, 0);
    for (;;) {
        int r = atomic_load(&s->round);
        if (r >= n)
            break;
        if (atomic_load(&s->turn) == me) {
            /* Holding: let the other side settle into its wait. */
            while (!atomic_load(&s->waiting))
                usleep(100);
            usleep(5000);
            atomic_store(&s->waiting, 0);
            s->released_at = now();
            if (pl_redis_lock_release(l) != PL_OK)
                die("release");
            /* The other side now takes the turn; we wait to be next. */
            while (atomic_load(&s->turn) == me)
                usleep(50);
            if (atomic_load(&s->round) >= n)
                break;
        }
        atomic_store(&s->waiting, 1);
        if (pl_redis_lock_acquire(l) != PL_OK)
            die("acquire (waiter)");
        s->took[atomic_load(&s->round)] = now() - s->released_at;
        atomic_fetch_add(&s->round, 1);
        atomic_store(&s->turn, me);
    }
    if (atomic_load(&s->turn) == me)
        (void)pl_redis_lock_release(l);
    pl_redis_lock_free(l);
}

static void bench_handoff(int n)
{
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char ch[64];
    pid_t pid;
    if (s == MAP_FAILED)
        die("mmap");
    if (n > 100000)
        n = 100000;
    memset(s, 0, sizeof *s);
    atomic_store(&s->turn, -1);
    snprintf(ch, sizeof ch, "bench-handoff-%ld", (long)getpid());
    pid = fork();
    if (pid == 0) {
        while (atomic_load(&s->turn) != 0)
            usleep(100); /* side 0 holds first */
        pingpong(s, 1, n, ch);
        _exit(0);
    }
    pingpong(s, 0, n, ch);
    /* Whoever still waits gets the lock when the other side leaves. */
    waitpid(pid, NULL, 0);
    report("ours_handoff", s->took, n);
    munmap(s, sizeof *s);
}

/* SIGKILL takeover: a holder child is killed while a waiter child (default
   settings) waits; timed from the kill to the waiter's return. */
static void bench_killed_timed(int n)
{
    double *v = malloc((size_t)n * sizeof *v);
    double *shared = mmap(NULL, sizeof(double) * 2, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int i;
    for (i = 0; i < n; i++) {
        char ch[64];
        int ready[2], waiting[2];
        char b;
        pid_t holder, waiter;
        snprintf(ch, sizeof ch, "bench-killed-%ld-%d", (long)getpid(), i);
        if (pipe(ready) != 0 || pipe(waiting) != 0)
            die("pipe");
        holder = fork();
        if (holder == 0) {
            pl_redis_lock *h = new_lock(ch);
            if (pl_redis_lock_acquire(h) != PL_OK)
                _exit(1);
            if (write(ready[1], "x", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        if (read(ready[0], &b, 1) != 1)
            die("holder");
        waiter = fork();
        if (waiter == 0) {
            pl_redis_lock *w = new_lock(ch); /* default settings */
            if (write(waiting[1], "x", 1) != 1)
                _exit(1);
            if (pl_redis_lock_acquire(w) != PL_OK)
                _exit(1);
            shared[1] = now();
            pl_redis_lock_free(w);
            _exit(0);
        }
        if (read(waiting[0], &b, 1) != 1)
            die("waiter");
        usleep(100000 + (i % 10) * 13000); /* waiter deep in its backoff */
        shared[0] = now();
        kill(holder, SIGKILL);
        waitpid(holder, NULL, 0);
        {
            int st = 0;
            waitpid(waiter, &st, 0);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                die("waiter failed");
        }
        v[i] = shared[1] - shared[0];
        close(ready[0]);
        close(ready[1]);
        close(waiting[0]);
        close(waiting[1]);
    }
    report("ours_killed", v, n);
    munmap(shared, sizeof(double) * 2);
    free(v);
}

int main(int argc, char **argv)
{
    int n;
    if (argc != 4) {
        fprintf(stderr, "usage: bench_redis <port> cycle|handoff|killed <n>\n");
        return 64;
    }
    port = atoi(argv[1]);
    n = atoi(argv[3]);
    tls_dir = getenv("PL_BENCH_TLS_DIR");
    if (tls_dir && !*tls_dir)
        tls_dir = NULL;
    cluster = getenv("PL_BENCH_CLUSTER") && !strcmp(getenv("PL_BENCH_CLUSTER"), "1");
    if (n < 1)
        n = 1;
    if (!strcmp(argv[2], "cycle"))
        bench_cycle(n);
    else if (!strcmp(argv[2], "handoff"))
        bench_handoff(n);
    else if (!strcmp(argv[2], "killed"))
        bench_killed_timed(n);
    else
        return 64;
    return 0;
}
