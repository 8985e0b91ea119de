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

#: The submodules `install_as_portalocker` makes ``portalocker.<name>``.
_PORTALOCKER_SUBMODULES = (
    'constants', 'exceptions', 'portalocker', 'redis', 'types', 'utils',
)


def install_as_portalocker() -> None:
    """Make ``import portalocker`` give cportalocker, for code you cannot
    change (as PyMySQL's ``install_as_MySQLdb()``).

    Afterwards ``import portalocker``, ``from portalocker import utils``,
    ``import portalocker.redis`` and the like, anywhere in this process,
    get cportalocker and its submodules (``constants``, ``exceptions``,
    ``portalocker``, ``redis``, ``types``, ``utils``). Call it once,
    early: before the packages that import portalocker are imported.

    Caveats:

    - Modules that imported the reference portalocker before the call
      keep it (both work together: their locks exclude each other, both
      being flock(2)); the call replaces what later imports get.
    - Only the public API is cportalocker's; code that reaches into the
      reference's private internals (underscore names, redis-py
      internals of its RedisLock) finds them missing. The Windows
      lockers (``portalocker.portalocker.MsvcrtLocker``, ``Win32Locker``)
      are there on Windows, as the C core's lock.
    - ``portalocker.__version__`` is the C library's version, and
      ``portalocker.__about__`` / ``python -m portalocker`` do not exist
      (``python -m cportalocker combine`` is the single-file bundler).

    Takes no arguments, returns None, raises nothing.

    Example::

        import cportalocker
        cportalocker.install_as_portalocker()
        import portalocker          # cportalocker
        import third_party_package  # its `import portalocker` too
    """
    import importlib
    import sys

    package = sys.modules[__name__]
    sys.modules['portalocker'] = package
    for name in _PORTALOCKER_SUBMODULES:
        sys.modules['portalocker.' + name] = importlib.import_module(
            f'{__name__}.{name}'
        )


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
