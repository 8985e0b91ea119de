"""Exceptions of cportalocker: the reference portalocker's classes, plus one
class for every other name in the C core's error table.

The C core's single error table (PL_ERROR_TABLE in portalocker.h) names, for
every error code, the exception class the bindings raise
(``pl_error_exception(code)``). The SWIG layer calls `_from_c` with that
name; this module only defines the classes. There is no second copy of the
code -> class table here.

Hierarchy::

    BaseLockException
      LockException
        AlreadyLocked        contention / timeout (holder_pid)
        LockLostError        a held RedisLock was lost (C name: LockLost)
        FileToLarge          file too large for the lock call (sic)
        InvalidArgument      also a ValueError
        InvalidState         also a RuntimeError
        NotHeld              e.g. releasing an RLock more than acquired
        Unsupported          also a NotImplementedError
        ConnectionError      also the builtin ConnectionError (Redis)
        Interrupted          a wait cancelled (pl_lock_cancel) or ended
                             by the wait hook without a Python exception
    FileExists               a FileExistsError (open_atomic)
    OSError / MemoryError    the builtins, for OSError and NoMemory
"""

from __future__ import annotations

import builtins
import contextlib
import errno as _errno
import os
import typing
import warnings

__all__ = [
    'AlreadyLocked',
    'BaseLockException',
    'ConnectionError',
    'FileExists',
    'FileToLarge',
    'InvalidArgument',
    'Interrupted',
    'InvalidState',
    'LockException',
    'LockLostError',
    'NotHeld',
    'Unsupported',
]


class BaseLockException(Exception):  # noqa: N818
    """Base of every lock exception (not raised itself).

    Attributes:
        fh: the file object, descriptor or file-like object involved, if
            any (default None).
        fh_name: its name as a str (survives pickling, unlike ``fh``).
        strerror: the OS message: the second positional argument when it
            is a str, as in the reference.
        code: the C core's error code when the error came from it, else
            None.

    Instances pickle (``fh`` is dropped unless it is an int, ``fh_name``
    stays); ``copy.copy`` keeps ``fh``, ``copy.deepcopy`` drops it like
    pickling. Errors from the C core that carry an OS error have it as
    ``args[0]`` and as ``__cause__``, as the reference chains its
    OSError.

    Args:
        *args: passed to Exception; ``args[1]`` (a str) becomes strerror.
        fh: the handle involved (keyword only).

    Example::

        >>> from cportalocker import exceptions
        >>> try:
        ...     raise exceptions.LockException(
        ...         exceptions.LockException.LOCK_FAILED,
        ...         'Resource temporarily unavailable')
        ... except exceptions.LockException as exc:
        ...     exc.strerror
        'Resource temporarily unavailable'
    """

    LOCK_FAILED: typing.Final = 1
    strerror: str | None = None
    fh_name: str | None = None
    code: int | None = None

    def __init__(
        self,
        *args: typing.Any,
        fh: typing.Any = None,
        **kwargs: typing.Any,
    ) -> None:
        self.fh = fh
        name: typing.Any = None
        with contextlib.suppress(Exception):
            name = getattr(fh, 'name', None)
        self.fh_name = name if isinstance(name, str) else None
        self.strerror = (
            str(args[1]) if len(args) > 1 and isinstance(args[1], str) else None
        )
        Exception.__init__(self, *args)

    def __reduce__(self) -> tuple[typing.Any, ...]:
        # An open file object cannot be pickled: drop it, keep the rest.
        state = dict(self.__dict__)
        if state.get('fh') is not None and not isinstance(state['fh'], int):
            state['fh'] = None
        return (self.__class__, self.args, state)

    def __copy__(self) -> BaseLockException:
        """A shallow copy that keeps ``fh`` (the pickle reduction drops it,
        which suits pickling and deepcopy but not a copy that stays in this
        process). ``__init__`` is bypassed, so a deprecated subclass does
        not warn again."""
        new = self.__class__.__new__(self.__class__)
        new.args = self.args
        new.__dict__.update(self.__dict__)
        new.__cause__ = self.__cause__
        return new


