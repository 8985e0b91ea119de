"""TemporaryFileLock and PidFileLock, whose lock file the C core owns:
re-acquiring while held asks the core whether the path still names the
held file (an external unlink or replace is a compromised-lock
LockException, the held file object untouched), a compromised release
spares the competitor's file with a warning, a held wrapper collected by
GC keeps its lock and file until exit, a forked child's re-acquire of its
parent's lock gives the shared file object back, and a TemporaryFileLock
honours a `_get_fh` hook."""

import gc
import logging
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

if sys.platform == 'win32':
    pytest.skip('POSIX only: a held file unlinked or replaced under its lock, fork, '
                'flock probes (Windows keeps a deleted open file\'s name until its '
                'last handle closes: tests/win covers the owned files there)',
                allow_module_level=True)

import fcntl  # noqa: E402  (after the platform check)

import cportalocker as cpl
from cportalocker import utils
from conftest import child_env

KINDS = {
    'TemporaryFileLock': (lambda: cpl.TemporaryFileLock('t.lock'), 't.lock'),
    'PidFileLock': (lambda: cpl.PidFileLock('p.pid'), 'p.pid.lock'),
}


def locked_elsewhere(path):
    """True if a new open file description of `path` cannot be locked."""
    with open(path, 'a') as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def test_only_the_owned_file_kinds_verify_a_held_reacquire():
    assert cpl.TemporaryFileLock in utils._VERIFIED_TYPES
    assert cpl.PidFileLock in utils._VERIFIED_TYPES
    assert cpl.Lock not in utils._VERIFIED_TYPES
    assert cpl.RLock not in utils._VERIFIED_TYPES

    class Mine(cpl.TemporaryFileLock):
        pass

    assert Mine in utils._VERIFIED_TYPES and Mine in utils._FAST_TYPES


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_reacquire_with_the_path_intact_returns_the_held_file(workdir, kind):
    make, native = KINDS[kind]
    lock = make()
    fh = lock.acquire()
    assert lock.acquire() is fh
    assert lock.acquire(timeout=0) is fh
    with lock as again:  # PidFileLock's context gives the holder (None)
        assert again is (None if kind == 'PidFileLock' else fh)
        assert not fh.closed
    assert not os.path.exists(native)


@pytest.mark.parametrize('kind', sorted(KINDS))
@pytest.mark.parametrize('replace', [False, True], ids=['unlinked', 'replaced'])
def test_reacquire_after_an_external_unlink_is_a_compromised_lock(workdir, kind, replace):
    make, native = KINDS[kind]
    lock = make()
    fh = lock.acquire()
    held = os.fstat(fh.fileno())
    os.unlink(native)  # tmpwatch cleaning up the "stale" file
    if replace:
        pathlib.Path(native).write_text('')
    with pytest.raises(cpl.LockException, match='unlinked or replaced externally') as info:
        lock.acquire()
    assert 'compromised' in str(info.value)
    assert not isinstance(info.value, cpl.AlreadyLocked)
    # Untouched: the same open, still locked file object.
    assert lock.fh is fh and not fh.closed
    assert os.path.samestat(os.fstat(fh.fileno()), held)
    assert utils._c.pl_lock_is_held(lock._handle)
    with pytest.raises(cpl.LockException, match='compromised'):
        lock.acquire(timeout=0.2, fail_when_locked=False)  # a retrying form too
    lock.release()
    assert lock.fh is None and fh.closed


def test_reacquire_with_a_closed_file_object_is_a_compromised_lock(workdir):
    lock = cpl.TemporaryFileLock('t.lock')
    fh = lock.acquire()
    fh.close()
    with pytest.raises(cpl.LockException, match='closed while the lock was held.*compromised'):
        lock.acquire()
    assert os.path.exists('t.lock')  # still held, not released by the check
    lock.release()
    assert not os.path.exists('t.lock')
    assert not lock.acquire().closed  # a fresh acquire is fine again
    lock.release()


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_a_compromised_release_spares_the_competitor_and_says_so(workdir, kind, caplog):
    make, native = KINDS[kind]
    holder = make()
    held_fh = holder.acquire()
    os.unlink(native)
    if kind == 'PidFileLock':
        os.unlink('p.pid')
    competitor = make()
    competitor.acquire()
    try:
        with caplog.at_level(logging.WARNING):
            holder.release()
        assert held_fh.closed and holder.fh is None
        assert os.path.exists(native)
        assert locked_elsewhere(native)  # the competitor's lock is intact
        assert any('not unlinking' in r.getMessage() for r in caplog.records)
    finally:
        competitor.release()
    assert not os.path.exists(native)


def test_an_uncompromised_release_does_not_warn(workdir, caplog):
    with caplog.at_level(logging.WARNING), cpl.TemporaryFileLock('t.lock'):
        pass
    assert not [r for r in caplog.records if 'not unlinking' in r.getMessage()]


