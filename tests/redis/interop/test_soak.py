"""Mixed soak: writers and readers of this library (pl_redis_cli --soak)
and of the reference portalocker 4.4.2 (soak_worker.py) on one channel,
short check intervals, fenced writers on both sides. An overlap witness in
Redis (see both workers) must count 0 overlaps, and the fencing tokens,
pushed in grant order by whoever holds, must increase strictly across
both implementations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import redis

PORT = int(os.environ['PL_TEST_REDIS_PORT'])
CLI = os.environ['PL_REDIS_CLI']
SECONDS = float(os.environ.get('PL_SOAK_SECONDS', '25'))
WORKER = os.path.join(os.path.dirname(__file__), 'soak_worker.py')


def test_mixed_soak_never_overlaps_and_tokens_increase():
    ch = f'soak-{uuid.uuid4().hex[:8]}'
    conn = redis.Redis(host='127.0.0.1', port=PORT, decode_responses=True)
    procs = []
    for role in ('writer', 'writer', 'reader'):
        args = [CLI, '--port', str(PORT), '--channel', ch,
                '--soak', str(SECONDS), '--check-interval', '0.05',
                '--timeout', '2']
        args += ['--fencing'] if role == 'writer' else ['--shared']
        procs.append(('ours ' + role, subprocess.Popen(
            args, stdout=subprocess.PIPE, text=True)))
        procs.append(('reference ' + role, subprocess.Popen(
            [sys.executable, WORKER, str(PORT), ch, str(SECONDS), role],
            stdout=subprocess.PIPE, text=True)))
    results = {}
    for name, p in procs:
        out, _ = p.communicate(timeout=SECONDS + 60)
        assert p.returncode == 0, f'{name}: exit {p.returncode}: {out}'
        line = [ln for ln in out.splitlines() if ln.startswith('soak ')][-1]
        stats = dict(kv.split('=') for kv in line.split()[1:])
        results.setdefault(name, []).append({k: int(v) for k, v in stats.items()})
    print(results)
    overlaps = int(conn.get(f'{ch}-overlaps') or 0)
    assert overlaps == 0, f'{overlaps} overlapping holds: {results}'
    tokens = conn.lrange(f'{ch}-tokens', 0, -1)
    values = [int(t.split(':')[1]) for t in tokens]
    assert values == sorted(values) and len(set(values)) == len(values), \
        f'tokens not strictly increasing in grant order: {tokens}'
    # Both implementations wrote and drew tokens; nobody erred.
    assert any(t.startswith('c:') for t in tokens), results
    assert any(t.startswith('py:') for t in tokens), results
    for name, runs in results.items():
        for r in runs:
            assert r['errors'] == 0, f'{name}: {r}'
    conn.delete(f'{ch}-w', f'{ch}-r', f'{ch}-tokens', f'{ch}-overlaps',
                f'{ch}-fence')
