"""lock() and unlock() on anything that is or has a file descriptor, and
the choice of the lock mechanism.

The mechanism (the OS primitive a lock uses) is chosen as in the reference
portalocker, with the module-level ``LOCKER`` (default ``fcntl.flock``; on
Windows `MsvcrtLocker`, see below):

======================================  ==================================
``LOCKER``                              C core mechanism
======================================  ==================================
``fcntl.flock``, ``FlockLocker``        ``'flock'``: flock(2), the default
``fcntl.lockf``, ``LockfLocker``        ``'posix'``: fcntl record locks
                                        (per process: closing ANY
                                        descriptor of the file in this
                                        process drops them)
``OfdLocker`` (an extension)            ``'ofd'``: Linux open-file-
                                        description record locks
======================================  ==================================

(the locker classes count as their class or any instance). The module-level
`lock` / `unlock` and every lock class read ``LOCKER`` when they lock, as
the reference does. Any other locker (a custom `BaseLocker` subclass, a
``(lock, unlock)`` tuple, another callable) is called by `lock` / `unlock`
as in the reference, but the lock classes cannot hand a Python callable to
the C core: their ``acquire()`` raises `~cportalocker.exceptions.Unsupported`
naming the locker. An explicit ``mechanism='flock'|'posix'|'ofd'`` (keyword
of `lock`, `unlock` and every lock class) wins over ``LOCKER``.

On Windows (no ``fcntl``) the module has the reference's Windows lockers
too: `MsvcrtLocker` (the default ``LOCKER``, as there) and `Win32Locker`,
both the C core's 'flock' mechanism, ``LockFileEx`` over the whole file,
which excludes the reference's two lockers both ways; neither needs
pywin32, and both take shared locks. `flock_lock` and the POSIX locker
classes stay (their 'posix' and 'ofd' locks are Unsupported there). Flags
there have the reference's Windows values (`cportalocker.constants`).
"""

from __future__ import annotations

import errno
import sys
import typing
from collections.abc import Callable

from . import _portalocker_c as _c
from . import exceptions
from .constants import LockFlags, _flags_to_core

try:
    import fcntl
except ImportError:  # Windows: no fcntl module (see flock_lock below)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    'LOCKER',
    'MECHANISMS',
    'BaseLocker',
    'FlockLocker',
    'LockfLocker',
    'OfdLocker',
    'PosixLocker',
    'lock',
    'unlock',
]

#: Mechanism names -> the C core's values.
MECHANISMS: dict[str, int] = {
    'flock': _c.pl_mechanism_flock(),
    'posix': _c.pl_mechanism_posix(),
    'ofd': _c.pl_mechanism_ofd(),
}


def _get_fd(file_obj: typing.Any) -> int:
    if isinstance(file_obj, int):
        return file_obj
    fileno = getattr(file_obj, 'fileno', None)
    if callable(fileno):
        return typing.cast(int, fileno())
    raise TypeError(
        "Argument 'file_obj' must be an int, an IO object with fileno(), "
        'or implement HasFileno.'
    )


def _validate_lock_flags(flags: int) -> None:
    if flags & LockFlags.UNBLOCK:
        raise RuntimeError(
            'lock() cannot release locks: LockFlags.UNBLOCK is not a valid '
            'flag for lock(). Call unlock() to release a lock.'
        )
    if flags & LockFlags.SHARED and flags & LockFlags.EXCLUSIVE:
        raise RuntimeError(
            'LockFlags.SHARED and LockFlags.EXCLUSIVE are mutually '
            'exclusive. Pass exactly one of them.'
        )
    if not flags & (LockFlags.SHARED | LockFlags.EXCLUSIVE):
        raise RuntimeError(
            'lock() needs a lock type: combine the flags with '
            'LockFlags.SHARED or LockFlags.EXCLUSIVE.'
        )


def mechanism_value(mechanism: str) -> int:
    """The C core's value for a mechanism name; InvalidArgument (a
    ValueError) for anything but 'flock', 'posix' or 'ofd'."""
    try:
        return MECHANISMS[mechanism]
    except (KeyError, TypeError):
        raise exceptions.InvalidArgument(
            f'unknown lock mechanism {mechanism!r}: expected one of '
            f"{', '.join(map(repr, MECHANISMS))}"
        ) from None


def mechanism_name(value: int) -> str:
    """The name of a C core mechanism value (the inverse of
    `mechanism_value`)."""
    for name, code in MECHANISMS.items():
        if code == value:
            return name
    raise exceptions.InvalidArgument(f'unknown lock mechanism value {value!r}')


