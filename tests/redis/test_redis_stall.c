/* RedisLock against paths and servers that misbehave without closing:
   - a TCP proxy of the test's own between a holder and the server stops
     forwarding (a frozen network path, no FIN, no RST): a waiter reaps
     the silent holder after unavailable_timeout, and the holder's check()
     says lost BEFORE the waiter's acquire returns;
   - a hostile server answering "*2147483647" or an endless bulk string:
     a prompt connection error, no CPU or memory spent on it;
   - a server paused (CLIENT PAUSE) longer than the command timeout but
     shorter than the lock timeout: the acquire succeeds after the pause. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_on(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int connect_to(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- the proxy ---- */

#define MAXPAIRS 16
struct proxy {
    int lfd, port;
    atomic_int stalled, stop;
    int pairs[MAXPAIRS][2];
    atomic_int npairs;
    pthread_t thread;
};

static void *proxy_main(void *p)
{
    struct proxy *x = p;
    char buf[65536];
    while (!atomic_load(&x->stop)) {
        struct pollfd fds[1 + 2 * MAXPAIRS];
        int n = 0, i, np = atomic_load(&x->npairs);
        fds[n].fd = x->lfd;
        fds[n++].events = POLLIN;
        /* Stalled: nothing is read, nothing forwarded, nothing closed. */
        for (i = 0; i < np && !atomic_load(&x->stalled); i++) {
            fds[n].fd = x->pairs[i][0];
            fds[n++].events = POLLIN;
            fds[n].fd = x->pairs[i][1];
            fds[n++].events = POLLIN;
        }
        if (poll(fds, (nfds_t)n, 10) <= 0)
            continue;
        if (fds[0].revents && np < MAXPAIRS) {
            int c = accept(x->lfd, NULL, NULL);
            int u = c >= 0 ? connect_to(rt_port()) : -1;
            if (c >= 0 && u >= 0) {
                x->pairs[np][0] = c;
                x->pairs[np][1] = u;
                atomic_store(&x->npairs, np + 1);
            } else if (c >= 0) {
                close(c);
            }
        }
        for (i = 1; i < n; i++) {
            int pi = (i - 1) / 2, side = (i - 1) % 2;
            ssize_t got;
            if (!fds[i].revents || atomic_load(&x->stalled))
                continue;
            got = read(fds[i].fd, buf, sizeof buf);
            if (got > 0)
                (void)!write(x->pairs[pi][1 - side], buf, (size_t)got);
            else /* a real close is passed on */
                shutdown(x->pairs[pi][1 - side], SHUT_WR);
        }
    }
    return NULL;
}

static void proxy_start(struct proxy *x)
{
    memset(x, 0, sizeof *x);
    x->lfd = listen_on(&x->port);
    assert_int_equal(pthread_create(&x->thread, NULL, proxy_main, x), 0);
}

static void proxy_stop(struct proxy *x)
{
    int i;
    atomic_store(&x->stop, 1);
    pthread_join(x->thread, NULL);
    for (i = 0; i < atomic_load(&x->npairs); i++) {
        close(x->pairs[i][0]);
        close(x->pairs[i][1]);
    }
    close(x->lfd);
}

struct watcher {
    pl_redis_lock *l;
    atomic_int stop;
    double lost_at;
};

static void *watch(void *p)
{
    struct watcher *w = p;
    while (!atomic_load(&w->stop)) {
        if (pl_redis_lock_check(w->l) == PL_ERR_LOCK_LOST) {
            w->lost_at = tu_now();
            return NULL;
        }
        usleep(2000);
    }
    return NULL;
}

static void stalled_holder_knows_before_the_waiter_gets_in(void **state)
{
    const char *ch = rt_channel("stall");
    struct proxy x;
    struct watcher wt;
    pl_redis_lock *h = NULL, *w = rt_lock(ch, PL_LOCK_EX);
    pthread_t t;
    double t0, got;
    (void)state;
    proxy_start(&x);
    tu_ok(pl_redis_lock_new(&h, ch, strlen(ch)));
    tu_ok(pl_redis_lock_set_host(h, "127.0.0.1", x.port));
    tu_ok(pl_redis_lock_acquire(h));
    usleep(300000);
    tu_ok(pl_redis_lock_check(h)); /* healthy through the proxy */
    memset(&wt, 0, sizeof wt);
    wt.l = h;
    atomic_store(&x.stalled, 1);
    t0 = tu_now();
    assert_int_equal(pthread_create(&t, NULL, watch, &wt), 0);
    tu_ok(pl_redis_lock_acquire_with(w, 10, PL_INHERIT, 0));
    got = tu_now();
    atomic_store(&wt.stop, 1);
    pthread_join(t, NULL);
    if (wt.lost_at == 0)
        fail_msg("the stalled holder still says held %.2f s after the stall "
                 "and after another process acquired",
                 got - t0);
    if (!(wt.lost_at < got))
        fail_msg("the holder noticed its loss %.3f s after the waiter got "
                 "the lock",
                 wt.lost_at - got);
    assert_true(got - t0 >= 0.9); /* the waiter reaped: 1 s of silence */
    tu_ok(pl_redis_lock_check(w));
    tu_ok(pl_redis_lock_release(w));
    atomic_store(&x.stalled, 0);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(h));
    pl_redis_lock_free(h);
    pl_redis_lock_free(w);
    proxy_stop(&x);
}

