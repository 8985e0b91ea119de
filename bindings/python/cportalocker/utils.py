"""The lock classes, over the C core's handles.

Every class keeps the reference's public attributes (timeout,
check_interval, fail_when_locked, flags, filename, mode, fh, ...) and passes
the effective values to the C core on every acquire, so changing an
attribute after construction behaves as in the reference.

Lock mechanism: ``mechanism='flock'|'posix'|'ofd'`` (keyword of every
class) or, when it is None (the default), the module-level
``cportalocker.portalocker.LOCKER`` at acquire time, as the reference's
classes do (they call portalocker.lock). A custom LOCKER (a BaseLocker
subclass of one's own, a (lock, unlock) tuple) cannot run in the C core:
acquire() then raises exceptions.Unsupported; see portalocker.py.

File objects: the C core opens and locks the file and owns the descriptor.
``acquire()`` wraps it in a real Python file object with
``open(fd, mode, closefd=False, **open_kwargs)``; ``release()`` closes
(flushes) that object first, then the C core unlocks and closes the fd.
The file object keeps the C handle alive (``fh._cportalocker_handle``): a
lock object that is garbage collected while its file object lives leaves
the lock held and the descriptor open, as the reference's file object does
(the handle is freed, and the lock released, with the last of the two).
A TemporaryFileLock or PidFileLock collected while held keeps its handle
until interpreter exit instead (its lock and file stay, as the reference
leaves them; see TemporaryFileLock.__del__).

Threads, signals and fork. Each object has one reentrant guard
(``_waiter``: a threading.RLock for the semaphores; for the Lock classes
the Guard of lock_fast_path.i, which behaves the same) that serialises the
calls into its C handle (the core refuses two at once on one handle).
Threads waiting for it wait at most their timeout. It is reentrant so that
a signal handler running inside a wait (the C wait runs the handlers) can
call release() (a no-op: nothing is held yet) without deadlocking. Release
claims the file object with one atomic step (a dict pop), so a second
release, from another thread or from a signal handler that interrupted the
first, finds nothing and returns. A forked child gets fresh guards (the
parent's may be held by a thread that does not exist in the child): the
semaphores through an at-fork handler, a Lock's Guard by itself at its
first use in the child. An exception that arrives while or just after the
C core took the lock (KeyboardInterrupt) never leaves acquire() or
``__enter__`` with the lock held: they give it back first.

Speed. A plain Lock's acquire, release, ``__enter__``, ``__exit__`` and
common constructor call run in C (bindings/python/lock_fast_path.i: the
same steps as the Python methods ``_acquire_py``, ``_release_py``,
``_enter_py``, ``_exit_py`` and ``__init__``, which it hands every other
case to). A subclass that overrides the reference's hooks (``_get_fh``,
``_get_lock``, ``_prepare_fh``) or makes one of the attributes the fast
path reads a class attribute takes the Python methods.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import errno
import io
import logging
import math
import os
import pathlib
import random
import stat
import sys
import tempfile
import threading
import time
import typing
import warnings
import weakref

from . import _portalocker_c as _c
from . import constants, exceptions, types
from . import portalocker as _pl
from .constants import _flags_from_core, _flags_to_core

try:
    import fcntl
except ImportError:  # Windows: no fcntl module (see _regular_file_opener)
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5
DEFAULT_CHECK_INTERVAL = 0.25
DEFAULT_FAIL_WHEN_LOCKED = False
LOCK_METHOD = constants.LockFlags.EXCLUSIVE | constants.LockFlags.NON_BLOCKING

__all__ = [
    'BoundedSemaphore',
    'Lock',
    'LockBase',
    'NamedBoundedSemaphore',
    'PidFileLock',
    'RLock',
    'TemporaryFileLock',
    'open_atomic',
]

Filename = typing.Union[str, 'os.PathLike[str]']


# LOCKER's default (fcntl.flock; MsvcrtLocker on Windows): the 'flock'
# mechanism without asking _pl which.
_FLOCK = _pl._DEFAULT_LOCKER


def coalesce(*args: typing.Any, test_value: typing.Any = None) -> typing.Any:
    """The first argument that is not ``test_value`` (None)."""
    return next((arg for arg in args if arg is not test_value), None)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _stacklevel_beyond_package() -> int:
    """The warnings stacklevel of the first frame outside this package."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR:
        level += 1
        frame = frame.f_back  # type: ignore[assignment]
    return level


def _seconds(value: typing.Any) -> float:
    """A wait for the C core: negative -> 0 (one attempt, as the reference),
    None -> 0, inf stays inf."""
    if value is None:
        return 0.0
    seconds = float(value)
    if math.isnan(seconds) or seconds < 0:
        return 0.0
    return seconds


#: Every live lock and semaphore object, for the fork handler.
_instances: weakref.WeakSet[typing.Any] = weakref.WeakSet()


def _reset_guards_in_child() -> None:
    for obj in list(_instances):
        obj._waiter = threading.RLock()


if hasattr(os, 'register_at_fork'):  # not on Windows (no fork)
    os.register_at_fork(after_in_child=_reset_guards_in_child)


def _take_guard(guard: typing.Any, timeout: typing.Any) -> None:
    """Wait for an object's guard at most ``timeout`` (another thread of
    this process is in a C call of the same object); AlreadyLocked when it
    runs out, as a lock held that long would give."""
    t = _seconds(timeout)
    if guard.acquire(True, -1 if math.isinf(t) else t):
        return
    raise exceptions.AlreadyLocked(
        exceptions.LockException.LOCK_FAILED,
        'another thread of this process kept this lock object busy '
        'for the whole timeout',
    )


def _with_filename(exc: BaseException, filename: typing.Any) -> None:
    """An OSError from the C core names the file, as open() would."""
    if isinstance(exc, OSError) and exc.filename is None:
        with contextlib.suppress(Exception):
            exc.filename = filename


def _set_name(fh: typing.Any, name: str) -> None:
    """Show the path as ``fh.name`` (as open(path) would), not the fd."""
    try:
        fh.buffer.raw.name = name  # text
    except AttributeError:
        raw = getattr(fh, 'raw', fh)  # buffered binary, or unbuffered FileIO
        with contextlib.suppress(AttributeError, TypeError):
            raw.name = name


#: What a Lock's acquire returns (its file object), by mode: IO[str] for
#: text modes, IO[bytes] for binary ones (see the overloads of
#: Lock.__init__). A bare ``Lock`` annotation is ``Lock[IO[str]]``.
AcquireReturnT = typing.TypeVar('AcquireReturnT')
if typing.TYPE_CHECKING:
    from typing_extensions import TypeVar as _TypeVarWithDefault

    IOT = _TypeVarWithDefault('IOT', bound=typing.IO[typing.Any], default=typing.IO[str])
else:
    IOT = typing.TypeVar('IOT', bound=typing.IO[typing.Any])


def _chain_release_error(exc_value: BaseException, release_error: BaseException) -> None:
    """``with lock:`` whose block raised and whose release failed too: the
    block's exception propagates, with the release error as its
    ``__context__`` and a note saying so (as the reference does).

    The release error was raised while ``exc_value`` was being handled,
    so its own context chain may already lead back to ``exc_value``; those
    links are cut first, or the chain would be a cycle."""
    release_error.__context__ = exc_value.__context__
    link: BaseException | None = release_error
    for _ in range(10):  # a deeper chain is not worth walking
        if link is None:
            break
        if link.__context__ is exc_value:
            link.__context__ = None
        link = link.__cause__ or link.__context__
    exc_value.__context__ = release_error
    add_note = getattr(exc_value, 'add_note', None)  # Python 3.11+
    if add_note is not None:
        with contextlib.suppress(Exception):
            add_note('portalocker release failed; see exception context')


