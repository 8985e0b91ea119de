"""The Python binding on Windows, run under wine by ci/tests.d/windows.sh
with python.org's CPython 3.13 for Windows (ci/win/python.sh) and the
UCRT build of the extension (make windows-python). Plain Python, no pytest
(it runs before windows.sh installs pytest; tests/python then runs under
pytest there too). Not named test_*.py: pytest on Linux must not collect
it. The reference portalocker (4.4.2, pure Python, its default
MsvcrtLocker: msvcrt.locking) runs in child processes of the same
interpreter; these tests need no pywin32 (tests/python/test_windows.py
locks against the reference's pywin32 Win32Locker, once windows.sh has
installed it).

Environment: PYTHONPATH has the cportalocker package, PL_REF_PATH the
directory holding the reference's portalocker package, PL_TEST_TMPDIR a
Windows path for temporary files, PL_WIN_HELPER tests/win's helper,
PL_TEST_REDIS_PORT the redis-server windows.sh started on 127.0.0.1.
Prints one line per test and "N passed, N failed"; exit status 1 on any
failure.
"""

import os
import subprocess
import sys
import tempfile
import time
import traceback

import cportalocker as pl
from cportalocker import portalocker as plp

TMP = tempfile.mkdtemp(prefix='pl-py-', dir=os.environ['PL_TEST_TMPDIR'])
HELPER = os.environ['PL_WIN_HELPER']
REF_PATH = os.environ['PL_REF_PATH']
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def path(name):
    return os.path.join(TMP, name)