/* ---- a hostile server ---- */

struct hostile {
    int lfd, port;
    const char *answer; /* sent once a request came */
    int endless;        /* then bytes until the peer goes */
    pthread_t thread;
};

static void *hostile_main(void *p)
{
    struct hostile *hs = p;
    static char junk[65536];
    char buf[4096];
    int c = accept(hs->lfd, NULL, NULL);
    if (c < 0)
        return NULL;
    memset(junk, 'x', sizeof junk);
    if (read(c, buf, sizeof buf) > 0) {
        (void)!write(c, hs->answer, strlen(hs->answer));
        while (hs->endless && write(c, junk, sizeof junk) > 0)
            ;
        if (!hs->endless)
            while (read(c, buf, sizeof buf) > 0)
                ;
    }
    close(c);
    return NULL;
}

static long maxrss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

static void hostile_replies_cost_nothing(void **state)
{
    static const struct {
        const char *answer;
        int endless;
    } cases[] = {
        {"*2147483647\r\n", 0},
        {"*3\r\n*2147483647\r\n", 0},
        {"$1000000000\r\n", 1},
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hostile hs;
        pl_redis_lock *l = NULL;
        double t0, e;
        long rss0 = maxrss_kb();
        int rc;
        memset(&hs, 0, sizeof hs);
        hs.lfd = listen_on(&hs.port);
        hs.answer = cases[i].answer;
        hs.endless = cases[i].endless;
        assert_int_equal(pthread_create(&hs.thread, NULL, hostile_main, &hs), 0);
        tu_ok(pl_redis_lock_new(&l, "hostile", 7));
        tu_ok(pl_redis_lock_set_host(l, "127.0.0.1", hs.port));
        tu_ok(pl_redis_lock_set_command_timeout(l, 5));
        t0 = tu_now();
        rc = pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0);
        e = tu_now() - t0;
        if (rc != PL_ERR_CONNECTION)
            fail_msg("case %zu: acquire returned %s: %s", i, pl_error_name(rc),
                     pl_last_error_message());
        if (!strstr(pl_last_error_message(), "bound") &&
            !strstr(pl_last_error_message(), "larger than"))
            fail_msg("case %zu: message '%s' does not say the reply was too "
                     "large", i, pl_last_error_message());
        if (e > 2.0)
            fail_msg("case %zu: %.2f s to refuse the reply", i, e);
        /* The bound is 16 MB of reply (its buffer may double once, and
           AddressSanitizer keeps freed memory in quarantine); unbounded,
           the 1 GB string is read whole. */
        if (maxrss_kb() - rss0 > 400 * 1024)
            fail_msg("case %zu: %ld MB more memory", i,
                     (maxrss_kb() - rss0) / 1024);
        pl_redis_lock_free(l);
        pthread_join(hs.thread, NULL);
        close(hs.lfd);
    }
}

/* ---- a server pause ---- */

static void server_pause_costs_attempts_not_the_acquire(void **state)
{
    const char *ch = rt_channel("pause");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    redisContext *c = rt_connect();
    redisReply *r;
    double t0, e;
    (void)state;
    tu_ok(pl_redis_lock_set_command_timeout(l, 0.5));
    r = redisCommand(c, "CLIENT PAUSE 2000");
    assert_non_null(r);
    freeReplyObject(r);
    t0 = tu_now();
    tu_ok(pl_redis_lock_acquire_with(l, 8, PL_INHERIT, 0));
    e = tu_now() - t0;
    assert_true(e >= 1.0 && e < 7.0);
    tu_ok(pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    /* A pause longer than the lock timeout: the acquire gives up at its
       timeout, naming what happened. */
    r = redisCommand(c, "CLIENT PAUSE 2500");
    freeReplyObject(r);
    t0 = tu_now();
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
    e = tu_now() - t0;
    assert_true(e >= 0.9 && e < 2.4);
    r = redisCommand(c, "CLIENT UNPAUSE");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    pl_redis_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_holder_knows_before_the_waiter_gets_in),
        cmocka_unit_test(hostile_replies_cost_nothing),
        cmocka_unit_test(server_pause_costs_attempts_not_the_acquire),
    };
    rt_port();
    return cmocka_run_group_tests_name("redis_stall", tests, NULL, NULL);
}
