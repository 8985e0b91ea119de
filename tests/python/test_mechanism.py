"""The lock mechanism (flock / POSIX record / OFD) chosen through the
binding is the one the C core really uses.

The lock is taken here; a child process that does not load the library
probes the file with flock(2), with fcntl.lockf and with F_GETLK (which
names the holder's PID for a POSIX lock and -1 for an OFD lock).
"""

import sys

import pytest

if sys.platform == 'win32':
    pytest.skip('POSIX only: the flock / fcntl record / OFD mechanisms and fcntl itself; Windows has LockFileEx alone (the posix and ofd mechanisms are Unsupported there: tests/win)', allow_module_level=True)


import fcntl
import json
import os
import struct
import subprocess


import cportalocker as cpl
from cportalocker import exceptions
from cportalocker import portalocker as plmod

PROBE = r'''
import fcntl, json, struct, sys
path = sys.argv[1]
out = {}
with open(path, 'a') as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out['flock'] = False
    except OSError:
        out['flock'] = True
with open(path, 'a') as f:
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out['lockf'] = False
    except OSError:
        out['lockf'] = True
with open(path, 'a') as f:
    fmt = 'hhqqi4x'
    res = fcntl.fcntl(f, fcntl.F_GETLK, struct.pack(fmt, fcntl.F_WRLCK, 0, 0, 0, 0))
    l_type, _, _, _, pid = struct.unpack(fmt, res)
    out['getlk_pid'] = None if l_type == fcntl.F_UNLCK else pid
print(json.dumps(out))
'''

FREE = {'flock': False, 'lockf': False, 'getlk_pid': None}


