/* RedisLock against a real redis-server: arguments, the uncontended cycle,
   exclusion within and across processes, readers and writers, lost locks,
   fork, and the getters of every setting. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void bad_arguments(void **state)
{
    pl_redis_lock *l = NULL;
    const char *ch = rt_channel("args");
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_new(NULL, "x", 1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_new(&l, NULL, 1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_new(&l, "x", 0));
    assert_null(l);
    tu_ok(pl_redis_lock_new(&l, ch, strlen(ch)));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_flags(l, 0));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_flags(l, PL_LOCK_EX | PL_LOCK_SH));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_flags(l, PL_LOCK_EX | PL_LOCK_NB));
    assert_non_null(strstr(pl_last_error_message(), "EXCLUSIVE"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_flags(l, PL_LOCK_UN));
    tu_ok(pl_redis_lock_set_flags(l, PL_LOCK_SH));
    tu_ok(pl_redis_lock_set_flags(l, PL_LOCK_EX));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_timeout(l, -1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_timeout(l, NAN));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_check_interval(l, INFINITY));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_unavailable_timeout(l, 0));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_connect_timeout(l, -0.5));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_command_timeout(l, 0));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_host(l, "", 6379));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_host(l, "127.0.0.1", 70000));
    assert_non_null(strstr(pl_last_error_message(), "70000"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_db(l, -1));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_password(l, "user", NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_acquire_with(l, -2, PL_INHERIT, PL_INHERIT));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_timeout(NULL, 1));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_acquire(NULL));
    tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l)); /* nothing held: a no-op */
    assert_int_equal(strlen(pl_redis_lock_holder_id(l)), 32);
    assert_int_equal(strspn(pl_redis_lock_holder_id(l), "0123456789abcdef"),
                     32);
    pl_redis_lock_free(l);
    pl_redis_lock_free(NULL);
}

static void uncontended_cycle_leaves_nothing_behind(void **state)
{
    const char *ch = rt_channel("cycle");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    char name[256];
    int i, fds_before;
    (void)state;
    /* The first cycle opens the command connection that the handle keeps. */
    tu_ok(pl_redis_lock_acquire(l));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    assert_int_equal(rt_numsub(ch), 1);
    assert_true(rt_client_id(name) > 0); /* named as the protocol says */
    tu_ok(pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    assert_int_equal(rt_numsub(ch), 0);
    assert_int_equal(rt_client_id(name), -1); /* closed, not just idle */
    fds_before = tu_count_fds();
    for (i = 0; i < 200; i++) {
        tu_ok(pl_redis_lock_acquire(l));
        tu_ok(pl_redis_lock_release(l));
    }
    assert_int_equal(tu_count_fds(), fds_before);
    tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
    pl_redis_lock_free(l);
    assert_int_equal(rt_numsub(ch), 0);
}

static void not_reentrant(void **state)
{
    pl_redis_lock *l = rt_lock(rt_channel("reent"), PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_acquire(l));
    tu_expect(PL_ERR_INVALID_STATE, pl_redis_lock_acquire(l));
    tu_expect(PL_ERR_INVALID_STATE, pl_redis_lock_set_host(l, "localhost", 1));
    tu_ok(pl_redis_lock_check(l)); /* the failed calls changed nothing */
    pl_redis_lock_free(l);         /* releases */
}

static void exclusive_excludes(void **state)
{
    const char *ch = rt_channel("excl");
    pl_redis_lock *a = rt_lock(ch, PL_LOCK_EX), *b = rt_lock(ch, PL_LOCK_EX);
    double t0;
    (void)state;
    tu_ok(pl_redis_lock_acquire(a));
    t0 = tu_now();
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(b, 5, 0.05, 1));
    assert_true(tu_now() - t0 < 2.0); /* fail_when_locked: no waiting */
    t0 = tu_now();
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(b, 0.3, 0.05, 0));
    assert_true(tu_now() - t0 >= 0.29);
    assert_non_null(strstr(pl_last_error_message(), ch));
    /* The waiter left no subscription behind. */
    assert_int_equal(rt_numsub(ch), 1);
    tu_ok(pl_redis_lock_check(a));
    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_acquire_with(b, 0, PL_INHERIT, 1));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(a, 0, 0.05, 0));
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
}