class LockException(BaseLockException):
    """Any locking failure: catch this to handle every lock error alike
    (AlreadyLocked and the C core's other lock errors derive from it)."""


class AlreadyLocked(LockException):
    """The lock is held by someone else, or the timeout ran out.

    Raised at once with ``fail_when_locked=True`` when the first attempt
    finds the lock held, else when ``timeout`` expires. ``fh_name`` names
    the contended file; ``holder_pid`` is the holder's PID when known
    (PidFileLock fills it in, keyword ``holder_pid``, default None).
    """

    holder_pid: int | None = None

    def __init__(
        self,
        *args: typing.Any,
        holder_pid: int | None = None,
        **kwargs: typing.Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.holder_pid = holder_pid


class LockLostError(LockException):
    """A held lock (RedisLock) was lost while held."""

    channel: str | None = None
    holder_id: str | None = None

    def __init__(
        self,
        *args: typing.Any,
        channel: str | None = None,
        holder_id: str | None = None,
        **kwargs: typing.Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.holder_id = holder_id


class FileToLarge(LockException):
    """File too large for the lock call (the reference's spelling).

    Constructing it directly warns (DeprecationWarning), as the reference
    does; the C core's FILE_TOO_LARGE code still maps to it.
    """

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        warnings.warn(
            'FileToLarge is deprecated: catch LockException instead.',
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)


class InvalidArgument(LockException, ValueError):
    """An argument the C core rejected."""


class InvalidState(LockException, RuntimeError):
    """The object is in the wrong state for this call."""


class NotHeld(LockException):
    """The lock is not held (e.g. an RLock released too often)."""


class Unsupported(LockException, NotImplementedError):
    """Not supported on this system or in this build."""


class ConnectionError(LockException, builtins.ConnectionError):  # noqa: A001
    """The lock server (Redis) cannot be reached."""


class Interrupted(LockException):
    """A wait ended early with nothing held: cancelled through the C API,
    or interrupted without a Python exception to raise instead (an
    exception a signal handler raised during the wait, such as
    KeyboardInterrupt, propagates itself)."""


class FileExists(FileExistsError):
    """The destination exists already (open_atomic). A FileExistsError."""

    code: int | None = None


#: Error-table names that are plain builtins or differently named here.
LockLost = LockLostError
NoMemory = MemoryError


def _resolve(name: str) -> type[BaseException]:
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = LockException  # a name this version does not know yet
    return cls


def _from_c(code: int, name: str, message: str, err: int) -> BaseException:
    """Build the exception for a failed C call (called by the SWIG layer).

    ``name`` is ``pl_error_exception(code)``; ``message`` and ``err`` are
    the calling thread's pl_last_error_message() and pl_last_errno().
    """
    if not message:
        from . import _portalocker_c

        message = _portalocker_c.pl_strerror(code)
    cls = _resolve(name)
    exc: BaseException
    if issubclass(cls, BaseLockException):
        first: typing.Any = (
            OSError(err, os.strerror(err)) if err else BaseLockException.LOCK_FAILED
        )
        exc = cls.__new__(cls, first, message)
        # Bypass FileToLarge's deprecation warning: the C core raised it.
        BaseLockException.__init__(exc, first, message)
        exc.code = code
        if isinstance(first, OSError):
            # As the reference's `raise LockException(err) from err`.
            exc.__cause__ = first
    elif issubclass(cls, OSError):
        if cls is FileExists:
            exc = FileExists(_errno.EEXIST, message)
        else:
            # OSError(errno, ...) picks the matching subclass
            # (FileNotFoundError, PermissionError, ...).
            exc = cls(err or _errno.EIO, message)
        exc.code = code  # type: ignore[attr-defined]
    else:
        exc = cls(message)
        with contextlib.suppress(Exception):
            exc.code = code  # type: ignore[attr-defined]
    return exc
