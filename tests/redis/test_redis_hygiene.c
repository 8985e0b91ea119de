/* Descriptor hygiene of the Redis lock (the file-lock kinds are in
   tests/unit/test_fd_hygiene.c): hundreds of acquire/release, contention,
   connection-refused and lost-lock cycles leave the process's descriptor
   count where it started, and a child exec'd while Redis locks are held
   (exclusive and shared, holder threads running) inherits none of their
   sockets. Needs the test server (ci/tests.d/redis.sh). */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CYCLES 300

static void kill_holder(pl_redis_lock *l, const char *ch)
{
    char name[256];
    redisContext *c;
    snprintf(name, sizeof name, "%s-lock-%s", ch, pl_redis_lock_holder_id(l));
    c = rt_connect();
    freeReplyObject(redisCommand(c, "CLIENT KILL ID %lld", rt_client_id(name)));
    redisFree(c);
}

static void cycles_leave_no_descriptor(void **state)
{
    const char *ch = rt_channel("hyg");
    const char *ch2 = rt_channel("hyg-sh");
    pl_redis_lock *a = rt_lock(ch, PL_LOCK_EX), *b = rt_lock(ch, PL_LOCK_EX);
    pl_redis_lock *s1 = rt_lock(ch2, PL_LOCK_SH), *s2 = rt_lock(ch2, PL_LOCK_SH);
    pl_redis_lock *nobody = NULL;
    int start, i;
    double end;
    (void)state;
    tu_ok(pl_redis_lock_new(&nobody, "nobody", 6));
    tu_ok(pl_redis_lock_set_host(nobody, "127.0.0.1", rt_free_port()));
    tu_ok(pl_redis_lock_set_connect_timeout(nobody, 0.5));
    /* Warm-up: one full cycle of each, so lazily created, reused state
       (the publisher connection kept by a handle between acquisitions) is
       there before counting. */
    tu_ok(pl_redis_lock_acquire(a));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(b, 0, 0.01, 1));
    tu_ok(pl_redis_lock_release(a));
    tu_ok(pl_redis_lock_acquire(b));
    tu_ok(pl_redis_lock_release(b));
    tu_ok(pl_redis_lock_acquire(s1));
    tu_ok(pl_redis_lock_acquire(s2));
    tu_ok(pl_redis_lock_release(s1));
    tu_ok(pl_redis_lock_release(s2));
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(nobody));
    /* ... and b lost while held: a handle keeps its last subscription's
       connection for the next acquire unless that connection died, so
       every count below is taken right after such a loss. */
    tu_ok(pl_redis_lock_acquire(b));
    kill_holder(b, ch);
    end = tu_now() + 3;
    while (pl_redis_lock_check(b) == PL_OK && tu_now() < end)
        usleep(1000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(b));
    start = tu_count_fds();
    for (i = 0; i < CYCLES; i++) {
        tu_ok(pl_redis_lock_acquire(a));
        tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(b, 0, 0.01, 1));
        tu_ok(pl_redis_lock_release(a));
        tu_ok(pl_redis_lock_acquire(s1));
        tu_ok(pl_redis_lock_acquire(s2));
        tu_ok(pl_redis_lock_release(s2));
        tu_ok(pl_redis_lock_release(s1));
        if (i % 10 == 0)
            tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire(nobody));
        if (i % 25 == 0) {
            /* lost while held, then released */
            tu_ok(pl_redis_lock_acquire(b));
            kill_holder(b, ch);
            end = tu_now() + 3;
            while (pl_redis_lock_check(b) == PL_OK && tu_now() < end)
                usleep(1000);
            tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(b));
        }
        if (i % 100 == 0)
            assert_int_equal(tu_count_fds(), start);
    }
    assert_true(tu_count_fds() <= start + 1); /* b's kept connection */
    /* freeing held handles closes everything as well */
    tu_ok(pl_redis_lock_acquire(a));
    tu_ok(pl_redis_lock_acquire(s1));
    pl_redis_lock_free(a);
    pl_redis_lock_free(b);
    pl_redis_lock_free(s1);
    pl_redis_lock_free(s2);
    pl_redis_lock_free(nobody);
    assert_true(tu_count_fds() <= start);
}

/* The socket inodes ("socket:[N]") among pid's descriptors. */
static int sockets_of(pid_t pid, unsigned long *out, int max)
{
    char fddir[64], link[PATH_MAX + 64], target[PATH_MAX];
    DIR *d;
    struct dirent *e;
    int n = 0;
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
        if (strncmp(target, "socket:[", 8) == 0 && n < max)
            out[n++] = strtoul(target + 8, NULL, 10);
    }
    closedir(d);
    return n;
}

static void exec_child_inherits_no_redis_socket(void **state)
{
    const char *ch = rt_channel("exec");
    pl_redis_lock *ex = rt_lock(ch, PL_LOCK_EX);
    pl_redis_lock *sh = rt_lock(rt_channel("exec-sh"), PL_LOCK_SH);
    unsigned long before[64], held[64], child_socks[64];
    int nbefore, nheld, nchild, i, j, ours = 0;
    pid_t pid;
    char path[64], comm[64];
    double end;
    (void)state;
    nbefore = sockets_of(getpid(), before, 64);
    tu_ok(pl_redis_lock_acquire(ex));
    tu_ok(pl_redis_lock_acquire(sh));
    nheld = sockets_of(getpid(), held, 64);
    assert_true(nheld >= nbefore + 2); /* at least one subscription each */
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
    end = tu_now() + 10;
    while (tu_now() < end && !(tu_read_file(path, comm, sizeof comm) > 0 &&
                               strcmp(comm, "sleep\n") == 0))
        usleep(2000);
    assert_string_equal(comm, "sleep\n");
    nchild = sockets_of(pid, child_socks, 64);
    for (i = 0; i < nchild; i++)
        for (j = 0; j < nheld; j++)
            if (child_socks[i] == held[j])
                ours++;
    kill(pid, SIGKILL);
    assert_int_equal(tu_wait(pid), 128 + SIGKILL);
    assert_int_equal(ours, 0);
    /* the locks were undisturbed */
    tu_ok(pl_redis_lock_check(ex));
    tu_ok(pl_redis_lock_check(sh));
    assert_int_equal(rt_numsub(ch), 1);
    pl_redis_lock_free(ex);
    pl_redis_lock_free(sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cycles_leave_no_descriptor),
        cmocka_unit_test(exec_child_inherits_no_redis_socket),
    };
    rt_port(); /* no server, no pass */
    return cmocka_run_group_tests_name("redis descriptor hygiene", tests, NULL, NULL);
}