static void shared_readers_coexist(void **state)
{
    const char *ch = rt_channel("shared");
    pl_redis_lock *r1 = rt_lock(ch, PL_LOCK_SH), *r2 = rt_lock(ch, PL_LOCK_SH);
    pl_redis_lock *w = rt_lock(ch, PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_acquire(r1));
    tu_ok(pl_redis_lock_acquire_with(r2, 2, 0.05, 1));
    assert_int_equal(rt_numsub(ch), 2);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(w, 2, 0.05, 1));
    tu_ok(pl_redis_lock_release(r1));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(w, 0.2, 0.05, 0));
    tu_ok(pl_redis_lock_release(r2));
    tu_ok(pl_redis_lock_acquire_with(w, 2, 0.05, 0));
    /* and a writer keeps readers out */
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(r1, 2, 0.05, 1));
    pl_redis_lock_free(r1);
    pl_redis_lock_free(r2);
    pl_redis_lock_free(w);
}

/* A writer that waits for readers stays subscribed as pending: new readers
   stay out, and it gets the lock once the old readers leave. */
struct writer_arg {
    const char *channel;
    tu_pipe *got;
};

static int writer_child(void *p)
{
    struct writer_arg *a = p;
    pl_redis_lock *w = rt_lock(a->channel, PL_LOCK_EX);
    int rc = pl_redis_lock_acquire_with(w, 10, 0.05, 0);
    if (rc != PL_OK) {
        fprintf(stderr, "writer: %s\n", pl_last_error_message());
        return 1;
    }
    tu_pipe_signal(a->got);
    usleep(200000);
    rc = pl_redis_lock_release(w);
    pl_redis_lock_free(w);
    return rc == PL_OK ? 0 : 2;
}

static void waiting_writer_keeps_readers_out(void **state)
{
    const char *ch = rt_channel("rw");
    pl_redis_lock *r1 = rt_lock(ch, PL_LOCK_SH), *r2 = rt_lock(ch, PL_LOCK_SH);
    tu_pipe got;
    struct writer_arg a;
    pid_t pid;
    (void)state;
    tu_ok(pl_redis_lock_acquire(r1));
    tu_pipe_open(&got);
    a.channel = ch;
    a.got = &got;
    pid = tu_fork(writer_child, &a);
    /* The elected writer stays subscribed next to the reader. */
    assert_int_equal(rt_wait_numsub(ch, 2, 5), 0);
    usleep(100000);
    assert_int_equal(rt_numsub(ch), 2);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(r2, 3, 0.05, 1));
    assert_int_equal(tu_pipe_wait(&got, 0.01), -1); /* still waiting */
    tu_ok(pl_redis_lock_release(r1));
    assert_int_equal(tu_pipe_wait(&got, 5), 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(r2, 0, 0.05, 1));
    assert_int_equal(tu_wait(pid), 0);
    tu_ok(pl_redis_lock_acquire_with(r2, 2, 0.05, 0));
    tu_pipe_close(&got);
    pl_redis_lock_free(r1);
    pl_redis_lock_free(r2);
}

/* Several processes hammer one lock; a shared counter catches overlap. */
struct hammer {
    atomic_int inside;
    atomic_int overlaps;
    atomic_int done;
};

struct hammer_arg {
    const char *channel;
    struct hammer *h;
    int flags;
};

static int hammer_child(void *p)
{
    struct hammer_arg *a = p;
    pl_redis_lock *l = rt_lock(a->channel, a->flags);
    int i;
    for (i = 0; i < 15; i++) {
        if (pl_redis_lock_acquire_with(l, 30, 0.05, 0) != PL_OK) {
            fprintf(stderr, "hammer: %s\n", pl_last_error_message());
            return 1;
        }
        if (atomic_fetch_add(&a->h->inside, 1) != 0)
            atomic_fetch_add(&a->h->overlaps, 1);
        usleep(1000);
        atomic_fetch_sub(&a->h->inside, 1);
        if (pl_redis_lock_release(l) != PL_OK)
            return 2;
        atomic_fetch_add(&a->h->done, 1);
    }
    pl_redis_lock_free(l);
    return 0;
}

static void processes_exclude_each_other(void **state)
{
    struct hammer *h = mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct hammer_arg a;
    pid_t pids[4];
    int i;
    (void)state;
    assert_true(h != MAP_FAILED);
    memset(h, 0, sizeof *h);
    a.channel = rt_channel("hammer");
    a.h = h;
    a.flags = PL_LOCK_EX;
    for (i = 0; i < 4; i++)
        pids[i] = tu_fork(hammer_child, &a);
    for (i = 0; i < 4; i++)
        assert_int_equal(tu_wait(pids[i]), 0);
    assert_int_equal(atomic_load(&h->overlaps), 0);
    assert_int_equal(atomic_load(&h->done), 60);
    assert_int_equal(rt_numsub(a.channel), 0);
    munmap(h, sizeof *h);
}