def mechanism_supported(mechanism: str) -> bool:
    """True if the mechanism works on this system (e.g. 'ofd': Linux)."""
    try:
        _c.pl_mechanism_supported(mechanism_value(mechanism))
    except exceptions.Unsupported:
        return False
    return True


def _c_lock(fd: int, flags: int, mechanism: int, file: typing.Any) -> None:
    try:
        # _flags_to_core is int itself on POSIX (see constants).
        _c.pl_lock_fd_mechanism(fd, _flags_to_core(flags), mechanism)
    except exceptions.BaseLockException as exc:
        _name_lock_error(exc, file)
        raise


def _c_lock_core(fd: int, core_flags: int, mechanism: int, file: typing.Any) -> None:
    """`_c_lock` with flags already in the C core's values."""
    try:
        _c.pl_lock_fd_mechanism(fd, core_flags, mechanism)
    except exceptions.BaseLockException as exc:
        _name_lock_error(exc, file)
        raise


def _name_lock_error(exc: exceptions.BaseLockException, file: typing.Any) -> None:
    """The file (and its name) on a failed lock's exception."""
    exc.fh = file
    name = getattr(file, 'name', None) if not isinstance(file, int) else None
    exc.fh_name = name if isinstance(name, str) else None


def _c_unlock(fd: int, mechanism: int, file: typing.Any) -> None:
    try:
        _c.pl_unlock_fd_mechanism(fd, mechanism)
    except exceptions.BaseLockException as exc:
        exc.fh = file
        raise


def ofd_lock(fd: typing.Any, operation: int) -> None:
    """An ``fcntl.flock``-style callable for OFD locks (the callable of
    `OfdLocker`): ``operation`` is LOCK_EX / LOCK_SH (| LOCK_NB) or
    LOCK_UN. Raises the cportalocker exceptions (AlreadyLocked on
    contention) rather than OSError."""
    fd = _get_fd(fd)
    if operation & LockFlags.UNBLOCK:
        _c_unlock(fd, MECHANISMS['ofd'], fd)
    else:
        _c_lock(fd, operation, MECHANISMS['ofd'], fd)


def flock_lock(fd: typing.Any, operation: int) -> None:
    """An ``fcntl.flock``-style callable for the C core's 'flock'
    mechanism, which on Windows (no ``fcntl`` module) is ``fcntl.flock``'s
    stand-in: LockFileEx over the whole file, which excludes the
    reference's Windows lockers. Raises the cportalocker exceptions."""
    fd = _get_fd(fd)
    if operation & LockFlags.UNBLOCK:
        _c_unlock(fd, MECHANISMS['flock'], fd)
    else:
        _c_lock(fd, operation, MECHANISMS['flock'], fd)


def _record_lock(fd: typing.Any, operation: int) -> None:
    """``fcntl.lockf``'s stand-in where there is no fcntl module: the C
    core's 'posix' mechanism, which raises Unsupported there."""
    fd = _get_fd(fd)
    if operation & LockFlags.UNBLOCK:
        _c_unlock(fd, MECHANISMS['posix'], fd)
    else:
        _c_lock(fd, operation, MECHANISMS['posix'], fd)


#: The default locker: ``fcntl.flock``, or `flock_lock` where there is no
#: fcntl module (Windows).
_DEFAULT_FLOCK: typing.Any = fcntl.flock if fcntl is not None else flock_lock

# The fcntl-style callables the C core implements.
_CALLABLE_MECHANISMS: dict[typing.Any, str] = {
    _DEFAULT_FLOCK: 'flock',
    flock_lock: 'flock',
    ofd_lock: 'ofd',
}
_CALLABLE_MECHANISMS[fcntl.lockf if fcntl is not None else _record_lock] = 'posix'



class LockCallable(typing.Protocol):
    """The lock half of a ``(lock, unlock)`` `LOCKER` pair (a typing
    construct, as in the reference)."""

    def __call__(self, file_obj: typing.Any, flags: LockFlags) -> None: ...


class UnlockCallable(typing.Protocol):
    """The unlock half of a ``(lock, unlock)`` `LOCKER` pair."""

    def __call__(self, file_obj: typing.Any) -> None: ...


class BaseLocker:
    """Base class for lockers (as in the reference): implement `lock` and
    `unlock`, then assign the class or an instance to `LOCKER`. Only the
    module-level `lock` / `unlock` can call a custom locker; the lock
    classes need a mechanism of the C core (see the module docstring)."""

    def lock(self, file_obj: typing.Any, flags: LockFlags) -> None:
        raise NotImplementedError

    def unlock(self, file_obj: typing.Any) -> None:
        raise NotImplementedError


