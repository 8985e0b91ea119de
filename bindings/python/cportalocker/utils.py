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

Threads, signals and fork. Each object has one reentrant guard
(``_waiter``, a threading.RLock) that serialises the calls into its C
handle (the core refuses two at once on one handle). Threads waiting for
it wait at most their timeout. It is reentrant so that a signal handler
running inside a wait (the C wait runs the handlers) can call release()
(a no-op: nothing is held yet) without deadlocking. Release claims the
file object with one atomic step (a dict pop), so a second release, from
another thread or from a signal handler that interrupted the first, finds
nothing and returns. A forked child gets fresh guards (the parent's may be
held by a thread that does not exist in the child). An exception that
arrives while or just after the C core took the lock (KeyboardInterrupt)
never leaves acquire() or ``__enter__`` with the lock held: they give it
back first.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import io
import logging
import math
import os
import pathlib
import random
import sys
import tempfile
import threading
import typing
import warnings
import weakref

from . import _portalocker_c as _c
from . import constants, exceptions
from . import portalocker as _pl

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


_FLOCK = _pl.fcntl.flock


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
    value = float(value)
    if math.isnan(value) or value < 0:
        return 0.0
    return value


#: Every live lock and semaphore object, for the fork handler.
_instances: weakref.WeakSet[typing.Any] = weakref.WeakSet()


def _reset_guards_in_child() -> None:
    for obj in list(_instances):
        obj._waiter = threading.RLock()


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


def _set_name(fh: typing.IO[typing.Any], name: str) -> None:
    """Show the path as ``fh.name`` (as open(path) would), not the fd."""
    try:
        fh.buffer.raw.name = name  # type: ignore[attr-defined]  # text
    except AttributeError:
        raw = getattr(fh, 'raw', fh)  # buffered binary, or unbuffered FileIO
        with contextlib.suppress(AttributeError, TypeError):
            raw.name = name


class LockBase(abc.ABC):  # noqa: B024
    """timeout / check_interval / fail_when_locked and the context protocol."""

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
    ) -> typing.Any: ...

    @abc.abstractmethod
    def release(self) -> None: ...

    def _depth(self) -> int:
        """How many times this object holds its lock (for the rollback
        of an acquire that an exception interrupted)."""
        return 0

    def __enter__(self) -> typing.Any:
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

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> None:
        self.release()

    def __delete__(self, instance: object) -> None:
        self.release()


