"""The reference's subclass hooks (_get_fh, _get_lock, _prepare_fh), the
C fast path they switch off, and `with lock:` keeping the block's
exception when the release fails too."""

import os

import pytest

import cportalocker as cpl
from cportalocker import portalocker as plmod
from cportalocker import utils

# fcntl.flock, or on Windows (no fcntl) the core's lock that stands in
# for it there.
_flock = plmod._DEFAULT_FLOCK


def held_elsewhere(path):
    """True if another open file description cannot take the lock."""
    with open(path, 'a') as probe:
        try:
            _flock(probe, cpl.LOCK_EX | cpl.LOCK_NB)
        except (BlockingIOError, cpl.AlreadyLocked):
            return True
        _flock(probe, cpl.LOCK_UN)
        return False


def test_plain_classes_take_the_c_fast_path():
    for cls in (cpl.Lock, cpl.TemporaryFileLock):
        assert type(vars(cpl.Lock)['acquire']).__name__ == 'instancemethod'
        assert cls is cpl.Lock or cls in utils._FAST_TYPES
        assert not cls._hooked

    class Plain(cpl.Lock):
        pass

    assert Plain in utils._FAST_TYPES


def test_get_fh_override_is_called_and_its_file_locked(workdir):
    calls = []

    class MyLock(cpl.Lock):
        def _get_fh(self):
            calls.append('get_fh')
            fh = open(self.filename, 'a+', encoding='latin-1')
            fh.custom = True
            return fh

    assert MyLock not in utils._FAST_TYPES
    lock = MyLock('f.lock', timeout=0)
    with lock as fh:
        assert calls == ['get_fh']
        assert fh.custom and fh.encoding == 'latin-1'
        assert lock.fh is fh
        assert held_elsewhere('f.lock')
        with pytest.raises(cpl.AlreadyLocked):
            MyLock('f.lock', fail_when_locked=True).acquire()
    assert fh.closed
    assert not held_elsewhere('f.lock')


def test_get_lock_and_prepare_fh_overrides(workdir):
    order = []

    class MyLock(cpl.Lock):
        def _get_lock(self, fh):
            order.append('lock')
            return super()._get_lock(fh)

        def _prepare_fh(self, fh):
            order.append('prepare')
            fh = super()._prepare_fh(fh)
            fh.write('header\n')
            return fh

    with open('f.lock', 'w') as f:
        f.write('old contents\n')
    with MyLock('f.lock', 'w') as fh:
        assert held_elsewhere('f.lock')
        fh.write('body\n')
    assert order == ['lock', 'prepare']
    with open('f.lock') as f:
        assert f.read() == 'header\nbody\n'  # 'w': truncated once locked


def test_hooked_lock_retries_until_timeout_and_reports_contention(workdir):
    class MyLock(cpl.Lock):
        def _get_lock(self, fh):
            return super()._get_lock(fh)

    holder = cpl.Lock('f.lock')
    holder.acquire()
    try:
        lock = MyLock('f.lock', timeout=0.3, check_interval=0.05)
        with pytest.raises(cpl.AlreadyLocked):
            lock.acquire()
        assert lock.fh is None
    finally:
        holder.release()
    assert lock.acquire() is lock.fh
    lock.release()
    lock.release()  # a no-op, as for plain locks


def test_hooked_get_lock_failure_closes_the_file(workdir):
    opened = []

    class Broken(cpl.Lock):
        def _get_fh(self):
            fh = super()._get_fh()
            opened.append(fh)
            return fh

        def _get_lock(self, fh):
            raise RuntimeError('no locking today')

    with pytest.raises(cpl.LockException) as info:
        Broken('f.lock').acquire()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert opened[0].closed


def test_hooked_default_get_fh_refuses_a_fifo(workdir):
    os.mkfifo('fifo')

    class MyLock(cpl.Lock):
        def _prepare_fh(self, fh):
            return fh

    with pytest.raises(cpl.LockException, match='not a regular file'):
        MyLock('fifo', timeout=1).acquire()


def test_hooked_rlock_counts(workdir):
    class MyRLock(cpl.RLock):
        def _prepare_fh(self, fh):
            return fh

    lock = MyRLock('f.lock')
    fh = lock.acquire()
    assert lock.acquire() is fh
    assert lock._acquire_count == 2
    lock.release()
    assert held_elsewhere('f.lock')
    lock.release()
    assert not held_elsewhere('f.lock')
    with pytest.raises(cpl.LockException):
        lock.release()