class PosixLocker(BaseLocker):
    """Locks with the ``fcntl``-style callable `locker`: its subclasses'
    own (`FlockLocker`: ``fcntl.flock``, `LockfLocker`: ``fcntl.lockf``,
    `OfdLocker`: `ofd_lock`), or for a plain PosixLocker the module-level
    `LOCKER`, read on every access. Known callables run in the C core;
    any other callable is called, its OSError translated as the
    reference does."""

    _locker: Callable[[typing.Any, int], typing.Any] | None = None

    @property
    def locker(self) -> Callable[[typing.Any, int], typing.Any]:
        if self._locker is None:
            return typing.cast(Callable[[typing.Any, int], typing.Any], LOCKER)
        return self._locker

    @property
    def mechanism(self) -> str | None:
        """The C core mechanism of `locker` ('flock', 'posix', 'ofd'), or
        None for a callable the C core does not implement."""
        try:
            return _CALLABLE_MECHANISMS.get(self.locker)
        except TypeError:  # unhashable
            return None

    def _get_fd(self, file_obj: typing.Any) -> int:
        return _get_fd(file_obj)

    def lock(self, file_obj: typing.Any, flags: LockFlags) -> None:
        if (flags & LockFlags.NON_BLOCKING) and not flags & (
            LockFlags.SHARED | LockFlags.EXCLUSIVE
        ):
            raise RuntimeError(
                'When locking in non-blocking mode on POSIX, '
                'the SHARED or EXCLUSIVE flag must be specified as well.'
            )
        fd = self._get_fd(file_obj)
        mechanism = self.mechanism
        if mechanism is not None:
            _c_lock(fd, flags, MECHANISMS[mechanism], file_obj)
            return
        try:
            self.locker(fd, flags)
        except OSError as exc_value:
            if exc_value.errno in (errno.EACCES, errno.EAGAIN):
                raise exceptions.AlreadyLocked(
                    exc_value, str(exc_value), fh=file_obj
                ) from exc_value
            raise exceptions.LockException(
                exc_value, str(exc_value), fh=file_obj
            ) from exc_value
        except EOFError as exc_value:  # fcntl.lockf on some NFS setups
            raise exceptions.LockException(
                exc_value, str(exc_value), fh=file_obj
            ) from exc_value

    def unlock(self, file_obj: typing.Any) -> None:
        fd = self._get_fd(file_obj)
        mechanism = self.mechanism
        if mechanism is not None:
            _c_unlock(fd, MECHANISMS[mechanism], file_obj)
            return
        try:
            self.locker(fd, LockFlags.UNBLOCK)
        except OSError as exc_value:
            raise exceptions.LockException(
                exc_value, str(exc_value), fh=file_obj
            ) from exc_value
        except EOFError as exc_value:
            raise exceptions.LockException(
                exc_value, str(exc_value), fh=file_obj
            ) from exc_value


class FlockLocker(PosixLocker):
    """flock(2) (``fcntl.flock``), whatever `LOCKER` says."""

    _locker = staticmethod(_DEFAULT_FLOCK) if fcntl is None else fcntl.flock


class LockfLocker(PosixLocker):
    """POSIX record locks (``fcntl.lockf``), whatever `LOCKER` says (none
    on Windows: its locks raise Unsupported there)."""

    _locker = fcntl.lockf if fcntl is not None else staticmethod(_record_lock)


class OfdLocker(PosixLocker):
    """Linux open-file-description locks (an extension of cportalocker):
    record locks that belong to the open file, like flock's, so closing
    another descriptor of the file does not drop them."""

    _locker = staticmethod(ofd_lock)