static atomic_int lost_calls;

static void count_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    assert_ptr_equal(ud, &lost_calls);
    atomic_fetch_add(&lost_calls, 1);
}

static void client_kill_is_reported_never_resubscribed(void **state)
{
    const char *ch = rt_channel("kill");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    redisContext *c;
    redisReply *r;
    char name[256];
    double end;
    long long id;
    (void)state;
    atomic_store(&lost_calls, 0);
    tu_ok(pl_redis_lock_set_lost_callback(l, count_lost, &lost_calls));
    tu_ok(pl_redis_lock_acquire(l));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    id = rt_client_id(name);
    assert_true(id > 0);
    c = rt_connect();
    r = redisCommand(c, "CLIENT KILL ID %lld", id);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(c);
    end = tu_now() + 3;
    while (pl_redis_lock_check(l) == PL_OK && tu_now() < end)
        usleep(1000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
    assert_non_null(strstr(pl_last_error_message(), "lost"));
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l)); /* stays lost */
    usleep(50000);
    assert_int_equal(atomic_load(&lost_calls), 1);
    assert_int_equal(rt_numsub(ch), 0); /* no silent resubscription */
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
    tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
    tu_ok(pl_redis_lock_release(l));
    /* usable again */
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_check(l));
    pl_redis_lock_free(l);
    assert_int_equal(atomic_load(&lost_calls), 1);
}

/* A lock lost and then re-acquired without a release starts afresh. */
static void acquire_after_loss_without_release(void **state)
{
    const char *ch = rt_channel("relost");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_SH);
    redisContext *c;
    char name[256];
    (void)state;
    tu_ok(pl_redis_lock_acquire(l));
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    c = rt_connect();
    freeReplyObject(redisCommand(c, "CLIENT KILL ID %lld", rt_client_id(name)));
    redisFree(c);
    assert_int_equal(rt_wait_numsub(ch, 0, 3), 0);
    while (pl_redis_lock_check(l) == PL_OK)
        usleep(1000);
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_check(l));
    assert_int_equal(rt_numsub(ch), 1);
    pl_redis_lock_free(l);
}

/* The server closes a lock's idle connections between two holds (its
   `timeout` setting, a proxy's idle limit; here CLIENT KILL of every
   other client): the next acquire reconnects and takes the lock, as with
   redis-py, instead of failing on the dead connection. */
static void idle_connections_closed_by_the_server(void **state)
{
    const char *ch = rt_channel("idle");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    int round;
    (void)state;
    for (round = 0; round < 2; round++) {
        redisContext *c;
        tu_ok(pl_redis_lock_acquire(l));
        tu_ok(pl_redis_lock_release(l));
        c = rt_connect();
        freeReplyObject(redisCommand(c, "CLIENT KILL TYPE pubsub"));
        freeReplyObject(redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes"));
        redisFree(c);
        usleep(1100000); /* idle, as before an idle timeout (>= 1 s) */
    }
    tu_ok(pl_redis_lock_acquire_with(l, 0, PL_INHERIT, PL_INHERIT));
    tu_ok(pl_redis_lock_check(l));
    assert_int_equal(rt_numsub(ch), 1);
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static int child_drops_inherited(void *p)
{
    pl_redis_lock *l = p;
    /* Neither call may touch the parent's connections. */
    if (pl_redis_lock_check(l) != PL_ERR_NOT_HELD)
        return 1;
    if (pl_redis_lock_release(l) != PL_OK)
        return 2;
    pl_redis_lock_free(l);
    return 0;
}

static void fork_child_cannot_release_parent(void **state)
{
    const char *ch = rt_channel("fork");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX), *other = rt_lock(ch, PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_acquire(l));
    assert_int_equal(tu_wait(tu_fork(child_drops_inherited, l)), 0);
    usleep(50000);
    tu_ok(pl_redis_lock_check(l));
    assert_int_equal(rt_numsub(ch), 1);
    /* Still answering pings: a prober sees an exclusive holder. */
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_redis_lock_acquire_with(other, 2, 0.05, 1));
    tu_ok(pl_redis_lock_release(l));
    tu_ok(pl_redis_lock_acquire_with(other, 0, 0.05, 1));
    pl_redis_lock_free(l);
    pl_redis_lock_free(other);
}

