/* RedisLock fault injection: the calls the core's transport makes (the
   platform's socket functions pl__os_net_*, hiredis's formatter and
   reader), and poll, pipe2 and pthread_create, are replaced with
   -Wl,--wrap (REDIS_WRAP in the Makefile). Each __wrap_X passes through
   to __real_X against the test server unless a failure is armed, in the
   style of tests/unit/test_faults.c: "fail the Nth call of X (optionally
   only for command NAME, or only on this thread / other threads), K
   times". A failure is one of:
     IO       a socket call fails with errno `err` (send/recv), or the
              formatter cannot queue the command (out of memory). The socket
              is left open on purpose: only the core's close frees it, so
              a leaked connection shows in CLIENT LIST and a leaked
              subscription in PUBSUB NUMSUB.
     PROTO    the reader's protocol error (REDIS_ERR_PROTOCOL).
     REPLY    the command is sent as an unknown command instead, so the
              real server answers with a real error reply.
     REFUSED  the connect goes to a closed port / missing socket (a real
              ECONNREFUSED / ENOENT).
     TIMEOUT  REFUSED, then reported as ETIMEDOUT (as a connect timeout).
     NULLCTX  the connect fails for lack of memory (ENOMEM).
   After every failure: the documented code and a message naming the
   endpoint and the step, no descriptor and no server connection left
   (CLIENT LIST back to its count), no half-held lock (NUMSUB of the
   channel back to what it was, another handle acquires). */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the fault table ---- */

enum fault_id {
    W_CONNECT, /* pl__os_net_connect_tcp, pl__os_net_connect_unix */
    W_COMMAND, /* redisFormatCommandArgv, matching the command */
    W_APPEND,  /* redisFormatCommandArgv, any command */
    W_WRITE,   /* pl__os_net_send */
    W_READ,    /* pl__os_net_recv */
    W_READER,  /* redisReaderGetReply */
    W_POLL,    /* poll of the waits (two or more descriptors) */
    W_PIPE2,
    W_THREAD, /* pthread_create */
    W_COUNT
};

enum fault_kind { K_IO, K_PROTO, K_REPLY, K_REFUSED, K_TIMEOUT, K_NULLCTX };
enum fault_thread { ANY_THREAD, THIS_THREAD, OTHER_THREADS };

typedef struct fault {
    int nth, times, err, kind;
    const char *match; /* commands: only this argv[0] (case-insensitive) */
    int thread;        /* enum fault_thread */
    pthread_t armer;
    int calls, failed;
} fault;

static fault faults[W_COUNT];
static pthread_mutex_t faults_mutex = PTHREAD_MUTEX_INITIALIZER;
static int closed_port;
static int current_case; /* for messages: which case of a table failed */

/* Nothing fails from now on; the counts of the last arming stay
   readable (failed_count, call_count) until the next arm. */
static void disarm_all(void)
{
    int i;
    pthread_mutex_lock(&faults_mutex);
    for (i = 0; i < W_COUNT; i++)
        faults[i].nth = 0;
    pthread_mutex_unlock(&faults_mutex);
}

static void reset_all(void)
{
    pthread_mutex_lock(&faults_mutex);
    memset(faults, 0, sizeof faults);
    pthread_mutex_unlock(&faults_mutex);
}

static int setup(void **state)
{
    (void)state;
    reset_all();
    return 0;
}

static void arm_full(int id, int nth, int kind, int err, int times,
                     const char *match, int thread)
{
    pthread_mutex_lock(&faults_mutex);
    memset(&faults[id], 0, sizeof faults[id]);
    faults[id].nth = nth;
    faults[id].kind = kind;
    faults[id].err = err;
    faults[id].times = times;
    faults[id].match = match;
    faults[id].thread = thread;
    faults[id].armer = pthread_self();
    pthread_mutex_unlock(&faults_mutex);
}

static void arm(int id, int nth, int kind, int err, int times)
{
    arm_full(id, nth, kind, err, times, NULL, ANY_THREAD);
}

static void arm_cmd(int id, int nth, int kind, int err, const char *cmd)
{
    arm_full(id, nth, kind, err, 1, cmd, ANY_THREAD);
}

static int failed_count(int id)
{
    int n;
    pthread_mutex_lock(&faults_mutex);
    n = faults[id].failed;
    pthread_mutex_unlock(&faults_mutex);
    return n;
}

