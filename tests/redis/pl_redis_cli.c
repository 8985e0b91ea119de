/*
 * pl_redis_cli: take a Redis lock with this library, for the interop tests
 * and the benchmark.
 *
 *   pl_redis_cli [--host H] [--port P] [--channel C] [--shared]
 *                [--timeout S] [--check-interval S] [--fail-when-locked]
 *                [--unavailable-timeout S] [--hold S]
 *
 * Prints "acquired <holder_id>" (exit 0 after release), "AlreadyLocked"
 * (exit 2) or "error <NAME>: <message>" (exit 3), one line each, flushed.
 * Holds until stdin is closed (or for --hold seconds), then releases and
 * prints "released". SIGTERM/SIGINT release too. A lost lock prints "lost".
 *
 *   pl_redis_cli ... --soak SECONDS [--fencing]
 *
 * Soak mode (the mixed interop soak): acquire, hold 1-3 ms, release, for
 * SECONDS, with an overlap witness in Redis shared with the reference's
 * workers: a writer INCRs "<C>-w" and must see it at 1 and "<C>-r" at 0; a
 * reader INCRs "<C>-r" and must see "<C>-w" at 0 (INCR is atomic, so of
 * two overlapping holders at least one sees the other); a sighting by a
 * holder whose check() still says held INCRs "<C>-overlaps". Fenced
 * writers RPUSH their token on "<C>-tokens" while holding (grant order).
 * Prints "soak holds=N timeouts=T lost=L errors=E".
 */
#define _GNU_SOURCE
#include "portalocker.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_lost(pl_redis_lock *lock, void *ud)
{
    static const char msg[] = "lost\n";
    (void)lock;
    (void)ud;
    /* async-safe: we are on the library's thread */
    if (write(1, msg, sizeof msg - 1) < 0)
        return;
}

static int usage(const char *why)
{
    fprintf(stderr, "pl_redis_cli: %s\n", why);
    return 64;
}