def helper(*args):
    return subprocess.run([HELPER, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60).returncode


def reference(code, *, wait=True):
    """A child Python running `code` with the reference portalocker."""
    env = dict(os.environ, PYTHONPATH=REF_PATH)
    proc = subprocess.Popen([sys.executable, '-c', code], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def wait_for(name, seconds=60):
    end = time.monotonic() + seconds
    while not os.path.exists(name):
        assert time.monotonic() < end, f'{name} never appeared'
        time.sleep(0.02)


@test
def default_locker_is_the_references_and_the_flock_mechanism():
    # The reference's default LOCKER on Windows, here the core's LockFileEx.
    assert plp.LOCKER is plp.MsvcrtLocker
    assert issubclass(plp.Win32Locker, plp.BaseLocker)
    assert plp.current_mechanism() == 'flock'
    assert pl.portalocker.mechanism_supported('flock')
    assert not pl.portalocker.mechanism_supported('posix')
    assert not pl.portalocker.mechanism_supported('ofd')


@test
def lock_gives_a_python_file_and_excludes():
    p = path('a.lock')
    lock = pl.Lock(p, fail_when_locked=True, timeout=0)
    fh = lock.acquire()
    fh.write('hello')
    fh.flush()
    try:
        pl.Lock(p, fail_when_locked=True, timeout=0).acquire()
    except pl.AlreadyLocked:
        pass
    else:
        raise AssertionError('a second handle got the lock')
    assert helper('probe', p) == 1, 'another process sees it locked'
    lock.release()
    assert fh.closed
    assert helper('probe', p) == 0
    with open(p) as f:
        assert f.read() == 'hello'


@test
def module_level_lock_on_a_file_object():
    p = path('m.lock')
    with open(p, 'a') as fh:
        pl.lock(fh, pl.LockFlags.EXCLUSIVE | pl.LockFlags.NON_BLOCKING)
        assert helper('probe', p) == 1
        pl.unlock(fh)
        assert helper('probe', p) == 0


@test
def flags_have_the_references_windows_values():
    assert (pl.LOCK_EX, pl.LOCK_SH, pl.LOCK_NB, pl.LOCK_UN) == (1, 2, 4, 0)
    p = path('sh.lock')
    # 0x2 is SHARED here: two holders; another process's exclusive
    # probe sees the file locked.
    a, b = pl.Lock(p, flags=0x2 | 0x4), pl.Lock(p, flags=pl.LockFlags.SHARED | pl.LOCK_NB)
    a.acquire()
    b.acquire()
    assert helper('probe', p) == 1
    try:
        pl.Lock(p, fail_when_locked=True, flags=0x1 | 0x4).acquire()
    except pl.AlreadyLocked:
        pass
    else:
        raise AssertionError('an exclusive lock beside two shared ones')
    a.release()
    b.release()
    assert helper('probe', p) == 0


@test
def posix_mechanism_is_unsupported():
    p = path('x.lock')
    try:
        pl.Lock(p, mechanism='posix').acquire()
    except pl.exceptions.Unsupported:
        pass
    else:
        raise AssertionError('posix record locks on Windows')


@test
def reference_cannot_take_what_we_hold():
    p = path('r1.lock')
    lock = pl.Lock(p, fail_when_locked=True, timeout=0)
    lock.acquire()
    code = f'''
import portalocker, sys
f = open({p!r}, 'a')
try:
    portalocker.lock(f, portalocker.LOCK_EX | portalocker.LOCK_NB)
except portalocker.AlreadyLocked:
    sys.exit(1)
sys.exit(0)
'''
    rc, out = reference(code)
    assert rc == 1, f'reference got the lock we hold ({rc}): {out}'
    lock.release()
    rc, out = reference(code)
    assert rc == 0, f'reference could not lock a free file ({rc}): {out}'


@test
def we_cannot_take_what_the_reference_holds():
    p, ready, go = path('r2.lock'), path('r2.ready'), path('r2.go')
    # The reference holds until our go file (at most 60 s), not for a
    # fixed time a stalled wine process could outlast.
    proc = reference(f'''
import os, portalocker, time
with portalocker.Lock({p!r}, timeout=10):
    open({ready!r}, 'w').close()
    end = time.monotonic() + 60
    while not os.path.exists({go!r}) and time.monotonic() < end:
        time.sleep(0.02)
''', wait=False)
    wait_for(ready)
    try:
        pl.Lock(p, fail_when_locked=True, timeout=0).acquire()
    except pl.AlreadyLocked:
        pass
    else:
        raise AssertionError('we got the lock the reference holds')
    open(go, 'w').close()
    lock = pl.Lock(p, timeout=30, check_interval=0.05)
    lock.acquire()  # once the reference released
    lock.release()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


@test
def rlock_counts():
    p = path('rl.lock')
    r = pl.RLock(p)
    r.acquire()
    r.acquire()
    r.release()
    assert helper('probe', p) == 1
    r.release()
    assert helper('probe', p) == 0


@test
def temporary_and_pid_file_locks():
    t = path('t.lock')
    tl = pl.TemporaryFileLock(t)
    tl.acquire()
    assert os.path.exists(t)
    tl.release()
    assert not os.path.exists(t)
    p = path('app.pid')
    pid = pl.PidFileLock(p)
    pid.acquire()
    assert pid.read_pid() == os.getpid()
    pid.release()
    assert not os.path.exists(p)


@test
def semaphore_slots_and_names():
    d = path('sem')
    os.mkdir(d)
    a = pl.NamedBoundedSemaphore(1, name='w', directory=d, fail_when_locked=True)
    a.acquire()
    b = pl.NamedBoundedSemaphore(1, name='w', directory=d, fail_when_locked=True,
                                 timeout=0.2)
    try:
        b.acquire()
    except pl.AlreadyLocked:
        pass
    else:
        raise AssertionError('two holders of a one-slot semaphore')
    a.release()
    for bad in ('a\\b', 'c:d'):
        try:
            pl.NamedBoundedSemaphore(1, name=bad, directory=d).acquire()
        except (pl.exceptions.InvalidArgument, ValueError):
            pass
        else:
            raise AssertionError(f'semaphore name {bad!r} accepted')


@test
def open_atomic_never_replaces():
    p = path('atomic.txt')
    with pl.open_atomic(p) as fh:
        fh.write(b'one')
    try:
        with pl.open_atomic(p) as fh:
            fh.write(b'two')
    except (pl.exceptions.FileExists, FileExistsError, OSError):
        pass
    else:
        raise AssertionError('open_atomic replaced a file')
    with open(p) as f:
        assert f.read() == 'one'


@test
def redis_lock_over_winsock():
    port = int(os.environ['PL_TEST_REDIS_PORT'])
    chan = f'pl-win-py-{os.getpid()}'
    a = pl.RedisLock(chan, redis_kwargs={'host': '127.0.0.1', 'port': port},
                     fail_when_locked=True)
    b = pl.RedisLock(chan, url=f'redis://127.0.0.1:{port}/0', fail_when_locked=True)
    a.acquire()
    try:
        b.acquire()
    except pl.exceptions.AlreadyLocked:
        pass
    else:
        raise AssertionError('two holders of one Redis lock')
    a.release()
    b.acquire()
    b.release()


@test
def redis_tls_is_unsupported():
    try:
        pl.RedisLock('chan', url='rediss://127.0.0.1:6380').acquire()
    except pl.exceptions.Unsupported as exc:
        assert 'Windows' in str(exc), exc
    else:
        raise AssertionError('TLS on Windows')


def main():
    passed = failed = 0
    for fn in TESTS:
        try:
            fn()
        except Exception:
            failed += 1
            print(f'FAILED {fn.__name__}\n{traceback.format_exc()}')
        else:
            passed += 1
            print(f'ok     {fn.__name__}')
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