static int call_count(int id)
{
    int n;
    pthread_mutex_lock(&faults_mutex);
    n = faults[id].calls;
    pthread_mutex_unlock(&faults_mutex);
    return n;
}

/* 1 when this call fails; *kind and *err say how. */
static int should_fail(int id, const char *cmd, size_t cmdlen, int *kind, int *err)
{
    fault *f = &faults[id];
    int fail = 0;
    pthread_mutex_lock(&faults_mutex);
    if (f->match && (!cmd || strlen(f->match) != cmdlen ||
                     strncasecmp(f->match, cmd, cmdlen) != 0))
        goto out;
    if (f->thread == THIS_THREAD && !pthread_equal(f->armer, pthread_self()))
        goto out;
    if (f->thread == OTHER_THREADS && pthread_equal(f->armer, pthread_self()))
        goto out;
    f->calls++;
    if (f->nth <= 0 || f->calls < f->nth)
        goto out;
    if (f->times >= 0 && f->failed >= f->times)
        goto out;
    f->failed++;
    *kind = f->kind;
    *err = f->err;
    fail = 1;
out:
    pthread_mutex_unlock(&faults_mutex);
    return fail;
}

/* ---- the wraps ---- */

int __real_pl__os_net_connect_tcp(const char *host, int port, double timeout,
                                  int *fd, char *detail, size_t size);
int __real_pl__os_net_connect_unix(const char *path, double timeout, int *fd);
int __real_pl__os_net_send(int fd, const void *buf, size_t len, size_t *n);
int __real_pl__os_net_recv(int fd, void *buf, size_t len, size_t *n);
int __real_redisFormatCommandArgv(char **target, int argc, const char **argv,
                                  const size_t *lens);
int __real_redisReaderGetReply(redisReader *r, void **reply);
int __real_poll(struct pollfd *fds, nfds_t n, int ms);
int __real_pipe2(int fds[2], int flags);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

int __wrap_pl__os_net_connect_tcp(const char *host, int port, double timeout,
                                  int *fd, char *detail, size_t size);
int __wrap_pl__os_net_connect_tcp(const char *host, int port, double timeout,
                                  int *fd, char *detail, size_t size)
{
    int kind, err, rc;
    if (should_fail(W_CONNECT, NULL, 0, &kind, &err)) {
        if (kind == K_NULLCTX)
            return ENOMEM;
        rc = __real_pl__os_net_connect_tcp(host, closed_port, timeout, fd,
                                           detail, size);
        return kind == K_TIMEOUT && rc ? err : rc;
    }
    return __real_pl__os_net_connect_tcp(host, port, timeout, fd, detail, size);
}

int __wrap_pl__os_net_connect_unix(const char *path, double timeout, int *fd);
int __wrap_pl__os_net_connect_unix(const char *path, double timeout, int *fd)
{
    int kind, err, rc;
    if (should_fail(W_CONNECT, NULL, 0, &kind, &err)) {
        if (kind == K_NULLCTX)
            return ENOMEM;
        rc = __real_pl__os_net_connect_unix("/nonexistent/pl-wrap.sock", timeout, fd);
        return kind == K_TIMEOUT && rc ? err : rc;
    }
    return __real_pl__os_net_connect_unix(path, timeout, fd);
}

static const char *bogus_argv[1] = {"PLWRAP-NO-SUCH-COMMAND"};
/* Set by a K_IO command fault: the next send of this thread fails so. */
static _Thread_local int send_fails_with;

int __wrap_redisFormatCommandArgv(char **target, int argc, const char **argv,
                                  const size_t *lens);
int __wrap_redisFormatCommandArgv(char **target, int argc, const char **argv,
                                  const size_t *lens)
{
    int kind, err;
    size_t n = lens ? lens[0] : strlen(argv[0]);
    /* The core formats every command here: W_COMMAND is "issuing this
       command fails", W_APPEND the same for any command. */
    if (should_fail(W_COMMAND, argv[0], n, &kind, &err) ||
        should_fail(W_APPEND, argv[0], n, &kind, &err)) {
        if (kind == K_REPLY)
            return __real_redisFormatCommandArgv(target, 1, bogus_argv, NULL);
        if (err != ENOMEM) { /* the write carrying it breaks */
            send_fails_with = err;
            return __real_redisFormatCommandArgv(target, argc, argv, lens);
        }
        *target = NULL;
        return -1; /* hiredis: out of memory */
    }
    return __real_redisFormatCommandArgv(target, argc, argv, lens);
}

