"""Python side of the Redis lock bench (run with the venv's python):
prints "<name> <n> <median_us> <p99_us>" like bench_redis.

    bench_redis_py.py <port> redispy <n>     redis-py Lock: SET NX PX + Lua
    bench_redis_py.py <port> reference <n>   portalocker RedisLock, defaults
"""

import statistics
import sys
import time
import uuid


def report(name, samples):
    samples.sort()
    p99 = samples[int((len(samples) - 1) * 0.99)]
    print(f'{name} {len(samples)} {statistics.median(samples) * 1e6:.1f} '
          f'{p99 * 1e6:.1f}', flush=True)


def main():
    port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    name = f'bench-py-{uuid.uuid4().hex[:8]}'
    samples = []
    if mode == 'redispy':
        import redis
        conn = redis.Redis(host='127.0.0.1', port=port)
        lock = conn.lock(name, timeout=10)  # SET NX PX 10000; Lua release
        for i in range(-50, n):
            t0 = time.perf_counter()
            assert lock.acquire(blocking=False)
            lock.release()
            if i >= 0:
                samples.append(time.perf_counter() - t0)
        report('redispy_cycle', samples)
    elif mode == 'reference':
        import portalocker
        lock = portalocker.RedisLock(
            name, redis_kwargs=dict(host='127.0.0.1', port=port))
        for _ in range(n):
            t0 = time.perf_counter()
            lock.acquire()
            lock.release()
            samples.append(time.perf_counter() - t0)
        report('reference_cycle', samples)
    else:
        sys.exit(f'unknown mode {mode}')


if __name__ == '__main__':
    main()
