"""What only Windows has: the reference's Windows flag values, its Windows
lockers (`MsvcrtLocker`, `Win32Locker`) and its pywin32 `Win32Locker`
against ours, between processes, both ways, exclusive and shared.

Collected on Windows only (conftest.py): ci/tests.d/windows.sh runs it
under wine with python.org's CPython, pywin32 installed from its wheel
(ci/win/requirements-pytest.txt). The reference runs with
``portalocker.portalocker.LOCKER = Win32Locker`` wherever it has to
unlock: its default `MsvcrtLocker` calls ``msvcrt.locking``, which fails
with errno 0 under wine (tests/win/binding_python.py covers the lock it
takes, from child processes that never unlock).
"""

import subprocess
import sys
import threading

import portalocker as ref
import pytest

import cportalocker as cpl
from conftest import child_env
from cportalocker import _portalocker_c as _c
from cportalocker import portalocker as plmod

EX, SH, NB = cpl.LockFlags.EXCLUSIVE, cpl.LockFlags.SHARED, cpl.LockFlags.NON_BLOCKING

# A child's preamble: the reference with its pywin32 locker.
REF_WIN32 = (
    'import portalocker, portalocker.portalocker as pp\n'
    'pp.LOCKER = pp.Win32Locker\n'
)


def ref_can_lock(path, flags, locker='Win32Locker'):
    """Whether the reference, in a child process with LOCKER = `locker`,
    gets a non-blocking lock with `flags` (a Python expression over
    portalocker's names) on `path`; it unlocks before exiting."""
    code = (
        'import sys, portalocker, portalocker.portalocker as pp\n'
        f'pp.LOCKER = pp.{locker}\n'
        f'fh = open({str(path)!r}, "a")\n'
        'try:\n'
        f'    portalocker.lock(fh, {flags})\n'
        'except portalocker.AlreadyLocked:\n'
        '    sys.exit(3)\n'
        'portalocker.unlock(fh)\n'
    )
    r = subprocess.run([sys.executable, '-c', code], env=child_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 3), r.stdout + r.stderr
    return r.returncode == 0


def we_can_lock(path, flags):
    with open(path, 'a') as fh:
        try:
            cpl.lock(fh, flags)
        except cpl.AlreadyLocked:
            return False
        cpl.unlock(fh)
        return True


# ---- the flag values ------------------------------------------------------

def test_flags_are_the_references_windows_values():
    assert (int(cpl.LOCK_EX), int(cpl.LOCK_SH), int(cpl.LOCK_NB)) == (0x1, 0x2, 0x4)
    import msvcrt
    assert int(cpl.LOCK_UN) == msvcrt.LK_UNLCK == 0
    for name in ('EXCLUSIVE', 'SHARED', 'NON_BLOCKING', 'UNBLOCK'):
        assert int(getattr(cpl.LockFlags, name)) == int(getattr(ref.LockFlags, name))
    # ... and the C core keeps its own (fixed by the ABI).
    assert (_c.PL_LOCK_SH, _c.PL_LOCK_EX, _c.PL_LOCK_NB, _c.PL_LOCK_UN) == (1, 2, 4, 8)


def test_flags_round_trip_through_the_c_handle(workdir):
    lock = cpl.Lock('f')
    assert lock.flags == EX | NB
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_EX | _c.PL_LOCK_NB
    lock.flags = SH
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_SH
    assert lock.flags is SH
    lock.flags = 0x2 | 0x4  # raw numbers, as code for the reference passes them
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_SH | _c.PL_LOCK_NB
    assert lock.flags == SH | NB
    lock.flags = 0x1
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_EX


def test_raw_shared_value_takes_a_shared_lock(workdir):
    # 0x2 is SHARED here (the core's EXCLUSIVE): two holders, an
    # exclusive request refused.
    a, b = cpl.Lock('f', flags=0x2 | 0x4), cpl.Lock('f', flags=SH | NB)
    # The reference's own enum members mean the same here too.
    c = cpl.Lock('f', flags=ref.LockFlags.SHARED | ref.LockFlags.NON_BLOCKING)
    a.acquire()
    b.acquire()
    c.acquire()
    c.release()
    assert not we_can_lock('f', 0x1 | 0x4)
    assert we_can_lock('f', 0x2 | 0x4)
    with open('f', 'a') as fh:
        cpl.lock(fh, 0x2 | 0x4)  # the module-level lock() too
        cpl.unlock(fh)
    a.release()
    b.release()
    assert we_can_lock('f', EX | NB)