int __wrap_pl__os_net_send(int fd, const void *buf, size_t len, size_t *n);
int __wrap_pl__os_net_send(int fd, const void *buf, size_t len, size_t *n)
{
    int kind, err;
    if (send_fails_with) {
        err = send_fails_with;
        send_fails_with = 0;
        *n = 0;
        return err;
    }
    if (should_fail(W_WRITE, NULL, 0, &kind, &err)) {
        *n = 0;
        return err;
    }
    return __real_pl__os_net_send(fd, buf, len, n);
}

int __wrap_pl__os_net_recv(int fd, void *buf, size_t len, size_t *n);
int __wrap_pl__os_net_recv(int fd, void *buf, size_t len, size_t *n)
{
    int kind, err;
    if (should_fail(W_READ, NULL, 0, &kind, &err)) {
        *n = 0;
        return err;
    }
    return __real_pl__os_net_recv(fd, buf, len, n);
}

int __wrap_redisReaderGetReply(redisReader *r, void **reply);
int __wrap_redisReaderGetReply(redisReader *r, void **reply)
{
    int kind, err;
    if (should_fail(W_READER, NULL, 0, &kind, &err)) {
        r->err = REDIS_ERR_PROTOCOL;
        snprintf(r->errstr, sizeof r->errstr, "%s",
                 "Protocol error, got \"!\" as reply type byte");
        *reply = NULL;
        return REDIS_ERR;
    }
    return __real_redisReaderGetReply(r, reply);
}

/* Only the waits' polls (the lock's descriptors with the wake-up one,
   the holder's with its stop pipe): the transport's own one-descriptor
   waits inside a command pass through, as hiredis's blocking reads did. */
int __wrap_poll(struct pollfd *fds, nfds_t n, int ms);
int __wrap_poll(struct pollfd *fds, nfds_t n, int ms)
{
    int kind, err;
    if (n >= 2 && should_fail(W_POLL, NULL, 0, &kind, &err)) {
        errno = err;
        return -1;
    }
    return __real_poll(fds, n, ms);
}

int __wrap_pipe2(int fds[2], int flags);
int __wrap_pipe2(int fds[2], int flags)
{
    int kind, err;
    if (should_fail(W_PIPE2, NULL, 0, &kind, &err)) {
        errno = err;
        return -1;
    }
    return __real_pipe2(fds, flags);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
    int kind, err;
    if (should_fail(W_THREAD, NULL, 0, &kind, &err))
        return err;
    return __real_pthread_create(t, a, fn, arg);
}

/* ---- checks ---- */

/* Connections the server has (CLIENT LIST lines, the asking one included). */
static int server_clients(void)
{
    redisContext *c = rt_connect();
    redisReply *r = redisCommand(c, "CLIENT LIST");
    int n = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p;
        n = 0;
        for (p = r->str; *p; p++)
            n += *p == '\n';
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return n;
}

typedef struct baseline {
    int fds;
    int clients;
} baseline;

static void take_baseline(baseline *b)
{
    disarm_all();
    b->fds = tu_count_fds();
    b->clients = server_clients();
    assert_true(b->clients > 0);
}

/* The message names the endpoint and contains `what`. */
static void expect_message(const char *what)
{
    const char *msg = pl_last_error_message();
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%d", rt_port());
    if (!strstr(msg, ep))
        fail_msg("message '%s' does not name %s", msg, ep);
    if (what && !strstr(msg, what))
        fail_msg("message '%s' lacks '%s'", msg, what);
}

/* Nothing half-held: `channel` has `subscribers` left, a fresh handle
   acquires it (when subscribers is 0) at once. */
static void expect_free(const char *channel, long long subscribers)
{
    disarm_all();
    if (rt_wait_numsub(channel, subscribers, 3) != 0)
        fail_msg("NUMSUB %s is %lld, want %lld", channel, rt_numsub(channel),
                 subscribers);
    if (subscribers == 0) {
        pl_redis_lock *o = rt_lock(channel, PL_LOCK_EX);
        tu_ok(pl_redis_lock_acquire_with(o, 2, PL_INHERIT, 0));
        tu_ok(pl_redis_lock_release(o));
        pl_redis_lock_free(o);
        assert_int_equal(rt_wait_numsub(channel, 0, 3), 0);
    }
}

