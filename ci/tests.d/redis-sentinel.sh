#!/usr/bin/env bash
# The Redis lock through Sentinel (called by ci/run-tests.sh): one
# topology for the suite (ci/lib/redis-sentinel.sh: a master, a replica
# and three sentinels on loopback), the C suite against it (acquire through
# the service, silent and unknown sentinels, a failover while held), then
# the Python binding through a redis+sentinel:// URL. A missing tool is a
# FAILURE, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."

. ci/lib/require-tools.sh
require_tools redis-sentinel redis-server redis-cli
"${MAKE:-make}" -s test-redis-sentinel-bins || { echo "redis-sentinel: build failed"; exit 1; }

# shellcheck source=../lib/redis-sentinel.sh
. ci/lib/redis-sentinel.sh
trap redis_sentinel_stop EXIT
trap 'exit 130' INT TERM
redis_sentinel_start redis-sentinel || { echo "redis-sentinel: the topology did not come up"; exit 1; }
export PL_TEST_REDIS_PORT=$PL_TEST_MASTER_PORT
echo "redis-sentinel: master $PL_TEST_MASTER_PORT, replica $PL_TEST_REPLICA_PORT, sentinels $PL_TEST_SENTINELS"

failed=0
PY=$(bash ci/venv.sh) || { echo "redis-sentinel: the venv could not be created"; exit 1; }
"${MAKE:-make}" -s python-binding PYTHON="$PY" >&2 || { echo "redis-sentinel: python binding build failed"; exit 1; }
# Before the failover test changes who is master.
echo "== Python binding through the service"
"$PY" - <<'PYEOF' || failed=1
import os, sys
sys.path.insert(0, 'build/python')
import cportalocker as cpl
url = 'redis+sentinel://%s/pltest' % os.environ['PL_TEST_SENTINELS']
a = cpl.RedisLock('py-sentinel', url=url, timeout=2, interrupt_on_lost=False)
b = cpl.RedisLock('py-sentinel', url=url, timeout=0.3, interrupt_on_lost=False)
with a:
    try:
        b.acquire()
        sys.exit('two holders through the service')
    except cpl.exceptions.AlreadyLocked:
        pass
with b:
    pass
# a redis-py Sentinel client comes across, and the reference (which cannot
# take a Sentinel pool itself: pointed at the master) and ours exclude each
# other on the master
import portalocker, redis.sentinel
hosts = [(h, int(p)) for h, p in (x.rsplit(':', 1) for x in os.environ['PL_TEST_SENTINELS'].split(','))]
client = redis.sentinel.Sentinel(hosts, socket_timeout=2).master_for('pltest')
mine = cpl.RedisLock('py-sentinel-ref', connection=client, timeout=0.5, interrupt_on_lost=False)
theirs = portalocker.RedisLock('py-sentinel-ref', timeout=0.5, check_interval=0.05,
                               redis_kwargs=dict(host='127.0.0.1',
                                                 port=int(os.environ['PL_TEST_MASTER_PORT'])))
with theirs:
    try:
        mine.acquire()
        sys.exit('ours acquired while the reference held')
    except cpl.exceptions.AlreadyLocked:
        pass
with mine:
    try:
        theirs.acquire()
        sys.exit('the reference acquired while ours held')
    except portalocker.exceptions.AlreadyLocked:
        pass
print('python through Sentinel (url, redis-py Sentinel client, beside the reference): ok')
PYEOF
echo "== build/tests/redis/sentinel/test_redis_sentinel"
build/tests/redis/sentinel/test_redis_sentinel || failed=1
exit $failed