static int child_holds_then_releases(void *p)
{
    pl_redis_lock *l = p;
    /* The inherited handle is not held here; it takes a hold of its own
       (a second reader), then gives it back. */
    if (pl_redis_lock_acquire_with(l, 5, 0.05, 0) != PL_OK)
        return 1;
    if (pl_redis_lock_release(l) != PL_OK)
        return 2;
    pl_redis_lock_free(l);
    return 0;
}

static void fork_child_release_leaves_parent_holding(void **state)
{
    const char *ch = rt_channel("forkhold");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_SH), *writer = rt_lock(ch, PL_LOCK_EX);
    (void)state;
    /* The child starts a holder thread after a multi-threaded fork, which
       ThreadSanitizer refuses; it runs unsanitized, under ASan and
       valgrind. */
    if (getenv("PL_TEST_TSAN"))
        skip();
    tu_ok(pl_redis_lock_set_unavailable_timeout(writer, 0.3));
    tu_ok(pl_redis_lock_acquire(l));
    assert_int_equal(tu_wait(tu_fork(child_holds_then_releases, l)), 0);
    usleep(100000);
    /* The child's release must not have stopped the parent's holder
       thread: the parent still answers pings, so a writer can neither
       reap it nor take the lock. */
    tu_expect(PL_ERR_ALREADY_LOCKED,
              pl_redis_lock_acquire_with(writer, 1.5, 0.05, 0));
    tu_ok(pl_redis_lock_check(l));
    assert_int_equal(rt_numsub(ch), 1);
    tu_ok(pl_redis_lock_release(l));
    tu_ok(pl_redis_lock_acquire_with(writer, 2, 0.05, 0));
    pl_redis_lock_free(l);
    pl_redis_lock_free(writer);
}

static void binary_channel(void **state)
{
    char ch[32];
    size_t n;
    pl_redis_lock *a = NULL, *b = NULL;
    (void)state;
    n = (size_t)snprintf(ch, sizeof ch, "bin-%ld-", (long)getpid());
    memcpy(ch + n, "\0\xff a\n", 5);
    n += 5;
    tu_ok(pl_redis_lock_new(&a, ch, n));
    tu_ok(pl_redis_lock_new(&b, ch, n));
    tu_ok(pl_redis_lock_set_host(a, "127.0.0.1", rt_port()));
    tu_ok(pl_redis_lock_set_host(b, "127.0.0.1", rt_port()));
    tu_ok(pl_redis_lock_acquire(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(b, 2, 0.05, 1));
    /* the prefix alone is another lock */
    {
        pl_redis_lock *c = NULL;
        tu_ok(pl_redis_lock_new(&c, ch, n - 3));
        tu_ok(pl_redis_lock_set_host(c, "127.0.0.1", rt_port()));
        tu_ok(pl_redis_lock_acquire_with(c, 0, 0.05, 1));
        pl_redis_lock_free(c);
    }
    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_acquire_with(b, 2, 0.05, 1));
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
}

static void connection_settings(void **state)
{
    const char *ch = rt_channel("conf");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    (void)state;
    tu_ok(pl_redis_lock_set_db(l, 3));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 0.5));
    tu_ok(pl_redis_lock_set_command_timeout(l, 0.5));
    tu_ok(pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_release(l));
    /* The test server has no password: AUTH is refused, and said so. */
    tu_ok(pl_redis_lock_set_password(l, NULL, "wrong"));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(l));
    assert_non_null(strstr(pl_last_error_message(), "AUTH"));
    tu_ok(pl_redis_lock_set_password(l, "nobody", "wrong"));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(l));
    tu_ok(pl_redis_lock_set_password(l, NULL, NULL));
    if (rt_socket()) {
        tu_ok(pl_redis_lock_set_unix_socket(l, rt_socket()));
        tu_ok(pl_redis_lock_acquire(l));
        assert_int_equal(rt_numsub(ch), 1);
        tu_ok(pl_redis_lock_release(l));
    } else if (getenv("CI") && !strcmp(getenv("CI"), "true")) {
        fail_msg("PL_TEST_REDIS_SOCKET is not set (CI must test the unix "
                 "socket)");
    }
    tu_ok(pl_redis_lock_set_unix_socket(l, "/nonexistent/redis.sock"));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(l));
    assert_non_null(strstr(pl_last_error_message(), "/nonexistent/redis.sock"));
    pl_redis_lock_free(l);
}

static void ignore_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    (void)ud;
}

