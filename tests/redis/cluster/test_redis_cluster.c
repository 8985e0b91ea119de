/* RedisLock in cluster mode against a real cluster started by
   ci/lib/redis-cluster.sh (three masters): locks whose names hash to
   different shards, each held as a sharded subscription on exactly the
   node serving its slot; contention and a SIGKILLed holder between
   processes; a frozen holder reaped on its node; fencing on the owning
   node; a slot moved by CLUSTER SETSLOT
   (a held lock is lost, a new acquisition follows MOVED); a node killed
   while held (lost; the slot's node named as down, the other shards go
   on). Run by ci/tests.d/redis-cluster.sh. The node kill runs last. */
#define _GNU_SOURCE
#include "redis_testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int ports[3];

static void load_ports(void)
{
    const char *v = getenv("PL_TEST_CLUSTER_PORTS");
    if (!v || sscanf(v, "%d %d %d", &ports[0], &ports[1], &ports[2]) != 3) {
        fprintf(stderr, "PL_TEST_CLUSTER_PORTS is not set: run through "
                        "ci/tests.d/redis-cluster.sh\n");
        exit(1);
    }
}

static redisReply *at(int port, const char *fmt, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    redisReply *r;
    if (!c || c->err)
        fail_msg("cannot connect to 127.0.0.1:%d", port);
    r = arg ? redisCommand(c, fmt, arg) : redisCommand(c, fmt);
    redisFree(c);
    if (!r)
        fail_msg("no reply from 127.0.0.1:%d", port);
    return r;
}

/* CLUSTER KEYSLOT of "{ch}". */
static long long slot_of(const char *ch)
{
    char tagged[256];
    redisReply *r;
    long long slot;
    snprintf(tagged, sizeof tagged, "{%s}", ch);
    r = at(ports[0], "CLUSTER KEYSLOT %s", tagged);
    slot = r->integer;
    freeReplyObject(r);
    return slot;
}

/* PUBSUB SHARDNUMSUB (or NUMSUB) of a channel on one node. */
static long long count_at(int port, const char *sub, const char *ch)
{
    char fmt[64];
    redisReply *r;
    long long n = -1;
    snprintf(fmt, sizeof fmt, "PUBSUB %s %%s", sub);
    r = at(port, fmt, ch);
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        n = r->element[1]->integer;
    freeReplyObject(r);
    return n;
}

/* The index of the node holding the sharded subscription "{ch}", -1 if
   none holds it or more than one does. */
static int holder_node(const char *ch)
{
    char tagged[256];
    int i, found = -1;
    snprintf(tagged, sizeof tagged, "{%s}", ch);
    for (i = 0; i < 3; i++) {
        long long n = count_at(ports[i], "SHARDNUMSUB", tagged);
        if (n == 1 && found < 0)
            found = i;
        else if (n != 0)
            return -1;
        /* the standalone namespace never sees it */
        assert_int_equal(count_at(ports[i], "NUMSUB", ch), 0);
        assert_int_equal(count_at(ports[i], "NUMSUB", tagged), 0);
    }
    return found;
}

static pl_redis_lock *cluster_lock(const char *ch)
{
    pl_redis_lock *l = rt_lock(ch, PL_LOCK_EX);
    char url[256];
    int on = 0;
    snprintf(url, sizeof url, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
             ports[0], ports[1], ports[2]);
    tu_ok(pl_redis_lock_set_url(l, url));
    tu_ok(pl_redis_lock_get_cluster(l, &on));
    assert_int_equal(on, 1);
    tu_ok(pl_redis_lock_set_connect_timeout(l, 1));
    return l;
}

static long long slot_of(const char *ch);
static int node_of_slot(long long slot);

/* A fresh channel name whose slot the given node serves (similar names
   can hash close together, so names are drawn until one fits). */
static char *name_on_node(const char *tag, int node)
{
    int i;
    for (i = 0; i < 1000; i++) {
        const char *ch = rt_channel(tag);
        if (node_of_slot(slot_of(ch)) == node)
            return strdup(ch);
    }
    fail_msg("no name on node %d in 1000 tries", node);
    return NULL;
}

