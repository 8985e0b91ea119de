"""A reference portalocker (4.4.2) worker for the mixed soak
(test_soak.py): the same loop and overlap witness as pl_redis_cli --soak.

    python soak_worker.py PORT CHANNEL SECONDS writer|reader

Acquire, hold 1-3 ms, release. A writer INCRs "<C>-w" and must see 1 and
"<C>-r" at 0; a reader INCRs "<C>-r" and must see "<C>-w" at 0; a sighting
by a holder that has not lost its lock INCRs "<C>-overlaps". Writers are
fenced and RPUSH "py:<token>" on "<C>-tokens" while holding. Prints
"soak holds=N timeouts=T lost=L errors=E".
"""

from __future__ import annotations

import random
import sys
import time

import portalocker
import redis


def main() -> int:
    port, ch, seconds, role = (
        int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4])
    writer = role == 'writer'
    w = redis.Redis(host='127.0.0.1', port=port)
    lock = portalocker.RedisLock(
        ch,
        redis_kwargs=dict(host='127.0.0.1', port=port),
        flags=(portalocker.LockFlags.EXCLUSIVE if writer
               else portalocker.LockFlags.SHARED),
        timeout=2,
        check_interval=0.05,
        fencing=writer,
    )
    holds = timeouts = lost = errors = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            lock.acquire()
        except portalocker.AlreadyLocked:
            timeouts += 1
            continue
        except Exception as e:  # noqa: BLE001 - counted and shown
            errors += 1
            print(f'soak: {e!r}', file=sys.stderr)
            time.sleep(0.01)
            continue
        if writer:
            seen = w.incr(f'{ch}-w') != 1 or int(w.get(f'{ch}-r') or 0) != 0
            if lock.fence_token is not None:
                w.rpush(f'{ch}-tokens', f'py:{lock.fence_token}')
            else:
                print('soak: a fenced grant without a token', file=sys.stderr)
        else:
            seen = w.incr(f'{ch}-r') < 1 or int(w.get(f'{ch}-w') or 0) != 0
        time.sleep(random.uniform(0.001, 0.003))
        if lock.lost:
            lost += 1
        elif seen:
            w.incr(f'{ch}-overlaps')
        w.decr(f'{ch}-w' if writer else f'{ch}-r')
        try:
            lock.release()
            holds += 1
        except Exception:  # noqa: BLE001 - a lost lock on release
            pass
    print(f'soak holds={holds} timeouts={timeouts} lost={lost} '
          f'errors={errors}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
