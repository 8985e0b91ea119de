"""The C fast path of Lock builds the file object open() would build, and
hands every case it does not take to the Python methods unchanged."""

import io
import os
import threading

import pytest

import cportalocker as cpl
from cportalocker import utils  # noqa: F401

from conftest import open_fds


def describe(fh):
    raw = fh.buffer.raw if hasattr(fh, 'buffer') else fh.raw
    return {
        'type': type(fh),
        'buffer': type(getattr(fh, 'buffer', None)),
        'raw': type(raw),
        'mode': getattr(fh, 'mode', None),
        'raw_mode': raw.mode,
        'encoding': getattr(fh, 'encoding', None),
        'errors': getattr(fh, 'errors', None),
        'line_buffering': getattr(fh, 'line_buffering', None),
        'readable': fh.readable(),
        'writable': fh.writable(),
        'seekable': fh.seekable(),
        'tell': fh.tell(),
        'closefd': raw.closefd,
    }


@pytest.mark.parametrize('mode', ['a', 'ab', 'r', 'rb', 'r+', 'rb+', 'a+', 'ab+', 'at', 'rt+'])
def test_the_file_object_is_the_one_open_builds(workdir, mode):
    with open('f.lock', 'w') as f:
        f.write('some text\n')
    lock = cpl.Lock('f.lock', mode)
    fh = lock.acquire()
    try:
        with open('f.lock', mode) as ref:
            expected = describe(ref)
        expected['closefd'] = False  # the descriptor is the C core's
        assert describe(fh) == expected
        assert fh.name == os.path.abspath('f.lock')
        if hasattr(fh, 'buffer'):
            # Windows has no st_blksize: open() uses DEFAULT_BUFFER_SIZE there.
            blksize = getattr(os.fstat(fh.fileno()), 'st_blksize', io.DEFAULT_BUFFER_SIZE)
            assert fh.buffer.raw._blksize == blksize
    finally:
        lock.release()
    assert fh.closed


def test_a_w_mode_truncates_once_locked_and_writes_at_the_position(workdir):
    with open('f.lock', 'w') as f:
        f.write('old contents')
    with cpl.Lock('f.lock', 'w') as fh:
        assert fh.mode == 'a'
        fh.write('xy')
        fh.seek(0)
        fh.write('z')
    with open('f.lock') as f:
        assert f.read() == 'zy'


def test_keyword_arguments_and_open_kwargs_take_the_python_path(workdir, monkeypatch):
    calls = []
    real = cpl.Lock._acquire_py

    def spy(self, *args, **kwargs):
        calls.append((args, kwargs))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cpl.Lock, '_acquire_py', spy)
    lock = cpl.Lock('f.lock')
    lock.acquire()
    lock.release()
    assert calls == []  # the plain case: C
    lock.acquire(timeout=1)
    lock.release()
    assert calls == [((), {'timeout': 1})]
    with cpl.Lock('f.lock', encoding='latin-1') as fh:
        assert fh.encoding == 'latin-1'
    assert len(calls) == 2


def test_per_call_values_override_the_attributes(workdir):
    holder = cpl.Lock('f.lock')
    holder.acquire()
    try:
        lock = cpl.Lock('f.lock', timeout=30)
        with pytest.raises(cpl.AlreadyLocked):
            lock.acquire(0, 0.01, True)
        lock.timeout = 0  # attributes are read at each acquire
        with pytest.raises(cpl.AlreadyLocked):
            lock.acquire()
    finally:
        holder.release()


def test_the_file_object_keeps_the_lock_alive(workdir):
    import gc

    fh = cpl.Lock('f.lock').acquire()
    gc.collect()
    with pytest.raises(cpl.AlreadyLocked):
        cpl.Lock('f.lock', fail_when_locked=True).acquire()
    fh.write('still ours')
    fh.flush()
    del fh
    gc.collect()
    cpl.Lock('f.lock', fail_when_locked=True).acquire()


def test_threads_sharing_one_lock_object(workdir):
    fds = open_fds()
    lock = cpl.Lock('f.lock', timeout=10)
    errors = []

    def work():
        try:
            for _ in range(200):
                fh = lock.acquire()
                assert not fh.closed or lock.fh is not fh
                lock.release()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the lock is held by the object, not by a thread: a thread may find it
    # held (returns the same fh) or release another's; never a crash, never
    # a leaked descriptor or a held lock at the end
    lock.release()
    assert errors == []
    assert lock.fh is None
    assert open_fds() == fds
    cpl.Lock('f.lock', fail_when_locked=True).acquire()


def test_a_null_byte_is_a_value_error(workdir):
    with pytest.raises(ValueError):
        cpl.Lock('f\0.lock')


def test_relative_and_unnormalised_paths_are_made_absolute(workdir):
    for given in ('f.lock', './f.lock', str(workdir) + '//f.lock', str(workdir) + '/x/../f.lock'):
        assert cpl.Lock(given).filename == str(workdir / 'f.lock')
    # bytes stay bytes, as os.path.abspath (and the reference) keep them
    assert cpl.Lock(os.fsencode('f.lock')).filename == os.fsencode(workdir / 'f.lock')


def test_the_c_constructor_sets_what_the_python_one_does(workdir):
    class Sub(cpl.Lock):  # not exactly Lock: built by the Python code
        pass

    for args, kwargs in [((), {}), (('rb',), {'timeout': 1}),
                         (('a+', 2.5, 0.1, True), {}),
                         ((), {'fail_when_locked': None, 'timeout': None})]:
        fast = cpl.Lock(str(workdir / 'f.lock'), *args, **kwargs)
        slow = Sub(str(workdir / 'f.lock'), *args, **kwargs)
        a, b = vars(fast), vars(slow)
        assert sorted(a) == sorted(b)
        for key in a:
            if key in ('_waiter', '_handle'):
                assert type(a[key]) is type(b[key])
            else:
                assert a[key] == b[key], key
                assert type(a[key]) is type(b[key]), key
        assert fast.flags == slow.flags and fast.raise_on_release_error == slow.raise_on_release_error
