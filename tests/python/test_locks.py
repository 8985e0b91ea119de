"""Lock, RLock, TemporaryFileLock, PidFileLock, semaphores, open_atomic,
lock()/unlock(): behaviour within one process and against a second one."""

import io
import os
import time
import warnings

import pytest

import cportalocker as cpl


# ---- lock() / unlock() ---------------------------------------------------

class HasFileno:
    def __init__(self, fh):
        self._fh = fh

    def fileno(self):
        return self._fh.fileno()


@pytest.mark.parametrize('kind', ['file', 'int', 'fileno'])
def test_lock_unlock_accept_files_ints_and_fileno(workdir, kind):
    with open('f', 'w') as fh, open('f', 'w') as other:
        arg = {'file': fh, 'int': fh.fileno(), 'fileno': HasFileno(fh)}[kind]
        cpl.lock(arg, cpl.LOCK_EX | cpl.LOCK_NB)
        # flock: a second open file description in this process contends.
        with pytest.raises(cpl.AlreadyLocked) as info:
            cpl.lock(other, cpl.LOCK_EX | cpl.LOCK_NB)
        assert info.value.fh is other
        cpl.unlock(arg)
        cpl.lock(other, cpl.LOCK_EX | cpl.LOCK_NB)
        cpl.unlock(other)


def test_shared_locks_coexist(workdir):
    with open('f', 'w') as a, open('f', 'w') as b, open('f', 'w') as c:
        cpl.lock(a, cpl.LOCK_SH | cpl.LOCK_NB)
        cpl.lock(b, cpl.LOCK_SH | cpl.LOCK_NB)
        with pytest.raises(cpl.AlreadyLocked):
            cpl.lock(c, cpl.LOCK_EX | cpl.LOCK_NB)


# ---- Lock ---------------------------------------------------------------

def test_lock_returns_real_text_file_object(workdir):
    lock = cpl.Lock('f', timeout=1)
    fh = lock.acquire()
    assert isinstance(fh, io.TextIOWrapper)
    assert fh.name == str(workdir / 'f') and fh.mode == 'a'
    print('hello', file=fh)
    assert lock.acquire() is fh  # same handle while held
    lock.release()
    assert fh.closed and lock.fh is None
    assert (workdir / 'f').read_text() == 'hello\n'
    lock.release()  # not held: no-op


def test_lock_binary_and_open_kwargs(workdir):
    (workdir / 'f').write_bytes(b'abc')
    with cpl.Lock('f', 'rb+') as fh:
        assert isinstance(fh, io.BufferedRandom)
        assert fh.read() == b'abc'
        fh.seek(0)
        fh.write(b'X')
    assert (workdir / 'f').read_bytes() == b'Xbc'
    with cpl.Lock('f', 'ab', buffering=0) as fh:
        assert isinstance(fh, io.FileIO)
    with cpl.Lock('g', 'w', encoding='latin-1') as fh:
        assert fh.encoding == 'latin-1'
        fh.write('\xe9')
    assert (workdir / 'g').read_bytes() == b'\xe9'


def test_w_mode_truncates_only_after_locking(workdir, holder):
    h = holder(
        'import cportalocker as pl\n'
        'l = pl.Lock("f", "w"); fh = l.acquire(); fh.write("holder data"); fh.flush()'
    )
    with pytest.raises(cpl.AlreadyLocked):
        cpl.Lock('f', 'w', fail_when_locked=True).acquire()
    assert (workdir / 'f').read_text() == 'holder data'  # not wiped
    h.finish()
    with cpl.Lock('f', 'w') as fh:
        assert fh.mode == 'a'
        fh.write('mine')
    assert (workdir / 'f').read_text() == 'mine'


def test_context_releases_on_exception(workdir):
    lock = cpl.Lock('f', fail_when_locked=True)
    with pytest.raises(ZeroDivisionError):
        with lock as fh:
            fh.write('x')
            1 / 0
    assert lock.fh is None
    with cpl.Lock('f', fail_when_locked=True) as fh:
        assert not fh.closed


def test_timeout_waits_then_fails(workdir):
    with cpl.Lock('f'):
        start = time.monotonic()
        with pytest.raises(cpl.AlreadyLocked):
            cpl.Lock('f', timeout=0.3, check_interval=0.05).acquire()
        elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 4, elapsed