/* After freeing every handle: no descriptor, no server connection left. */
static void expect_baseline(const baseline *b)
{
    double end = tu_now() + 3;
    int n;
    disarm_all();
    while ((n = server_clients()) > b->clients && tu_now() < end)
        usleep(5000);
    if (n > b->clients)
        fail_msg("the server has %d connections, %d before", n, b->clients);
    assert_int_equal(tu_count_fds(), b->fds);
}

/* Acquire with a fault armed by the caller: fails with `code` (the last
   error is the acquire's). */
static void acquire_fails(pl_redis_lock *l, double timeout, int code)
{
    int rc = pl_redis_lock_acquire_with(l, timeout, PL_INHERIT, 0);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", pl_last_error_message());
    disarm_all();
    if (rc != code)
        fail_msg("case %d: acquire returned %s, want %s: %s", current_case,
                 pl_error_name(rc), pl_error_name(code), msg);
}

/* ---- connect ---- */

static void connect_failures_name_the_endpoint_and_leave_nothing(void **state)
{
    /* Connections are made in this order: sub (the lock), cmd, and w
       (waiting only). Fail each. */
    static const struct {
        int nth, kind, err, code;
        const char *words;
    } cases[] = {
        {1, K_REFUSED, 0, PL_ERR_CONNECTION, "Connection refused"},
        {1, K_TIMEOUT, ETIMEDOUT, PL_ERR_CONNECTION, "timed out"},
        {2, K_REFUSED, 0, PL_ERR_CONNECTION, "Connection refused"},
        {2, K_TIMEOUT, ETIMEDOUT, PL_ERR_CONNECTION, "timed out"},
        {1, K_NULLCTX, 0, PL_ERR_NO_MEMORY, NULL},
        {2, K_NULLCTX, 0, PL_ERR_NO_MEMORY, NULL},
    };
    const char *ch = rt_channel("connect");
    baseline b;
    size_t i;
    (void)state;
    take_baseline(&b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        arm(W_CONNECT, cases[i].nth, cases[i].kind, cases[i].err, 1);
        if (pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0) != cases[i].code)
            fail_msg("case %zu: %s", i, pl_last_error_message());
        assert_int_equal(failed_count(W_CONNECT), 1);
        disarm_all();
        if (cases[i].code == PL_ERR_CONNECTION) {
            expect_message(cases[i].words);
            assert_non_null(strstr(pl_last_error_message(), "cannot connect"));
            if (cases[i].kind == K_TIMEOUT)
                assert_int_equal(pl_last_errno(), ETIMEDOUT);
        }
        tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
        expect_free(ch, 0);
        /* The same handle works afterwards. */
        tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
        tu_ok(pl_redis_lock_release(l));
        pl_redis_lock_free(l);
        expect_baseline(&b);
    }
}

static void unix_socket_connect_failure_names_the_socket(void **state)
{
    const char *ch = rt_channel("unix");
    const char *sock = rt_socket();
    pl_redis_lock *l = NULL;
    char want[300];
    baseline b;
    (void)state;
    if (!sock)
        fail_msg("PL_TEST_REDIS_SOCKET is not set (ci/tests.d/redis.sh sets it)");
    take_baseline(&b);
    tu_ok(pl_redis_lock_new(&l, ch, strlen(ch)));
    tu_ok(pl_redis_lock_set_unix_socket(l, sock));
    arm(W_CONNECT, 1, K_REFUSED, 0, 1);
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    snprintf(want, sizeof want, "unix:%s", sock);
    assert_non_null(strstr(pl_last_error_message(), want));
    assert_non_null(strstr(pl_last_error_message(), strerror(ENOENT)));
    expect_free(ch, 0);
    tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
    pl_redis_lock_free(l);
    expect_free(ch, 0);
    expect_baseline(&b);
}