if sys.platform == 'win32':
    from .constants import _known_bits

    _CORE_SH = _c.pl_flag_shared()
    _CORE_EX = _c.pl_flag_exclusive()
    _CORE_NB = _c.pl_flag_non_blocking()

    def _core_unlock(self: BaseLocker, file_obj: typing.Any) -> None:
        """The two Windows lockers' unlock: the C core's."""
        _c_unlock(_get_fd(file_obj), MECHANISMS['flock'], file_obj)

    class Win32Locker(BaseLocker):
        """The reference's Windows ``LockFileEx`` locker (pywin32 there), here
        the C core's 'flock' mechanism, which is ``LockFileEx`` too: from
        offset 0 over the whole file, so it excludes both of the reference's
        Windows lockers (and they it) whatever the file position. Needs no
        pywin32.

        As the reference's: `LockFlags.EXCLUSIVE` takes an exclusive lock and
        anything without it a shared one (``LockFileEx``'s default);
        `LockFlags.NON_BLOCKING` fails at once with
        `~cportalocker.exceptions.AlreadyLocked`, without it the call waits
        until the lock is free; other failures are a
        `~cportalocker.exceptions.LockException`. `unlock` of a file that
        holds no lock is no error (the reference ignores
        ``ERROR_NOT_LOCKED``). Other bits in ``flags`` are
        `~cportalocker.exceptions.InvalidArgument`, where the reference
        ignores them (the lock classes and POSIX refuse them too).
        """

        def lock(self, file_obj: typing.Any, flags: LockFlags) -> None:
            value = _known_bits(flags)  # the reference ignores other bits
            core = _CORE_EX if value & LockFlags.EXCLUSIVE else _CORE_SH
            if value & LockFlags.NON_BLOCKING:
                core |= _CORE_NB
            _c_lock_core(_get_fd(file_obj), core, MECHANISMS['flock'], file_obj)

        unlock = _core_unlock

    class MsvcrtLocker(BaseLocker):
        """The reference's default Windows locker (``msvcrt.locking`` for
        exclusive locks, `Win32Locker` for shared ones), here the C core's
        'flock' mechanism as `Win32Locker` is: the same lock for both kinds,
        which excludes the reference's two lockers. Shared locks need no
        pywin32.

        As the reference's: `LockFlags.SHARED` takes a shared lock, anything
        else an exclusive one; `LockFlags.NON_BLOCKING` fails at once with
        `~cportalocker.exceptions.AlreadyLocked`. Without NON_BLOCKING the
        call waits until the lock is free, where the reference's
        ``msvcrt.locking`` gives up after about 10 s (``LK_LOCK``). Not a
        `Win32Locker` subclass (the reference's are siblings).
        """

        def lock(self, file_obj: typing.Any, flags: LockFlags) -> None:
            value = _known_bits(flags)
            core = _CORE_SH if value & LockFlags.SHARED else _CORE_EX
            if value & LockFlags.NON_BLOCKING:
                core |= _CORE_NB
            _c_lock_core(_get_fd(file_obj), core, MECHANISMS['flock'], file_obj)

        unlock = _core_unlock

    __all__ += ['MsvcrtLocker', 'Win32Locker']
    # The lockers whose locks the C core takes ('flock'), subclasses too
    # as long as they keep these methods.
    _CORE_LOCKS: tuple[Callable[..., typing.Any], ...] = (Win32Locker.lock, MsvcrtLocker.lock)
    _CORE_UNLOCK: typing.Any = _core_unlock
    #: The default locker: the reference's on Windows.
    _DEFAULT_LOCKER: typing.Any = MsvcrtLocker
else:
    _CORE_LOCKS = ()
    _CORE_UNLOCK = None
    _DEFAULT_LOCKER = _DEFAULT_FLOCK

# For the message of a custom LOCKER: what the lock classes can use.
_CORE_LOCKERS_TEXT = (
    'MsvcrtLocker, Win32Locker, flock_lock/FlockLocker'
    if sys.platform == 'win32'
    else 'fcntl.flock/FlockLocker, fcntl.lockf/LockfLocker or OfdLocker'
)


LockerType = typing.Union[
    Callable[[typing.Any, int], typing.Any],
    tuple[Callable[..., typing.Any], Callable[..., typing.Any]],
    BaseLocker,
    type[BaseLocker],
]

#: The locker `lock` / `unlock` and the lock classes use (see the module
#: docstring); the reference's default: ``fcntl.flock`` on POSIX,
#: `MsvcrtLocker` on Windows.
LOCKER: LockerType = _DEFAULT_LOCKER

_locker_instances: dict[type[BaseLocker], BaseLocker] = {}
_posix_locker_instance = PosixLocker()


def _locker_instance(locker: object) -> BaseLocker | None:
    if isinstance(locker, BaseLocker):
        return locker
    if isinstance(locker, type) and issubclass(locker, BaseLocker):
        instance = _locker_instances.get(locker)
        if instance is None:
            instance = _locker_instances[locker] = locker()
        return instance
    return None


