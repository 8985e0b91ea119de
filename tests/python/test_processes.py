"""Real processes: contention, interop with the reference portalocker, and
the GIL being released while waiting."""

import subprocess
import sys
import threading
import time

import portalocker as ref
import pytest

import cportalocker as cpl
from conftest import child_env


@pytest.mark.parametrize('holder_module', ['cportalocker', 'portalocker'])
@pytest.mark.parametrize('waiter', [cpl, ref], ids=['waiter=cportalocker', 'waiter=portalocker'])
def test_lock_excludes_across_processes_and_implementations(workdir, holder, holder_module, waiter):
    h = holder(f'import {holder_module} as pl\nl = pl.Lock("f"); l.acquire()')
    with pytest.raises(waiter.AlreadyLocked):
        waiter.Lock('f', fail_when_locked=True).acquire()
    with pytest.raises(waiter.AlreadyLocked):
        waiter.Lock('f', timeout=0.2, check_interval=0.05).acquire()
    h.finish()
    with waiter.Lock('f', fail_when_locked=True):
        pass


@pytest.mark.parametrize('holder_module', ['cportalocker', 'portalocker'])
def test_low_level_lock_interop(workdir, holder, holder_module):
    h = holder(
        f'import {holder_module} as pl\nfh = open("f", "a")\n'
        'pl.lock(fh, pl.LOCK_EX | pl.LOCK_NB)'
    )
    with open('f', 'a') as fh:
        with pytest.raises(cpl.AlreadyLocked):
            cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        with pytest.raises(ref.AlreadyLocked):
            ref.lock(fh, ref.LOCK_EX | ref.LOCK_NB)
        h.finish()
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        cpl.unlock(fh)


def test_waiter_gets_lock_when_holder_releases(workdir, holder):
    h = holder('import cportalocker as pl\nl = pl.Lock("f"); l.acquire()',
               after='l.release()')
    result = {}

    def wait():
        try:
            with cpl.Lock('f', timeout=30, check_interval=0.05):
                result['got'] = time.monotonic()
        except Exception as exc:  # pragma: no cover - reported below
            result['error'] = exc

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.3)
    assert 'got' not in result
    released = time.monotonic()
    h.finish()
    t.join(30)
    assert 'error' not in result, result
    assert result['got'] >= released


COUNTER = r'''
import sys, cportalocker as pl
for _ in range(int(sys.argv[1])):
    with pl.Lock("counter", "r+", timeout=60, check_interval=0.01) as fh:
        value = int(fh.read() or 0)
        fh.seek(0)
        fh.truncate()
        fh.write(str(value + 1))
'''


def test_many_processes_increment_a_counter(workdir):
    (workdir / 'counter').write_text('0')
    n_procs, n_iter = 4, 25
    procs = [
        subprocess.Popen([sys.executable, '-c', COUNTER, str(n_iter)], env=child_env(),
                         stderr=subprocess.PIPE, text=True)
        for _ in range(n_procs)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert (workdir / 'counter').read_text() == str(n_procs * n_iter)


def test_semaphore_across_processes(workdir, holder):
    code = ('import cportalocker as pl\n'
            f's = pl.NamedBoundedSemaphore(2, name="w", directory={str(workdir)!r})\n'
            's.acquire()')
    h1, h2 = holder(code), holder(code)
    sem = cpl.NamedBoundedSemaphore(2, name='w', directory=str(workdir), timeout=0.2,
                                    check_interval=0.05)
    with pytest.raises(cpl.AlreadyLocked):
        sem.acquire()
    h2.finish()
    assert sem.acquire() is not None
    sem.release()
    h1.finish()


@pytest.mark.parametrize('flags', ['blocking', 'polling'])
def test_gil_is_released_while_waiting(workdir, holder, flags):
    h = holder('import cportalocker as pl\nl = pl.Lock("f"); l.acquire()',
               after='l.release()')
    if flags == 'blocking':
        lock = cpl.Lock('f', flags=cpl.LOCK_EX)  # the kernel's blocking flock
    else:
        lock = cpl.Lock('f', timeout=30, check_interval=0.05)
    done = threading.Event()

    def wait():
        with lock:
            done.set()

    t = threading.Thread(target=wait)
    t.start()
    # While the other thread waits inside the C call, this thread must run.
    deadline = time.monotonic() + 0.5
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    assert not done.is_set()
    assert spins > 10000, spins
    h.finish()
    t.join(30)
    assert done.is_set()