static void connect_failure_of_the_waiter_leaves_the_holder_alone(void **state)
{
    const char *ch = rt_channel("wconnect");
    pl_redis_lock *h = rt_lock(ch, PL_LOCK_EX), *l;
    baseline b;
    (void)state;
    tu_ok(pl_redis_lock_acquire(h));
    take_baseline(&b);
    l = rt_lock(ch, PL_LOCK_EX);
    /* sub, cmd, then w for the probe. */
    arm(W_CONNECT, 3, K_REFUSED, 0, 1);
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    assert_int_equal(failed_count(W_CONNECT), 1);
    expect_message("Connection refused");
    expect_free(ch, 1);
    tu_ok(pl_redis_lock_check(h));
    pl_redis_lock_free(l);
    expect_baseline(&b);
    tu_ok(pl_redis_lock_release(h));
    pl_redis_lock_free(h);
    expect_free(ch, 0);
}

/* ---- the handshake (AUTH, SELECT, CLIENT SETNAME) ---- */

static void handshake_failures_are_connection_errors(void **state)
{
    const char *ch = rt_channel("handshake");
    baseline b;
    pl_redis_lock *l;
    (void)state;
    take_baseline(&b);

    /* AUTH refused for real: the test server has no password. */
    l = rt_lock(ch, PL_LOCK_EX);
    tu_ok(pl_redis_lock_set_password(l, NULL, "wrong"));
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("refused AUTH");
    pl_redis_lock_free(l);
    expect_free(ch, 0);
    expect_baseline(&b);

    /* SELECT and CLIENT SETNAME answered with an error reply. */
    l = rt_lock(ch, PL_LOCK_EX);
    tu_ok(pl_redis_lock_set_db(l, 1));
    arm_cmd(W_APPEND, 1, K_REPLY, 0, "SELECT");
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("refused SELECT");
    assert_non_null(strstr(pl_last_error_message(), "ERR"));
    expect_free(ch, 0);
    arm_cmd(W_APPEND, 1, K_REPLY, 0, "CLIENT");
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("refused CLIENT SETNAME");
    expect_free(ch, 0);
    /* Appending fails (hiredis out of memory / broken context). */
    arm_cmd(W_APPEND, 1, K_IO, ENOMEM, "CLIENT");
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("CLIENT SETNAME");
    expect_free(ch, 0);
    /* The connection breaks reading the handshake's replies. */
    arm(W_READ, 1, K_IO, ECONNRESET, 1);
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("lost the connection");
    assert_non_null(strstr(pl_last_error_message(), strerror(ECONNRESET)));
    expect_free(ch, 0);
    /* Sending the handshake fails (the first send: sub's SELECT and
       SETNAME in one write; the first of them is named). */
    arm(W_WRITE, 1, K_IO, EPIPE, 1);
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("during SELECT");
    assert_non_null(strstr(pl_last_error_message(), strerror(EPIPE)));
    expect_free(ch, 0);
    /* Each on the second connection (cmd) too: the sub must go. */
    arm_cmd(W_APPEND, 2, K_REPLY, 0, "SELECT");
    acquire_fails(l, 1, PL_ERR_CONNECTION);
    expect_message("refused SELECT");
    expect_free(ch, 0);
    tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
    pl_redis_lock_free(l);
    expect_free(ch, 0);
    expect_baseline(&b);
}

/* ---- commands while acquiring ---- */

static void subscribe_and_numsub_failures_leave_no_subscription(void **state)
{
    static const struct {
        const char *cmd;
        int kind, err;
        const char *words;
    } cases[] = {
        {"SUBSCRIBE", K_REPLY, 0, "refused SUBSCRIBE"},
        {"SUBSCRIBE", K_IO, ECONNRESET, "during SUBSCRIBE"},
        {"PUBSUB", K_REPLY, 0, "refused PUBSUB NUMSUB"},
        /* (a timeout costs an attempt, not the acquire: test_redis_stall) */
        {"PUBSUB", K_IO, ECONNRESET, "during PUBSUB NUMSUB"},
    };
    const char *ch = rt_channel("subnumsub");
    baseline b;
    size_t i;
    (void)state;
    take_baseline(&b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        arm_cmd(W_COMMAND, 1, cases[i].kind, cases[i].err, cases[i].cmd);
        acquire_fails(l, 1, PL_ERR_CONNECTION);
        assert_int_equal(failed_count(W_COMMAND), 1);
        expect_message(cases[i].words);
        if (cases[i].kind == K_IO) {
            assert_non_null(strstr(pl_last_error_message(), strerror(cases[i].err)));
            assert_int_equal(pl_last_errno(), cases[i].err);
        }
        expect_free(ch, 0);
        tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
        pl_redis_lock_free(l);
        expect_free(ch, 0);
        expect_baseline(&b);
    }
}