def test_per_call_overrides(workdir):
    with cpl.Lock('f'):
        other = cpl.Lock('f', timeout=30)
        start = time.monotonic()
        with pytest.raises(cpl.AlreadyLocked):
            other.acquire(timeout=0.1)
        with pytest.raises(cpl.AlreadyLocked):
            other.acquire(fail_when_locked=True)
        assert time.monotonic() - start < 5
    # attributes changed after construction are honoured
    other.timeout = 0
    with cpl.Lock('f'):
        with pytest.raises(cpl.AlreadyLocked):
            other.acquire()


def test_blocking_timeout_warning_like_the_reference(workdir):
    with pytest.warns(UserWarning, match='timeout has no effect in blocking mode') as rec:
        cpl.Lock('f', timeout=1, flags=cpl.LOCK_EX)
    assert rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        cpl.Lock('f', timeout=1)  # non-blocking: no warning
        cpl.Lock('f', flags=cpl.LOCK_EX)  # no explicit timeout: no warning


def test_lock_file_is_never_deleted(workdir):
    with cpl.Lock('f'):
        pass
    assert (workdir / 'f').exists()


def test_release_error_in_body_keeps_body_exception(workdir):
    lock = cpl.Lock('f')
    with pytest.raises(KeyError):
        with lock as fh:
            fh.close()  # closing the Python object early is harmless
            raise KeyError('body')
    assert lock.fh is None


# ---- RLock ----------------------------------------------------------------

def test_rlock_counts_per_instance(workdir):
    lock = cpl.RLock('f', fail_when_locked=True)
    a = lock.acquire()
    b = lock.acquire()
    assert a is b and lock._acquire_count == 2
    with pytest.raises(cpl.AlreadyLocked):
        cpl.RLock('f', fail_when_locked=True).acquire()  # other instance contends
    lock.release()
    assert not a.closed
    with pytest.raises(cpl.AlreadyLocked):
        cpl.Lock('f', fail_when_locked=True).acquire()
    lock.release()
    assert a.closed
    with cpl.Lock('f', fail_when_locked=True):
        pass
    with pytest.raises(cpl.LockException):
        lock.release()


def test_rlock_context_nesting(workdir):
    lock = cpl.RLock('f')
    with lock as a:
        with lock as b:
            assert a is b
        assert not a.closed
    assert a.closed


# ---- TemporaryFileLock ---------------------------------------------------

def test_temporary_file_lock(workdir):
    lock = cpl.TemporaryFileLock('t.lock')
    assert lock.fail_when_locked is True
    with lock as fh:
        assert (workdir / 't.lock').exists()
        assert fh.name == str(workdir / 't.lock')
        with pytest.raises(cpl.AlreadyLocked):
            cpl.TemporaryFileLock('t.lock').acquire()
    assert not (workdir / 't.lock').exists()


def test_temporary_file_lock_stale_release_does_not_delete(workdir):
    stale = cpl.TemporaryFileLock('t.lock')
    with cpl.TemporaryFileLock('t.lock'):
        stale.release()  # holds nothing: must not delete the holder's file
        assert (workdir / 't.lock').exists()


def test_temporary_file_lock_released_at_exit(workdir, holder):
    h = holder('import cportalocker as pl\nl = pl.TemporaryFileLock("t.lock"); l.acquire()')
    assert (workdir / 't.lock').exists()
    h.finish()  # exits normally without releasing
    assert not (workdir / 't.lock').exists()


# ---- PidFileLock -----------------------------------------------------------

def test_pid_file_lock_enter_returns_none_and_writes_pid(workdir):
    lock = cpl.PidFileLock('app.pid')
    assert lock.read_pid() is None
    with lock as holder_pid:
        assert holder_pid is None
        assert (workdir / 'app.pid').read_text().strip() == str(os.getpid())
        assert lock.read_pid() == os.getpid()
    assert not (workdir / 'app.pid').exists()


def test_pid_file_lock_enter_returns_holder_pid(workdir, holder):
    h = holder('import cportalocker as pl\nl = pl.PidFileLock("app.pid"); l.acquire()')
    ran = False
    lock = cpl.PidFileLock('app.pid')
    with lock as holder_pid:
        ran = True
        assert holder_pid == h.pid
    assert ran
    assert (workdir / 'app.pid').exists()  # exit did not touch the holder's files
    with pytest.raises(cpl.AlreadyLocked) as info:
        with lock.fail_closed():
            raise AssertionError('body must not run')
    assert info.value.holder_pid == h.pid
    with pytest.raises(cpl.AlreadyLocked) as info:
        lock.acquire()
    assert info.value.holder_pid == h.pid
    h.finish()
    with lock.fail_closed():
        assert lock.read_pid() == os.getpid()