class LockBase(abc.ABC, typing.Generic[AcquireReturnT]):  # noqa: B024
    """The base of every lock: the retry policy and the context protocol.

    Subclasses implement `acquire` and `release`; ``with lock:`` then
    acquires on entry (binding what `acquire` returns) and releases on
    exit. Generic over what `acquire` returns: ``LockBase[int]``,
    ``Lock[typing.IO[bytes]]``.

    Args:
        timeout: seconds `acquire` keeps retrying a lock held elsewhere
            (None: `DEFAULT_TIMEOUT`, 5). The first attempt is always made,
            so 0 means "try once"; ``math.inf`` waits until it is free.
        check_interval: seconds between attempts while waiting (None:
            `DEFAULT_CHECK_INTERVAL`, 0.25). The C core also wakes as soon
            as the holder closes the file.
        fail_when_locked: give up after the first attempt (None:
            `DEFAULT_FAIL_WHEN_LOCKED`, False).

    A bool for ``timeout`` or ``check_interval`` means 1 or 0 and warns
    (DeprecationWarning), as the reference does. Each of the three is also
    a per-call argument of `acquire`, which wins when it is not None.
    """

    timeout: float
    check_interval: float
    fail_when_locked: bool

    def __init__(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> None:
        for name, value in (('timeout', timeout), ('check_interval', check_interval)):
            if isinstance(value, bool):
                warnings.warn(
                    f'{name}={value!r} is a bool. bool subclasses int, so this '
                    f'means {int(value)}. Pass a number or None instead.',
                    DeprecationWarning,
                    stacklevel=_stacklevel_beyond_package(),
                )
        self.timeout = coalesce(timeout, DEFAULT_TIMEOUT)
        self.check_interval = coalesce(check_interval, DEFAULT_CHECK_INTERVAL)
        self.fail_when_locked = coalesce(fail_when_locked, DEFAULT_FAIL_WHEN_LOCKED)

    @abc.abstractmethod
    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> AcquireReturnT:
        """Take the lock (see the subclasses); the arguments override the
        attributes of the same names for this call.

        Raises:
            AlreadyLocked: held elsewhere for the whole timeout, or at the
                first attempt with fail_when_locked.
            LockException: the lock call failed for another reason.
        """

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock back; a no-op when nothing is held."""

    def _depth(self) -> int:
        """How many times this object holds its lock (for the rollback
        of an acquire that an exception interrupted)."""
        return 0

    def __enter__(self) -> AcquireReturnT:
        """``with lock as x:``: ``x`` is what `acquire` returns."""
        depth = self._depth()
        try:
            return self.acquire()
        except BaseException:
            # An exception (KeyboardInterrupt, a signal handler's) that
            # arrived after the lock was taken: the with block never
            # starts, so __exit__ would never release it.
            if self._depth() > depth:
                self.release()
            raise

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> bool | None:
        """Release; the block's exception (if any) propagates."""
        self.release()
        return None

    def __delete__(self, instance: object) -> None:
        """``del owner.lock`` of a lock stored as a class attribute releases it."""
        self.release()


#: Subclass hooks of the reference's Lock (see Lock): overriding one makes
#: the subclass take the Python path that calls them.
_HOOKS = ('_get_fh', '_get_lock', '_prepare_fh')
#: Instance attributes the C fast path reads straight from the instance
#: dict: a subclass that makes one a class attribute (a property, ...)
#: takes the Python path, which reads them as attributes.
_FAST_ATTRS = (
    'fh', '_waiter', '_handle', 'mechanism', 'timeout', 'check_interval',
    'fail_when_locked', 'mode', 'file_open_kwargs', 'filename',
)
#: The plain subclasses of Lock (the C fast path's own check).
_FAST_TYPES: set[type] = set()
#: The subclasses whose lock file the C core owns (TemporaryFileLock,
#: PidFileLock and theirs): a re-acquire while held asks the core whether
#: the path still names the held file instead of returning ``fh`` at once
#: (the C fast path hands that case to the Python method).
_VERIFIED_TYPES: set[type] = set()


def _regular_file_opener(path: str, flags: int) -> int:
    """open()'s opener for the subclass-hook path: like the C core, never
    block opening a FIFO and refuse anything but a regular file."""
    def refuse() -> exceptions.LockException:
        return exceptions.LockException(
            exceptions.LockException.LOCK_FAILED,
            f"cannot lock '{path}': not a regular file",
        )

    if fcntl is None:
        # Windows: no FIFOs to block on; os.open's descriptors are not
        # inherited there anyway (O_NOINHERIT).
        fd = os.open(path, flags, 0o666)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise refuse()
        except BaseException:
            os.close(fd)
            raise
        return fd
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO without a reader
            raise refuse() from exc
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refuse()
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _truncating_opener(path: str, flags: int) -> int:
    """The opener of a ``'w'`` mode (opened as ``'a'``, truncated once
    locked) where O_APPEND cannot be turned off afterwards (Windows: no
    fcntl; a CRT descriptor's append flag is fixed at open)."""
    return _regular_file_opener(path, flags & ~os.O_APPEND)


class Lock(LockBase[IOT]):
    """Open ``filename`` and lock it; the reference's ``portalocker.Lock``.

    ``acquire()`` (or ``with``) opens the file, locks it, retrying until
    ``timeout``, and returns the open file object; ``release()`` (or the
    end of the ``with`` block) flushes and closes it and unlocks. The file
    stays behind. Locks are per open file: two Lock objects on one path
    exclude each other, also in one process. Generic over the file object:
    ``Lock(p)`` is ``Lock[IO[str]]``, ``Lock(p, 'rb')`` ``Lock[IO[bytes]]``.

    Args:
        filename: the file to lock (str, bytes or os.PathLike), made
            absolute once here. A NUL byte is a ValueError; a FIFO or
            other non-regular file is refused when acquiring.
        mode: open() mode (default ``'a'``). A mode with ``'w'`` truncates
            only once the lock is held (the object's ``mode`` shows it
            with ``'a'``), then writes at the seek position as ``'w'`` does.
        timeout: see `LockBase` (None: 5 s).
        check_interval: see `LockBase` (0.25 s).
        fail_when_locked: see `LockBase` (False).
        flags: `LockFlags` (default ``EXCLUSIVE | NON_BLOCKING``;
            ``SHARED`` for a read lock; without ``NON_BLOCKING`` acquire
            waits until free and a timeout warns that it has no effect).
        raise_on_release_error: release() raises unlock/close failures
            instead of logging them (default False).
        mechanism: ``'flock'``, ``'posix'`` (fcntl record locks) or
            ``'ofd'`` (Linux open file description locks); None (default)
            follows ``cportalocker.portalocker.LOCKER`` at each acquire.
            A keyword of this binding, never passed to open().
        **file_open_kwargs: passed to open() (``encoding``, ``newline``,
            ``buffering``, ...).

    Raises:
        ValueError: a NUL byte in ``filename``, or a mode the C core
            refuses (`exceptions.InvalidArgument`).

    Example:
        >>> import cportalocker as portalocker
        >>> with portalocker.Lock('somefile', 'w', timeout=1) as fh:
        ...     _ = fh.write('only one process writes this at a time')

    Subclass hooks, as in the reference: ``_get_fh()`` (open the file
    object), ``_get_lock(fh)`` (lock it) and ``_prepare_fh(fh)`` (truncate
    for ``'w'``). A subclass that overrides one of them gets a Lock that
    calls them (locking with ``portalocker.lock`` and waiting in Python);
    plain Lock objects open and lock in the C core, which calls none of
    them. TemporaryFileLock and PidFileLock: the C core creates, locks,
    checks and removes their files, so ``_get_lock`` and ``_prepare_fh``
    cannot be honoured (overriding one is a TypeError when the class is
    defined); a TemporaryFileLock's ``_get_fh`` opens the file object
    acquire returns (a PidFileLock calls ``Lock._get_fh`` for its sidecar,
    as the reference does), beside the core's own descriptor.

    Threads: one object may be shared (its calls are serialised; a thread
    that finds it busy waits at most its timeout), but the lock is held by
    the object, not by a thread. The file object keeps the lock alive: a
    Lock object that is garbage collected while ``fh`` lives leaves the
    file locked (and ``fh`` usable) until ``fh`` goes too.
    """

    _new = staticmethod(_c.pl_lock_new)
    _mode_settable = True
    #: Whether this class calls the subclass hooks (set per subclass).
    _hooked = False
    #: RLock's count on the hook path.
    _hooked_count = 0
    _timeout_warned = False
    # A class default, so that release() can claim the instance's file
    # object in one atomic step (a dict pop) and leave None behind.
    fh: IOT | None = None
    filename: str
    mode: str
    truncate: bool
    file_open_kwargs: dict[str, typing.Any]
    mechanism: str | None

    @typing.overload
    def __init__(
        self: Lock[typing.IO[str]],
        filename: Filename | bytes,
        mode: types.TextMode = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = DEFAULT_FAIL_WHEN_LOCKED,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None: ...

    @typing.overload
    def __init__(
        self: Lock[typing.IO[bytes]],
        filename: Filename | bytes,
        mode: types.BinaryMode,
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = DEFAULT_FAIL_WHEN_LOCKED,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None: ...

    # A mode that is not a literal where the Lock is made: IO[Any].
    @typing.overload
    def __init__(
        self: Lock[typing.IO[typing.Any]],
        filename: Filename | bytes,
        mode: types.Mode,
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = DEFAULT_FAIL_WHEN_LOCKED,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None: ...

    def __init__(
        self,
        filename: Filename | bytes,
        mode: types.Mode = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = DEFAULT_FAIL_WHEN_LOCKED,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None:
        """Configure the lock; nothing is opened or locked yet (see the
        class for the arguments)."""
        # A new Lock per `with` is the common idiom: the common call is
        # done in C (the same steps as below; it says False otherwise).
        if (
            flags is LOCK_METHOD and not raise_on_release_error and mechanism is None
            and not file_open_kwargs
            and _fast_init(self, filename, mode, timeout, check_interval, fail_when_locked)
        ):
            return
        c_mode = mode
        if 'w' in mode:
            # The C core gets 'w' (truncates once locked); the Python
            # file object is opened with 'a' so Python never truncates.
            self.truncate = True
            mode = typing.cast(types.Mode, mode.replace('w', 'a'))
        else:
            self.truncate = False
        # str, bytes or os.PathLike, as open() takes them (the C call
        # encodes with os.fsencode; a NUL byte is a ValueError). An
        # absolute str that abspath would not change skips it.
        if (
            not isinstance(filename, str) or filename[:1] != '/'
            or '/.' in filename or '//' in filename or filename[-1:] == '/'
        ):
            filename = os.path.abspath(os.fspath(filename))
        self.filename = filename  # type: ignore[assignment]
        self.mode = mode
        self.file_open_kwargs = file_open_kwargs
        self._waiter = _Guard()
        self._handle = handle = self._new(filename)
        if mechanism is not None:
            _pl.mechanism_value(mechanism)  # InvalidArgument now, not at acquire
        self.mechanism = mechanism
        if c_mode != 'a' and self._mode_settable:
            _c.pl_lock_set_mode(handle, c_mode)
        if flags is not LOCK_METHOD:
            self.flags = flags
        if raise_on_release_error:
            self.raise_on_release_error = raise_on_release_error
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        elif flags is not LOCK_METHOD:
            self._warn_blocking_timeout(timeout)
        if timeout.__class__ is bool or check_interval.__class__ is bool:
            LockBase.__init__(self, timeout, check_interval, fail_when_locked)
            return
        self.timeout = timeout
        self.check_interval = DEFAULT_CHECK_INTERVAL if check_interval is None else check_interval
        self.fail_when_locked = (
            DEFAULT_FAIL_WHEN_LOCKED if fail_when_locked is None else fail_when_locked
        )

    def _init(self, filename: Filename | bytes, mode: types.Mode, *args: typing.Any, **kwargs: typing.Any) -> None:
        """Lock's constructor body, for subclasses (the overloaded
        __init__ cannot be called through super() in typed code)."""
        Lock.__init__(self, filename, mode, *args, **kwargs)  # type: ignore[arg-type]

    def __init_subclass__(cls, **kwargs: typing.Any) -> None:
        super().__init_subclass__(**kwargs)
        hooks = [n for n in _HOOKS if getattr(cls, n) is not _ORIGINAL_HOOKS[n]]
        kind = next(
            (k for k in ('PidFileLock', 'TemporaryFileLock')
             if any(b.__name__ == k and b.__module__ == __name__ for b in cls.__mro__)),
            None,
        )
        if kind is not None:
            _VERIFIED_TYPES.add(cls)
        if hooks:
            # A TemporaryFileLock honours _get_fh (see _acquire_owned_hooked);
            # a PidFileLock opens its sidecar with Lock._get_fh, as the
            # reference's sidecar Lock does, never with its own.
            refused = [n for n in hooks if kind == 'PidFileLock' or n != '_get_fh']
            if kind is not None and refused:
                raise TypeError(
                    f'{cls.__qualname__} overrides {", ".join(refused)}: a {kind} '
                    'cannot honour these hooks (the C core creates, locks, checks '
                    'and removes its file, and never calls them); subclass '
                    'cportalocker.Lock or RLock for hooks'
                )
            cls._hooked = True
        # `with` must call an overridden acquire/release (the fast
        # __enter__/__exit__ would not).
        if cls.acquire is not Lock.acquire and '__enter__' not in cls.__dict__:
            cls.__enter__ = Lock._enter_py  # type: ignore[method-assign]
        if cls.release is not Lock.release and '__exit__' not in cls.__dict__:
            cls.__exit__ = Lock._exit_py  # type: ignore[method-assign]
        mro = cls.__mro__
        own = mro[: mro.index(Lock)]
        if not cls._hooked and not any(n in c.__dict__ for c in own for n in _FAST_ATTRS):
            _FAST_TYPES.add(cls)
        else:
            _FAST_TYPES.discard(cls)

    @property
    def _state_lock(self) -> typing.Any:
        """The reference's name for this object's guard (``_waiter``)."""
        return self._waiter

    @property
    def flags(self) -> constants.LockFlags:
        """The lock flags (kept by the C handle, which checks them when set)."""
        return _flags_from_core(_c.pl_lock_get_flags(self._handle))

    @flags.setter
    def flags(self, value: constants.LockFlags | int) -> None:
        _c.pl_lock_set_flags(self._handle, _flags_to_core(value))

    @property
    def raise_on_release_error(self) -> bool:
        """Whether release() raises unlock/close failures (kept by the C
        handle, which reports its own failures accordingly)."""
        return bool(_c.pl_lock_get_raise_on_release_error(self._handle))

    @raise_on_release_error.setter
    def raise_on_release_error(self, value: bool) -> None:
        _c.pl_lock_set_raise_on_release_error(self._handle, 1 if value else 0)

    def _warn_blocking_timeout(self, timeout: float | None) -> None:
        if timeout is None or self._timeout_warned or (
            self.flags & constants.LockFlags.NON_BLOCKING
        ):
            return
        self._timeout_warned = True
        warnings.warn(
            'timeout has no effect in blocking mode',
            stacklevel=_stacklevel_beyond_package(),
        )

    def _sync_mechanism(self) -> None:
        """Give the C handle the mechanism to use (before an acquire that
        is not a reentrant one: never while held)."""
        mechanism = self.mechanism
        if mechanism is None:
            mechanism = (
                'flock' if _pl.LOCKER is _FLOCK
                else _pl.current_mechanism(type(self).__name__)
            )
        code = _pl.mechanism_value(mechanism)
        if code != _c.pl_lock_get_mechanism(self._handle):
            _c.pl_lock_set_mechanism(self._handle, code)

    def _c_acquire(
        self,
        timeout: float | None,
        check_interval: float | None,
        fail_when_locked: bool | None,
    ) -> int:
        if self.fh is None:
            self._sync_mechanism()
        # The instance attributes are the truth (the reference lets callers
        # change them after construction): pass them on every call.
        t = self.timeout if timeout is None else timeout
        ci = self.check_interval if check_interval is None else check_interval
        fwl = self.fail_when_locked if fail_when_locked is None else fail_when_locked
        try:
            fd: int = _c.pl_lock_acquire_with(self._handle, _seconds(t), _seconds(ci), 1 if fwl else 0)
        except OSError as exc:
            _with_filename(exc, self.filename)
            raise
        except exceptions.BaseLockException as exc:
            # Name the contended file, as the reference's exception does.
            if exc.fh_name is None:
                exc.fh_name = self.filename
            raise
        return fd

    def _wrap_fd(self, fd: int) -> IOT:
        """The file object over the C handle's descriptor (which it keeps
        alive: ``fh._cportalocker_handle``), named by the path."""
        try:
            fh = open(fd, self.mode, closefd=False, **self.file_open_kwargs)
            fh._cportalocker_handle = self._handle  # type: ignore[attr-defined]
            _set_name(fh, self.filename)
        except BaseException:
            _c.pl_lock_release(self._handle)
            raise
        return typing.cast(IOT, fh)

    if typing.TYPE_CHECKING:
        def acquire(
            self,
            timeout: float | None = None,
            check_interval: float | None = None,
            fail_when_locked: bool | None = None,
        ) -> IOT: ...

        def release(self) -> None: ...

        def __enter__(self) -> IOT: ...

        def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> bool | None: ...

    # acquire, release, __enter__ and __exit__ are the C fast path's
    # (lock_fast_path.i, set after the class); it calls these for the
    # cases it does not take, and they are what it does.

    def _acquire_py(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> IOT:
        """acquire() in Python: every case the C fast path leaves."""
        if self.fh is None and self._hooks_in_use():
            return self._acquire_hooked(timeout, check_interval, fail_when_locked)
        if timeout is not None:
            self._warn_blocking_timeout(timeout)
        fh = self.fh
        verified = type(self) in _VERIFIED_TYPES
        if fh and not verified:
            return fh
        guard = self._waiter
        if not guard.acquire(False):
            _take_guard(guard, self.timeout if timeout is None else timeout)
        mine = False
        try:
            fh = self.fh
            if fh:
                if verified:
                    self._verify_held(fh, timeout, check_interval, fail_when_locked)
                return fh
            mine = True
            fh = self.fh = self._wrap_fd(self._c_acquire(timeout, check_interval, fail_when_locked))
            return fh
        except BaseException:
            # Also an exception that arrived once the lock was taken (a
            # signal handler's, run at the next bytecode): give it back.
            if mine and self._depth():
                self.release()
            raise
        finally:
            guard.release()

    def _enter_py(self) -> IOT:
        return LockBase.__enter__(self)

    def _warn_if_not_ours(self) -> None:
        """Before releasing a TemporaryFileLock or PidFileLock: when its
        lock file was unlinked or replaced externally, the core unlocks
        but spares the path (it belongs to whoever recreated it); say so,
        as the reference does."""
        fd = _c.pl_lock_held_fd(self._handle)
        fh = self.fh
        if fd < 0 or (fh is not None and self.__dict__.get('_inherited_fh') is fh):
            return  # nothing held, or a forked child's copy (only closed)
        path = getattr(self, '_lockfile', self.filename)
        try:
            ours = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            ours = False
        except OSError:
            return  # the core reports what it finds itself
        if not ours:
            logger.warning(
                'not unlinking %r: it no longer belongs to this lock '
                '(unlinked or replaced externally)', path,
            )

    def _verify_held(
        self,
        fh: IOT,
        timeout: float | None,
        check_interval: float | None,
        fail_when_locked: bool | None,
    ) -> None:
        """A re-acquire of a held TemporaryFileLock or PidFileLock (under
        the guard): the C core checks that the path still names the file
        it holds and raises LockException ("unlinked or replaced
        externally ... compromised") when it does not, as the reference's
        re-acquire does. The held file object and lock stay as they are
        either way: only the caller knows what its pending writes mean."""
        if self.__dict__.get('_inherited_fh') is fh:
            # A forked child's copy of its parent's held lock: the shared
            # file object, as in the reference (asking the core here would
            # make the child drop its copy and lock afresh).
            return
        if fh.closed:
            # The reference's handle would have lost its OS lock with the
            # descriptor; here the core still holds it, but this object's
            # file object is gone, so it cannot be handed out again.
            raise exceptions.LockException(
                exceptions.LockException.LOCK_FAILED,
                f'{self.filename!r}: the held file object was closed while '
                'the lock was held: the lock is compromised (release() it '
                'and acquire again)',
            )
        self._c_acquire(timeout, check_interval, fail_when_locked)

    def _release_py(self) -> None:
        """release() in Python: every case the C fast path leaves."""
        if self.fh is not None and not _c.pl_lock_is_held(self._handle):
            # Only the hook path holds a file object without the C handle.
            self._release_hooked()
            return
        if self.fh is None and not _c.pl_lock_is_held(self._handle):
            return
        guard = self._waiter
        guard.acquire()
        try:
            if type(self) in _VERIFIED_TYPES:
                self._warn_if_not_ours()
            # One atomic step: of two releases only one gets the file.
            fh = self.__dict__.pop('fh', None)
            try:
                if fh is not None:
                    try:
                        fh.close()  # flushes; the fd itself belongs to the C core
                    except Exception as error:
                        self._close_failed(error)
            finally:
                if fh is not None or _c.pl_lock_is_held(self._handle):
                    _c.pl_lock_release(self._handle)
                    if _c.pl_last_error_code():
                        self._release_suppressed()
        finally:
            guard.release()

    def _exit_py(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> bool | None:
        """__exit__: release; when the block raised, a release error does
        not replace its exception but is chained under it (its
        ``__context__``, with a note), as in the reference."""
        try:
            self.release()
        except Exception as release_error:
            if exc_value is None:
                raise
            _chain_release_error(exc_value, release_error)
        return None

    def _hooks_in_use(self) -> bool:
        """Whether this object's hooks are not Lock's own: a subclass
        overrides one, or one was assigned later to the class or to this
        object (monkeypatching, as tests do). The C fast path checks the
        same and leaves such objects to the Python methods."""
        if self._hooked:
            return True
        mine = self.__dict__
        if any(n in mine for n in _HOOKS):
            hooked = True
        else:
            cls = type(self)
            hooked = any(getattr(cls, n) is not f for n, f in _ORIGINAL_HOOKS.items())
        if hooked and isinstance(self, TemporaryFileLock):
            cls = type(self)
            refused = [
                n for n, f in _ORIGINAL_HOOKS.items()
                if n != '_get_fh' and (n in mine or getattr(cls, n) is not f)
            ]
            if isinstance(self, PidFileLock) and (
                '_get_fh' in mine or cls._get_fh is not Lock._get_fh
            ):
                refused.insert(0, '_get_fh')
            if refused:
                raise exceptions.Unsupported(
                    f'{cls.__qualname__}: a {_owned_kind(self)} cannot honour '
                    f'{", ".join(refused)} (the C core creates, locks, checks and '
                    'removes its file, and never calls them)'
                )
        return hooked

    def _release_suppressed(self) -> None:
        """The C core released the lock but an unlock, close or the lock
        file's removal failed (on Windows another process may have the
        file open without sharing delete): logged, as the reference logs
        what raise_on_release_error would raise."""
        logger.warning('suppressed error while releasing lock on %r: %s',
                       self.filename, _c.pl_last_error_message())

    def _close_failed(self, error: BaseException) -> None:
        """Closing the file object (its flush) failed: raise it (after
        releasing) when raise_on_release_error, else log it."""
        if self.raise_on_release_error:
            try:
                _c.pl_lock_release(self._handle)
            except Exception as unlock_error:
                raise error from unlock_error
            raise error
        logger.warning('suppressed error while releasing lock on %r: %r', self.filename, error)

    # ---- the subclass-hook path (a subclass overrides _get_fh & co.) ----

    def _get_fh(self) -> IOT:
        """Open the file, unlocked (a hook: see the class).

        Opens ``filename`` with ``mode`` and ``file_open_kwargs``, refusing
        a FIFO or other non-regular file without blocking."""
        kwargs = dict(self.file_open_kwargs)
        kwargs.setdefault(
            'opener',
            _truncating_opener if self.truncate and fcntl is None else _regular_file_opener,
        )
        return typing.cast(IOT, open(self.filename, self.mode, **kwargs))  # noqa: SIM115

    def _get_lock(self, fh: IOT) -> IOT:
        """Lock ``fh`` with ``flags`` (a hook: see the class); raises
        AlreadyLocked on contention, LockException on other failures."""
        _pl.lock(fh, self.flags, mechanism=self.mechanism)
        return fh

    def _prepare_fh(self, fh: IOT) -> IOT:
        """Make the locked file object ready (a hook: see the class): for
        a ``'w'`` mode, truncate it and turn off O_APPEND."""
        if self.truncate:
            fh.seek(0)
            fh.truncate(0)
            if fcntl is not None:  # Windows: _get_fh opened it without O_APPEND
                fd = fh.fileno()
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_APPEND)
        return fh

    def _attempts(self, timeout: float | None, check_interval: float | None) -> typing.Iterator[int]:
        """The hook path's retry schedule: one attempt at once, then one
        every check_interval (counted from the start, never past the
        deadline, at least 1 ms apart) until the timeout has passed."""
        wait = _seconds(coalesce(timeout, self.timeout, 0.0))
        step = _seconds(coalesce(check_interval, self.check_interval, 0.0))
        yield 0
        start = time.monotonic()
        deadline = start + wait
        n = 0
        while time.monotonic() < deadline:
            n += 1
            yield n
            now = time.monotonic()
            time.sleep(max(0.001, min(n * step - (now - start), deadline - now)))

    def _acquire_hooked(
        self,
        timeout: float | None,
        check_interval: float | None,
        fail_when_locked: bool | None,
    ) -> IOT:
        fwl = coalesce(fail_when_locked, self.fail_when_locked)
        self._warn_blocking_timeout(timeout)
        if isinstance(self, TemporaryFileLock):
            return typing.cast(IOT, self._acquire_owned_hooked(timeout, check_interval, fail_when_locked))
        fh = self.fh
        if fh:
            return fh
        fh = self._get_fh()
        try:
            contention: exceptions.AlreadyLocked | None = None
            for _ in self._attempts(timeout, check_interval):
                contention = None
                try:
                    fh = self._get_lock(fh)
                    break
                except exceptions.AlreadyLocked as exc:
                    contention = exc
                    if fwl:
                        raise exceptions.AlreadyLocked(
                            *exc.args, fh=exc.fh, holder_pid=getattr(exc, 'holder_pid', None),
                        ) from exc
                except exceptions.LockException:
                    raise  # not contention: retrying cannot help
                except Exception as exc:
                    raise exceptions.LockException(exc) from exc
            if contention is not None:
                raise contention
            fh = self._prepare_fh(fh)
        except BaseException:
            # Nothing half-held: unlock (a no-op if never locked) and close.
            with contextlib.suppress(Exception):
                _pl.unlock(fh, mechanism=self.mechanism)
            with contextlib.suppress(Exception):
                fh.close()
            raise
        with self._waiter:
            self.fh = fh
        return fh

    def _acquire_owned_hooked(
        self,
        timeout: float | None,
        check_interval: float | None,
        fail_when_locked: bool | None,
    ) -> typing.IO[typing.Any]:
        """TemporaryFileLock (PidFileLock) with a ``_get_fh`` hook: the hook
        opens the file object acquire returns, before the wait starts (as
        in the reference); the C core still creates, locks, checks and
        removes the lock file on its own descriptor. When the hook opened
        a file that a releasing holder unlinked while we waited (the core
        locked the current one), the hook opens again, so the file object
        always names the locked file. A PidFileLock calls Lock._get_fh on
        a Lock of its sidecar, as the reference's sidecar Lock does."""
        if isinstance(self, PidFileLock):
            open_fh = Lock(self._lockfile, 'a')._get_fh
        else:
            open_fh = self._get_fh
        guard = self._waiter
        _take_guard(guard, self.timeout if timeout is None else timeout)
        try:
            fh = self.fh
            if fh:  # another thread took it meanwhile
                self._verify_held(fh, timeout, check_interval, fail_when_locked)
                return fh
            self._sync_mechanism()
            if _c.pl_lock_get_mechanism(self._handle) == _pl.mechanism_value('posix'):
                # Closing the hook's descriptor would drop the process's
                # record locks on the file, the core's included.
                raise exceptions.Unsupported(
                    f'{type(self).__qualname__}: a _get_fh hook needs a second '
                    "descriptor of the lock file, which the 'posix' mechanism's "
                    "record locks do not survive; use 'flock' or 'ofd'"
                )
            fh = open_fh()
            try:
                fd = self._c_acquire(timeout, check_interval, fail_when_locked)
            except BaseException:
                fh.close()
                raise
            try:
                for _ in range(_MAX_REOPENS):
                    if os.path.samestat(os.fstat(fh.fileno()), os.fstat(fd)):
                        break
                    fh.close()
                    fh = open_fh()
                else:
                    raise exceptions.AlreadyLocked(
                        exceptions.LockException.LOCK_FAILED,
                        f'{self.filename!r}: the _get_fh hook kept opening a '
                        'file other than the locked one',
                    )
                self.fh = fh
            except BaseException:
                with contextlib.suppress(Exception):
                    fh.close()
                _c.pl_lock_release(self._handle)
                raise
            return fh
        finally:
            guard.release()

    def _release_hooked(self) -> None:
        with self._waiter:
            fh = self.__dict__.pop('fh', None)
        if fh is None:
            return
        errors: list[Exception] = []
        try:
            try:
                _pl.unlock(fh, mechanism=self.mechanism)
            except Exception as exc:
                errors.append(exc)
        finally:
            try:
                fh.close()
            except Exception as exc:
                errors.append(exc)
        if not errors:
            return
        if self.raise_on_release_error:
            if len(errors) > 1:
                raise errors[0] from errors[1]
            raise errors[0]
        for error in errors:
            logger.warning('suppressed error while releasing lock on %r: %r', self.filename, error)

    def _depth(self) -> int:
        return 1 if self.fh is not None or _c.pl_lock_is_held(self._handle) else 0

    def cancel(self) -> None:
        """End this lock's wait in progress (in another thread) with
        `~cportalocker.exceptions.Interrupted`, or its next one if none
        is in progress (the C core's pl_lock_cancel). Safe from any thread
        and from a signal handler. An extension of cportalocker."""
        _c.pl_lock_cancel(self._handle)

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.filename!r}>'


#: Lock's own hooks, to tell an override or a later assignment from them.
_ORIGINAL_HOOKS = {n: vars(Lock)[n] for n in _HOOKS}
#: How often a TemporaryFileLock's _get_fh hook may open a file other
#: than the one the core locked before acquire gives up (each time means
#: the path was replaced again while the lock was held).
_MAX_REOPENS = 8


def _owned_kind(lock: Lock[typing.Any]) -> str:
    return 'PidFileLock' if isinstance(lock, PidFileLock) else 'TemporaryFileLock'

_LOCK_DOCS = {
    'acquire': (
        'acquire(self, timeout=None, check_interval=None, fail_when_locked=None)\n--\n\n'
        'Lock the file and return the open file object (the same one while\n'
        'held: acquiring a held Lock returns it at once).\n\n'
        'Args:\n'
        '    timeout: seconds to keep retrying while the file is locked\n'
        '        elsewhere (None: the timeout attribute); inf waits until free.\n'
        '    check_interval: seconds between attempts (None: the attribute).\n'
        '    fail_when_locked: give up after the first attempt (None: the\n'
        '        attribute).\n\n'
        'Raises:\n'
        '    AlreadyLocked: locked elsewhere for the whole timeout, or at the\n'
        '        first attempt with fail_when_locked.\n'
        '    LockException: the lock call failed otherwise (also a FIFO or\n'
        '        other non-regular file at the path).\n'
        '    OSError: opening failed (missing directory, permissions), with\n'
        '        the path as its filename.\n'
        '    Interrupted: cancel() ended the wait. A signal handler that\n'
        '        raises (Ctrl-C) ends it with its exception; nothing is held.\n\n'
        'Example:\n'
        "    >>> lock = cportalocker.Lock('somefile', timeout=1)\n"
        '    >>> fh = lock.acquire()\n'
        '    >>> fh is lock.acquire()\n'
        '    True\n'
        '    >>> lock.release()\n'
    ),
    'release': (
        'release(self)\n--\n\n'
        'Flush and close the file object, then unlock; a no-op when nothing\n'
        'is held (also for a second release racing the first).\n\n'
        'Raises:\n'
        '    OSError, LockException: only with raise_on_release_error=True\n'
        '        (the flush, unlock or close failed); otherwise such failures\n'
        '        are logged (logger cportalocker.utils) and the lock is released.\n'
    ),
    '__enter__': (
        '__enter__(self)\n--\n\n'
        '`with lock as fh:` acquires with the attributes and binds the file\n'
        'object. An exception that arrives just after the lock was taken\n'
        '(Ctrl-C) releases it before leaving.\n'
    ),
    '__exit__': (
        '__exit__(self, exc_type, exc_value, traceback)\n--\n\n'
        'Release at the end of the with block. When the block raised and the\n'
        'release fails too, the block\'s exception propagates with the\n'
        'release error as its __context__ (and a note), as in the reference.\n'
    ),
}
_FAST = _c.pl_py_lock_fast_setup(
    (Lock, _FAST_TYPES, _VERIFIED_TYPES), _pl, _FLOCK, _chain_release_error,
    {**_LOCK_DOCS, 'DEFAULT_TIMEOUT': DEFAULT_TIMEOUT, 'HOOKS': _ORIGINAL_HOOKS},
)
Lock.acquire = _FAST['acquire']  # type: ignore[method-assign]
Lock.release = _FAST['release']  # type: ignore[method-assign]
Lock.__enter__ = _FAST['__enter__']  # type: ignore[method-assign]
Lock.__exit__ = _FAST['__exit__']  # type: ignore[method-assign]
Lock.__abstractmethods__ = frozenset()  # they are there now
#: Lock objects' guard: a reentrant lock that a forked child resets by
#: itself (lock_fast_path.i), so Lock objects need no at-fork registry.
_Guard = _FAST['Guard']
_fast_init = _FAST['init']


class RLock(Lock[IOT]):
    """A Lock that the same object may acquire repeatedly: it counts, and
    only the release that matches the first acquire unlocks and closes.

    Args:
        filename, mode, timeout, check_interval, flags, mechanism: as
            `Lock` (timeout None: 5 s; check_interval 0.25 s; mode 'a').
        fail_when_locked: give up after the first attempt (default False).
        There is no raise_on_release_error or file_open_kwargs (as in the
        reference).

    Raises:
        LockException: release() more often than acquire() ("Cannot
            release more times than acquired").

    Example:
        >>> import cportalocker as portalocker
        >>> lock = portalocker.RLock('somefile')
        >>> with lock as fh, lock as again:
        ...     fh is again
        True
    """

    _new = staticmethod(_c.pl_rlock_new)

    @typing.overload
    def __init__(
        self: RLock[typing.IO[str]],
        filename: Filename | bytes,
        mode: types.TextMode = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = False,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        mechanism: str | None = None,
    ) -> None: ...

    @typing.overload
    def __init__(
        self: RLock[typing.IO[bytes]],
        filename: Filename | bytes,
        mode: types.BinaryMode,
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = False,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        mechanism: str | None = None,
    ) -> None: ...

    @typing.overload
    def __init__(
        self: RLock[typing.IO[typing.Any]],
        filename: Filename | bytes,
        mode: types.Mode,
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = False,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        mechanism: str | None = None,
    ) -> None: ...

    def __init__(
        self,
        filename: Filename | bytes,
        mode: types.Mode = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = False,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        mechanism: str | None = None,
    ) -> None:
        """Configure the lock; nothing is opened or locked yet."""
        self._init(
            filename, mode, timeout, check_interval, fail_when_locked, flags,
            raise_on_release_error=False, mechanism=mechanism,
        )

    @property
    def _acquire_count(self) -> int:
        return self._depth()

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> IOT:
        """Lock (the first time) or count (later times); returns the file
        object. Arguments and exceptions as `Lock.acquire`."""
        self._warn_blocking_timeout(timeout)
        guard = self._waiter
        _take_guard(guard, self.timeout if timeout is None else timeout)
        depth = self._depth()
        try:
            if self._hooked_count or (depth == 0 and self._hooks_in_use()):
                fh = self.fh
                if self._hooked_count == 0:
                    fh = self._acquire_hooked(timeout, check_interval, fail_when_locked)
                self._hooked_count += 1
                return typing.cast(IOT, fh)
            fd = self._c_acquire(timeout, check_interval, fail_when_locked)
            if self.fh is None:
                self.fh = self._wrap_fd(fd)
            return self.fh
        except BaseException:
            # An exception that arrived once the C core had counted this
            # acquire: undo that count.
            if self._depth() > depth:
                self.release()
            raise
        finally:
            guard.release()

    def _depth(self) -> int:
        return self._hooked_count or _c.pl_lock_count(self._handle)

    def release(self) -> None:
        """Count one release; the last one unlocks and closes.

        Raises:
            LockException: more releases than acquires.
        """
        with self._waiter:
            if self._hooked_count:  # taken on the hook path
                if self._hooked_count == 1:
                    self._release_hooked()
                self._hooked_count -= 1
                return
            if _c.pl_lock_count(self._handle) == 1:
                fh = self.__dict__.pop('fh', None)
                if fh is not None:
                    try:
                        fh.close()
                    except Exception as error:
                        self._close_failed(error)
            # The C core counts; releasing more than acquired raises
            # NotHeld (a LockException): "Cannot release more times than
            # acquired".
            _c.pl_lock_release(self._handle)
            if _c.pl_last_error_code():
                self._release_suppressed()


#: The TemporaryFileLocks (and PidFileLocks) to release at interpreter
#: exit, each with the PID that made it: a forked child inherits the
#: entries and must leave its parent's locks to the parent.
_exit_releases: weakref.WeakKeyDictionary[Lock[typing.Any], int] = weakref.WeakKeyDictionary()


#: The C handles of TemporaryFileLocks (and PidFileLocks) garbage
#: collected while held, each with the PID that held it: the lock and its
#: file stay until interpreter exit, which releases them (removing the
#: file), as the reference leaves a discarded wrapper's file alone.
_orphaned_handles: list[tuple[typing.Any, int]] = []


def _release_locks_at_exit() -> None:
    pid = os.getpid()
    for lock, owner in list(_exit_releases.items()):
        if owner != pid:
            continue
        with contextlib.suppress(Exception):
            lock.release()
    while _orphaned_handles:
        handle, owner = _orphaned_handles.pop()
        if owner == pid:
            with contextlib.suppress(Exception):
                _c.pl_lock_release(handle)


atexit.register(_release_locks_at_exit)


def _mark_inherited_locks_in_child() -> None:
    """In a forked child, a TemporaryFileLock (PidFileLock) the parent
    held is the parent's: re-acquiring it gives the shared file object
    back, as in the reference, without asking the core (which would drop
    the child's copy and lock afresh)."""
    for lock in list(_exit_releases):
        fh = lock.__dict__.get('fh')
        if fh is not None:
            lock.__dict__['_inherited_fh'] = fh


if hasattr(os, 'register_at_fork'):  # not on Windows (no fork)
    os.register_at_fork(after_in_child=_mark_inherited_locks_in_child)


class TemporaryFileLock(Lock[typing.IO[str]]):
    """A Lock whose file exists only while it is held: acquire creates
    (or opens) it, release unlocks and removes it, also at interpreter exit.

    Args:
        filename: the lock file (default ``'.lock'``, made absolute).
        timeout, check_interval, flags, raise_on_release_error,
        mechanism: as `Lock`.
        fail_when_locked: default True (give up at the first attempt).

    Raises:
        AlreadyLocked: (acquire) held elsewhere.
        LockException: (acquire) the file was replaced or removed under a
            holder, or the path is not a regular file.

    Example:
        >>> import cportalocker as portalocker
        >>> with portalocker.TemporaryFileLock('/tmp/job.lock'):
        ...     pass  # /tmp/job.lock exists only inside the block

    Of the subclass hooks of `Lock` only ``_get_fh`` can be overridden
    here (it opens the file object acquire returns; the C core still
    creates, locks, checks and removes the file); the others are a
    TypeError. Re-acquiring while held returns the same file object once
    the core has checked that the path still names the held file
    (LockException when it was unlinked or replaced externally, or when
    the file object was closed). A held TemporaryFileLock that is garbage
    collected keeps its lock and file until interpreter exit.
    """

    _new = staticmethod(_c.pl_temporary_lock_new)
    _mode_settable = False

    def __init__(
        self,
        filename: Filename | bytes = '.lock',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = True,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
    ) -> None:
        """Configure the lock; nothing is created or locked yet."""
        self._init(
            filename, 'w', timeout, check_interval, fail_when_locked, flags,
            raise_on_release_error=raise_on_release_error, mechanism=mechanism,
        )
        _exit_releases[self] = os.getpid()

    def __del__(self) -> None:
        # Collecting a held wrapper is not a release (as in the
        # reference: a finalizer that removed the file destroyed locks
        # whose file object a caller still used). The handle, which the
        # file object would free with the lock, is kept until exit.
        try:
            handle = self.__dict__.get('_handle')
            if handle is not None and _c.pl_lock_is_held(handle):
                _orphaned_handles.append((handle, os.getpid()))
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown
            pass


class PidFileLock(TemporaryFileLock):
    """Lock ``<filename>.lock`` and write this process's PID to ``filename``.

    Args:
        filename: the PID file (default ``'.pid'``); the lock is held on
            the sidecar ``<filename>.lock``. Both exist only while held.
        timeout: seconds to wait (default 5, `DEFAULT_TIMEOUT`).
        check_interval: seconds between attempts (default 0.25).
        fail_when_locked: default True: contention fails at once.
        flags: lock flags (default EXCLUSIVE | NON_BLOCKING).
        raise_on_release_error: keyword, default False: release() logs
            unlink/unlock failures; True raises them.
        mechanism: keyword: 'flock', 'posix', 'ofd', or None (LOCKER).

    As a context manager, entering never raises on contention: it gives
    None when this process took the lock and the holder's PID when it did
    not; if the holder's PID cannot be read it raises AlreadyLocked rather
    than report this process as the holder. ``fail_closed()`` gives the
    strict context.

    Raises:
        AlreadyLocked: from ``acquire()`` on contention, with
            ``holder_pid`` (the PID in the file) when it can be read.
        OSError: the files cannot be created (a missing directory).

    Example::

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'app.pid')
        >>> with PidFileLock(path) as holder:
        ...     holder is None and PidFileLock(path).read_pid() == os.getpid()
        True
    """

    _new = staticmethod(_c.pl_pidfile_lock_new)

    def __init__(
        self,
        filename: Filename = '.pid',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = True,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
    ) -> None:
        super().__init__(
            filename=filename, timeout=timeout, check_interval=check_interval,
            fail_when_locked=fail_when_locked, flags=flags,
            raise_on_release_error=raise_on_release_error, mechanism=mechanism,
        )
        self._lockfile = f'{self.filename}.lock'

    @property
    def _acquired_lock(self) -> bool:
        return bool(_c.pl_lock_is_held(self._handle))

    @property
    def _inner_lock(self) -> PidFileLock | None:
        """The reference's sidecar Lock: here the C core holds the sidecar
        for this object itself, whose ``fh`` is the sidecar's file object;
        None when not held."""
        return self if self.fh is not None else None

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> typing.IO[typing.Any]:
        try:
            return super().acquire(timeout, check_interval, fail_when_locked)
        except exceptions.AlreadyLocked as exc:
            pid = _c.pl_lock_holder_pid(self._handle)
            if pid > 0 and exc.holder_pid is None:
                exc.holder_pid = pid
            raise

    def read_pid(self) -> int | None:
        """The PID in the PID file, or None when it is missing, unreadable
        or not a plain positive decimal number: ASCII digits between
        optional whitespace only, so '+7', '-1', '0x10' or '1_000' are
        None (as the reference: the result is fit for os.kill). It only
        says who wrote the file; that process may have died since."""
        pid = _c.pl_lock_read_pid(self._handle)
        return pid if pid > 0 else None

    def fail_closed(self) -> contextlib.AbstractContextManager[None]:
        """A context that enters only holding the lock: AlreadyLocked
        (with ``holder_pid`` read from the file) on contention.

        Example::

            >>> import os, tempfile
            >>> path = os.path.join(tempfile.mkdtemp(), 'app.pid')
            >>> with PidFileLock(path).fail_closed():
            ...     pass
        """
        return _PidFileLockFailClosedContext(self)

    def __enter__(self) -> int | None:  # type: ignore[override]
        try:
            self.acquire()
        except exceptions.AlreadyLocked as exc:
            holder_pid = self.read_pid()
            if holder_pid is None:
                # Chain from the read error when the file could not be
                # read at all (as the reference), else from the contention.
                cause: BaseException = exc
                try:
                    with open(self.filename, 'rb'):
                        pass
                except OSError as read_error:
                    cause = read_error
                raise exceptions.AlreadyLocked(
                    'the lock is held but the holder PID could not be read, '
                    'refusing to report this process as the holder',
                ) from cause
            return holder_pid
        return None

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> None:
        if not self._acquired_lock:
            return None
        return super().__exit__(exc_type, exc_value, traceback)


class _PidFileLockFailClosedContext(contextlib.AbstractContextManager):  # type: ignore[type-arg]
    def __init__(self, lock: PidFileLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        try:
            self._lock.acquire()
        except exceptions.AlreadyLocked as exc:
            exc.holder_pid = self._lock.read_pid()
            raise

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> None:
        return self._lock.__exit__(exc_type, exc_value, traceback)


class _SlotLock(Lock):
    """The Lock a semaphore hands out for its held slot (``semaphore.lock``).

    The slot's descriptor belongs to the C semaphore; this object shows it
    as a Lock (filename, fh) and releasing it releases the semaphore. It has
    no C lock handle: its flags and raise_on_release_error are fixed.
    """

    flags = LOCK_METHOD  # type: ignore[assignment]
    raise_on_release_error = False  # type: ignore[assignment]

    def __init__(self, semaphore: BoundedSemaphore, slot: int) -> None:  # noqa: D107
        self._semaphore = semaphore
        self.filename = str(semaphore.get_filename(slot))
        self.mode = 'a'
        self.truncate = False
        self.file_open_kwargs = {}
        self.mechanism = _pl.mechanism_name(_c.pl_semaphore_get_mechanism(semaphore._handle))
        self._timeout_warned = True
        self._waiter = threading.RLock()
        self.timeout = DEFAULT_TIMEOUT
        self.check_interval = DEFAULT_CHECK_INTERVAL
        self.fail_when_locked = True
        self.fh = open(_c.pl_semaphore_fd(semaphore._handle), 'a', closefd=False)
        # The slot's descriptor belongs to the semaphore's handle.
        self.fh._cportalocker_handle = semaphore._handle  # type: ignore[union-attr]
        _set_name(self.fh, self.filename)

    def acquire(self, *args: typing.Any, **kwargs: typing.Any) -> typing.IO[typing.Any]:
        if self.fh is None:
            raise exceptions.LockException('this semaphore slot was released')
        return self.fh

    def _depth(self) -> int:
        return 1 if self.fh is not None else 0

    def cancel(self) -> None:
        self._semaphore.cancel()

    def release(self) -> None:
        if self._semaphore.lock is self:
            self._semaphore.release()
        else:
            fh = self.__dict__.pop('fh', None)
            if fh is not None:
                fh.close()


class BoundedSemaphore(LockBase["Lock[typing.Any] | None"]):
    """At most ``maximum`` holders across processes, using lock files.

    Slot ``n`` is the file ``directory / filename_pattern.format(name=name,
    number=n)``; a holder keeps one of them locked.

    Args:
        maximum: the number of slots (holders at once).
        name: the semaphore's name (default ``'bounded_semaphore'``:
            deprecated, DeprecationWarning; use NamedBoundedSemaphore).
        filename_pattern: default ``'{name}.{number:02d}.lock'``.
        directory: default ``tempfile.gettempdir()``.
        timeout: seconds `acquire` waits for a free slot (default 5).
        check_interval: seconds between sweeps (default 0.25).
        fail_when_locked: default True: `acquire` raises AlreadyLocked
            when no slot frees up in time (False: returns None).
        mechanism: keyword: 'flock', 'posix', 'ofd', or None
            (``cportalocker.portalocker.LOCKER`` at acquire time).

    Raises:
        InvalidArgument: a bad ``maximum``, pattern or ``mechanism``
            (also a ValueError). `acquire` documents its own errors.

    Example::

        >>> import tempfile
        >>> sem = NamedBoundedSemaphore(2, directory=tempfile.mkdtemp())
        >>> with sem:
        ...     sem.lock is not None
        True
    """

    # A class default: release() claims the instance's in one atomic step.
    lock: Lock | None = None

    def __init__(
        self,
        maximum: int,
        name: str = 'bounded_semaphore',
        filename_pattern: str = '{name}.{number:02d}.lock',
        directory: str = tempfile.gettempdir(),
        timeout: float | None = DEFAULT_TIMEOUT,
        check_interval: float | None = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool | None = True,
        *,
        mechanism: str | None = None,
    ) -> None:
        self.maximum = maximum
        self.name = name
        self.filename_pattern = filename_pattern
        self.directory = directory
        self._waiter = threading.RLock()
        super().__init__(
            timeout=timeout, check_interval=check_interval,
            fail_when_locked=fail_when_locked,
        )
        self._handle = _c.pl_semaphore_new(int(maximum), name or 'bounded_semaphore')
        if mechanism is not None:
            _pl.mechanism_value(mechanism)  # InvalidArgument now, not at acquire
        #: 'flock', 'posix', 'ofd', or None: LOCKER at acquire time.
        self.mechanism = mechanism
        _c.pl_semaphore_set_filename_pattern(self._handle, filename_pattern)
        _c.pl_semaphore_set_directory(self._handle, os.fspath(directory))
        _instances.add(self)
        if not name or name == 'bounded_semaphore':
            warnings.warn(
                '`BoundedSemaphore` without an explicit `name` argument is '
                'deprecated, use NamedBoundedSemaphore',
                DeprecationWarning,
                stacklevel=2,
            )

    def get_filenames(self) -> typing.Sequence[pathlib.Path]:
        """Every slot's file, in slot order."""
        return [self.get_filename(n) for n in range(self.maximum)]

    def get_random_filenames(self) -> typing.Sequence[pathlib.Path]:
        """Every slot's file, shuffled (for `try_lock`)."""
        filenames = list(self.get_filenames())
        random.shuffle(filenames)
        return filenames

    def get_filename(self, number: int) -> pathlib.Path:
        """Slot ``number``'s file: ``directory / filename_pattern``."""
        return pathlib.Path(self.directory) / self.filename_pattern.format(
            name=self.name, number=number
        )

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> Lock | None:
        """Take a free slot and return its `Lock` (also ``self.lock``).

        Args:
            timeout, check_interval, fail_when_locked: override the
                instance's values for this call (None: use them).

        Returns:
            The slot's Lock, or None when no slot freed up in time and
            fail_when_locked is False.

        Raises:
            AlreadyLocked: no free slot in time (fail_when_locked True).
            LockException: this object already holds a slot.
            Interrupted: `cancel` ended the wait.
        """
        if self.lock is not None:
            raise exceptions.LockException('Already locked')
        fwl = coalesce(fail_when_locked, self.fail_when_locked)
        wait = coalesce(timeout, self.timeout, 0.0)
        guard = self._waiter
        try:
            # Threads sharing this object take turns in the C call; one
            # that finds a slot taken meanwhile raises, as the reference's
            # losing thread does.
            _take_guard(guard, wait)
        except exceptions.AlreadyLocked:
            if fwl:
                raise
            return None
        try:
            if self.lock is not None or _c.pl_semaphore_slot(self._handle) >= 0:
                raise exceptions.LockException('Already locked')
        except BaseException:
            guard.release()
            raise
        try:
            mechanism = self.mechanism
            if mechanism is None:
                mechanism = _pl.current_mechanism(type(self).__name__)
            code = _pl.mechanism_value(mechanism)
            if code != _c.pl_semaphore_get_mechanism(self._handle):
                _c.pl_semaphore_set_mechanism(self._handle, code)
            try:
                slot = _c.pl_semaphore_acquire_with(
                    self._handle,
                    _seconds(wait),
                    _seconds(coalesce(check_interval, self.check_interval, 0.0)),
                )
            except exceptions.AlreadyLocked:
                if fwl:
                    raise
                return None
            self.lock = _SlotLock(self, slot)
            return self.lock
        except BaseException:
            # Also an exception that arrived once the slot was taken.
            self.release()
            raise
        finally:
            guard.release()

    def try_lock(self, filenames: typing.Sequence[Filename]) -> bool:
        """Try each candidate file once; keep the first that locks.

        One sweep without waiting (each file is locked with
        ``fail_when_locked=True``), as the reference's ``try_lock``: a busy
        file is skipped at once. `acquire` does not call it (the C core
        picks the slot there), so overriding it does not change
        `acquire`; `release` gives back a lock taken here.

        Args:
            filenames: the candidate files, tried in this order (e.g.
                ``self.get_random_filenames()``).

        Returns:
            True when a file was locked (``self.lock`` is its `Lock`),
            False when every candidate was taken (``self.lock`` unchanged).

        Raises:
            LockException: this object already holds a slot.
            OSError: a candidate could not be opened (a missing
                directory: FileNotFoundError); ``self.lock`` is unchanged.

        Example::

            >>> import tempfile
            >>> sem = NamedBoundedSemaphore(2, directory=tempfile.mkdtemp())
            >>> sem.try_lock(sem.get_filenames())
            True
            >>> sem.release()
        """
        if self.lock is not None or _c.pl_semaphore_slot(self._handle) >= 0:
            raise exceptions.LockException('Already locked')
        for filename in filenames:
            lock = Lock(
                filename, timeout=0, fail_when_locked=True,
                mechanism=self.mechanism,
            )
            published = False
            try:
                try:
                    lock.acquire()
                except exceptions.AlreadyLocked:
                    continue
                with self._waiter:
                    if self.lock is None:
                        self.lock = lock
                        published = True
            except BaseException:
                # Also an interrupt right after the slot was locked: give
                # it back rather than strand it on this frame's local.
                if self.__dict__.get('lock') is lock:
                    self.__dict__.pop('lock', None)
                lock.release()
                raise
            if published:
                return True
            # Another thread published a slot meanwhile.
            lock.release()
            raise exceptions.LockException('Already locked')
        return False

    def _depth(self) -> int:
        return 1 if _c.pl_semaphore_slot(self._handle) >= 0 else 0

    def cancel(self) -> None:
        """End this semaphore's wait in progress (in another thread) with
        `~cportalocker.exceptions.Interrupted`, or its next one
        (pl_semaphore_cancel). An extension of cportalocker."""
        _c.pl_semaphore_cancel(self._handle)

    def release(self) -> None:
        """Give the slot back; a no-op when none is held (also for a
        second release racing the first, or one from a signal handler)."""
        lock = self.__dict__.pop('lock', None)
        if lock is not None and not isinstance(lock, _SlotLock):
            lock.release()  # taken by try_lock: a plain Lock
            lock = None
        if lock is None and _c.pl_semaphore_slot(self._handle) < 0:
            return
        with self._waiter:
            if lock is not None:
                fh = lock.__dict__.pop('fh', None)
                if fh is not None:
                    with contextlib.suppress(Exception):
                        fh.close()
            _c.pl_semaphore_release(self._handle)


class NamedBoundedSemaphore(BoundedSemaphore):
    """A BoundedSemaphore whose name is ``name`` or, when None (the
    default), ``'bounded_semaphore.<random number>'``: processes that
    should share the semaphore pass the same name. Arguments otherwise as
    `BoundedSemaphore`.

    Example::

        >>> import tempfile
        >>> sem = NamedBoundedSemaphore(1, 'jobs', directory=tempfile.mkdtemp())
        >>> slot = sem.acquire()
        >>> sem.release()
    """

    def __init__(
        self,
        maximum: int,
        name: str | None = None,
        filename_pattern: str = '{name}.{number:02d}.lock',
        directory: str = tempfile.gettempdir(),
        timeout: float | None = DEFAULT_TIMEOUT,
        check_interval: float | None = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool | None = True,
        *,
        mechanism: str | None = None,
    ) -> None:
        if name is None:
            name = f'bounded_semaphore.{random.randint(0, 1000000):d}'
        super().__init__(
            maximum, name, filename_pattern, directory, timeout, check_interval,
            fail_when_locked, mechanism=mechanism,
        )


@contextlib.contextmanager
def open_atomic(
    filename: Filename, binary: bool = True
) -> typing.Iterator[typing.IO[typing.Any]]:
    """Write a new file atomically, never replacing an existing one.

    A context manager yielding a temporary file in the destination's
    directory (``.portalocker.<16 hex>.tmp``, created with mode 0666 less
    the umask, as a plain ``open`` would; the directory is created if
    missing). When the block ends normally the data is flushed, fsynced
    and published under ``filename`` with a hard link (a check-then-rename
    on filesystems without hard links), so readers see all of it or
    nothing. The body may close the file itself.

    Args:
        filename: the destination (str or os.PathLike); a relative one is
            anchored at entry.
        binary: True (default): the file is opened ``'wb'``; False:
            ``'w'`` (text, the locale's encoding).

    Raises:
        FileExistsError: ``filename`` exists on entry (the block does not
            run), or appeared before the end of the block (the other file
            is left untouched). ``filename`` is its ``filename``.
        OSError: the temporary file could not be created, synced or
            published.

    Cleanup: if the block raises, nothing is published and the temporary
    file is removed. If publication fails (for any reason) the finished
    temporary file is kept and the error names it ("payload preserved at
    ..."), as the reference does, so written data is never destroyed.

    Example::

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'data.bin')
        >>> with open_atomic(path) as fh:
        ...     written = fh.write(b'all or nothing')
        >>> open(path, 'rb').read()
        b'all or nothing'
    """
    path = pathlib.Path(filename).absolute()
    name = str(path)
    try:
        handle = _c.pl_atomic_open(name)
    except OSError as exc:
        _with_filename(exc, name)
        raise
    fh = open(_c.pl_atomic_fd(handle), 'wb' if binary else 'w', closefd=False)
    _set_name(fh, _c.pl_atomic_temp_path(handle))
    try:
        with fh:
            yield fh
    except BaseException:
        del handle  # abandons: the temporary file is removed
        raise
    try:
        _c.pl_atomic_commit(handle)
    except OSError as exc:
        _with_filename(exc, name)
        raise
