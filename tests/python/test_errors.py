"""Every C error code becomes the exception the C error table names, and
the real failure paths raise what the reference raises."""

import builtins
import errno
import os
import threading

import pytest

import cportalocker as cpl
from cportalocker import _portalocker_c as _c
from cportalocker import exceptions as E

# Names of the C table with a different Python spelling.
ALIASES = {'LockLost': 'LockLostError', 'NoMemory': 'MemoryError'}
ALL_CODES = list(range(-1, _c.pl_error_min() - 1, -1))


def test_table_is_what_we_expect():
    # The three reference classes must be named by the table for their codes.
    assert _c.pl_error_exception(_c.PL_ERR_ALREADY_LOCKED) == 'AlreadyLocked'
    assert _c.pl_error_exception(_c.PL_ERR_LOCK_FAILED) == 'LockException'
    assert _c.pl_error_exception(_c.PL_ERR_FILE_TOO_LARGE) == 'FileToLarge'
    assert len(ALL_CODES) >= 12


def test_ok_does_not_raise():
    assert _c.pl_binding_status(0) is None


@pytest.mark.parametrize('code', ALL_CODES)
def test_every_code_maps_to_the_named_class(code):
    name = _c.pl_error_exception(code)
    assert name, code
    with pytest.raises(BaseException) as info:
        _c.pl_binding_status(code)
    exc = info.value
    assert type(exc).__name__ == ALIASES.get(name, name)
    assert getattr(exc, 'code', code) == code
    # Lock failures are LockExceptions; OS-level ones stay OSError/MemoryError.
    assert isinstance(exc, (E.LockException, OSError, MemoryError))
    if isinstance(exc, E.LockException):
        assert exc.code == code
        assert exc.strerror  # never empty: falls back to pl_strerror


def test_unknown_name_falls_back_to_lock_exception():
    exc = E._from_c(-99, 'SomethingNew', 'msg', 0)
    assert type(exc) is E.LockException and exc.strerror == 'msg'


def test_oserror_names_pick_the_errno_subclass():
    assert type(E._from_c(_c.PL_ERR_IO, 'OSError', 'x', errno.ENOENT)) is FileNotFoundError
    assert type(E._from_c(_c.PL_ERR_IO, 'OSError', 'x', errno.EACCES)) is PermissionError
    assert isinstance(E._from_c(_c.PL_ERR_EXISTS, 'FileExists', 'x', 0), FileExistsError)
    assert issubclass(E.ConnectionError, E.LockException)
    assert issubclass(E.ConnectionError, builtins.ConnectionError)


def test_contention_raises_already_locked(workdir):
    with cpl.Lock('f', fail_when_locked=True):
        with pytest.raises(cpl.AlreadyLocked) as info:
            cpl.Lock('f', fail_when_locked=True).acquire()
    exc = info.value
    assert exc.code == _c.PL_ERR_ALREADY_LOCKED
    assert 'f' in exc.strerror
    assert isinstance(exc.args[0], OSError) and exc.args[0].errno in (errno.EAGAIN, errno.EACCES)


def test_lock_on_bad_fd_is_lock_exception():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(cpl.LockException) as info:
        cpl.lock(r, cpl.LOCK_EX | cpl.LOCK_NB)
    assert not isinstance(info.value, cpl.AlreadyLocked)
    assert info.value.args[0].errno == errno.EBADF
    assert info.value.fh == r
    with pytest.raises(cpl.LockException):
        cpl.unlock(r)


def test_flag_errors_are_runtime_errors_like_the_reference(workdir):
    with open('f', 'w') as fh:
        for flags in (cpl.LOCK_NB, cpl.LOCK_UN, cpl.LOCK_EX | cpl.LOCK_SH, 0):
            with pytest.raises(RuntimeError):
                cpl.lock(fh, flags)
    with pytest.raises(TypeError):
        cpl.lock(object(), cpl.LOCK_EX)


def test_invalid_argument_is_value_error(workdir):
    h = _c.pl_lock_new(str(workdir / 'f'))
    with pytest.raises(E.InvalidArgument) as info:
        _c.pl_lock_set_timeout(h, -1.0)
    assert isinstance(info.value, ValueError)
    assert 'timeout' in info.value.strerror
    with pytest.raises(ValueError):
        cpl.Lock('f', mode='q')


def test_rlock_over_release(workdir):
    lock = cpl.RLock('f')
    with pytest.raises(cpl.LockException, match='Cannot release more times than acquired'):
        lock.release()


def test_invalid_state_semaphore_acquire_twice(workdir):
    sem = _c.pl_semaphore_new(1, 'x')
    _c.pl_semaphore_set_directory(sem, str(workdir))
    _c.pl_semaphore_acquire(sem)
    with pytest.raises(E.InvalidState):
        _c.pl_semaphore_acquire(sem)


def test_missing_directory_is_file_not_found(workdir):
    with pytest.raises(FileNotFoundError):
        cpl.Lock(workdir / 'missing' / 'f').acquire()
    with pytest.raises(FileNotFoundError):
        cpl.Lock(workdir / 'nofile', 'r').acquire()


def test_error_message_is_per_thread(workdir):
    """The message is read in the thread that failed, even while other
    threads fail concurrently (the GIL is released during the call)."""
    errors = {}

    def worker(i):
        msgs = []
        for _ in range(200):
            try:
                cpl.Lock(workdir / f'missing{i}' / 'f').acquire()
            except FileNotFoundError as exc:
                msgs.append(str(exc))
        errors[i] = msgs

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, msgs in errors.items():
        assert len(msgs) == 200
        assert all(f'missing{i}' in m for m in msgs), msgs[:3]
