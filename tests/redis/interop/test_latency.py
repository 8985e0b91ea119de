"""Contention on a Redis server a few milliseconds away: three writers of
this library (pl_redis_cli --soak), each looping acquire / hold 1-3 ms /
release, reach the test redis-server through a proxy that delays every
packet by 5 ms each way (latency_proxy.py).

Pauses between attempts that were fixed in milliseconds (a probe
counting answers as stalled before any could arrive, backoff naps of one
round trip, a releaser taking the lock straight back) made such writers
wait 12-30 s for a lock held a few ms at a time: in 10 s the three got it
3-7 times in all, and acquires timed out after 10 s. Now they get it
40-60 times. Here all of them together must get it 20 times, with no
error, no loss, and the overlap witness seeing no two holders at once.
Not asserted: that each writer gets its turn. The protocol elects the
lowest pending holder id among writers, so the writer with the highest
id loses every election the others enter; on a busy machine it has been
seen to get nothing in 10 s while the other two made 45 holds. The
bounds are loose on purpose (a busy 2-core machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import redis

PORT = int(os.environ['PL_TEST_REDIS_PORT'])
CLI = os.environ['PL_REDIS_CLI']
PROXY = os.path.join(os.path.dirname(__file__), 'latency_proxy.py')
SECONDS = 10


def test_writers_on_a_distant_server_keep_the_lock_moving():
    ch = f'latency-{uuid.uuid4().hex[:8]}'
    conn = redis.Redis(host='127.0.0.1', port=PORT, decode_responses=True)
    proxy = subprocess.Popen(
        [sys.executable, PROXY, '0', str(PORT), '5'],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proxy.stdout.readline().split()
        assert line and line[0] == 'listening', line
        via = line[1]
        procs = [subprocess.Popen(
            [CLI, '--port', via, '--channel', ch, '--soak', str(SECONDS),
             '--timeout', '10'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=SECONDS + 60)
            assert p.returncode == 0, f'exit {p.returncode}: {out} {err}'
            stats = [ln for ln in out.splitlines() if ln.startswith('soak ')]
            assert stats, out
            results.append({k: int(v) for k, v in
                            (kv.split('=') for kv in stats[-1].split()[1:])})
    finally:
        proxy.kill()
        proxy.wait(timeout=10)
    print(results)
    overlaps = int(conn.get(f'{ch}-overlaps') or 0)
    conn.delete(f'{ch}-w', f'{ch}-r', f'{ch}-overlaps')
    assert overlaps == 0, f'{overlaps} overlapping holds: {results}'
    for r in results:
        assert r['errors'] == 0 and r['lost'] == 0, results
    total = sum(r['holds'] for r in results)
    assert total >= 20, f'only {total} holds in {SECONDS} s: {results}'
