"""lock() and unlock() on anything that is or has a file descriptor."""

from __future__ import annotations

import typing

from . import _portalocker_c as _c
from . import exceptions
from .constants import LockFlags

__all__ = ['lock', 'unlock']


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


def lock(file: typing.Any, flags: LockFlags | int) -> None:
    """Lock ``file`` (file object, descriptor or anything with fileno()).

    Contention raises AlreadyLocked, other failures LockException. Without
    NON_BLOCKING the call waits (with the GIL released).
    """
    _validate_lock_flags(flags)
    fd = _get_fd(file)
    # Python buffers: like the reference, the caller flushes if needed.
    try:
        _c.pl_lock_fd(fd, int(flags))
    except exceptions.BaseLockException as exc:
        exc.fh = file
        exc.fh_name = getattr(file, 'name', None) if not isinstance(file, int) else None
        if not isinstance(exc.fh_name, str):
            exc.fh_name = None
        raise


def unlock(file: typing.Any) -> None:
    """Unlock ``file``; failures raise LockException."""
    fd = _get_fd(file)
    try:
        _c.pl_unlock_fd(fd)
    except exceptions.BaseLockException as exc:
        exc.fh = file
        raise