def test_pid_file_lock_read_pid_garbage(workdir):
    (workdir / 'app.pid').write_text('not a pid')
    assert cpl.PidFileLock('app.pid').read_pid() is None
    (workdir / 'app.pid').write_text('')
    assert cpl.PidFileLock('app.pid').read_pid() is None


# ---- semaphores -----------------------------------------------------------

def test_bounded_semaphore_warns_without_name(workdir):
    with pytest.warns(DeprecationWarning, match='NamedBoundedSemaphore'):
        cpl.BoundedSemaphore(1, directory=str(workdir))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        cpl.NamedBoundedSemaphore(1, directory=str(workdir))
        cpl.BoundedSemaphore(1, name='x', directory=str(workdir))


def test_semaphore_slots(workdir):
    kw = dict(name='jobs', directory=str(workdir), timeout=0.1, check_interval=0.02)
    a, b, c = (cpl.NamedBoundedSemaphore(2, **kw) for _ in range(3))
    la = a.acquire()
    assert isinstance(la, cpl.Lock) and a.lock is la
    assert la.filename == str(workdir / 'jobs.00.lock')
    assert not la.fh.closed
    assert b.acquire().filename == str(workdir / 'jobs.01.lock')
    with pytest.raises(cpl.AlreadyLocked):
        c.acquire()
    assert c.acquire(fail_when_locked=False) is None
    with pytest.raises(cpl.LockException, match='Already locked'):
        a.acquire()
    a.release()
    assert la.fh is None and a.lock is None
    assert c.acquire().filename == str(workdir / 'jobs.00.lock')
    c.release()
    a.release()  # not held: no-op
    with c:
        assert c.lock is not None
    assert c.lock is None
    assert sorted(p.name for p in workdir.iterdir()) == ['jobs.00.lock', 'jobs.01.lock']


def test_named_semaphore_random_name(workdir):
    s = cpl.NamedBoundedSemaphore(1, directory=str(workdir))
    assert s.name.startswith('bounded_semaphore.')
    with s:
        assert (workdir / f'{s.name}.00.lock').exists()


def test_semaphore_missing_directory_then_usable(workdir):
    s = cpl.NamedBoundedSemaphore(1, name='m', directory=str(workdir / 'nope'))
    with pytest.raises(OSError):
        s.acquire()
    os.mkdir(workdir / 'nope')
    assert s.acquire() is not None
    s.release()


# ---- open_atomic ----------------------------------------------------------

def test_open_atomic_binary_default(workdir):
    with cpl.open_atomic('out') as fh:
        assert 'b' in fh.mode
        fh.write(b'data')
        assert not (workdir / 'out').exists()
    assert (workdir / 'out').read_bytes() == b'data'
    assert os.listdir(workdir) == ['out']


def test_open_atomic_text_and_subdir(workdir):
    with cpl.open_atomic(workdir / 'sub' / 'out', binary=False) as fh:
        fh.write('text')
    assert (workdir / 'sub' / 'out').read_text() == 'text'


def test_open_atomic_never_replaces(workdir):
    (workdir / 'out').write_text('old')
    with pytest.raises(FileExistsError):
        with cpl.open_atomic('out'):
            raise AssertionError('must not enter')
    with pytest.raises(FileExistsError):
        with cpl.open_atomic('new') as fh:
            fh.write(b'mine')
            (workdir / 'new').write_text('theirs')  # appears meanwhile
    assert (workdir / 'new').read_text() == 'theirs'
    # Our finished payload is kept under its temporary name (as the
    # reference): nothing else is left.
    left = sorted(os.listdir(workdir))
    assert left[1:] == ['new', 'out'] and left[0].startswith('.portalocker.')
    assert len(left) == 3


def test_open_atomic_error_in_block_publishes_nothing(workdir):
    with pytest.raises(ValueError):
        with cpl.open_atomic('out') as fh:
            fh.write(b'partial')
            raise ValueError
    assert os.listdir(workdir) == []


def test_exit_sweep_releases_only_this_process_temporary_locks(workdir):
    from cportalocker import utils

    owned = cpl.TemporaryFileLock('owned.lock', timeout=0)
    owned.acquire()
    foreign = cpl.TemporaryFileLock('foreign.lock', timeout=0)
    foreign.acquire()
    utils._exit_releases[foreign] = os.getpid() + 12345  # as a forked child sees it
    try:
        utils._release_locks_at_exit()
        assert not os.path.exists('owned.lock') and owned.fh is None
        assert os.path.exists('foreign.lock') and foreign.fh is not None
    finally:
        utils._exit_releases.pop(foreign, None)
        foreign.release()
