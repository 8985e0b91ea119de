"""Lock flags, with the reference portalocker's values on each platform.

On POSIX they are the C core's, which are flock(2)'s (``fcntl.LOCK_*``), as
the reference's are there. On Windows the reference uses values of its own
(``LOCK_EX`` 0x1, ``LOCK_SH`` 0x2, ``LOCK_NB`` 0x4, ``LOCK_UN`` is
``msvcrt.LK_UNLCK``, 0), and so does cportalocker: code written for the
reference, passing a `LockFlags` member or a raw number, means the same.
Every place a flag goes into the C core (whose ``PL_LOCK_*`` values are
fixed: SH 1, EX 2, NB 4, UN 8) translates with `_flags_to_core`, every
place one comes back with `_flags_from_core`; on POSIX those are ``int``
and `LockFlags` themselves, so nothing is added there.
"""

import enum
import sys

from . import _portalocker_c as _c

if sys.platform == 'win32':
    import msvcrt

    #: exclusive lock
    LOCK_EX: int = 0x1
    #: shared lock
    LOCK_SH: int = 0x2
    #: non-blocking
    LOCK_NB: int = 0x4
    #: unlock (no lock type: msvcrt.LK_UNLCK)
    LOCK_UN: int = msvcrt.LK_UNLCK
else:
    #: exclusive lock
    LOCK_EX: int = _c.pl_flag_exclusive()
    #: shared lock
    LOCK_SH: int = _c.pl_flag_shared()
    #: non-blocking
    LOCK_NB: int = _c.pl_flag_non_blocking()
    #: unlock
    LOCK_UN: int = _c.pl_flag_unblock()


class LockFlags(enum.IntFlag):
    """Flags for `lock`; combine with ``|``."""

    EXCLUSIVE = LOCK_EX
    SHARED = LOCK_SH
    NON_BLOCKING = LOCK_NB
    UNBLOCK = LOCK_UN


if sys.platform == 'win32':
    from .exceptions import InvalidArgument

    _PL_SH = _c.pl_flag_shared()
    _PL_EX = _c.pl_flag_exclusive()
    _PL_NB = _c.pl_flag_non_blocking()
    _PL_UN = _c.pl_flag_unblock()
    _KNOWN = LOCK_EX | LOCK_SH | LOCK_NB

    def _known_bits(flags: int) -> int:
        """``int(flags)``; InvalidArgument naming any bit that is not
        EXCLUSIVE, SHARED or NON_BLOCKING (nothing else exists here)."""
        value = int(flags)
        if value & ~_KNOWN:
            raise InvalidArgument(
                f'unknown bits 0x{value & ~_KNOWN:x} in lock flags 0x{value:x}: '
                f'on Windows the flags are EXCLUSIVE 0x{LOCK_EX:x}, SHARED '
                f'0x{LOCK_SH:x} and NON_BLOCKING 0x{LOCK_NB:x} (UNBLOCK is 0)'
            )
        return value

    def _flags_to_core(flags: int) -> int:
        """The C core's value for ``flags`` (the reference's Windows values).

        No lock type at all is UNBLOCK there (``LK_UNLCK`` is 0), so 0 is
        the core's UNBLOCK and ``fcntl.flock``-style callables unlock with
        it; NON_BLOCKING alone stays itself (which the core refuses, as the
        reference's lock() does). Bits outside EXCLUSIVE, SHARED and
        NON_BLOCKING mean nothing on Windows: InvalidArgument naming them
        (they would otherwise become the core's UNBLOCK or unknown bits).
        """
        value = _known_bits(flags)
        if value == LOCK_UN:
            return _PL_UN
        core = _PL_NB if value & LOCK_NB else 0
        if value & LOCK_EX:
            core |= _PL_EX
        if value & LOCK_SH:
            core |= _PL_SH
        return core

    def _flags_from_core(value: int) -> LockFlags:
        """`LockFlags` (the reference's Windows values) for a core value."""
        if value & _PL_UN:
            return LockFlags.UNBLOCK
        flags = LOCK_NB if value & _PL_NB else 0
        if value & _PL_EX:
            flags |= LOCK_EX
        if value & _PL_SH:
            flags |= LOCK_SH
        return LockFlags(flags)
else:
    # The core's values are these: the identity, at no cost (the hot
    # paths called int() and LockFlags() here before).
    _flags_to_core = int
    _flags_from_core = LockFlags
