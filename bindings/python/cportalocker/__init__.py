"""cportalocker: the reference ``portalocker`` API over libportalocker (C).

``import cportalocker as portalocker`` runs code written for portalocker
4.x. Locks taken here and by the reference (both flock(2) on POSIX) exclude
each other.
"""

from . import _portalocker_c as _c
from . import constants, exceptions, portalocker, utils
from .redis import RedisLock
from .utils import (
    BoundedSemaphore,
    Lock,
    NamedBoundedSemaphore,
    PidFileLock,
    RLock,
    TemporaryFileLock,
    open_atomic,
)

__package_name__ = 'cportalocker'
#: The version of the loaded C library.
__version__: str = _c.pl_version_string()
__description__ = 'portalocker API over the libportalocker C core'

#: Exception thrown when the file is already locked by someone else
AlreadyLocked = exceptions.AlreadyLocked
#: Exception thrown if an error occurred during locking
LockException = exceptions.LockException
#: Exception thrown when a held RedisLock was lost
LockLostError = exceptions.LockLostError

lock = portalocker.lock
unlock = portalocker.unlock

LOCK_EX: constants.LockFlags = constants.LockFlags.EXCLUSIVE
LOCK_SH: constants.LockFlags = constants.LockFlags.SHARED
LOCK_NB: constants.LockFlags = constants.LockFlags.NON_BLOCKING
LOCK_UN: constants.LockFlags = constants.LockFlags.UNBLOCK
LockFlags = constants.LockFlags

__all__ = [
    'LOCK_EX',
    'LOCK_NB',
    'LOCK_SH',
    'LOCK_UN',
    'AlreadyLocked',
    'BoundedSemaphore',
    'Lock',
    'LockException',
    'LockFlags',
    'LockLostError',
    'NamedBoundedSemaphore',
    'PidFileLock',
    'RLock',
    'RedisLock',
    'TemporaryFileLock',
    'lock',
    'open_atomic',
    'unlock',
]