CHILD_GC = '''
import gc, os, sys
import cportalocker as pl
lock = pl.{kind}(sys.argv[1])
lock.acquire()
del lock
gc.collect()
native = sys.argv[2]
print(os.path.exists(native), flush=True)
sys.stdin.readline()
'''


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_a_held_wrapper_collected_by_gc_keeps_its_lock_and_file_until_exit(workdir, kind):
    make, native = KINDS[kind]
    name = 't.lock' if kind == 'TemporaryFileLock' else 'p.pid'
    child = subprocess.Popen(
        [sys.executable, '-c', CHILD_GC.format(kind=kind), name, native],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(),
    )
    try:
        assert child.stdout.readline().strip() == 'True'
        assert os.path.exists(native)
        assert locked_elsewhere(native)  # the lock itself is still held
        with pytest.raises(cpl.AlreadyLocked):
            make().acquire()
    finally:
        child.communicate('\n', timeout=20)
    assert child.returncode == 0
    assert not os.path.exists(native)  # interpreter exit released it


@pytest.mark.parametrize('kind', sorted(KINDS))
def test_a_forked_child_reacquiring_its_parents_lock_gets_the_shared_file(workdir, kind):
    make, native = KINDS[kind]
    lock = make()
    fh = lock.acquire()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ok = lock.acquire() is fh and not fh.closed
            os.write(w, b'1' if ok else b'0')
        except BaseException as exc:  # noqa: BLE001
            os.write(w, repr(exc).encode()[:200] or b'?')
        finally:
            os._exit(0)
    os.close(w)
    answer = os.read(r, 256)
    os.close(r)
    os.waitpid(pid, 0)
    assert answer == b'1'
    # The parent's lock survived the child.
    assert lock.acquire() is fh
    assert os.path.exists(native) and locked_elsewhere(native)
    lock.release()


# ---- the _get_fh hook of a TemporaryFileLock ------------------------------

def test_a_temporary_file_lock_honours_get_fh(workdir):
    calls = []

    class Announcing(cpl.TemporaryFileLock):
        def _get_fh(self):
            fh = super()._get_fh()
            calls.append(fh)
            return fh

    assert Announcing not in utils._FAST_TYPES
    lock = Announcing('t.lock')
    fh = lock.acquire()
    assert calls == [fh]  # acquire returns the hook's file object
    assert os.path.samestat(os.fstat(fh.fileno()), os.stat('t.lock'))
    assert locked_elsewhere('t.lock')  # locked by the core
    assert lock.acquire() is fh and len(calls) == 1  # held: no new open
    fh.write('data')
    lock.release()
    assert fh.closed and not os.path.exists('t.lock')


def test_a_get_fh_hook_opened_before_the_wait_converges_on_the_current_file(workdir):
    """The hook opens the holder's file; the holder's release unlinks it;
    the waiter's file object must name the file it locked (the new one)."""
    holder = cpl.TemporaryFileLock('t.lock')
    holder.acquire()
    opened = threading.Event()
    calls = []

    class Waiter(cpl.TemporaryFileLock):
        def _get_fh(self):
            fh = super()._get_fh()
            calls.append(os.fstat(fh.fileno()).st_ino)
            opened.set()
            return fh

    waiter = Waiter('t.lock', timeout=10, fail_when_locked=False)
    result = []
    thread = threading.Thread(target=lambda: result.append(waiter.acquire()))
    thread.start()
    assert opened.wait(10)
    time.sleep(0.05)
    holder.release()
    thread.join(10)
    fh = result[0]
    current = os.stat('t.lock')
    assert os.path.samestat(os.fstat(fh.fileno()), current)
    assert len(calls) == 2 and calls[1] == current.st_ino != calls[0]
    waiter.release()
    assert not os.path.exists('t.lock')


def test_a_pid_file_lock_opens_its_sidecar_with_lock_get_fh(workdir, monkeypatch):
    seen = []
    original = cpl.Lock._get_fh

    def announce(self):
        seen.append(self.filename)
        return original(self)

    monkeypatch.setattr(cpl.Lock, '_get_fh', announce)
    lock = cpl.PidFileLock('p.pid')
    fh = lock.acquire()
    assert seen == [os.path.abspath('p.pid.lock')]
    assert os.path.samestat(os.fstat(fh.fileno()), os.stat('p.pid.lock'))
    assert lock.read_pid() == os.getpid()
    lock.release()
    assert not os.path.exists('p.pid') and not os.path.exists('p.pid.lock')


def test_a_get_fh_hook_with_posix_record_locks_is_refused(workdir):
    class Hooked(cpl.TemporaryFileLock):
        def _get_fh(self):
            raise AssertionError('never called')

    with pytest.raises(cpl.exceptions.Unsupported, match="'posix' mechanism"):
        Hooked('t.lock', mechanism='posix').acquire()
    assert not os.path.exists('t.lock')