static void probe_failures_under_contention_leave_the_holder_alone(void **state)
{
    /* A holder exists: the acquirer probes (w connection, SUBSCRIBE to a
       response channel, NUMSUB, PUBLISH a ping, read answers). */
    static const struct {
        int id;
        const char *cmd;
        int kind, err;
        const char *words;
    } cases[] = {
        /* nth 1 for all but the reader's: 2 (its first call each time is
           on the lock's own connection, the second on w); the last case
           fails that first call: our own subscription ends, which is
           retried (not an error), and the wait times out. */
        {W_COMMAND, "PUBLISH", K_REPLY, 0, "refused PUBLISH (ping)"},
        {W_COMMAND, "PUBLISH", K_IO, EPIPE, "during PUBLISH (ping)"},
        {W_WRITE, NULL, K_IO, EPIPE, "during SUBSCRIBE"},
        {W_READ, NULL, K_IO, ECONNRESET, "while waiting"},
        {W_READER, NULL, K_PROTO, 0, "while waiting"},
        {W_READER, NULL, K_PROTO, 0, "timed out"},
    };
    const char *ch = rt_channel("probe");
    pl_redis_lock *h = rt_lock(ch, PL_LOCK_EX);
    baseline b;
    size_t i;
    (void)state;
    tu_ok(pl_redis_lock_acquire(h));
    take_baseline(&b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        int last = i == sizeof cases / sizeof cases[0] - 1;
        /* This thread only: the holder's thread must not be hit. */
        /* Blocking calls write once and read the reader before and after
           reading the socket: the lock's SETNAME, its SUBSCRIBE and the
           count come first (3 writes, 3 reads, 6 reader calls), then the
           probe's w traffic; the reader's 7th call is on the lock's own
           connection, the 8th on w. */
        arm_full(cases[i].id,
                 cases[i].id == W_WRITE || cases[i].id == W_READ ? 4
                 : cases[i].id == W_READER ? (last ? 7 : 8) : 1,
                 cases[i].kind, cases[i].err, 1, cases[i].cmd, THIS_THREAD);
        acquire_fails(l, last ? 0.5 : 2,
                      last ? PL_ERR_ALREADY_LOCKED : PL_ERR_CONNECTION);
        if (failed_count(cases[i].id) != 1)
            fail_msg("case %zu: the fault was not hit", i);
        if (last)
            assert_non_null(strstr(pl_last_error_message(), cases[i].words));
        else
            expect_message(cases[i].words);
        expect_free(ch, 1);
        tu_ok(pl_redis_lock_check(h));
        pl_redis_lock_free(l);
        expect_baseline(&b);
    }
    tu_ok(pl_redis_lock_release(h));
    pl_redis_lock_free(h);
    expect_free(ch, 0);
}

static void poll_failure_while_waiting_keeps_the_deadline_without_spinning(void **state)
{
    static const int errs[] = {EINTR, ENOMEM};
    const char *ch = rt_channel("pollwait");
    pl_redis_lock *h = rt_lock(ch, PL_LOCK_EX);
    baseline b;
    size_t i;
    (void)state;
    tu_ok(pl_redis_lock_acquire(h));
    take_baseline(&b);
    for (i = 0; i < 2; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        double t0, e;
        int numsubs;
        arm_full(W_POLL, 1, K_IO, errs[i], -1, NULL, THIS_THREAD);
        arm_full(W_COMMAND, 0, K_IO, 0, 0, "PUBSUB", THIS_THREAD); /* count */
        t0 = tu_now();
        acquire_fails(l, 0.5, PL_ERR_ALREADY_LOCKED);
        e = tu_now() - t0;
        numsubs = call_count(W_COMMAND);
        assert_true(e >= 0.45);
        assert_true(e < 0.5 + 2.0);
        /* The wait polls NUMSUB with a backoff capped at 16 ms (and
           probes each check_interval): ~50-100 in 0.5 s. One per round
           trip means the waiter spins. */
        if (numsubs > 400)
            fail_msg("%d NUMSUB in %.2f s with poll failing: the waiter spins",
                     numsubs, e);
        expect_free(ch, 1);
        tu_ok(pl_redis_lock_check(h));
        pl_redis_lock_free(l);
        expect_baseline(&b);
    }
    tu_ok(pl_redis_lock_release(h));
    pl_redis_lock_free(h);
    expect_free(ch, 0);
}