static void locks_live_on_the_shard_of_their_name(void **state)
{
    pl_redis_lock *l[6];
    char *names[6];
    int i;
    (void)state;
    /* two locks on each of the three shards, held at once */
    for (i = 0; i < 6; i++) {
        names[i] = name_on_node("shard", i % 3);
        l[i] = cluster_lock(names[i]);
        tu_ok(pl_redis_lock_acquire_with(l[i], 3, PL_INHERIT, 0));
    }
    for (i = 0; i < 6; i++)
        if (holder_node(names[i]) != i % 3)
            fail_msg("lock %s is not one sharded subscription on node %d",
                     names[i], i % 3);
    for (i = 0; i < 6; i++) {
        tu_ok(pl_redis_lock_release(l[i]));
        assert_int_equal(holder_node(names[i]), -1);
        pl_redis_lock_free(l[i]);
        free(names[i]);
    }
}

static void contention_crash_and_fencing_between_processes(void **state)
{
    const char *ch = rt_channel("procs");
    pl_redis_lock *w = cluster_lock(ch);
    long long t1 = 0, t2 = 0;
    int fds[2];
    pid_t child;
    char b;
    (void)state;
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pl_redis_lock *h = cluster_lock(ch);
        if (pl_redis_lock_acquire_with(h, 3, PL_INHERIT, 0) != PL_OK)
            _exit(2);
        (void)!write(fds[1], "h", 1);
        pause(); /* held until killed */
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &b, 1), 1);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(w, 0.5, PL_INHERIT, 0));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fds[0]);
    tu_ok(pl_redis_lock_set_fencing(w, 1));
    tu_ok(pl_redis_lock_acquire_with(w, 5, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_get_fence_token(w, &t1));
    tu_ok(pl_redis_lock_release(w));
    tu_ok(pl_redis_lock_acquire_with(w, 3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_get_fence_token(w, &t2));
    assert_true(t2 > t1);
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(w);
}

/* A frozen holder stops answering: a contended prober reaps it with
   CLIENT LIST and CLIENT KILL, which only the slot's node can do. */
static void a_frozen_holder_is_reaped_on_its_node(void **state)
{
    const char *ch = rt_channel("frozen");
    pl_redis_lock *w = cluster_lock(ch);
    int fds[2], status = 0;
    pid_t child;
    char b;
    (void)state;
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pl_redis_lock *h = cluster_lock(ch);
        if (pl_redis_lock_acquire_with(h, 3, PL_INHERIT, 0) != PL_OK)
            _exit(2);
        (void)!write(fds[1], "h", 1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &b, 1), 1);
    close(fds[0]);
    kill(child, SIGSTOP);
    tu_ok(pl_redis_lock_acquire_with(w, 10, PL_INHERIT, 0));
    assert_true(holder_node(ch) >= 0); /* only us left, on one node */
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(w);
}



static char ids[3][64];

/* Start moving the slot of "{ch}" from its node to the next one
   (IMPORTING, MIGRATING: what redis-cli --cluster reshard does first). */
static long long begin_move(const char *ch, int *from, int *to)
{
    char tagged[256], cmd[256];
    redisReply *r;
    long long slot;
    int i;
    snprintf(tagged, sizeof tagged, "{%s}", ch);
    r = at(ports[0], "CLUSTER KEYSLOT %s", tagged);
    slot = r->integer;
    freeReplyObject(r);
    for (i = 0; i < 3; i++) {
        r = at(ports[i], "CLUSTER MYID", NULL);
        snprintf(ids[i], sizeof ids[i], "%s", r->str);
        freeReplyObject(r);
    }
    *from = node_of_slot(slot);
    *to = (*from + 1) % 3;
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %lld IMPORTING %s", slot, ids[*from]);
    freeReplyObject(at(ports[*to], cmd, NULL));
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %lld MIGRATING %s", slot, ids[*to]);
    freeReplyObject(at(ports[*from], cmd, NULL));
    return slot;
}

