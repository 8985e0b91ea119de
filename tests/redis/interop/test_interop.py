"""Interop: this library (driven through build/tests/redis/pl_redis_cli) and
the reference portalocker RedisLock contend for the same channels on the
test redis-server (PL_TEST_REDIS_PORT, started by ci/tests.d/redis.sh).

Timing bounds are loose on purpose: this runs on busy machines, and the
reference sleeps 0.5-1.5 x check_interval before its first attempt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import portalocker
import pytest
import redis

PORT = int(os.environ['PL_TEST_REDIS_PORT'])
CLI = os.environ['PL_REDIS_CLI']
CI = 0.05  # check_interval for both sides


def channel(tag: str) -> str:
    return f'interop-{tag}-{uuid.uuid4().hex[:8]}'


def numsub(ch: str) -> int:
    conn = redis.Redis(host='127.0.0.1', port=PORT)
    try:
        return conn.pubsub_numsub(ch)[0][1]
    finally:
        conn.close()


def wait_numsub(ch: str, want: int, seconds: float = 5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if numsub(ch) == want:
            return
        time.sleep(0.01)
    raise AssertionError(f'NUMSUB {ch} stayed {numsub(ch)}, want {want}')


def ref_lock(ch: str, shared: bool = False, **kw) -> portalocker.RedisLock:
    flags = (
        portalocker.LockFlags.SHARED if shared else portalocker.LockFlags.EXCLUSIVE
    )
    kw.setdefault('check_interval', CI)
    return portalocker.RedisLock(
        ch,
        redis_kwargs=dict(host='127.0.0.1', port=PORT),
        flags=flags,
        **kw,
    )


class Ours:
    """One pl_redis_cli process; holds until close()."""

    def __init__(self, ch, shared=False, timeout=5.0, fail_when_locked=False):
        args = [
            CLI, '--port', str(PORT), '--channel', ch,
            '--timeout', str(timeout), '--check-interval', str(CI),
        ]
        if shared:
            args.append('--shared')
        if fail_when_locked:
            args.append('--fail-when-locked')
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.first = None

    def result(self, timeout=15.0) -> str:
        """The first line: 'acquired <id>', 'AlreadyLocked' or an error."""
        if self.first is None:
            box = []
            t = threading.Thread(
                target=lambda: box.append(self.proc.stdout.readline())
            )
            t.start()
            t.join(timeout)
            assert box, 'pl_redis_cli printed nothing in time'
            self.first = box[0].strip()
        return self.first

    def acquired(self) -> bool:
        line = self.result()
        assert line.startswith('acquired') or line == 'AlreadyLocked', line
        return line.startswith('acquired')

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=10)
        return out

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def test_reference_holds_ours_fails_when_locked():
    ch = channel('refholds')
    lock = ref_lock(ch)
    lock.acquire(timeout=5)
    try:
        ours = Ours(ch, timeout=1, fail_when_locked=True)
        assert not ours.acquired()
        ours.close()
        assert ours.proc.returncode == 2
        # and without fail_when_locked it times out
        ours = Ours(ch, timeout=0.5)
        assert not ours.acquired()
        ours.close()
    finally:
        lock.release()
    ours = Ours(ch, timeout=5, fail_when_locked=True)
    assert ours.acquired()
    assert 'released' in ours.close()


def test_ours_holds_reference_fails_when_locked():
    ch = channel('oursholds')
    ours = Ours(ch)
    assert ours.acquired()
    try:
        with pytest.raises(portalocker.AlreadyLocked):
            ref_lock(ch, fail_when_locked=True, timeout=1).acquire()
        with pytest.raises(portalocker.AlreadyLocked):
            ref_lock(ch, timeout=0.5).acquire()
        # The reference also waits for us and gets it once we release.
        waiter = ref_lock(ch, timeout=10)
        box = []
        t = threading.Thread(target=lambda: box.append(waiter.acquire()))
        t.start()
        time.sleep(0.3)
        assert not box
    finally:
        assert 'released' in ours.close()
    t.join(10)
    assert box, 'the reference did not get the lock after our release'
    waiter.release()


def test_shared_readers_coexist_across_both():
    ch = channel('shared')
    ref_reader = ref_lock(ch, shared=True)
    ref_reader.acquire(timeout=5)
    ours = Ours(ch, shared=True, fail_when_locked=True)
    assert ours.acquired()
    ref_reader2 = ref_lock(ch, shared=True, fail_when_locked=True)
    ref_reader2.acquire(timeout=5)
    assert numsub(ch) == 3
    # Writers of either side are kept out.
    with pytest.raises(portalocker.AlreadyLocked):
        ref_lock(ch, fail_when_locked=True).acquire(timeout=1)
    writer = Ours(ch, timeout=1, fail_when_locked=True)
    assert not writer.acquired()
    writer.close()
    ref_reader.release()
    ref_reader2.release()
    ours.close()
    wait_numsub(ch, 0)


def test_waiting_reference_writer_keeps_our_readers_out():
    ch = channel('refwriter')
    reader = Ours(ch, shared=True)
    assert reader.acquired()
    writer = ref_lock(ch, timeout=20)
    box = []
    t = threading.Thread(target=lambda: box.append(writer.acquire()))
    t.start()
    # The elected reference writer stays subscribed as pending.
    wait_numsub(ch, 2, 10)
    time.sleep(0.3)
    assert numsub(ch) == 2 and not box
    late = Ours(ch, shared=True, timeout=1, fail_when_locked=True)
    assert not late.acquired()
    late.close()
    reader.close()
    t.join(15)
    assert box, 'the reference writer never got the lock'
    writer.release()


def test_waiting_writer_of_ours_keeps_reference_readers_out():
    ch = channel('ourwriter')
    reader = ref_lock(ch, shared=True)
    reader.acquire(timeout=5)
    writer = Ours(ch, timeout=20)
    wait_numsub(ch, 2, 10)
    time.sleep(0.3)
    assert numsub(ch) == 2
    with pytest.raises(portalocker.AlreadyLocked):
        ref_lock(ch, shared=True, fail_when_locked=True).acquire(timeout=1)
    reader.release()
    assert writer.acquired()
    assert 'released' in writer.close()


REF_HOLDER = textwrap.dedent(
    """
    import sys, time, portalocker
    lock = portalocker.RedisLock(
        sys.argv[1], redis_kwargs=dict(host='127.0.0.1', port=int(sys.argv[2])),
        check_interval=0.05)
    lock.acquire(timeout=10)
    print('acquired', flush=True)
    time.sleep(60)
    """
)


def test_sigkill_of_our_holder_frees_it_for_the_reference():
    ch = channel('killours')
    ours = Ours(ch)
    assert ours.acquired()
    ours.kill()
    t0 = time.monotonic()
    lock = ref_lock(ch)
    lock.acquire(timeout=5)
    assert time.monotonic() - t0 < 3
    lock.release()


def test_sigkill_of_the_reference_frees_it_for_ours():
    ch = channel('killref')
    holder = subprocess.Popen(
        [sys.executable, '-c', REF_HOLDER, ch, str(PORT)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == 'acquired'
        blocked = Ours(ch, timeout=0.5, fail_when_locked=True)
        assert not blocked.acquired()
        blocked.close()
        ours = Ours(ch, timeout=10)
        time.sleep(0.2)
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert ours.acquired()
        assert 'released' in ours.close()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# A reference writer that keeps going after a timed-out attempt, within a
# budget. Reference 4.4 writers starve each other: two of them alone (no
# process of ours involved) timed out after 60 s in 2 of 3 runs here.
MIXED_WORKER = textwrap.dedent(
    """
    import os, sys, time, portalocker
    ch, port, marker, n, budget = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    lock = portalocker.RedisLock(
        ch, redis_kwargs=dict(host='127.0.0.1', port=port), check_interval=0.02)
    rounds = timeouts = 0
    end = time.monotonic() + budget
    while rounds < n and time.monotonic() < end:
        try:
            lock.acquire(timeout=max(0.5, min(10.0, end - time.monotonic())))
        except portalocker.exceptions.AlreadyLocked:
            timeouts += 1
            continue
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            print('OVERLAP', flush=True)
            lock.release()
            continue
        time.sleep(0.005)
        os.close(fd)
        os.unlink(marker)
        lock.release()
        rounds += 1
    print(f'rounds {rounds} timeouts {timeouts}', flush=True)
    """
)

OURS_WORKER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    cli, ch, port, marker, n = sys.argv[1:6]
    for _ in range(int(n)):
        p = subprocess.Popen([cli, '--port', port, '--channel', ch,
                              '--timeout', '60', '--check-interval', '0.02'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        assert line.startswith('acquired'), line
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            print('OVERLAP', flush=True)
            p.stdin.close(); p.wait()
            continue
        time.sleep(0.005)
        os.close(fd)
        os.unlink(marker)
        p.stdin.close()
        p.wait()
    print('done', flush=True)
    """
)


def test_mixed_writers_exclude_each_other(tmp_path):
    """A reference writer and two of ours hammer one channel; a marker file
    created with O_EXCL inside the critical section catches overlap. Only
    one reference writer: two of them starve each other on their own (see
    MIXED_WORKER), which would test the reference's fairness, not ours."""
    ch = channel('mixed')
    marker = str(tmp_path / 'inside')
    n = 8
    refs = [
        subprocess.Popen(
            [sys.executable, '-c', MIXED_WORKER, ch, str(PORT), marker, str(n), '120'],
            stdout=subprocess.PIPE, text=True,
        )
    ]
    ours = [
        subprocess.Popen(
            [sys.executable, '-c', OURS_WORKER, CLI, ch, str(PORT), marker, str(n)],
            stdout=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240)[0] for p in refs + ours]
    assert all(p.returncode == 0 for p in refs + ours), outs
    assert not any('OVERLAP' in o for o in outs), outs
    assert all('done' in o for o in outs[1:]), outs
    assert outs[0].startswith(f'rounds {n} '), outs