def test_raw_exclusive_value_excludes_shared(workdir):
    with cpl.Lock('f', flags=0x1 | 0x4):
        assert not we_can_lock('f', 0x2 | 0x4)


def test_blocking_flags_warn_about_the_timeout(workdir):
    # EXCLUSIVE without NON_BLOCKING: blocking (the core's flags agree).
    with pytest.warns(UserWarning, match='no effect in blocking mode'):
        cpl.Lock('f', timeout=1, flags=EX)
    assert _c.pl_lock_get_flags(cpl.Lock('f', flags=EX)._handle) == _c.PL_LOCK_EX


def test_bits_that_mean_nothing_on_windows_are_refused(workdir):
    with pytest.raises(cpl.exceptions.InvalidArgument, match=r'unknown bits 0x8 in lock flags 0x9: .*EXCLUSIVE 0x1'):
        cpl.Lock('f', flags=0x8 | 0x1)
    with open('f', 'a') as fh:
        with pytest.raises(cpl.exceptions.InvalidArgument, match='0x10'):
            cpl.lock(fh, 0x1 | 0x10)  # the default MsvcrtLocker
        for locker in (plmod.Win32Locker(), plmod.MsvcrtLocker()):
            with pytest.raises(cpl.exceptions.InvalidArgument, match='0x20'):
                locker.lock(fh, 0x2 | 0x20)
        with pytest.raises(cpl.exceptions.InvalidArgument, match='0x8'):
            plmod.flock_lock(fh, 0x8)
        assert we_can_lock('f', EX | NB)  # nothing held


def test_unblock_is_zero_and_unlocks_through_flock_lock(workdir):
    with open('f', 'a') as fh:
        plmod.flock_lock(fh, EX | NB)
        assert not we_can_lock('f', EX | NB)
        plmod.flock_lock(fh, cpl.LOCK_UN)  # 0, as fcntl.flock(fd, LOCK_UN)
        assert we_can_lock('f', EX | NB)
    with pytest.raises(ValueError, match='UNBLOCK'):
        cpl.Lock('f', flags=cpl.LockFlags.UNBLOCK)
    with open('f', 'a') as fh, pytest.raises(RuntimeError, match='lock type'):
        cpl.lock(fh, cpl.LockFlags.UNBLOCK)  # as the reference there


def test_redis_lock_flags_reach_the_core_as_its_values():
    shared = cpl.RedisLock('win-flags', flags=SH)
    assert _c.pl_redis_lock_get_flags(shared._handle) == _c.PL_LOCK_SH
    exclusive = cpl.RedisLock('win-flags', flags=cpl.LockFlags(0x1))
    assert _c.pl_redis_lock_get_flags(exclusive._handle) == _c.PL_LOCK_EX
    with pytest.raises(ValueError):
        cpl.RedisLock('win-flags', flags=EX | SH)


# ---- the reference's Windows lockers, ours ---------------------------------

def test_windows_lockers_exist_and_the_default_is_the_references():
    assert plmod.LOCKER is plmod.MsvcrtLocker
    assert ref.portalocker.LOCKER is ref.portalocker.MsvcrtLocker
    assert {'MsvcrtLocker', 'Win32Locker'} <= set(plmod.__all__)
    assert issubclass(plmod.Win32Locker, plmod.BaseLocker)
    assert issubclass(plmod.MsvcrtLocker, plmod.BaseLocker)
    # Siblings, as the reference's (isinstance checks mean the same).
    assert not issubclass(plmod.MsvcrtLocker, plmod.Win32Locker)
    assert not issubclass(ref.portalocker.MsvcrtLocker, ref.portalocker.Win32Locker)
    assert plmod.current_mechanism() == 'flock'


@pytest.fixture
def locker():
    """Restores cportalocker's LOCKER after the test."""
    saved = plmod.LOCKER
    yield plmod
    plmod.LOCKER = saved


class _Sub(plmod.Win32Locker):
    """A subclass that keeps the methods: still the C core's lock."""