/* Finish it: the slot belongs to the new node (told to all three). */
static void finish_move(long long slot, int from, int to)
{
    char cmd[256];
    int i, order[3];
    order[0] = to;
    order[1] = from;
    order[2] = 3 - to - from;
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %lld NODE %s", slot, ids[to]);
    for (i = 0; i < 3; i++) {
        redisReply *r = at(ports[order[i]], cmd, NULL);
        if (r->type == REDIS_REPLY_ERROR)
            fail_msg("%s: %s", cmd, r->str);
        freeReplyObject(r);
    }
}

/* Move the (keyless) slot of "{ch}" from its node to the next one. */
static int move_slot(const char *ch, int *to)
{
    int from;
    long long slot = begin_move(ch, &from, to);
    finish_move(slot, from, *to);
    return from;
}

static int node_of_slot(long long slot)
{
    redisReply *r = at(ports[0], "CLUSTER SLOTS", NULL);
    size_t i;
    int k, node = -1;
    for (i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (slot >= e->element[0]->integer && slot <= e->element[1]->integer)
            for (k = 0; k < 3; k++)
                if (e->element[2]->element[1]->integer == ports[k])
                    node = k;
    }
    freeReplyObject(r);
    assert_true(node >= 0);
    return node;
}

static void a_moved_slot_loses_the_holder_and_is_followed(void **state)
{
    const char *ch = rt_channel("moved");
    pl_redis_lock *h = cluster_lock(ch), *w = cluster_lock(ch);
    double end;
    int to, from;
    (void)state;
    /* the waiter has found the old owner and keeps connections there */
    tu_ok(pl_redis_lock_acquire_with(w, 3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_release(w));
    tu_ok(pl_redis_lock_acquire_with(h, 3, PL_INHERIT, 0));
    from = move_slot(ch, &to);
    end = tu_now() + 10;
    while (pl_redis_lock_check(h) == PL_OK && tu_now() < end)
        usleep(10000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(h));
    /* a new acquisition is redirected (MOVED) to the slot's new node */
    tu_ok(pl_redis_lock_acquire_with(w, 5, PL_INHERIT, 0));
    assert_int_equal(holder_node(ch), to);
    assert_true(from != to);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_redis_lock_acquire_with(h, 0.3, PL_INHERIT, 0));
    {
        /* probe() asks who serves the slot now: it sees the new holder */
        pl_redis_holders *hs = NULL;
        tu_ok(pl_redis_lock_probe(h, 3, &hs));
        assert_int_equal(pl_redis_holders_count(hs), 1);
        pl_redis_holders_free(hs);
    }
    tu_ok(pl_redis_lock_release(w));
    pl_redis_lock_free(h);
    pl_redis_lock_free(w);
}

/* A resharding as redis-cli does it, the fence key moved first: the
   fence INCR gets ASK and follows it, tokens keep increasing; once the
   slot is moved the holder is lost and the next grant is on the new node. */
static void a_resharding_keeps_fencing_tokens_in_order(void **state)
{
    const char *ch = rt_channel("reshard");
    pl_redis_lock *l = cluster_lock(ch);
    char tagged[256], cmd[512];
    long long slot, t1 = 0, t2 = 0, t3 = 0;
    int from, to;
    double end;
    redisReply *r;
    (void)state;
    tu_ok(pl_redis_lock_set_fencing(l, 1));
    tu_ok(pl_redis_lock_acquire_with(l, 3, PL_INHERIT, 0));
    tu_ok(pl_redis_lock_get_fence_token(l, &t1));
    tu_ok(pl_redis_lock_release(l));
    slot = begin_move(ch, &from, &to);
    snprintf(tagged, sizeof tagged, "{%s}-fence", ch);
    snprintf(cmd, sizeof cmd, "MIGRATE 127.0.0.1 %d %s 0 5000", ports[to], tagged);
    r = at(ports[from], cmd, NULL);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("%s: %s", cmd, r->str);
    freeReplyObject(r);
    /* the lock still lives on the old node; its key is on the new one */
    tu_ok(pl_redis_lock_acquire_with(l, 3, PL_INHERIT, 0));
    assert_int_equal(holder_node(ch), from);
    tu_ok(pl_redis_lock_get_fence_token(l, &t2));
    assert_true(t2 > t1);
    finish_move(slot, from, to);
    end = tu_now() + 10;
    while (pl_redis_lock_check(l) == PL_OK && tu_now() < end)
        usleep(10000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l));
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l));
    tu_ok(pl_redis_lock_acquire_with(l, 5, PL_INHERIT, 0));
    assert_int_equal(holder_node(ch), to);
    tu_ok(pl_redis_lock_get_fence_token(l, &t3));
    assert_true(t3 > t2);
    tu_ok(pl_redis_lock_release(l));
    pl_redis_lock_free(l);
}

