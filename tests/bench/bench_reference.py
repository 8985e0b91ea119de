"""`make bench`, reference side: the same measurements as bench_file.c, made
with a Python portalocker-compatible module (the reference `portalocker`
from the venv by default; `--module cportalocker` measures our Python
binding with the very same code once it exists).

Prints records `R|<section>|<name>|key=value|...` for tests/bench/report.py.
Names are prefixed with the module (`portalocker:lock`, ...).

usage: bench_reference.py DIR [--module NAME] [--only-lock] [--versus NAME]
                           [section...]
       sections: cycle handoff kill cpu (default: all)

Times are time.monotonic_ns() (CLOCK_MONOTONIC, as in bench_file.c).
"""

import argparse
import fcntl
import importlib
import os
import resource
import signal
import struct
import sys
import time

RESULT = struct.Struct('=iqq')  # rc, started, got


def emit(section, name, **fields):
    parts = ['R', section, name] + [f'{k}={v}' for k, v in fields.items()]
    print('|'.join(parts), flush=True)


def pct(sorted_values, p):
    """Nearest-rank percentile, as bench_file.c computes it."""
    n = len(sorted_values)
    if n == 0:
        return 0
    i = int(p / 100.0 * n + 0.5)
    i = max(i - 1, 0)
    return sorted_values[min(i, n - 1)]


def read_full(fd, n):
    buf = b''
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def spread_delay_s(i, n, lo_ms, hi_ms):
    """The same spread of release delays as bench_file.c."""
    j = (i * 37) % n
    return (lo_ms + (hi_ms - lo_ms) * j / n) / 1000.0


# ---- 1. uncontended cycles -------------------------------------------------


