#!/usr/bin/env bash
# The Redis lock in cluster mode (called by ci/run-tests.sh): one cluster
# for the suite (ci/lib/redis-cluster.sh: three masters on loopback), the
# Python, Ruby and Lua bindings through a redis+cluster:// URL (before
# anything changes the topology), then the C suite (shards, contention and a crash between
# processes, fencing, a moved slot, a node killed while held: last). A
# missing tool is a FAILURE, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."

. ci/lib/require-tools.sh
require_tools redis-cluster redis-server redis-cli ruby lua5.4
"${MAKE:-make}" -s test-redis-cluster-bins || { echo "redis-cluster: build failed"; exit 1; }

# shellcheck source=../lib/redis-cluster.sh
. ci/lib/redis-cluster.sh
trap redis_cluster_stop EXIT
trap 'exit 130' INT TERM
redis_cluster_start redis-cluster || { echo "redis-cluster: the cluster did not come up"; exit 1; }
echo "redis-cluster: nodes $PL_TEST_CLUSTER_NODES"
# Any port for rt_lock (the handles are pointed at the cluster by URL).
export PL_TEST_REDIS_PORT=${PL_TEST_CLUSTER_PORTS%% *}

failed=0
PY=$(bash ci/venv.sh) || { echo "redis-cluster: the venv could not be created"; exit 1; }
"${MAKE:-make}" -s python-binding PYTHON="$PY" >&2 || { echo "redis-cluster: python binding build failed"; exit 1; }
echo "== Python binding through redis+cluster://"
"$PY" - <<'PYEOF' || failed=1
import os, subprocess, sys, time
sys.path.insert(0, 'build/python')
import cportalocker as cpl
url = 'redis+cluster://%s' % os.environ['PL_TEST_CLUSTER_NODES']
ports = os.environ['PL_TEST_CLUSTER_PORTS'].split()
a = cpl.RedisLock('py-cluster', url=url, timeout=2, interrupt_on_lost=False)
b = cpl.RedisLock('py-cluster', url=url, timeout=0.3, interrupt_on_lost=False)
with a:
    try:
        b.acquire()
        sys.exit('two holders in cluster mode')
    except cpl.exceptions.AlreadyLocked:
        pass
    counts = [subprocess.run(['redis-cli', '-p', p, 'pubsub', 'shardnumsub', '{py-cluster}'],
                             capture_output=True, text=True).stdout.split()[-1] for p in ports]
    if sorted(counts) != ['0', '0', '1']:
        sys.exit('not one sharded subscription on one node: %r' % counts)
with b:
    pass
# another process holding: contention across processes through the URL
child = subprocess.Popen([sys.executable, '-c', '''
import sys, time
sys.path.insert(0, "build/python")
import cportalocker as cpl
l = cpl.RedisLock("py-cluster", url=sys.argv[1], timeout=2, interrupt_on_lost=False)
l.acquire(); print("held", flush=True); time.sleep(60)
''', url], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == 'held'
try:
    b.acquire()
    sys.exit('acquired while another process held')
except cpl.exceptions.AlreadyLocked:
    pass
child.kill(); child.wait()
c = cpl.RedisLock('py-cluster', url=url, timeout=5, interrupt_on_lost=False)
with c:
    pass
# a redis-py RedisCluster client comes across (cluster mode on its nodes)
import redis.cluster
rc = redis.cluster.RedisCluster(host='127.0.0.1', port=int(ports[0]))
d = cpl.RedisLock('py-cluster', connection=rc, timeout=0.3, interrupt_on_lost=False)
with c:
    try:
        d.acquire()
        sys.exit('a RedisCluster client acquired while a URL lock held')
    except cpl.exceptions.AlreadyLocked:
        pass
with d:
    pass
rc.close()
print('python through redis+cluster:// and a RedisCluster client (contention, another process, its crash): ok')
PYEOF
echo "== Ruby binding through redis+cluster://"
"${MAKE:-make}" -s ruby-binding >&2 || { echo "redis-cluster: ruby binding build failed"; exit 1; }
ruby tests/redis/cluster/cluster_ruby.rb || failed=1
echo "== Lua binding through redis+cluster://"
"${MAKE:-make}" -s lua-binding >&2 || { echo "redis-cluster: lua binding build failed"; exit 1; }
LUA_PATH="$PWD/build/lua/?.lua;;" LUA_CPATH="$PWD/build/lua/?.so;;" \
  lua5.4 tests/redis/cluster/cluster_lua.lua || failed=1
echo "== portalock through redis+cluster://"
"${MAKE:-make}" -s tool || { echo "redis-cluster: portalock build failed"; exit 1; }
# the command runs holding the lock (as a sharded subscription on one
# node), and a second portalock meanwhile finds it locked (the conflict exit code, 42 here)
out=$(build/portalock --redis "redis+cluster://$PL_TEST_CLUSTER_NODES" pl-cli-cluster -- sh -c '
  n=0; for p in $PL_TEST_CLUSTER_PORTS; do
    n=$((n + $(redis-cli -p "$p" pubsub shardnumsub "{pl-cli-cluster}" | tail -1))); done
  echo "holders=$n"
  build/portalock -w 0 -E 42 --redis "redis+cluster://$PL_TEST_CLUSTER_NODES" pl-cli-cluster -- true
  echo "second=$?"' 2>&1)
if [ "$out" = "$(printf 'holders=1\nsecond=42')" ]; then
  echo "portalock through redis+cluster://: ok"
else
  echo "portalock through redis+cluster:// FAILED: $out"; failed=1
fi
echo "== build/tests/redis/cluster/test_redis_cluster"
PL_TEST_CLUSTER_KILL=ci/lib/redis-cluster-kill.sh build/tests/redis/cluster/test_redis_cluster || failed=1
exit $failed