def _resolve_locker_pair(
    locker: object,
) -> tuple[Callable[..., typing.Any], Callable[..., typing.Any]] | None:
    """(lock, unlock) for the instance, class and tuple forms; None for a
    plain fcntl-style callable (run through a PosixLocker)."""
    instance = _locker_instance(locker)
    if instance is not None:
        return instance.lock, instance.unlock
    if isinstance(locker, tuple):
        pair = typing.cast('tuple[Callable[..., typing.Any], Callable[..., typing.Any]]', locker)
        return pair[0], pair[1]
    if isinstance(locker, type):
        raise TypeError(f'LOCKER class {locker!r} is not a BaseLocker subclass')
    return None


def _locker_mechanism(locker: object) -> str | None:
    """The C core mechanism `locker` stands for, or None (custom)."""
    if locker is _DEFAULT_LOCKER:  # the default, first
        return 'flock'
    instance = _locker_instance(locker)
    if instance is not None:
        cls = type(instance)
        if cls.lock in _CORE_LOCKS and cls.unlock is _CORE_UNLOCK:
            return 'flock'  # Win32Locker, MsvcrtLocker (Windows)
        if (
            isinstance(instance, PosixLocker)
            and cls.lock is PosixLocker.lock
            and cls.unlock is PosixLocker.unlock
            and instance._locker is not None
        ):
            return instance.mechanism
        return None
    if isinstance(locker, tuple):
        return None
    try:
        return _CALLABLE_MECHANISMS.get(locker)
    except TypeError:
        return None


def current_mechanism(what: str = 'this lock') -> str:
    """The mechanism `LOCKER` stands for now; Unsupported when it is a
    custom locker (which only `lock` / `unlock` can call)."""
    mechanism = _locker_mechanism(LOCKER)
    if mechanism is None:
        raise exceptions.Unsupported(
            f'portalocker.LOCKER is {LOCKER!r}, a custom locker: {what} locks '
            f'in the C core, which can only use {_CORE_LOCKERS_TEXT}; pass '
            "mechanism='flock'|'posix'|'ofd' or use portalocker.lock()"
        )
    return mechanism


def lock(
    file: typing.Any, flags: LockFlags | int, *, mechanism: str | None = None
) -> None:
    """Lock ``file`` with the flags (as the reference's ``lock``).

    Args:
        file: a file object, a descriptor (int) or anything with
            ``fileno()``. Python-level buffers are not flushed (as in the
            reference).
        flags: `LockFlags.EXCLUSIVE` or `LockFlags.SHARED`, optionally
            ``| LockFlags.NON_BLOCKING``. Without NON_BLOCKING the call
            waits until the lock is free (the GIL released, signal
            handlers still run).
        mechanism: keyword, default None: the locker `LOCKER` names (the
            module docstring's table); 'flock', 'posix' or 'ofd' to
            choose one for this call.

    Raises:
        RuntimeError: invalid flags (UNBLOCK, SHARED with EXCLUSIVE, no
            lock type), as the reference.
        AlreadyLocked: NON_BLOCKING and the lock is held elsewhere; ``fh``
            is ``file``, ``__cause__`` the OS error.
        LockException: any other failure (a bad descriptor, EOFError from
            a custom locker on NFS).
        InvalidArgument: an unknown ``mechanism``.

    Example::

        >>> import tempfile
        >>> with tempfile.TemporaryFile() as fh:
        ...     lock(fh, LockFlags.EXCLUSIVE | LockFlags.NON_BLOCKING)
        ...     unlock(fh)
    """
    _validate_lock_flags(flags)
    # Python buffers: like the reference, the caller flushes if needed.
    if mechanism is not None:
        _c_lock(_get_fd(file), flags, mechanism_value(mechanism), file)
        return
    pair = _resolve_locker_pair(LOCKER)
    if pair is None:
        _posix_locker_instance.lock(file, LockFlags(flags))
    else:
        pair[0](file, flags)


def unlock(file: typing.Any, *, mechanism: str | None = None) -> None:
    """Release the lock `lock` took on ``file``.

    Args:
        file: the file object, descriptor or object with ``fileno()``.
        mechanism: keyword, default None (`LOCKER`); 'flock', 'posix' or
            'ofd' as for `lock`.

    Raises:
        LockException: the unlock failed (e.g. EBADF for a closed
            descriptor); the OSError is ``args[0]`` and ``__cause__``.

    Example: see `lock`.
    """
    if mechanism is not None:
        _c_unlock(_get_fd(file), mechanism_value(mechanism), file)
        return
    pair = _resolve_locker_pair(LOCKER)
    if pair is None:
        _posix_locker_instance.unlock(file)
    else:
        pair[1](file)