def bench_cycles(pl, prefix, d, only_lock, versus=None):
    kinds = {
        'lock': lambda: pl.Lock(os.path.join(d, f'{prefix}.lock.lock')),
    }
    if versus is not None:
        # The other module's Lock in the same rounds: a ratio measured
        # under the same machine load, moment by moment.
        kinds['versus_lock'] = lambda: versus.Lock(
            os.path.join(d, f'{prefix}.versus.lock'))
    if not only_lock:
        kinds.update({
            'rlock': lambda: pl.RLock(os.path.join(d, f'{prefix}.rlock.lock')),
            'temporary_lock': lambda: pl.TemporaryFileLock(
                os.path.join(d, f'{prefix}.temporary.lock')),
            'pidfile_lock': lambda: pl.PidFileLock(
                os.path.join(d, f'{prefix}.bench.pid')),
            'semaphore1': lambda: pl.NamedBoundedSemaphore(
                1, name=f'{prefix}_sem1', directory=d),
            'semaphore4': lambda: pl.NamedBoundedSemaphore(
                4, name=f'{prefix}_sem4', directory=d),
        })
    objs = {k: make() for k, make in kinds.items()}
    # One call per cycle, without a lock object to reuse: a new Lock per
    # `with` (the seeds' idiom), and the floors of a Python program doing
    # it by hand: open()+flock+close of a file object, and of a bare fd.
    new_path = os.path.join(d, f'{prefix}.new.lock')
    floor_path = os.path.join(d, f'{prefix}.pyfloor.lock')
    fd_path = os.path.join(d, f'{prefix}.fdfloor.lock')
    lock_cls = pl.Lock

    def lock_new():
        with lock_cls(new_path, timeout=1):
            pass

    def py_floor():
        fh = open(floor_path, 'a')  # noqa: SIM115
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()

    def py_fd_floor():
        fd = os.open(fd_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    calls = {'lock_new': lock_new, 'py_floor': py_floor, 'py_fd_floor': py_fd_floor}
    if versus is not None:
        versus_path = os.path.join(d, f'{prefix}.versus_new.lock')
        versus_cls = versus.Lock

        def versus_lock_new():
            with versus_cls(versus_path, timeout=1):
                pass

        calls['versus_lock_new'] = versus_lock_new
    samples = {k: [] for k in list(kinds) + list(calls)}
    rounds, per_round, pid_per_round = 5, 400, 40
    now = time.monotonic_ns
    for k, o in objs.items():  # warm-up
        for _ in range(20 if k == 'pidfile_lock' else 200):
            o.acquire()
            o.release()
    for call in calls.values():
        for _ in range(200):
            call()
    for _ in range(rounds):
        for k, o in objs.items():
            acquire, release, out = o.acquire, o.release, samples[k]
            for _ in range(pid_per_round if k == 'pidfile_lock' else per_round):
                t0 = now()
                acquire()
                release()
                out.append(now() - t0)
        for k, call in calls.items():
            out = samples[k]
            for _ in range(per_round):
                t0 = now()
                call()
                out.append(now() - t0)
    for k, s in samples.items():
        s.sort()
        emit('cycle', f'{prefix}:{k}', n=len(s), median_ns=pct(s, 50),
             p99_ns=pct(s, 99))


# ---- 2. contended handoff --------------------------------------------------


def waiter_loop(pl, path, go_fd, res_fd):
    lock = pl.Lock(path, timeout=10)
    os.write(res_fd, b'r')  # ready: the first round is like the rest
    while True:
        try:
            read_full(go_fd, 1)
        except EOFError:
            break
        started = time.monotonic_ns()
        rc = 0
        try:
            lock.acquire()
        except Exception:  # noqa: BLE001 - reported as an error count
            rc = -1
        got = time.monotonic_ns()
        lock.release()
        os.write(res_fd, RESULT.pack(rc, started, got))


def bench_handoff(pl, prefix, d, rounds):
    path = os.path.join(d, f'{prefix}.handoff.lock')
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(res_r)
        try:
            waiter_loop(pl, path, go_r, res_w)
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(res_w)
    read_full(res_r, 1)
    holder = pl.Lock(path, timeout=10)
    lat, errors, not_waiting = [], 0, 0
    for i in range(rounds):
        holder.acquire()
        os.write(go_w, b'g')
        # Spread over a whole check_interval: releases land in every phase
        # of the reference's polling schedule.
        time.sleep(spread_delay_s(i, rounds, 2, 252))
        released = time.monotonic_ns()
        holder.release()
        rc, started, got = RESULT.unpack(read_full(res_r, RESULT.size))
        if rc != 0:
            errors += 1
        elif started > released:
            not_waiting += 1
        else:
            lat.append(got - released)
    os.close(go_w)
    os.waitpid(pid, 0)
    os.close(res_r)
    lat.sort()
    emit('handoff', f'{prefix}:lock', n=len(lat), median_ns=pct(lat, 50),
         p99_ns=pct(lat, 99), max_ns=lat[-1] if lat else 0, errors=errors,
         not_waiting=not_waiting, spread_ms='2-252')


# ---- 3. SIGKILL'd holder -----------------------------------------------------


def bench_kill(pl, prefix, d, runs):
    path = os.path.join(d, f'{prefix}.kill.lock')
    lat, errors = [], 0
    for i in range(runs):
        ready_r, ready_w = os.pipe()
        holder = os.fork()
        if holder == 0:
            lock = pl.Lock(path)
            lock.acquire()
            os.write(ready_w, b'r')
            while True:
                signal.pause()
        read_full(ready_r, 1)
        go_r, go_w = os.pipe()
        res_r, res_w = os.pipe()
        waiter = os.fork()
        if waiter == 0:
            os.close(go_w)
            os.close(res_r)
            try:
                waiter_loop(pl, path, go_r, res_w)
            finally:
                os._exit(0)
        os.close(go_r)
        os.close(res_w)
        read_full(res_r, 1)
        os.write(go_w, b'g')
        time.sleep(spread_delay_s(i, runs, 5, 505))
        killed = time.monotonic_ns()
        os.kill(holder, signal.SIGKILL)
        rc, _started, got = RESULT.unpack(read_full(res_r, RESULT.size))
        os.close(go_w)
        os.waitpid(holder, 0)
        os.waitpid(waiter, 0)
        for fd in (res_r, ready_r, ready_w):
            os.close(fd)
        if rc != 0:
            errors += 1
        else:
            lat.append(got - killed)
    lat.sort()
    emit('kill', f'{prefix}:lock', n=len(lat), median_ns=pct(lat, 50),
         max_ns=lat[-1] if lat else 0, errors=errors)


# ---- 4. a waiter's CPU use ---------------------------------------------------


def bench_cpu(pl, prefix, d, hold_s=2.0):
    import fcntl

    path = os.path.join(d, f'{prefix}.cpu.lock')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    started_r, started_w = os.pipe()
    res_r, res_w = os.pipe()
    fmt = struct.Struct('=iqqqq')
    pid = os.fork()
    if pid == 0:
        os.close(fd)  # shares the holder's open file description
        try:
            lock = pl.Lock(path, timeout=10)
            os.write(started_w, b's')
            a = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic_ns()
            rc = 0
            try:
                lock.acquire()
            except Exception:  # noqa: BLE001
                rc = -1
            got = time.monotonic_ns()
            b = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (b.ru_utime - a.ru_utime + b.ru_stime - a.ru_stime) * 1e9
            lock.release()
            os.write(res_w, fmt.pack(rc, got - t0, int(cpu),
                                     b.ru_nvcsw - a.ru_nvcsw, got))
        finally:
            os._exit(0)
    read_full(started_r, 1)
    time.sleep(hold_s)
    released = time.monotonic_ns()
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    rc, wall, cpu, wakeups, got = fmt.unpack(read_full(res_r, fmt.size))
    os.waitpid(pid, 0)
    for f in (started_r, started_w, res_r, res_w):
        os.close(f)
    emit('cpu', f'{prefix}:poll', rc=rc, wall_ns=wall, cpu_ns=cpu,
         wakeups=wakeups, latency_ns=got - released)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--module', default='portalocker')
    ap.add_argument('--only-lock', action='store_true',
                    help='cycle section: the Lock cycles (reused, new per '
                         'with) and the Python floors only')
    ap.add_argument('--versus', metavar='MODULE',
                    help='cycle section: also measure MODULE\'s Lock cycles '
                         'in the same rounds (records versus_lock, '
                         'versus_lock_new)')
    ap.add_argument('sections', nargs='*',
                    default=['cycle', 'handoff', 'kill', 'cpu'])
    args = ap.parse_intermixed_args()
    pl = importlib.import_module(args.module)
    prefix = args.module
    emit('meta', prefix, version=getattr(pl, '__version__', '?'),
         file=getattr(pl, '__file__', '?'))
    for s in args.sections:
        if s == 'cycle':
            versus = importlib.import_module(args.versus) if args.versus else None
            bench_cycles(pl, prefix, args.dir, args.only_lock, versus)
        elif s == 'handoff':
            bench_handoff(pl, prefix, args.dir, 30)
        elif s == 'kill':
            bench_kill(pl, prefix, args.dir, 6)
        elif s == 'cpu':
            bench_cpu(pl, prefix, args.dir)
        else:
            sys.exit(f'unknown section {s!r}')


if __name__ == '__main__':
    main()