static void bad_settings_are_named(void **state)
{
    pl_redis_lock *l = rt_lock(rt_channel("bad"), PL_LOCK_EX);
    const char *nodes;
    (void)state;
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "redis+cluster://127.0.0.1:7000/3"));
    tu_expect(PL_ERR_INVALID_ARGUMENT,
              pl_redis_lock_set_url(l, "redis+cluster:///0"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_cluster_nodes(l, "a:1,[::1"));
    tu_ok(pl_redis_lock_set_cluster_nodes(l, "127.0.0.1:1,127.0.0.1"));
    tu_ok(pl_redis_lock_get_cluster_nodes(l, &nodes));
    assert_string_equal(nodes, "127.0.0.1:1,127.0.0.1");
    pl_redis_lock_free(l);
    tu_ok(pl_redis_lock_new(&l, "}x", 2));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_redis_lock_set_cluster(l, 1));
    pl_redis_lock_free(l);
}

static void a_node_killed_while_held_is_lost(void **state)
{
    pl_redis_lock *l[3];
    char *names[3], port_s[16], cmd[512];
    const char *kill_cmd = getenv("PL_TEST_CLUSTER_KILL"); /* takes the port */
    int i;
    double end;
    (void)state;
    assert_non_null(kill_cmd);
    for (i = 0; i < 3; i++) {
        names[i] = name_on_node("kill", i);
        l[i] = cluster_lock(names[i]);
        tu_ok(pl_redis_lock_acquire_with(l[i], 3, PL_INHERIT, 0));
        assert_int_equal(holder_node(names[i]), i);
    }
    snprintf(port_s, sizeof port_s, "%d", ports[0]);
    snprintf(cmd, sizeof cmd, "%s %s", kill_cmd, port_s);
    assert_int_equal(system(cmd), 0);
    end = tu_now() + 10;
    while (pl_redis_lock_check(l[0]) == PL_OK && tu_now() < end)
        usleep(10000);
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_check(l[0]));
    /* the other shards: still held */
    tu_ok(pl_redis_lock_check(l[1]));
    tu_ok(pl_redis_lock_check(l[2]));
    tu_expect(PL_ERR_LOCK_LOST, pl_redis_lock_release(l[0]));
    /* the slot's node is down: named, within the connect timeout */
    tu_expect(PL_ERR_CONNECTION, pl_redis_lock_acquire_with(l[0], 2, PL_INHERIT, 0));
    if (!strstr(pl_last_error_message(), port_s))
        fail_msg("message '%s' does not name the node", pl_last_error_message());
    for (i = 0; i < 3; i++) {
        if (i)
            tu_ok(pl_redis_lock_release(l[i]));
        pl_redis_lock_free(l[i]);
        free(names[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(locks_live_on_the_shard_of_their_name),
        cmocka_unit_test(contention_crash_and_fencing_between_processes),
        cmocka_unit_test(a_frozen_holder_is_reaped_on_its_node),
        cmocka_unit_test(a_moved_slot_loses_the_holder_and_is_followed),
        cmocka_unit_test(a_resharding_keeps_fencing_tokens_in_order),
        cmocka_unit_test(bad_settings_are_named),
        cmocka_unit_test(a_node_killed_while_held_is_lost),
    };
    load_ports();
    return cmocka_run_group_tests_name("redis cluster", tests, NULL, NULL);
}
