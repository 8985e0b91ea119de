"""Lock flags. The values come from the C core (flock(2) values on POSIX)."""

import enum

from . import _portalocker_c as _c

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