def probe(path):
    out = subprocess.run(
        [sys.executable, '-c', PROBE, os.fspath(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return json.loads(out.stdout)


def expected(mechanism):
    return {
        'flock': {'flock': True, 'lockf': False, 'getlk_pid': None},
        'posix': {'flock': False, 'lockf': True, 'getlk_pid': os.getpid()},
        'ofd': {'flock': False, 'lockf': True, 'getlk_pid': -1},
    }[mechanism]


MECHANISMS = ['flock', 'posix', 'ofd']


def need(mechanism):
    if not plmod.mechanism_supported(mechanism):  # pragma: no cover - not Linux
        pytest.skip(f'{mechanism} locks are not supported here')


@pytest.fixture
def locker():
    """Restores portalocker.LOCKER after the test."""
    saved = plmod.LOCKER
    yield plmod
    plmod.LOCKER = saved


# Each class: (make it, the path its lock is on).
def make_lock(kind, workdir, **kw):
    if kind == 'Lock':
        return cpl.Lock('f', fail_when_locked=True, **kw), workdir / 'f'
    if kind == 'RLock':
        return cpl.RLock('f', fail_when_locked=True, **kw), workdir / 'f'
    if kind == 'TemporaryFileLock':
        return cpl.TemporaryFileLock('t.lock', **kw), workdir / 't.lock'
    if kind == 'PidFileLock':
        return cpl.PidFileLock('p.pid', **kw), workdir / 'p.pid.lock'
    if kind == 'NamedBoundedSemaphore':
        sem = cpl.NamedBoundedSemaphore(1, name='sem', directory=str(workdir), **kw)
        return sem, sem.get_filename(0)
    if kind == 'BoundedSemaphore':
        sem = cpl.BoundedSemaphore(1, name='bsem', directory=str(workdir), **kw)
        return sem, sem.get_filename(0)
    raise AssertionError(kind)


KINDS = ['Lock', 'RLock', 'TemporaryFileLock', 'PidFileLock',
         'BoundedSemaphore', 'NamedBoundedSemaphore']


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mechanism', MECHANISMS)
def test_mechanism_keyword_is_the_lock_taken(workdir, kind, mechanism):
    need(mechanism)
    lock, path = make_lock(kind, workdir, mechanism=mechanism)
    assert lock.mechanism == mechanism
    lock.acquire()
    try:
        assert probe(path) == expected(mechanism)
    finally:
        lock.release()
    if kind != 'TemporaryFileLock' and kind != 'PidFileLock':  # those files go
        assert probe(path) == FREE


@pytest.mark.parametrize('mechanism', MECHANISMS)
def test_module_lock_unlock_mechanism_keyword(workdir, mechanism):
    need(mechanism)
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB, mechanism=mechanism)
        assert probe('f') == expected(mechanism)
        cpl.unlock(fh, mechanism=mechanism)
        assert probe('f') == FREE


def test_posix_lock_is_per_process_and_ofd_per_open_file(workdir):
    # What the mechanism means, as the C core documents it: closing another
    # descriptor of the file drops this process's POSIX locks, not OFD ones.
    for mechanism, survives in (('posix', False), ('ofd', True)):
        need(mechanism)
        lock = cpl.Lock('f', mechanism=mechanism, fail_when_locked=True)
        lock.acquire()
        open('f').close()
        assert probe('f')['lockf'] is survives, mechanism
        lock.release()


@pytest.mark.parametrize('value', ['fcntl', 'FLOCK', '', 1, fcntl.lockf])
def test_invalid_mechanism(workdir, value):
    for make in (
        lambda: cpl.Lock('f', mechanism=value),
        lambda: cpl.RLock('f', mechanism=value),
        lambda: cpl.TemporaryFileLock('t', mechanism=value),
        lambda: cpl.PidFileLock('p', mechanism=value),
        lambda: cpl.NamedBoundedSemaphore(1, directory=str(workdir), mechanism=value),
    ):
        with pytest.raises(exceptions.InvalidArgument, match='unknown lock mechanism') as info:
            make()
        assert isinstance(info.value, ValueError)
    with open('f', 'a') as fh:
        with pytest.raises(cpl.LockException, match='unknown lock mechanism'):
            cpl.lock(fh, cpl.LOCK_EX, mechanism=value)
        with pytest.raises(cpl.LockException, match='unknown lock mechanism'):
            cpl.unlock(fh, mechanism=value)
    # Set after construction: reported at acquire, nothing is locked.
    lock = cpl.Lock('f', fail_when_locked=True)
    lock.mechanism = value
    with pytest.raises(exceptions.InvalidArgument):
        lock.acquire()
    assert probe('f') == FREE


def test_raw_mechanism_supported_is_a_status():
    """pl_mechanism_supported returns a pl_status: PL_OK is None, a failure
    raises (an int return would give 0 and -4 here)."""
    assert plmod._c.pl_mechanism_supported(plmod.MECHANISMS['flock']) is None
    with pytest.raises(exceptions.InvalidArgument):
        plmod._c.pl_mechanism_supported(99)


def test_mechanism_supported_is_false_for_a_mechanism_the_system_lacks(monkeypatch):
    """What the raw call does when the system lacks the mechanism (the
    status PL_ERR_UNSUPPORTED through the status typemap) is False."""
    with pytest.raises(exceptions.Unsupported):
        plmod._c.pl_binding_status(plmod._c.PL_ERR_UNSUPPORTED)
    assert plmod.mechanism_supported('flock') is True

    def lacking(mechanism):
        plmod._c.pl_binding_status(plmod._c.PL_ERR_UNSUPPORTED)

    monkeypatch.setattr(plmod._c, 'pl_mechanism_supported', lacking)
    assert plmod.mechanism_supported('ofd') is False
    with pytest.raises(exceptions.InvalidArgument, match='unknown lock mechanism'):
        plmod.mechanism_supported('lockf')


def test_mechanism_is_not_an_open_kwarg(workdir):
    lock = cpl.Lock('f', mechanism='posix', encoding='utf-8', fail_when_locked=True)
    assert lock.file_open_kwargs == {'encoding': 'utf-8'}
    with lock as fh:
        assert fh.encoding == 'utf-8'


LOCKF_FORMS = {
    'fcntl.lockf': lambda: fcntl.lockf,
    'LockfLocker': lambda: plmod.LockfLocker,
    'LockfLocker()': lambda: plmod.LockfLocker(),
}


@pytest.mark.parametrize('form', list(LOCKF_FORMS))
def test_locker_lockf_forms(workdir, locker, form):
    locker.LOCKER = LOCKF_FORMS[form]()
    # The lock classes read LOCKER at acquire time.
    for kind in ('Lock', 'RLock', 'PidFileLock', 'NamedBoundedSemaphore'):
        lock, path = make_lock(kind, workdir)
        lock.acquire()
        assert probe(path) == expected('posix'), kind
        lock.release()
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        assert probe('f') == expected('posix')
        cpl.unlock(fh)
        assert probe('f') == FREE


@pytest.mark.parametrize('form', ['class', 'instance'])
def test_locker_ofd_and_flock_classes(workdir, locker, form):
    need('ofd')
    for cls, mechanism in ((plmod.OfdLocker, 'ofd'), (plmod.FlockLocker, 'flock')):
        locker.LOCKER = cls if form == 'class' else cls()
        lock = cpl.Lock('f', fail_when_locked=True)
        with lock:
            assert probe('f') == expected(mechanism)
        with open('f', 'a') as fh:
            cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
            assert probe('f') == expected(mechanism)
            cpl.unlock(fh)


def test_locker_restoring_the_default(workdir, locker):
    lock = cpl.Lock('f', fail_when_locked=True)  # made under the default
    locker.LOCKER = fcntl.lockf
    with lock:
        assert probe('f') == expected('posix')
    locker.LOCKER = fcntl.flock
    with lock:
        assert probe('f') == expected('flock')
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        assert probe('f') == expected('flock')
        cpl.unlock(fh)


def test_explicit_mechanism_wins_over_locker(workdir, locker):
    locker.LOCKER = fcntl.lockf
    with cpl.Lock('f', mechanism='flock', fail_when_locked=True):
        assert probe('f') == expected('flock')
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB, mechanism='flock')
        assert probe('f') == expected('flock')
        cpl.unlock(fh, mechanism='flock')


def test_locker_exports_and_reference_properties():
    assert plmod.PosixLocker().locker is fcntl.flock
    assert plmod.FlockLocker().locker is fcntl.flock
    assert plmod.LockfLocker().locker is fcntl.lockf
    for name in ('BaseLocker', 'PosixLocker', 'FlockLocker', 'LockfLocker', 'OfdLocker'):
        assert issubclass(getattr(plmod, name), plmod.BaseLocker)
        assert name in plmod.__all__
    assert plmod.LOCKER is fcntl.flock


class Recording(plmod.BaseLocker):
    calls: list = []

    def lock(self, file_obj, flags):
        self.calls.append(('lock', file_obj, flags))
        # A real lock, so that the effect can be seen from another process.
        fcntl.lockf(file_obj, flags)

    def unlock(self, file_obj):
        self.calls.append(('unlock', file_obj))
        fcntl.lockf(file_obj, fcntl.LOCK_UN)


@pytest.mark.parametrize('form', ['class', 'instance', 'tuple'])
def test_custom_locker(workdir, locker, form):
    Recording.calls = []
    rec = Recording()
    locker.LOCKER = {'class': Recording, 'instance': rec,
                     'tuple': (rec.lock, rec.unlock)}[form]
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        assert probe('f') == expected('posix')
        cpl.unlock(fh)
        assert probe('f') == FREE
        assert [c[0] for c in Recording.calls] == ['lock', 'unlock']
        assert Recording.calls[0][1] is fh
    # The lock classes cannot hand a Python callable to the C core.
    for kind in ('Lock', 'RLock', 'TemporaryFileLock', 'PidFileLock', 'NamedBoundedSemaphore'):
        lock, path = make_lock(kind, workdir)
        with pytest.raises(exceptions.Unsupported, match='custom locker') as info:
            lock.acquire()
        assert 'Recording' in str(info.value) or 'bound method' in str(info.value)
        assert isinstance(info.value, cpl.LockException)
    assert probe('f') == FREE
    # An explicit mechanism still works.
    with cpl.Lock('f', mechanism='posix', fail_when_locked=True):
        assert probe('f') == expected('posix')


def test_custom_subclass_of_a_known_locker_is_custom(workdir, locker):
    class Mine(plmod.LockfLocker):
        def lock(self, file_obj, flags):
            raise AssertionError('not called by the lock classes')

    locker.LOCKER = Mine
    with pytest.raises(exceptions.Unsupported):
        cpl.Lock('f').acquire()
    with open('f', 'a') as fh, pytest.raises(AssertionError):
        cpl.lock(fh, cpl.LOCK_EX)


def test_custom_plain_callable(workdir, locker):
    seen = []

    def mylock(fd, flags):
        seen.append(flags)
        fcntl.lockf(fd, flags)

    locker.LOCKER = mylock
    with open('f', 'a') as fh:
        cpl.lock(fh, cpl.LOCK_EX | cpl.LOCK_NB)
        assert probe('f') == expected('posix')
        cpl.unlock(fh)
    assert seen == [cpl.LOCK_EX | cpl.LOCK_NB, cpl.LOCK_UN]
    with pytest.raises(exceptions.Unsupported, match='custom locker'):
        cpl.Lock('f').acquire()


def test_held_rlock_keeps_its_mechanism(workdir, locker):
    lock = cpl.RLock('f', fail_when_locked=True)
    locker.LOCKER = fcntl.lockf
    lock.acquire()
    locker.LOCKER = fcntl.flock  # no effect on the held lock or its re-entry
    lock.acquire()
    assert probe('f') == expected('posix')
    lock.release()
    lock.release()
    assert probe('f') == FREE


def test_probe_layout_matches_struct_flock():
    # The probe packs struct flock as 'hhqqi4x' (Linux, 64-bit off_t).
    assert struct.calcsize('hhqqi4x') == 32