/* ---- starting the holder thread ---- */

static void pipe_or_thread_failure_after_winning_releases_the_lock(void **state)
{
    const char *ch = rt_channel("thread");
    baseline b;
    pl_redis_lock *l;
    (void)state;
    take_baseline(&b);
    l = rt_lock(ch, PL_LOCK_EX);
    arm(W_PIPE2, 1, K_IO, EMFILE, 1);
    acquire_fails(l, 1, PL_ERR_IO);
    assert_non_null(strstr(pl_last_error_message(), "pipe"));
    assert_non_null(strstr(pl_last_error_message(), strerror(EMFILE)));
    expect_free(ch, 0);
    arm(W_THREAD, 1, K_IO, EAGAIN, 1);
    acquire_fails(l, 1, PL_ERR_IO);
    assert_non_null(strstr(pl_last_error_message(), "thread"));
    assert_non_null(strstr(pl_last_error_message(), strerror(EAGAIN)));
    expect_free(ch, 0);
    tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_check(l));
    pl_redis_lock_free(l);
    expect_free(ch, 0);
    expect_baseline(&b);
}

/* ---- the holder thread ---- */

static atomic_int lost_calls;

static void count_lost(pl_redis_lock *l, void *ud)
{
    (void)l;
    (void)ud;
    atomic_fetch_add(&lost_calls, 1);
}

static void publish_on(const char *ch)
{
    redisContext *c = rt_connect();
    redisReply *r = redisCommand(c, "PUBLISH %s %s", ch, "wake up");
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
}

static void wait_lost(pl_redis_lock *l, double seconds)
{
    double end = tu_now() + seconds;
    while (pl_redis_lock_check(l) == PL_OK && tu_now() < end)
        usleep(5000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
}

static void holder_read_failure_is_lock_lost_and_release_cleans_up(void **state)
{
    static const struct {
        int id, kind, err;
        const char *words;
    } cases[] = {
        {W_READ, K_IO, ECONNRESET, NULL},
        {W_READER, K_PROTO, 0, "Protocol error"},
    };
    const char *ch = rt_channel("holderread");
    baseline b;
    size_t i;
    (void)state;
    take_baseline(&b);
    for (i = 0; i < 2; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        const char *words = cases[i].words ? cases[i].words : strerror(cases[i].err);
        atomic_store(&lost_calls, 0);
        tu_ok(pl_redis_lock_set_lost_callback(l, count_lost, NULL));
        tu_ok(pl_redis_lock_acquire(l));
        /* Only the holder thread reads now; wake it with a message. */
        arm_full(cases[i].id, 1, cases[i].kind, cases[i].err, 1, NULL, OTHER_THREADS);
        publish_on(ch);
        wait_lost(l, 5);
        assert_int_equal(failed_count(cases[i].id), 1);
        disarm_all();
        expect_message("was lost");
        assert_non_null(strstr(pl_last_error_message(), words));
        usleep(20000);
        assert_int_equal(atomic_load(&lost_calls), 1);
        /* The context is broken but open until release frees it: the
           subscription must end with the release. */
        tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
        assert_non_null(strstr(pl_last_error_message(), "released what was left"));
        expect_free(ch, 0);
        tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
        pl_redis_lock_free(l);
        expect_baseline(&b);
        assert_int_equal(atomic_load(&lost_calls), 1);
    }
    /* Lost, then freed without a release: the thread is joined, the
       connections closed. */
    {
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        tu_ok(pl_redis_lock_acquire(l));
        arm_full(W_READ, 1, K_IO, ECONNRESET, 1, NULL, OTHER_THREADS);
        publish_on(ch);
        wait_lost(l, 5);
        pl_redis_lock_free(l);
        expect_free(ch, 0);
        expect_baseline(&b);
    }
}

static void holder_poll_failure_does_not_spin_or_lose_the_lock(void **state)
{
    const char *ch = rt_channel("holderpoll");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    baseline b;
    int polls;
    (void)state;
    take_baseline(&b);
    tu_ok(pl_redis_lock_acquire(l));
    arm_full(W_POLL, 1, K_IO, ENOMEM, -1, NULL, OTHER_THREADS);
    publish_on(ch); /* wake the holder: its next polls fail */
    usleep(300000);
    polls = call_count(W_POLL);
    disarm_all();
    if (polls > 1000)
        fail_msg("%d polls in 0.3 s: the holder thread spins", polls);
    assert_true(polls >= 1);
    tu_ok(pl_redis_lock_check(l));
    /* Still held and still answering: another handle cannot take it. */
    {
        pl_redis_lock *o = rt_lock(ch, PL_LOCK_EX);
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(o, 0.3, PL_INHERIT, 0));
        pl_redis_lock_free(o);
    }
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
    expect_free(ch, 0);
    expect_baseline(&b);
}