@pytest.mark.parametrize('form', ['Win32Locker', 'MsvcrtLocker', 'Win32Locker()',
                                  'MsvcrtLocker()', 'subclass'])
def test_lock_classes_and_lock_work_with_each_windows_locker(workdir, locker, form):
    locker.LOCKER = {
        'Win32Locker': plmod.Win32Locker, 'MsvcrtLocker': plmod.MsvcrtLocker,
        'Win32Locker()': plmod.Win32Locker(), 'MsvcrtLocker()': plmod.MsvcrtLocker(),
        'subclass': _Sub,
    }[form]
    assert plmod.current_mechanism() == 'flock'
    with cpl.Lock('f', fail_when_locked=True):
        assert not ref_can_lock(workdir / 'f', 'portalocker.LOCK_SH | portalocker.LOCK_NB')
    with cpl.Lock('f', flags=SH | NB), cpl.Lock('f', flags=SH | NB):
        assert ref_can_lock(workdir / 'f', 'portalocker.LOCK_SH | portalocker.LOCK_NB')
        assert not ref_can_lock(workdir / 'f', 'portalocker.LOCK_EX | portalocker.LOCK_NB')
    with open('f', 'a') as fh:
        cpl.lock(fh, EX | NB)
        assert not ref_can_lock(workdir / 'f', 'portalocker.LOCK_EX | portalocker.LOCK_NB')
        cpl.unlock(fh)
    assert ref_can_lock(workdir / 'f', 'portalocker.LOCK_EX | portalocker.LOCK_NB')


def test_a_subclass_with_its_own_lock_is_a_custom_locker(workdir, locker):
    calls = []

    class Mine(plmod.MsvcrtLocker):
        def lock(self, file_obj, flags):
            calls.append(int(flags))
            super().lock(file_obj, flags)

    locker.LOCKER = Mine
    with open('f', 'a') as fh:
        cpl.lock(fh, EX | NB)
        cpl.unlock(fh)
    assert calls == [0x5]
    with pytest.raises(cpl.exceptions.Unsupported, match='MsvcrtLocker, Win32Locker'):
        cpl.Lock('f').acquire()


def test_locker_methods_follow_the_references_flag_rules(workdir):
    # Win32Locker: no EXCLUSIVE is shared (LockFileEx's default), as the
    # reference's; MsvcrtLocker: no SHARED is exclusive, as the reference's.
    w, m = plmod.Win32Locker(), plmod.MsvcrtLocker()
    with open('f', 'a') as a, open('f', 'a') as b:
        w.lock(a, cpl.LockFlags(0))
        w.lock(b, NB)
        assert not we_can_lock('f', EX | NB)
        assert we_can_lock('f', SH | NB)
        w.unlock(a)
        w.unlock(b)
        w.unlock(b)  # nothing held: no error, as the reference
        m.lock(a, NB)
        assert not we_can_lock('f', SH | NB)
        with pytest.raises(cpl.AlreadyLocked):
            m.lock(b, NB)
        m.unlock(a)
        m.lock(a, SH | NB)
        assert we_can_lock('f', SH | NB)
        m.unlock(a)


# ---- the reference's pywin32 Win32Locker, between processes ----------------

def test_pywin32_is_there_for_the_reference():
    import win32file  # noqa: F401 - the wheel's extension modules load

    ref.portalocker.Win32Locker()  # raises ImportError without pywin32


@pytest.mark.parametrize('ours', ['exclusive', 'shared'])
def test_reference_win32_locker_against_our_holder(workdir, ours):
    flags = EX | NB if ours == 'exclusive' else SH | NB
    with cpl.Lock('f', flags=flags):
        assert ref_can_lock(workdir / 'f', 'portalocker.LOCK_EX | portalocker.LOCK_NB') is False
        assert ref_can_lock(workdir / 'f', 'portalocker.LOCK_SH | portalocker.LOCK_NB') is (
            ours == 'shared')
    assert ref_can_lock(workdir / 'f', 'portalocker.LOCK_EX | portalocker.LOCK_NB')


