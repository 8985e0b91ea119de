"""No descriptor leaks over many cycles, successful or failed."""

import gc
import warnings

import pytest

import cportalocker as cpl
from conftest import open_fds

CYCLES = 300


def _cycle(factory):
    before = open_fds()
    for _ in range(CYCLES):
        factory()
    gc.collect()
    return before, open_fds()


@pytest.mark.parametrize('cls', [cpl.Lock, cpl.RLock, cpl.TemporaryFileLock, cpl.PidFileLock])
def test_acquire_release_cycles(workdir, cls):
    def one():
        lock = cls('f')
        fh = lock.acquire()
        fh.write('x')
        lock.release()

    before, after = _cycle(one)
    assert after == before


@pytest.mark.parametrize('cls', [cpl.Lock, cpl.RLock, cpl.TemporaryFileLock, cpl.PidFileLock])
def test_failed_acquires_and_dropped_locks(workdir, cls):
    held = cls('f')
    held.acquire()

    def one():
        try:
            cls('f', fail_when_locked=True).acquire()
        except cpl.AlreadyLocked:
            pass
        else:
            raise AssertionError('acquired a held lock')
        dropped = cpl.Lock(f'g{one.n % 7}')  # acquired, never released: GC frees it
        dropped.acquire()
        one.n += 1

    one.n = 0
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)
        before, after = _cycle(one)
    held.release()
    assert after == before


def test_semaphore_and_open_atomic_cycles(workdir):
    sem = cpl.NamedBoundedSemaphore(2, name='s', directory=str(workdir))

    def one():
        with sem:
            pass
        with cpl.open_atomic(workdir / f'out{one.n}') as fh:
            fh.write(b'x')
        one.n += 1

    one.n = 0
    before, after = _cycle(one)
    assert after == before


def test_low_level_lock_cycles(workdir):
    with open('f', 'w') as fh:
        before = open_fds()
        for _ in range(CYCLES):
            cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
            cpl.unlock(fh)
        assert open_fds() == before