static void holder_health_check_write_failure_is_lock_lost(void **state)
{
    /* The holder PINGs its subscription every 10 s: the write fails. */
    const char *ch = rt_channel("holderwrite");
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    baseline b;
    (void)state;
    take_baseline(&b);
    atomic_store(&lost_calls, 0);
    tu_ok(pl_redis_lock_set_lost_callback(l, count_lost, NULL));
    tu_ok(pl_redis_lock_acquire(l));
    arm_full(W_WRITE, 1, K_IO, EPIPE, 1, NULL, OTHER_THREADS);
    wait_lost(l, 20);
    assert_int_equal(failed_count(W_WRITE), 1);
    disarm_all();
    expect_message("connection broke");
    assert_int_equal(atomic_load(&lost_calls), 1);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
    expect_free(ch, 0);
    pl_redis_lock_free(l);
    expect_baseline(&b);
}

/* ---- release ---- */

static void release_when_unsubscribe_fails_still_ends_the_subscription(void **state)
{
    static const struct {
        int id, kind, err;
        const char *cmd;
    } cases[] = {
        {W_APPEND, K_IO, ENOMEM, "UNSUBSCRIBE"}, /* cannot even queue it */
        {W_WRITE, K_IO, EPIPE, NULL},            /* cannot send it */
        {W_READ, K_IO, ECONNRESET, NULL},        /* no confirmation */
    };
    const char *ch = rt_channel("release");
    baseline b;
    size_t i;
    (void)state;
    take_baseline(&b);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        current_case = (int)i;
        pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
        tu_ok(pl_redis_lock_acquire(l));
        arm_full(cases[i].id, 1, cases[i].kind, cases[i].err, 1, cases[i].cmd,
                 THIS_THREAD);
        /* Released either way: closing the connection ends the
           subscription, which is what the lock is. */
        tu_ok(pl_redis_lock_release(l));
        if (failed_count(cases[i].id) != 1)
            fail_msg("case %zu: the fault was not hit", i);
        disarm_all();
        tu_expect(PL_ERR_NOT_HELD, pl_redis_lock_check(l));
        expect_free(ch, 0);
        /* The handle acquires again. */
        tu_ok(pl_redis_lock_acquire_with(l, 1, PL_INHERIT, 0));
        tu_ok(pl_redis_lock_release(l));
        pl_redis_lock_free(l);
        expect_free(ch, 0);
        expect_baseline(&b);
    }
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(connect_failures_name_the_endpoint_and_leave_nothing),
        T(unix_socket_connect_failure_names_the_socket),
        T(connect_failure_of_the_waiter_leaves_the_holder_alone),
        T(handshake_failures_are_connection_errors),
        T(subscribe_and_numsub_failures_leave_no_subscription),
        T(probe_failures_under_contention_leave_the_holder_alone),
        T(poll_failure_while_waiting_keeps_the_deadline_without_spinning),
        T(pipe_or_thread_failure_after_winning_releases_the_lock),
        T(holder_read_failure_is_lock_lost_and_release_cleans_up),
        T(holder_poll_failure_does_not_spin_or_lose_the_lock),
        T(holder_health_check_write_failure_is_lock_lost),
        T(release_when_unsubscribe_fails_still_ends_the_subscription),
    };
    closed_port = rt_free_port();
    rt_port(); /* exits with a message without a server */
    return cmocka_run_group_tests_name("redis_wrap", tests, NULL, NULL);
}