static int check(int rc, const char *what)
{
    if (rc != PL_OK) {
        printf("error %s: %s: %s\n", pl_error_name(rc), what,
               pl_last_error_message());
        fflush(stdout);
        exit(3);
    }
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long witness(redisContext *c, const char *fmt, const char *ch)
{
    redisReply *r = redisCommand(c, fmt, ch);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    else if (r && r->type == REDIS_REPLY_NIL)
        v = 0;
    if (r)
        freeReplyObject(r);
    return v;
}

static int soak(pl_redis_lock *lock, const char *host, int port,
                const char *ch, int shared, double seconds)
{
    redisContext *c = redisConnect(host, port);
    double end = now() + seconds;
    long holds = 0, timeouts = 0, lost = 0, errors = 0;
    if (!c || c->err) {
        printf("error CONNECTION: witness connection\n");
        return 3;
    }
    srand((unsigned)getpid());
    while (now() < end && !stop_requested) {
        int rc = pl_redis_lock_acquire(lock), seen;
        struct timespec hold;
        if (rc == PL_ERR_ALREADY_LOCKED) {
            timeouts++;
            continue;
        }
        if (rc != PL_OK) {
            errors++;
            fprintf(stderr, "soak: %s\n", pl_last_error_message());
            usleep(10000);
            continue;
        }
        if (shared) {
            seen = witness(c, "INCR %s-r", ch) < 1 ||
                   witness(c, "GET %s-w", ch) != 0;
        } else {
            seen = witness(c, "INCR %s-w", ch) != 1 ||
                   witness(c, "GET %s-r", ch) != 0;
        }
        if (!shared) {
            long long token = 0;
            char buf[32];
            redisReply *r;
            pl_redis_lock_get_fence_token(lock, &token);
            if (token > 0) {
                snprintf(buf, sizeof buf, "c:%lld", token);
                r = redisCommand(c, "RPUSH %s-tokens %s", ch, buf);
                if (r)
                    freeReplyObject(r);
            }
        }
        hold.tv_sec = 0;
        hold.tv_nsec = (1 + rand() % 2000 / 1000.0) * 1e6;
        nanosleep(&hold, NULL);
        /* A sighting counts only if we still hold provably: a holder that
           was reaped (and knows it) is a loss, not an overlap. */
        if (pl_redis_lock_check(lock) != PL_OK)
            lost++;
        else if (seen)
            witness(c, "INCR %s-overlaps", ch);
        witness(c, shared ? "DECR %s-r" : "DECR %s-w", ch);
        if (pl_redis_lock_release(lock) == PL_OK)
            holds++;
    }
    printf("soak holds=%ld timeouts=%ld lost=%ld errors=%ld\n", holds,
           timeouts, lost, errors);
    fflush(stdout);
    redisFree(c);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *channel = "pl-test";
    int port = 6379, shared = 0, fwl = 0, i, rc;
    double timeout = 5, ci = 0.25, unavailable = 1, hold = -1, soak_s = 0;
    int fencing = 0;
    pl_redis_lock *lock = NULL;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--shared")) {
            shared = 1;
            continue;
        }
        if (!strcmp(a, "--fencing")) {
            fencing = 1;
            continue;
        }
        if (!strcmp(a, "--fail-when-locked")) {
            fwl = 1;
            continue;
        }
        if (!v)
            return usage("missing value");
        i++;
        if (!strcmp(a, "--host"))
            host = v;
        else if (!strcmp(a, "--port"))
            port = atoi(v);
        else if (!strcmp(a, "--channel"))
            channel = v;
        else if (!strcmp(a, "--timeout"))
            timeout = atof(v);
        else if (!strcmp(a, "--check-interval"))
            ci = atof(v);
        else if (!strcmp(a, "--unavailable-timeout"))
            unavailable = atof(v);
        else if (!strcmp(a, "--hold"))
            hold = atof(v);
        else if (!strcmp(a, "--soak"))
            soak_s = atof(v);
        else
            return usage("unknown option");
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    check(pl_redis_lock_new(&lock, channel, strlen(channel)), "new");
    check(pl_redis_lock_set_host(lock, host, port), "host");
    check(pl_redis_lock_set_flags(lock, shared ? PL_LOCK_SH : PL_LOCK_EX),
          "flags");
    check(pl_redis_lock_set_timeout(lock, timeout), "timeout");
    check(pl_redis_lock_set_check_interval(lock, ci), "check_interval");
    check(pl_redis_lock_set_fail_when_locked(lock, fwl), "fail_when_locked");
    check(pl_redis_lock_set_unavailable_timeout(lock, unavailable),
          "unavailable_timeout");
    check(pl_redis_lock_set_fencing(lock, fencing), "fencing");
    if (soak_s > 0) {
        rc = soak(lock, host, port, channel, shared, soak_s);
        pl_redis_lock_free(lock);
        return rc;
    }
    check(pl_redis_lock_set_lost_callback(lock, on_lost, NULL), "callback");

    rc = pl_redis_lock_acquire(lock);
    if (rc == PL_ERR_ALREADY_LOCKED) {
        printf("AlreadyLocked\n");
        fflush(stdout);
        pl_redis_lock_free(lock);
        return 2;
    }
    check(rc, "acquire");
    printf("acquired %s\n", pl_redis_lock_holder_id(lock));
    fflush(stdout);

    /* Hold until stdin closes, --hold passes, or a signal. */
    {
        char buf[256];
        double left_ms = hold >= 0 ? hold * 1000 : -1;
        struct pollfd pfd = {0, POLLIN, 0};
        while (!stop_requested) {
            int n = poll(&pfd, 1, left_ms >= 0 ? (int)left_ms : -1);
            if (n == 0)
                break; /* --hold elapsed */
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 || read(0, buf, sizeof buf) <= 0)
                break;
        }
    }
    rc = pl_redis_lock_release(lock);
    if (rc != PL_OK)
        printf("error %s: release: %s\n", pl_error_name(rc),
               pl_last_error_message());
    else
        printf("released\n");
    fflush(stdout);
    pl_redis_lock_free(lock);
    return rc == PL_OK ? 0 : 3;
}