class Lock(LockBase):
    """Open ``filename`` and hold a lock on it (the reference's Lock).

    ``mechanism``: 'flock', 'posix' (fcntl record locks: per process,
    dropped when this process closes any descriptor of the file) or 'ofd'
    (Linux open-file-description locks); None follows
    ``cportalocker.portalocker.LOCKER`` at each acquire. It is a keyword of
    this binding: unlike the reference, ``mechanism`` is not passed to
    open() with the other ``**file_open_kwargs``.
    """

    _new = staticmethod(_c.pl_lock_new)
    _mode_settable = True
    # what open() chose on the first acquire (see _learn_open)
    _fast_mode: str | None = None
    _fast_buffering = -1
    _fast_encoding: str | None = None

    # A class default, so that release() can claim the instance's file
    # object in one atomic step (vars(self).pop) and leave None behind.
    fh: typing.IO[typing.Any] | None = None
    filename: str
    mode: str
    truncate: bool
    file_open_kwargs: dict[str, typing.Any]

    def __init__(
        self,
        filename: Filename,
        mode: str = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = DEFAULT_FAIL_WHEN_LOCKED,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None:
        self._init(
            filename, mode, timeout, check_interval, fail_when_locked, flags,
            raise_on_release_error=raise_on_release_error, mechanism=mechanism,
            **file_open_kwargs,
        )

    def _init(
        self,
        filename: Filename,
        mode: str,
        timeout: float | None,
        check_interval: float,
        fail_when_locked: bool,
        flags: constants.LockFlags,
        *,
        raise_on_release_error: bool,
        mechanism: str | None = None,
        **file_open_kwargs: typing.Any,
    ) -> None:
        # The C core gets the real mode ('w' truncates once locked); the
        # Python object is opened with 'a' so Python never truncates.
        c_mode = mode
        self.truncate = 'w' in mode
        if self.truncate:
            mode = mode.replace('w', 'a')
        # str, bytes or os.PathLike, as open() takes them (the C call
        # encodes with os.fsencode; a NUL byte is a ValueError).
        self.filename = os.path.abspath(os.fspath(filename))
        self.mode = mode
        self.file_open_kwargs = file_open_kwargs
        self._timeout_warned = False
        self._waiter = threading.RLock()
        self._handle = self._new(self.filename)
        _instances.add(self)
        if mechanism is not None:
            _pl.mechanism_value(mechanism)  # InvalidArgument now, not at acquire
        self.mechanism = mechanism
        if self._mode_settable:
            _c.pl_lock_set_mode(self._handle, c_mode)
        self.flags = flags
        if raise_on_release_error:
            self.raise_on_release_error = raise_on_release_error
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        else:
            self._warn_blocking_timeout(timeout)
        super().__init__(timeout, check_interval, fail_when_locked)

    @property
    def flags(self) -> constants.LockFlags:
        """The lock flags (kept by the C handle)."""
        return constants.LockFlags(_c.pl_lock_get_flags(self._handle))

    @flags.setter
    def flags(self, value: constants.LockFlags | int) -> None:
        _c.pl_lock_set_flags(self._handle, int(value))

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
            fd: int = _c.pl_lock_acquire_with(
                self._handle,
                t if (t.__class__ is float or t.__class__ is int) and t >= 0
                else _seconds(t),
                ci if (ci.__class__ is float or ci.__class__ is int) and ci >= 0
                else _seconds(ci),
                1 if fwl else 0,
            )
        except OSError as exc:
            _with_filename(exc, self.filename)
            raise
        except exceptions.BaseLockException as exc:
            # Name the contended file, as the reference's exception does.
            if exc.fh_name is None:
                exc.fh_name = self.filename
            raise
        return fd

    def _wrap_fd(self, fd: int) -> typing.IO[typing.Any]:
        kwargs = self.file_open_kwargs
        try:
            if self._fast_mode is self.mode and not kwargs:
                # open() with what it chose the first time, positionally
                # (the cheapest call): see _learn_open.
                fh = open(fd, self.mode, self._fast_buffering,
                          self._fast_encoding, None, None, False)
                fh._cportalocker_handle = self._handle  # type: ignore[union-attr]
                if fh.__class__ is io.TextIOWrapper:  # the common case, inline
                    fh.buffer.raw.name = self.filename
                    return fh
            else:
                fh = open(fd, self.mode, closefd=False, **kwargs)
                # The descriptor belongs to the C handle: the file object
                # keeps it (and the lock) alive while it lives.
                fh._cportalocker_handle = self._handle  # type: ignore[union-attr]
                if not kwargs:
                    self._learn_open(fh)
        except BaseException:
            _c.pl_lock_release(self._handle)
            raise
        _set_name(fh, self.filename)
        return fh

    def _learn_open(self, fh: typing.Any) -> None:
        """Remember what open() chose for this file (buffer size, text
        encoding), so later acquisitions in the same mode pass them and
        open() skips its isatty() probe (a system call) and the locale
        lookup: about 0.8 us of a ~11 us cycle. Not for a tty (line
        buffered)."""
        if getattr(fh, 'line_buffering', False):
            return
        raw = getattr(getattr(fh, 'buffer', fh), 'raw', None)
        size = getattr(raw, '_blksize', 0)
        if not isinstance(size, int) or size <= 1:
            return
        self._fast_buffering = size
        self._fast_encoding = fh.encoding if isinstance(fh, io.TextIOWrapper) else None
        self._fast_mode = self.mode

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> typing.IO[typing.Any]:
        """Lock and return the file object (the same one while held)."""
        if timeout is not None:
            self._warn_blocking_timeout(timeout)
        fh = self.fh
        if fh:
            return fh
        guard = self._waiter
        # not `with`: this runs on every cycle
        if not guard.acquire(False):
            _take_guard(guard, self.timeout if timeout is None else timeout)
        mine = False
        try:
            if self.fh:
                return self.fh
            mine = True
            fh = self.fh = self._wrap_fd(
                self._c_acquire(timeout, check_interval, fail_when_locked)
            )
            return fh
        except BaseException:
            # Also an exception that arrived once the lock was taken (a
            # signal handler's, run at the next bytecode): give it back.
            if mine and self._depth():
                self.release()
            raise
        finally:
            guard.release()

    def _depth(self) -> int:
        return 1 if self.fh is not None or _c.pl_lock_is_held(self._handle) else 0

    def __enter__(self) -> typing.IO[typing.Any]:
        return LockBase.__enter__(self)  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """End this lock's wait in progress (in another thread) with
        `~cportalocker.exceptions.Interrupted`, or its next one if none
        is in progress (the C core's pl_lock_cancel). Safe from any thread
        and from a signal handler. An extension of cportalocker."""
        _c.pl_lock_cancel(self._handle)

    def _close_fh(self, fh: typing.IO[typing.Any]) -> None:
        try:
            fh.close()  # flushes; the fd itself belongs to the C core
        except Exception as error:
            if self.raise_on_release_error:
                _c.pl_lock_release(self._handle)
                raise
            logger.warning(
                'suppressed error while releasing lock on %r: %r', self.filename, error
            )

    def release(self) -> None:
        """Unlock and close; a no-op when nothing is held (also when
        another release, in another thread or in the code a signal
        handler interrupted, is doing it)."""
        if self.fh is None and not _c.pl_lock_is_held(self._handle):
            return
        guard = self._waiter
        guard.acquire()
        try:
            # One atomic step: of two releases only one gets the file.
            fh = self.__dict__.pop('fh', None)
            if fh is not None:
                try:
                    fh.close()  # flushes; the fd itself belongs to the C core
                except Exception:
                    self._close_failed()
            if fh is not None or _c.pl_lock_is_held(self._handle):
                _c.pl_lock_release(self._handle)
        finally:
            guard.release()

    def _close_failed(self) -> None:
        error = sys.exc_info()[1]
        if self.raise_on_release_error:
            _c.pl_lock_release(self._handle)
            raise
        logger.warning(
            'suppressed error while releasing lock on %r: %r', self.filename, error
        )

    def __repr__(self) -> str:
        return f'<{type(self).__module__}.{type(self).__qualname__} {self.filename!r}>'


class RLock(Lock):
    """A Lock that the same instance may acquire repeatedly (counted)."""

    _new = staticmethod(_c.pl_rlock_new)

    def __init__(
        self,
        filename: Filename,
        mode: str = 'a',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = False,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        mechanism: str | None = None,
    ) -> None:
        self._init(
            filename, mode, timeout, check_interval, fail_when_locked, flags,
            raise_on_release_error=False, mechanism=mechanism,
        )

    @property
    def _acquire_count(self) -> int:
        return typing.cast(int, _c.pl_lock_count(self._handle))

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> typing.IO[typing.Any]:
        self._warn_blocking_timeout(timeout)
        guard = self._waiter
        _take_guard(guard, self.timeout if timeout is None else timeout)
        depth = self._depth()
        try:
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
        return typing.cast(int, _c.pl_lock_count(self._handle))

    def release(self) -> None:
        with self._waiter:
            if _c.pl_lock_count(self._handle) == 1:
                fh = self.__dict__.pop('fh', None)
                if fh is not None:
                    self._close_fh(fh)
            # The C core counts; releasing more than acquired raises
            # NotHeld (a LockException): "Cannot release more times than
            # acquired".
            _c.pl_lock_release(self._handle)


_exit_releases: weakref.WeakSet[Lock] = weakref.WeakSet()


def _release_locks_at_exit() -> None:
    for lock in list(_exit_releases):
        with contextlib.suppress(Exception):
            lock.release()


atexit.register(_release_locks_at_exit)


class TemporaryFileLock(Lock):
    """A lock file that exists only while the lock is held."""

    _new = staticmethod(_c.pl_temporary_lock_new)
    _mode_settable = False

    def __init__(
        self,
        filename: Filename = '.lock',
        timeout: float | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        fail_when_locked: bool = True,
        flags: constants.LockFlags = LOCK_METHOD,
        *,
        raise_on_release_error: bool = False,
        mechanism: str | None = None,
    ) -> None:
        super().__init__(
            filename=filename, mode='w', timeout=timeout,
            check_interval=check_interval, fail_when_locked=fail_when_locked,
            flags=flags, raise_on_release_error=raise_on_release_error,
            mechanism=mechanism,
        )
        _exit_releases.add(self)


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


class BoundedSemaphore(LockBase):
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