@pytest.mark.parametrize(('kind', 'hook'), [
    ('TemporaryFileLock', '_get_lock'), ('TemporaryFileLock', '_prepare_fh'),
    ('PidFileLock', '_get_fh'), ('PidFileLock', '_get_lock'),
])
def test_hooks_that_cannot_be_honoured_are_a_clear_error(kind, hook):
    with pytest.raises(TypeError, match=f'overrides {hook}: a {kind} cannot honour'):
        type('Bad', (getattr(cpl, kind),), {hook: lambda self, *a: None})


def test_a_shadowed_attribute_takes_the_python_path(workdir):
    class Slow(cpl.Lock):
        @property
        def timeout(self):
            return 0

        @timeout.setter
        def timeout(self, value):
            pass

    assert Slow not in utils._FAST_TYPES
    with Slow('f.lock') as fh:
        assert not fh.closed
        holder = cpl.Lock('f.lock')
        start = os.times().elapsed
        with pytest.raises(cpl.AlreadyLocked):
            Slow('f.lock').acquire()  # timeout 0 from the property
        assert os.times().elapsed - start < 3  # the default timeout would wait 5 s


def test_an_overridden_acquire_is_what_with_calls(workdir):
    calls = []

    class Counting(cpl.Lock):
        def acquire(self, *args, **kwargs):
            calls.append('acquire')
            return super().acquire(*args, **kwargs)

        def release(self):
            calls.append('release')
            super().release()

    with Counting('f.lock'):
        pass
    assert calls == ['acquire', 'release']


# ---- with: the block's exception wins over a release error --------------

def _break_release(fh):
    """Make the release fail: buffered data and a descriptor that is gone."""
    fh.write('unflushed')
    os.close(fh.fileno())


@pytest.mark.parametrize('hooked', [False, True])
def test_release_error_is_chained_under_the_block_exception(workdir, hooked):
    cls = cpl.Lock
    if hooked:
        class cls(cpl.Lock):  # noqa: N801
            def _prepare_fh(self, fh):
                return fh

    with pytest.raises(ValueError, match='from the block') as info:
        with cls('f.lock', raise_on_release_error=True) as fh:
            _break_release(fh)
            raise ValueError('from the block')
    context = info.value.__context__
    # the first failure: closing (flush) for the C path, the unlock for
    # the hook path (portalocker.unlock), as in the reference
    assert isinstance(context, (OSError, cpl.LockException)), repr(context)
    assert context.__context__ is not info.value  # no cycle
    if hasattr(info.value, '__notes__'):
        assert any('release failed' in n for n in info.value.__notes__)


def test_release_error_without_a_block_exception_is_raised(workdir):
    with pytest.raises(OSError):
        with cpl.Lock('f.lock', raise_on_release_error=True) as fh:
            _break_release(fh)


def test_release_error_is_logged_by_default(workdir, caplog):
    with pytest.raises(KeyError):
        with cpl.Lock('f.lock') as fh:
            _break_release(fh)
            raise KeyError('body')
    assert 'suppressed error while releasing' in caplog.text


# ---- hooks assigned after the class was made (monkeypatching) ----------

def test_a_hook_assigned_to_an_object_is_honoured(workdir):
    lock = cpl.Lock('f.lock', mode='w', timeout=0)

    def broken_prepare(fh):
        raise PermissionError('simulated append-only file')

    lock._prepare_fh = broken_prepare
    with pytest.raises(PermissionError):
        lock.acquire()
    assert lock.fh is None
    assert not held_elsewhere('f.lock')  # unlocked and closed again
    del lock._prepare_fh
    with lock as fh:  # Lock's own again: the C path
        assert held_elsewhere('f.lock')
        assert not fh.closed


def test_a_hook_patched_on_the_class_is_honoured(workdir, monkeypatch):
    calls = []
    original = cpl.Lock._get_lock

    def spy(self, fh):
        calls.append(fh)
        return original(self, fh)

    lock = cpl.Lock('f.lock')
    with lock:
        pass  # the C path, before the patch
    monkeypatch.setattr(cpl.Lock, '_get_lock', spy)
    with lock as fh:
        assert calls == [fh]
        assert held_elsewhere('f.lock')
    assert not held_elsewhere('f.lock')
    monkeypatch.undo()
    with lock:
        pass
    assert len(calls) == 1


def test_a_hook_assigned_to_a_temporary_file_lock_is_refused(workdir):
    lock = cpl.TemporaryFileLock('t.lock')
    lock._get_lock = lambda fh: fh
    with pytest.raises(cpl.exceptions.Unsupported, match='cannot honour'):
        lock.acquire()
    assert not os.path.exists('t.lock')