@pytest.mark.parametrize('theirs', ['exclusive', 'shared'])
def test_our_locks_against_a_reference_win32_holder(workdir, holder, theirs):
    flag = 'LOCK_EX' if theirs == 'exclusive' else 'LOCK_SH'
    h = holder(REF_WIN32 + 'fh = open("f", "a")\n'
               f'portalocker.lock(fh, portalocker.{flag} | portalocker.LOCK_NB)',
               after='portalocker.unlock(fh)')
    with pytest.raises(cpl.AlreadyLocked):
        cpl.Lock('f', fail_when_locked=True).acquire()
    assert we_can_lock('f', SH | NB) is (theirs == 'shared')
    # A waiter gets it once the reference unlocks (with UnlockFileEx).
    result = {}

    def wait():
        try:
            with cpl.Lock('f', timeout=30, check_interval=0.05):
                result['got'] = True
        except Exception as exc:  # pragma: no cover - reported below
            result['error'] = exc

    t = threading.Thread(target=wait)
    t.start()
    h.finish()
    t.join(60)
    assert result == {'got': True}


@pytest.mark.parametrize('theirs', ['exclusive', 'shared'])
def test_the_references_lock_class_with_win32_locker(workdir, holder, theirs, monkeypatch):
    # In this process too: the reference's Lock (LOCKER = Win32Locker)
    # against a cportalocker holder in another, and the other way round.
    monkeypatch.setattr(ref.portalocker, 'LOCKER', ref.portalocker.Win32Locker)
    flags = ref.LockFlags.EXCLUSIVE if theirs == 'exclusive' else ref.LockFlags.SHARED
    h = holder('import cportalocker as pl\nl = pl.Lock("f", flags=pl.LockFlags.SHARED)\n'
               'l.acquire()', after='l.release()')
    if theirs == 'exclusive':
        with pytest.raises(ref.AlreadyLocked):
            ref.Lock('f', fail_when_locked=True, flags=flags | ref.LockFlags.NON_BLOCKING).acquire()
    else:
        with ref.Lock('f', fail_when_locked=True, flags=flags | ref.LockFlags.NON_BLOCKING):
            pass
    h.finish()
    lock = ref.Lock('f', fail_when_locked=True, flags=flags | ref.LockFlags.NON_BLOCKING)
    lock.acquire()
    try:
        with pytest.raises(cpl.AlreadyLocked):
            cpl.Lock('f', fail_when_locked=True).acquire()
        assert we_can_lock('f', SH | NB) is (theirs == 'shared')
    finally:
        lock.release()
    assert we_can_lock('f', EX | NB)


def test_reference_default_locker_shared_lock_with_pywin32(workdir, holder):
    # With pywin32 the reference's default MsvcrtLocker takes its shared
    # locks through Win32Locker; the holder never unlocks (msvcrt's
    # unlock fails under wine): its exit releases.
    h = holder('import portalocker\nfh = open("f", "a")\n'
               'portalocker.lock(fh, portalocker.LOCK_SH | portalocker.LOCK_NB)')
    assert ref.portalocker.LOCKER is ref.portalocker.MsvcrtLocker
    assert we_can_lock('f', SH | NB)
    assert not we_can_lock('f', EX | NB)
    h.finish()
    assert we_can_lock('f', EX | NB)


@pytest.mark.parametrize('kind', ['TemporaryFileLock', 'PidFileLock'])
def test_a_lock_file_another_process_keeps_open_is_released_and_logged(workdir, kind, caplog):
    # A reader that opened the held file through the CRT (as Python's
    # open() and the reference's waiters do) shares no delete: the file
    # cannot be removed while it is open. The lock is released all the
    # same, the failure logged (raised with raise_on_release_error), as
    # the reference does; the reader then takes the lock on that file.
    path = str(workdir / f'kept.{kind}')
    lock = getattr(cpl, kind)(path)
    lock.acquire()
    reader = open(path, 'rb')
    try:
        with caplog.at_level('WARNING', logger='cportalocker'):
            lock.release()
        assert 'suppressed error while releasing' in caplog.text
        assert 'remove' in caplog.text
        again = getattr(cpl, kind)(path, raise_on_release_error=True)
        again.acquire()
        with pytest.raises(OSError):
            again.release()
        assert not _c.pl_lock_is_held(again._handle)
        with open(path, 'a') as fh:
            cpl.lock(fh, EX | NB)
            cpl.unlock(fh)
    finally:
        reader.close()
