"""RedisLock over the C core's Redis lock (pub/sub, wire-compatible with
the reference's RedisLock, so the two exclude each other).

Connection settings come from ``redis_kwargs`` (host, port, db, username,
password, unix_socket_path, socket_connect_timeout, socket_timeout) or from
a redis-py client passed as ``connection`` (its
``connection_pool.connection_kwargs``). redis-py itself is not needed.

A lost lock surfaces three ways: the ``on_lost`` callback (called from the
library's background thread), ``lost`` / ``ensure_held()``, and a
LockLostError from ``__exit__`` of a ``with`` block during which it was
lost.
"""

from __future__ import annotations

import itertools
import threading
import typing
import weakref

from . import _portalocker_c as _c
from . import constants, exceptions, utils

__all__ = ['RedisLock']

DEFAULT_UNAVAILABLE_TIMEOUT = 1
DEFAULT_THREAD_SLEEP_TIME = 0.1

_tokens = itertools.count(1)
_live: weakref.WeakValueDictionary[int, RedisLock] = weakref.WeakValueDictionary()


def _on_lost(token: int) -> None:
    """Called (with the GIL) from the C library's thread on a lost lock."""
    lock = _live.get(token)
    if lock is not None:
        lock._lost_event.set()
        if lock.on_lost is not None:
            lock.on_lost(lock)


class RedisLock(utils.LockBase):
    """A distributed lock on a Redis pub/sub channel."""

    DEFAULT_REDIS_KWARGS: typing.ClassVar[dict[str, typing.Any]] = dict(
        health_check_interval=10, decode_responses=True
    )

    def __init__(
        self,
        channel: str,
        connection: typing.Any = None,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = False,
        thread_sleep_time: float = DEFAULT_THREAD_SLEEP_TIME,
        unavailable_timeout: float = DEFAULT_UNAVAILABLE_TIMEOUT,
        redis_kwargs: dict[str, typing.Any] | None = None,
        flags: constants.LockFlags = constants.LockFlags.EXCLUSIVE,
        on_lost: typing.Callable[[RedisLock], None] | None = None,
        **_ignored: typing.Any,
    ) -> None:
        if flags not in (constants.LockFlags.EXCLUSIVE, constants.LockFlags.SHARED):
            raise ValueError(
                'RedisLock flags must contain exactly one of '
                'LockFlags.EXCLUSIVE or LockFlags.SHARED'
            )
        self.channel = channel
        self.connection = connection
        self.close_connection = not connection
        self.thread_sleep_time = thread_sleep_time
        self.unavailable_timeout = unavailable_timeout
        self.redis_kwargs = dict(redis_kwargs or {})
        for key, value in self.DEFAULT_REDIS_KWARGS.items():
            self.redis_kwargs.setdefault(key, value)
        self.flags = flags
        self.on_lost = on_lost
        self._lost_event = threading.Event()
        super().__init__(timeout=timeout, check_interval=check_interval,
                         fail_when_locked=fail_when_locked)
        raw = channel.encode() if isinstance(channel, str) else bytes(channel)
        self._handle = _c.pl_redis_lock_new(raw)
        self._configure(self._connection_settings())
        _c.pl_redis_lock_set_flags(self._handle, int(flags))
        _c.pl_redis_lock_set_unavailable_timeout(self._handle, float(unavailable_timeout))
        self._token = next(_tokens)
        _live[self._token] = self
        _c.pl_py_redis_lock_set_lost_callback(self._handle, self._token)
        self._held = False

    def _connection_settings(self) -> dict[str, typing.Any]:
        if self.connection is not None:
            pool = getattr(self.connection, 'connection_pool', None)
            kwargs = getattr(pool, 'connection_kwargs', None)
            if not isinstance(kwargs, dict):
                raise TypeError(
                    'connection must be a redis-py client (with '
                    'connection_pool.connection_kwargs)'
                )
            return dict(kwargs)
        return self.redis_kwargs

    def _configure(self, s: dict[str, typing.Any]) -> None:
        h = self._handle
        if s.get('unix_socket_path') or s.get('path'):
            _c.pl_redis_lock_set_unix_socket(h, s.get('unix_socket_path') or s['path'])
        else:
            _c.pl_redis_lock_set_host(h, str(s.get('host') or '127.0.0.1'),
                                      int(s.get('port') or 6379))
        if s.get('db'):
            _c.pl_redis_lock_set_db(h, int(s['db']))
        if s.get('password') is not None:
            _c.pl_redis_lock_set_password(h, s.get('username'), s['password'])
        if s.get('socket_connect_timeout') is not None:
            _c.pl_redis_lock_set_connect_timeout(h, float(s['socket_connect_timeout']))
        if s.get('socket_timeout') is not None:
            _c.pl_redis_lock_set_command_timeout(h, float(s['socket_timeout']))

    @property
    def holder_id(self) -> str:
        return typing.cast(str, _c.pl_redis_lock_holder_id(self._handle))

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> RedisLock:
        if self._held and not self.lost:
            raise exceptions.LockException('This lock is already active')
        self._lost_event.clear()
        _c.pl_redis_lock_acquire_with(
            self._handle,
            utils._seconds(utils.coalesce(timeout, self.timeout, 0.0)),
            utils._seconds(utils.coalesce(check_interval, self.check_interval, 0.0)),
            1 if utils.coalesce(fail_when_locked, self.fail_when_locked, False) else 0,
        )
        self._held = True
        return self

    def release(self) -> None:
        """Release; a lock lost while held raises LockLostError here."""
        self._held = False
        try:
            _c.pl_redis_lock_release(self._handle)
        except exceptions.LockLostError as exc:
            exc.channel, exc.holder_id = self.channel, self.holder_id
            raise

    @property
    def lost(self) -> bool:
        if self._lost_event.is_set():
            return True
        if not self._held:
            return False
        try:
            _c.pl_redis_lock_check(self._handle)
        except exceptions.LockLostError:
            return True
        except exceptions.NotHeld:
            return False
        return False

    def _lost_error(self) -> exceptions.LockLostError:
        return exceptions.LockLostError(
            exceptions.LockException.LOCK_FAILED,
            f'Redis lock {self.holder_id} on channel {self.channel!r} was '
            'revoked while held',
            channel=self.channel,
            holder_id=self.holder_id,
        )

    def ensure_held(self) -> None:
        """Raise LockLostError if the held lock was lost."""
        if self.lost:
            raise self._lost_error()

    def __enter__(self) -> RedisLock:
        return self.acquire()

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> None:
        was_lost = self.lost
        try:
            self.release()
        except exceptions.LockLostError:
            if exc_type is None:
                raise
            return None  # the block's own exception wins
        if exc_type is None and was_lost:
            raise self._lost_error()

    def __del__(self) -> None:
        token = getattr(self, '_token', None)
        if token is not None:
            _live.pop(token, None)
        handle = getattr(self, '_handle', None)
        if handle is not None:
            _c.pl_py_redis_lock_set_lost_callback(handle, 0)