/* Every getter gives the documented default, then what was set; a NULL
   handle or out pointer is an argument error. No server needed. */
static void getters_report_defaults_then_settings(void **state)
{
    pl_redis_lock *l = NULL;
    const char *s = NULL, *u = NULL, *p = NULL;
    pl_lost_callback cb = count_lost;
    void *ud = &cb;
    char host[] = "redis.example", sock[] = "/tmp/pl-test-redis.sock";
    double d = -1;
    int i = -1, port = -1;
    (void)state;
    tu_ok(pl_redis_lock_new(&l, "getters", 7));

    tu_ok(pl_redis_lock_get_host(l, &s, &port));
    assert_string_equal(s, "127.0.0.1");
    assert_int_equal(port, 6379);
    tu_ok(pl_redis_lock_get_unix_socket(l, &s));
    assert_string_equal(s, "");
    tu_ok(pl_redis_lock_get_db(l, &i));
    assert_int_equal(i, 0);
    tu_ok(pl_redis_lock_get_password(l, &u, &p));
    assert_null(u);
    assert_null(p);
    tu_ok(pl_redis_lock_get_connect_timeout(l, &d));
    assert_true(d == 1.0);
    tu_ok(pl_redis_lock_get_command_timeout(l, &d));
    assert_true(d == 2.0);
    tu_ok(pl_redis_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_EX);
    tu_ok(pl_redis_lock_get_timeout(l, &d));
    assert_true(d == 5.0);
    tu_ok(pl_redis_lock_get_check_interval(l, &d));
    assert_true(d == 0.25);
    tu_ok(pl_redis_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 0);
    tu_ok(pl_redis_lock_get_unavailable_timeout(l, &d));
    assert_true(d == 1.0);
    tu_ok(pl_redis_lock_get_lost_callback(l, &cb, &ud));
    assert_null(cb);
    assert_null(ud);

    tu_ok(pl_redis_lock_set_host(l, host, 6380));
    tu_ok(pl_redis_lock_set_db(l, 7));
    tu_ok(pl_redis_lock_set_password(l, NULL, "secret"));
    tu_ok(pl_redis_lock_set_connect_timeout(l, 0.5));
    tu_ok(pl_redis_lock_set_command_timeout(l, INFINITY));
    tu_ok(pl_redis_lock_set_flags(l, PL_LOCK_SH));
    tu_ok(pl_redis_lock_set_timeout(l, INFINITY));
    tu_ok(pl_redis_lock_set_check_interval(l, 0.125));
    tu_ok(pl_redis_lock_set_fail_when_locked(l, 42));
    tu_ok(pl_redis_lock_set_unavailable_timeout(l, 3.5));
    tu_ok(pl_redis_lock_set_lost_callback(l, ignore_lost, &port));
    host[0] = 'X'; /* the handle keeps its own copy */

    tu_ok(pl_redis_lock_get_host(l, &s, &port));
    assert_string_equal(s, "redis.example");
    assert_int_equal(port, 6380);
    tu_ok(pl_redis_lock_get_unix_socket(l, &s));
    assert_string_equal(s, ""); /* still TCP */
    tu_ok(pl_redis_lock_get_db(l, &i));
    assert_int_equal(i, 7);
    tu_ok(pl_redis_lock_get_password(l, &u, &p));
    assert_null(u);
    assert_string_equal(p, "secret");
    tu_ok(pl_redis_lock_set_password(l, "user", "pw"));
    tu_ok(pl_redis_lock_get_password(l, &u, &p));
    assert_string_equal(u, "user");
    assert_string_equal(p, "pw");
    tu_ok(pl_redis_lock_set_password(l, NULL, NULL));
    tu_ok(pl_redis_lock_get_password(l, &u, &p));
    assert_null(u);
    assert_null(p);
    tu_ok(pl_redis_lock_get_connect_timeout(l, &d));
    assert_true(d == 0.5);
    tu_ok(pl_redis_lock_get_command_timeout(l, &d));
    assert_true(isinf(d));
    tu_ok(pl_redis_lock_get_flags(l, &i));
    assert_int_equal(i, PL_LOCK_SH);
    tu_ok(pl_redis_lock_get_timeout(l, &d));
    assert_true(isinf(d));
    tu_ok(pl_redis_lock_get_check_interval(l, &d));
    assert_true(d == 0.125);
    tu_ok(pl_redis_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 1);
    tu_ok(pl_redis_lock_get_unavailable_timeout(l, &d));
    assert_true(d == 3.5);
    tu_ok(pl_redis_lock_get_lost_callback(l, &cb, &ud));
    assert_true(cb == ignore_lost);
    assert_ptr_equal(ud, &port);

    /* A unix socket, then back to TCP: get_host keeps the TCP endpoint
       throughout, get_unix_socket follows the switch. */
    tu_ok(pl_redis_lock_set_unix_socket(l, sock));
    sock[0] = 'X';
    tu_ok(pl_redis_lock_get_unix_socket(l, &s));
    assert_string_equal(s, "/tmp/pl-test-redis.sock");
    tu_ok(pl_redis_lock_get_host(l, &s, &port));
    assert_string_equal(s, "redis.example");
    assert_int_equal(port, 6380);
    tu_ok(pl_redis_lock_set_host(l, "localhost", 6381));
    tu_ok(pl_redis_lock_get_unix_socket(l, &s));
    assert_string_equal(s, "");
    tu_ok(pl_redis_lock_get_host(l, &s, &port));
    assert_string_equal(s, "localhost");
    assert_int_equal(port, 6381);
    tu_ok(pl_redis_lock_set_fail_when_locked(l, 0));
    tu_ok(pl_redis_lock_get_fail_when_locked(l, &i));
    assert_int_equal(i, 0);
    tu_ok(pl_redis_lock_set_lost_callback(l, NULL, NULL));
    tu_ok(pl_redis_lock_get_lost_callback(l, &cb, &ud));
    assert_null(cb);
    assert_null(ud);

    /* A rejected setting leaves the getter's value alone. */
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_timeout(l, -1));
    tu_ok(pl_redis_lock_get_timeout(l, &d));
    assert_true(isinf(d));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_db(l, -3));
    tu_ok(pl_redis_lock_get_db(l, &i));
    assert_int_equal(i, 7);

    /* NULL handle */
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_host(NULL, &s, &port));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_unix_socket(NULL, &s));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_db(NULL, &i));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_password(NULL, &u, &p));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_connect_timeout(NULL, &d));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_command_timeout(NULL, &d));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_flags(NULL, &i));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_timeout(NULL, &d));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_check_interval(NULL, &d));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_fail_when_locked(NULL, &i));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_unavailable_timeout(NULL, &d));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_lost_callback(NULL, &cb, &ud));
    assert_non_null(strstr(pl_last_error_message(), "handle"));

    /* NULL out pointers (each one alone for the two-output getters) */
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_host(l, NULL, &port));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_host(l, &s, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_unix_socket(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_db(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_password(l, NULL, &p));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_password(l, &u, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_connect_timeout(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_command_timeout(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_flags(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_get_timeout(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_check_interval(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_fail_when_locked(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_unavailable_timeout(l, NULL));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_lost_callback(l, NULL, &ud));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_get_lost_callback(l, &cb, NULL));
    assert_non_null(strstr(pl_last_error_message(), "NULL"));
    pl_redis_lock_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(uncontended_cycle_leaves_nothing_behind),
        cmocka_unit_test(not_reentrant),
        cmocka_unit_test(exclusive_excludes),
        cmocka_unit_test(shared_readers_coexist),
        cmocka_unit_test(waiting_writer_keeps_readers_out),
        cmocka_unit_test(processes_exclude_each_other),
        cmocka_unit_test(client_kill_is_reported_never_resubscribed),
        cmocka_unit_test(idle_connections_closed_by_the_server),
        cmocka_unit_test(acquire_after_loss_without_release),
        cmocka_unit_test(fork_child_cannot_release_parent),
        cmocka_unit_test(fork_child_release_leaves_parent_holding),
        cmocka_unit_test(binary_channel),
        cmocka_unit_test(connection_settings),
        cmocka_unit_test(getters_report_defaults_then_settings),
    };
    rt_port(); /* no server, no pass */
    /* Under ThreadSanitizer (ci/hardening/sanitize.sh sets PL_TEST_TSAN=1)
       one test cannot run: waiting_writer_keeps_readers_out forks while
       r1's holder thread runs, and the child starts its own holder thread,
       which TSan refuses ("starting new threads after multi-threaded fork
       is not supported"). It runs unsanitized (ci/tests.d/redis.sh), under
       ASan+UBSan and under valgrind. */
    if (getenv("PL_TEST_TSAN"))
        cmocka_set_skip_filter("waiting_writer_keeps_readers_out");
    return cmocka_run_group_tests_name("redis lock", tests, NULL, NULL);
}
