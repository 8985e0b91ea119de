"""The public API matches the reference portalocker's."""

import importlib
import inspect
import pickle
import types
import warnings

import portalocker as ref
import pytest

import cportalocker as cpl
from cportalocker import _portalocker_c as _c


def test_all_matches_reference():
    assert sorted(cpl.__all__) == sorted(ref.__all__)
    for name in ref.__all__:
        assert hasattr(cpl, name), name


# What the reference's modules have that are not API: names they import
# for their own annotations and helpers (cportalocker's annotations take
# them from typing), a POSIX-only alias, redis-py's class and a logger.
_IMPORTED_NOT_API = {
    'Any', 'Callable', 'cast', 'FrameType', 'Mode', 'TextMode', 'BinaryMode',
    'PosixFileArgument', 'PubSubWorkerThread', 'logger',
}


@pytest.mark.parametrize(
    'sub', ['', '.constants', '.exceptions', '.portalocker', '.utils', '.redis', '.types'],
)
def test_public_names_cover_the_references(sub):
    # On this platform: on Windows that includes its MsvcrtLocker and
    # Win32Locker, on POSIX its PosixLocker, FlockLocker and LockfLocker.
    def public(module):
        return {n for n, v in vars(module).items()
                if not n.startswith('_') and not isinstance(v, types.ModuleType)}

    theirs = public(importlib.import_module('portalocker' + sub))
    ours = public(importlib.import_module('cportalocker' + sub))
    missing = theirs - ours - _IMPORTED_NOT_API
    assert not missing, f'portalocker{sub} has {sorted(missing)}, cportalocker{sub} not'


def test_submodules_and_version():
    assert cpl.exceptions.LockException is cpl.LockException
    assert cpl.portalocker.lock is cpl.lock
    assert isinstance(cpl.__version__, str)
    assert cpl.__version__ == _c.pl_version_string()


def test_flags_match_reference():
    for member in ('EXCLUSIVE', 'SHARED', 'NON_BLOCKING', 'UNBLOCK'):
        assert int(getattr(cpl.LockFlags, member)) == int(getattr(ref.LockFlags, member))
    for name in ('LOCK_EX', 'LOCK_SH', 'LOCK_NB', 'LOCK_UN'):
        assert int(getattr(cpl, name)) == int(getattr(ref, name))
        assert isinstance(getattr(cpl, name), cpl.LockFlags)
    assert issubclass(cpl.LockFlags, __import__('enum').IntFlag)


def _params(func):
    return [
        (p.name, p.kind, p.default)
        for p in inspect.signature(func).parameters.values()
    ]


MECHANISM = ('mechanism', inspect.Parameter.KEYWORD_ONLY, None)


def _without_mechanism(params):
    """Our one extension: a keyword-only ``mechanism=None`` (before
    ``**file_open_kwargs``); the rest must be the reference's."""
    assert MECHANISM in params
    return [p for p in params if p != MECHANISM]


@pytest.mark.parametrize(
    'name',
    ['Lock', 'RLock', 'TemporaryFileLock', 'PidFileLock', 'BoundedSemaphore',
     'NamedBoundedSemaphore'],
)
def test_class_signatures_match_reference(name):
    ours, theirs = getattr(cpl, name), getattr(ref, name)
    assert _without_mechanism(_params(ours.__init__)) == _params(theirs.__init__)
    assert _params(ours.acquire) == _params(theirs.acquire)
    assert [p[0] for p in _params(ours.release)] == ['self']


def test_function_signatures_match_reference():
    for ours, theirs in ((cpl.lock, ref.lock), (cpl.unlock, ref.unlock)):
        assert [p[:2] for p in _without_mechanism(_params(ours))] == [
            p[:2] for p in _params(theirs)
        ]
    assert _params(cpl.open_atomic) == _params(ref.open_atomic)


def test_redis_lock_signature_prefix_matches_reference():
    theirs = _params(ref.RedisLock.__init__)[:11]  # up to on_lost
    assert _params(cpl.RedisLock.__init__)[:11] == theirs


def test_exception_hierarchy_and_attributes():
    E = cpl.exceptions
    assert issubclass(E.LockException, E.BaseLockException)
    assert issubclass(E.AlreadyLocked, E.LockException)
    assert issubclass(E.FileToLarge, E.LockException)
    assert issubclass(E.LockLostError, E.LockException)
    exc = E.AlreadyLocked(E.LockException.LOCK_FAILED, 'busy', fh=3, holder_pid=42)
    assert (exc.fh, exc.strerror, exc.holder_pid) == (3, 'busy', 42)
    base = E.BaseLockException('x', fh=None)
    assert base.strerror is None and base.fh is None
    with pytest.warns(DeprecationWarning):
        E.FileToLarge('big')
    lost = E.LockLostError(1, 'lost', channel='c', holder_id='h')
    assert (lost.channel, lost.holder_id) == ('c', 'h')


def test_exceptions_pickle_without_file_objects(tmp_path):
    with open(tmp_path / 'f', 'w') as fh:
        exc = cpl.AlreadyLocked(1, 'busy', fh=fh)
        copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is cpl.AlreadyLocked
    assert copy.fh is None and copy.strerror == 'busy'
    assert copy.fh_name == str(tmp_path / 'f')


def test_defaults_match_reference(tmp_path):
    ours = cpl.Lock(tmp_path / 'a')
    theirs = ref.Lock(tmp_path / 'a')
    for attr in ('timeout', 'check_interval', 'fail_when_locked', 'flags', 'mode',
                 'filename', 'truncate'):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        s_ours, s_theirs = cpl.BoundedSemaphore(2), ref.BoundedSemaphore(2)
    for attr in ('maximum', 'name', 'filename_pattern', 'directory', 'timeout',
                 'check_interval', 'fail_when_locked'):
        assert getattr(s_ours, attr) == getattr(s_theirs, attr), attr
    assert [str(p) for p in s_ours.get_filenames()] == [str(p) for p in s_theirs.get_filenames()]
