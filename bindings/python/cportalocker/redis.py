"""RedisLock over the C core's Redis lock (pub/sub, wire-compatible with
the reference's RedisLock 4.4.2, so the two exclude each other).

Connection settings come from ``redis_kwargs`` (host, port, db, username,
password, unix_socket_path, socket_connect_timeout, socket_timeout, and
TLS: ssl, ssl_ca_certs, ssl_ca_path, ssl_certfile, ssl_keyfile,
ssl_cert_reqs, ssl_check_hostname; the rest of redis-py's client arguments
are accepted where they do not change what the lock means, and refused
with a clear error where they would, e.g. ``ssl_ca_data``), from a
redis-py client passed as ``connection`` or from a ``connection_pool``
(its connection class, SSLConnection included, and ``connection_kwargs``),
or from ``url=`` (redis://, rediss://...?ssl_ca_certs=..., unix://; see
pl_redis_lock_set_url).
redis-py itself is not needed; when it is importable the errors raised here
are also instances of its exception classes.

A lost lock surfaces as in the reference: the ``on_lost`` callback (called
on a Python thread of this module, never with a C thread waiting for it),
``lost`` / ``ensure_held()``, a LockLostError from ``__exit__`` of a
``with`` block during which it was lost, and (``interrupt_on_lost``) a
KeyboardInterrupt in the main thread.

Threads: one RedisLock object may be shared by threads. Its calls that talk
to the server (acquire, release, probe) never run at the same time: one
made while another thread is inside one of them raises InvalidState at
once and changes nothing. In particular a release() from another thread
while one thread is inside acquire() raises InvalidState; that acquire
finishes as if the release had not been attempted (holding, or raising
AlreadyLocked), and the lock can be released once it has returned. The
queries (``lost``, ``fence_token``, ``holder_id``, ...) never wait for
those calls, never raise on account of another thread and never make
another thread's call fail.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import enum
import inspect
import os
import sys
import threading
import typing
import warnings
import weakref

from . import _portalocker_c as _c
from . import _fakeredis, constants, exceptions, utils

__all__ = [
    'DEFAULT_THREAD_SLEEP_TIME',
    'DEFAULT_UNAVAILABLE_TIMEOUT',
    'REDIS_LOCK_PROTOCOL_VERSION',
    'RedisLock',
    'RedisLockHolder',
    'RedisLockMode',
    'RedisLockSelfCheckError',
]

#: Seconds a probe waits for the other subscribers to answer before the
#: silent ones are treated as crashed and their connections are killed.
DEFAULT_UNAVAILABLE_TIMEOUT = 1
#: Accepted for the reference's signature; the C core's background thread
#: does not poll, so it has no meaning here.
DEFAULT_THREAD_SLEEP_TIME = 0.1
#: Version stamped into every holder record (the reference's constant; the
#: C core writes the same records).
REDIS_LOCK_PROTOCOL_VERSION = 1

try:  # redis-py is optional: only its exception classes are used.
    from redis import exceptions as _redis_exceptions
except ImportError:  # pragma: no cover - redis-py is in the CI venv
    _redis_exceptions = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------
# Errors: ours, and also redis-py's when redis-py is importable
# ---------------------------------------------------------------------------

if _redis_exceptions is not None:

    class RedisConnectionError(  # type: ignore[misc]
        exceptions.ConnectionError, _redis_exceptions.ConnectionError
    ):
        """The Redis server cannot be reached: both cportalocker's
        ConnectionError and redis-py's."""

    class RedisLockSelfCheckError(RedisConnectionError):  # type: ignore[misc]
        """A held lock could not deliver a message to itself in time (the
        reference's class; the C core reports it as a loss)."""

    class RedisAuthenticationError(  # type: ignore[misc]
        RedisConnectionError, _redis_exceptions.AuthenticationError
    ):
        """The server refused the credentials: also redis-py's
        AuthenticationError, as the reference raises."""

    class RedisResponseError(  # type: ignore[misc]
        RedisConnectionError, _redis_exceptions.ResponseError
    ):
        """The server answered a command with an error (say INCR of a
        fencing key that holds no counter): also redis-py's ResponseError,
        as the reference raises, and still a ConnectionError as before."""

    # The server's refusals of AUTH/HELLO that redis-py reports as
    # AuthenticationError (its parser's table).
    _AUTH_REFUSALS = (
        'WRONGPASS', 'NOAUTH', 'invalid password', 'invalid username-password',
        'AUTH <password> called without any password configured',
        'Client sent AUTH, but no password is set',
    )

else:  # pragma: no cover

    class RedisConnectionError(exceptions.ConnectionError):  # type: ignore[no-redef]
        """The Redis server cannot be reached."""

    class RedisLockSelfCheckError(RedisConnectionError):  # type: ignore[no-redef]
        """A held lock could not deliver a message to itself in time."""


def _redis_class(exc: BaseException) -> type[BaseException]:
    """The class for a C core ConnectionError: a refusal by the server
    (the core's "Redis at ... refused <command>: <error reply>") is redis-py's
    AuthenticationError or ResponseError as well, as in the reference."""
    cls: type[BaseException] = RedisConnectionError
    if _redis_exceptions is None:
        return cls
    message = getattr(exc, 'strerror', None) or ''
    head, sep, reply = message.partition(': ')
    if sep and head.startswith('Redis at ') and ' refused ' in head:
        if any(reply.startswith(r) or r in reply for r in _AUTH_REFUSALS):
            return RedisAuthenticationError
        return RedisResponseError
    return cls


def _as_redis_error(exc: BaseException) -> BaseException:
    """The same error as an instance of the class that also subclasses
    redis-py's (same arguments and attributes); others unchanged."""
    if type(exc) is exceptions.ConnectionError:
        cls = _redis_class(exc)
        new = cls.__new__(cls, *exc.args)
        new.__dict__.update(exc.__dict__)
        new.args = exc.args
        return new
    return exc


@contextlib.contextmanager
def _redis_errors() -> typing.Iterator[None]:
    try:
        yield
    except exceptions.ConnectionError as exc:
        new = _as_redis_error(exc)
        if new is exc:
            raise
        raise new.with_traceback(exc.__traceback__) from None


# ---------------------------------------------------------------------------
# Modes and holders (the reference's types)
# ---------------------------------------------------------------------------


class RedisLockMode(str, enum.Enum):
    """What a participant claims to be doing with the lock; the values are
    the strings of a holder record's ``mode`` field."""

    #: The holder owns the lock alone. Nobody else may join.
    EXCLUSIVE = 'exclusive'
    #: The holder wants the lock exclusively but does not have it yet.
    PENDING = 'pending'
    #: The holder is a reader.
    SHARED = 'shared'


_MODES = {
    _c.PL_REDIS_MODE_SHARED: RedisLockMode.SHARED,
    _c.PL_REDIS_MODE_PENDING: RedisLockMode.PENDING,
    _c.PL_REDIS_MODE_EXCLUSIVE: RedisLockMode.EXCLUSIVE,
}


class RedisLockHolder(typing.NamedTuple):
    """One participant's answer to a liveness ping (see `RedisLock.probe`)."""

    #: The answering lock's holder id, or ``legacy-<n>`` for a reply that
    #: carried no identity.
    holder_id: str
    #: The mode the holder advertised when it answered.
    mode: RedisLockMode
    #: True when the reply was not a protocol record (always EXCLUSIVE).
    legacy: bool = False
    #: The record's ``elected`` field; None when it had none (pre-4.2).
    elected: bool | None = None


# ---------------------------------------------------------------------------
# Lost-lock notices: a pipe the C trampoline writes, read on our thread
# ---------------------------------------------------------------------------

_tokens = iter(range(1, 1 << 62))
_live: weakref.WeakValueDictionary[int, RedisLock] = weakref.WeakValueDictionary()


class _Notifier:
    """Delivers lost-lock notices to Python.

    The C core's background thread must never wait for the GIL (it is
    joined by whoever frees the handle, possibly a destructor holding the
    GIL), so its callback only writes the lock's token to this pipe. A
    daemon thread started on first use reads the pipe and runs
    `_on_lost`: the reference also runs ``on_lost`` on a thread of its own,
    and a callback may call ``release()`` there. A forked child gets a
    fresh pipe and thread (`_after_fork`)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._read_fd = -1
        self._thread: threading.Thread | None = None

    def ensure(self) -> None:
        with self._guard:
            if self._thread is not None:
                return
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._read_fd = r
            _c.pl_py_redis_set_notify_fd(w)
            t = threading.Thread(target=self._run, args=(r,),
                                 name='cportalocker-redis-lost', daemon=True)
            t.start()
            self._thread = t

    def _run(self, fd: int) -> None:
        pending = b''
        while True:
            try:
                data = os.read(fd, 512)
            except InterruptedError:  # pragma: no cover
                continue
            except OSError:  # pragma: no cover - the pipe was closed
                return
            if not data:  # pragma: no cover
                return
            pending += data
            while len(pending) >= 8:
                token = int.from_bytes(pending[:8], sys.byteorder, signed=True)
                pending = pending[8:]
                try:
                    _on_lost(token)
                except BaseException:  # noqa: BLE001 - never end this thread
                    with contextlib.suppress(Exception):
                        sys.unraisablehook(_Unraisable(*sys.exc_info()))

    def after_fork(self) -> None:
        # The parent's reader thread does not exist here; its pipe is the
        # parent's. A new one is made on first use.
        self._guard = threading.Lock()
        self._thread = None
        self._read_fd = -1
        _c.pl_py_redis_set_notify_fd(-1)


class _Unraisable(typing.NamedTuple):
    exc_type: typing.Any
    exc_value: typing.Any
    exc_traceback: typing.Any
    err_msg: str | None = 'Exception in RedisLock on_lost handling'
    object: typing.Any = None


_notifier = _Notifier()


def _on_lost(token: int) -> None:
    """Runs on the notifier thread for a held lock the C core lost."""
    lock = _live.get(token)
    if lock is not None:
        lock._handle_loss()


def _after_fork_in_child() -> None:
    _notifier.after_fork()
    for lock in list(_live.values()):
        # A thread of the parent may have been inside a call: its guard
        # would stay taken forever in the child.
        lock._busy = threading.Lock()
        lock._query = threading.Lock()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# ---------------------------------------------------------------------------
# Connection settings
# ---------------------------------------------------------------------------

#: redis_kwargs the C core honours.
_HONOURED = frozenset({
    'host', 'port', 'db', 'username', 'password', 'unix_socket_path', 'path',
    'socket_connect_timeout', 'socket_timeout',
})
#: redis-py client arguments that do not change what the lock means here
#: (encoding of replies, pooling, retries and keep-alives of a command
#: connection the C core does not have, naming): accepted and ignored.
_IGNORED = frozenset({
    'health_check_interval', 'decode_responses', 'encoding',
    'encoding_errors', 'charset', 'errors', 'retry_on_timeout',
    'retry_on_error', 'retry', 'socket_keepalive', 'socket_keepalive_options',
    'max_connections', 'single_connection_client', 'client_name',
    'lib_name', 'lib_version', 'driver_info', 'protocol', 'cache',
    'cache_config', 'event_dispatcher', 'redis_connect_func',
    'socket_read_size', 'maint_notifications_config',
})
#: TLS arguments the C core honours (redis-py's names and meanings).
_TLS_HONOURED = frozenset({
    'ssl', 'ssl_keyfile', 'ssl_certfile', 'ssl_cert_reqs', 'ssl_ca_certs',
    'ssl_ca_path', 'ssl_check_hostname',
})
#: Arguments whose effect the C core cannot give (TLS details it does not
#: have, credential providers, custom connection classes): refused when set
#: (not None, not False), rather than silently connecting without them.
_REFUSED_WHEN_SET = frozenset({
    'ssl_ca_data', 'ssl_password',
    'ssl_validate_ocsp', 'ssl_validate_ocsp_stapled', 'ssl_ocsp_context',
    'ssl_ocsp_expected_cert', 'ssl_min_version', 'ssl_ciphers',
    'ssl_include_verify_flags', 'ssl_exclude_verify_flags',
    'credential_provider', 'connection_class', 'unix_socket_path_ssl',
})


def _refuse_unsupported(settings: dict[str, typing.Any], tls: bool) -> None:
    for key in sorted(_REFUSED_WHEN_SET):
        value = settings.get(key)
        if value is None or value is False:
            continue
        if key.startswith('ssl_') and not tls:
            continue  # redis-py ignores these without TLS too
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            f'RedisLock: {key}={value!r} cannot be honoured: the C core does '
            'TLS with a CA file or directory (or the system store), a client '
            'certificate and key file, peer and hostname verification '
            '(ssl_ca_certs, ssl_ca_path, ssl_certfile, ssl_keyfile, '
            'ssl_cert_reqs, ssl_check_hostname), and has no credential '
            'providers or custom connection classes; refusing rather than '
            'connecting without it',
        )


def _cert_reqs_verify(value: typing.Any) -> bool:
    """Whether redis-py's ssl_cert_reqs asks to verify the server."""
    if value is None:
        return True
    if isinstance(value, str):
        v = value.lower()
        if v in ('none', 'cert_none'):
            return False
        if v in ('optional', 'required', 'cert_optional', 'cert_required'):
            return True  # a client always gets a certificate: optional = required
        raise ValueError(
            f'RedisLock: ssl_cert_reqs={value!r} is not none, optional or required'
        )
    import ssl as _ssl
    return int(value) != int(_ssl.CERT_NONE)


def _configure_tls(h: typing.Any, s: dict[str, typing.Any]) -> None:
    """TLS settings of redis_kwargs or a pool's connection_kwargs."""
    if not s.get('ssl'):
        return
    _c.pl_redis_lock_set_tls(h, 1)
    for key, setter in (('ssl_ca_certs', _c.pl_redis_lock_set_tls_ca_file),
                        ('ssl_ca_path', _c.pl_redis_lock_set_tls_ca_dir),
                        ('ssl_certfile', _c.pl_redis_lock_set_tls_cert_file),
                        ('ssl_keyfile', _c.pl_redis_lock_set_tls_key_file)):
        if s.get(key) is not None:
            setter(h, os.fsdecode(s[key]))
    _c.pl_redis_lock_set_tls_verify_peer(h, 1 if _cert_reqs_verify(s.get('ssl_cert_reqs', 'required')) else 0)
    check = s.get('ssl_check_hostname')
    _c.pl_redis_lock_set_tls_check_hostname(h, 0 if check is False else 1)


def _redis_client_params() -> frozenset[str]:
    """The keyword arguments redis.Redis accepts (empty without redis-py)."""
    try:
        import redis
    except ImportError:  # pragma: no cover
        return frozenset()
    with contextlib.suppress(TypeError, ValueError):
        return frozenset(inspect.signature(redis.Redis.__init__).parameters) - {'self'}
    return frozenset()  # pragma: no cover


def _check_redis_kwargs(kwargs: dict[str, typing.Any]) -> None:
    known = (_redis_client_params() | _HONOURED | _IGNORED | _REFUSED_WHEN_SET
             | _TLS_HONOURED)
    for key in kwargs:
        if key not in known and key != 'connection_pool':
            raise TypeError(
                f'RedisLock: redis_kwargs got an unexpected keyword argument {key!r}'
            )
    _refuse_unsupported(kwargs, bool(kwargs.get('ssl')))


def _cluster_client_settings(client: typing.Any) -> dict[str, typing.Any]:
    """A redis-py RedisCluster client: cluster mode on its startup nodes,
    with their credentials and TLS settings (as redis_kwargs)."""
    nm = client.nodes_manager
    kwargs = dict(getattr(nm, 'connection_kwargs', None) or {})
    hosts = []
    for node in list(getattr(nm, 'startup_nodes', {}).values()):
        host, port = str(node.host), int(node.port)
        hosts.append(f'[{host}]:{port}' if ':' in host else f'{host}:{port}')
    known = {'username', 'password', 'socket_timeout', 'socket_connect_timeout',
             'ssl'} | {k for k in kwargs if k.startswith('ssl_')}
    settings = {k: v for k, v in kwargs.items() if k in known}
    tls = bool(kwargs.get('ssl'))
    settings['ssl'] = tls
    settings['_cluster_nodes'] = ','.join(hosts)
    _refuse_unsupported(settings, tls)
    if kwargs.get('credential_provider') is not None:
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            'RedisLock cannot use a credential_provider; pass username and '
            'password instead',
        )
    return settings


def _sentinel_pool_settings(pool: typing.Any, kwargs: dict[str, typing.Any],
                            tls: bool) -> dict[str, typing.Any]:
    """A redis-py Sentinel master pool (Sentinel(...).master_for(name)):
    its service, its sentinels and the master's credentials and db."""
    if not getattr(pool, 'is_master', False):
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            'RedisLock cannot use a Sentinel replica pool (slave_for): a lock '
            'lives on the master; use master_for',
        )
    hosts = []
    for client in getattr(getattr(pool, 'sentinel_manager', None), 'sentinels', ()):
        ck = client.connection_pool.connection_kwargs
        host = str(ck.get('host') or '127.0.0.1')
        hosts.append(f'[{host}]:{int(ck.get("port") or 26379)}' if ':' in host
                     else f'{host}:{int(ck.get("port") or 26379)}')
    settings = dict(kwargs)
    settings['ssl'] = tls
    settings['_sentinel_service'] = str(pool.service_name)
    settings['_sentinels'] = ','.join(hosts)
    _refuse_unsupported(settings, tls)
    return settings


def _fakeredis_pool_settings(pool: typing.Any,
                             kwargs: dict[str, typing.Any]) -> dict[str, typing.Any]:
    """A fakeredis pool: its fake server, served on a loopback port (see
    _fakeredis), with the pool's db and credentials."""
    bridge = _fakeredis.bridge_for_pool(pool)
    settings = {key: kwargs.get(key) for key in
                ('db', 'username', 'password', 'socket_timeout',
                 'socket_connect_timeout')}
    settings.update(host=bridge.host, port=bridge.port, ssl=False,
                    _bridge=bridge, _fakeredis_pool=pool)
    return settings


def _release_fakeredis_locks_at_exit() -> None:
    # Interpreter exit stops the loopback servers' threads (daemon threads)
    # before the last references to the locks go: a lock still held then
    # would send its release to a server that never answers, and wait the
    # whole command timeout (the client's socket_timeout) for it. So the
    # held ones are released here, while their servers still serve; the
    # fake servers die with the process anyway.
    pid = os.getpid()
    for lock in list(_live.values()):
        bridge = lock.__dict__.get('_fakeredis_bridge')
        if bridge is None or bridge.pid != pid or not lock.__dict__.get('_held'):
            continue
        with contextlib.suppress(Exception):  # another thread inside a call
            lock.release()


atexit.register(_release_fakeredis_locks_at_exit)


def _pool_settings(pool: typing.Any) -> dict[str, typing.Any]:
    """Host, port, db and credentials of a redis-py connection pool; a
    clear error for a pool whose connections the C core cannot reproduce."""
    kwargs = getattr(pool, 'connection_kwargs', None)
    cls = getattr(pool, 'connection_class', None)
    if not isinstance(kwargs, dict) or cls is None:
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            f'RedisLock cannot use the connection {pool!r}: it needs a '
            'redis-py client or connection pool (connection_class and '
            'connection_kwargs)',
        )
    if _fakeredis.is_fakeredis_pool(pool):
        return _fakeredis_pool_settings(pool, kwargs)
    names = {c.__module__ + '.' + c.__name__ for c in getattr(cls, '__mro__', (cls,))}
    tls = 'redis.connection.SSLConnection' in names
    if 'redis.sentinel.SentinelManagedConnection' in names:
        return _sentinel_pool_settings(pool, kwargs, tls)
    plain = {'redis.connection.Connection', 'redis.connection.UnixDomainSocketConnection'}
    # A subclass that connects its own way (fakeredis's in-process server,
    # a proxy) cannot be reproduced by the C core, which connects to
    # host:port or the socket path itself.
    own_connect = any(
        getattr(getattr(cls, name, None), '__module__', 'redis.connection')
        != 'redis.connection'
        for name in ('connect', '_connect')
    )
    if not (names & plain) or own_connect:
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            f'RedisLock cannot use connections of class {cls.__module__}.'
            f'{cls.__name__}: the C core connects to the Redis server itself, '
            'so it needs a real server reachable over TCP or a unix socket',
        )
    settings = dict(kwargs)
    if settings.get('credential_provider') is not None:
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            'RedisLock cannot use a credential_provider; pass username and '
            'password instead',
        )
    # An SSLConnection pool: its TLS settings come across (redis-py's
    # defaults for what it leaves out: verify the server and its name).
    settings['ssl'] = tls
    _refuse_unsupported(settings, tls)
    return settings


def _core_holds(h: typing.Any) -> bool:
    """Whether the C handle holds (or held and lost) the lock; no round
    trip."""
    try:
        _c.pl_redis_lock_check(h)
    except exceptions.LockLostError:
        return True  # lost: still to be torn down
    except exceptions.LockException:
        return False  # not held (or the handle is busy: not ours to say)
    return True


class RedisLock(utils.LockBase):
    """A Redis lock held by a pub/sub subscription (the reference's
    RedisLock, over the C core).

    Args are the reference's: channel, connection (a redis-py client whose
    pool's host, port, db and credentials are used; never closed by the
    lock), timeout, check_interval, fail_when_locked, thread_sleep_time
    (accepted, no effect), unavailable_timeout, redis_kwargs, flags
    (``LockFlags.EXCLUSIVE`` or ``LockFlags.SHARED``), on_lost (called once
    per loss with the lock, on a thread of this module; what it raises is
    reported, not propagated), interrupt_on_lost (a loss also raises
    KeyboardInterrupt in the main thread; None means True with a
    DeprecationWarning at the loss, as in 4.4), subscription_connection_factory
    (not supported: the C core makes its own connection; anything but None
    raises Unsupported), self_check_interval (seconds between end-to-end
    self-checks of a held lock, or None), fencing (every exclusive grant
    draws a token from ``INCR fence_key``: `fence_token`), url (ours: a
    redis://, rediss:// or unix:// URL deciding the whole connection; not
    together with connection or connection_pool).

    "Held" means the C core confirmed the subscription with a round trip
    less than a validity window ago, a window shorter than the
    ``unavailable_timeout`` after which a waiter may reap a silent holder
    (so give every participant on a channel the same unavailable_timeout).
    A holder paused between a check and a write can still write after
    losing the lock: hand `fence_token` to the resource for that.

    Defaults: timeout 5 s (`utils.DEFAULT_TIMEOUT`), check_interval 0.25 s,
    fail_when_locked False, unavailable_timeout 1 s
    (`DEFAULT_UNAVAILABLE_TIMEOUT`), flags EXCLUSIVE, redis_kwargs
    `DEFAULT_REDIS_KWARGS`, on_lost None, interrupt_on_lost None,
    self_check_interval None, fencing False.

    Raises (constructor): TypeError for an unknown keyword;
    ValueError for flags that are not exactly one of EXCLUSIVE/SHARED;
    Unsupported for connection settings the C core cannot honour.

    Example::

        import redis
        from cportalocker import RedisLock

        with RedisLock('jobs', connection=redis.Redis()) as lock:
            lock.ensure_held()   # LockLostError if revoked meanwhile
            ...
    """

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
        interrupt_on_lost: bool | None = None,
        subscription_connection_factory: typing.Callable[[], typing.Any] | None = None,
        self_check_interval: float | None = None,
        fencing: bool = False,
        *,
        url: str | None = None,
    ) -> None:
        if url is not None and (connection is not None or
                                (redis_kwargs or {}).get('connection_pool') is not None):
            raise ValueError('RedisLock: pass url or a connection/connection_pool, not both')
        self.url = url
        self.close_connection = not connection
        self.channel = channel
        self.connection = connection
        self.thread_sleep_time = thread_sleep_time
        self.unavailable_timeout = unavailable_timeout
        self.redis_kwargs = redis_kwargs or dict()
        if flags not in (constants.LockFlags.EXCLUSIVE, constants.LockFlags.SHARED):
            raise ValueError(
                'RedisLock flags must contain exactly one of '
                'LockFlags.EXCLUSIVE or LockFlags.SHARED'
            )
        self.flags = flags
        if self_check_interval is not None and self_check_interval <= 0:
            raise ValueError(
                'self_check_interval must be positive or None, got '
                f'{self_check_interval!r}'
            )
        if subscription_connection_factory is not None:
            raise exceptions.Unsupported(
                exceptions.LockException.LOCK_FAILED,
                'RedisLock: subscription_connection_factory is not supported: '
                'the C core makes its own subscription connection from the '
                'host, port, db and credentials',
            )
        self.subscription_connection_factory = None
        self.self_check_interval = self_check_interval
        self.fencing = bool(fencing)
        self.on_lost = on_lost
        self.interrupt_on_lost = True if interrupt_on_lost is None else bool(interrupt_on_lost)
        self._interrupt_on_lost_set = interrupt_on_lost is not None
        for key, value in self.DEFAULT_REDIS_KWARGS.items():
            self.redis_kwargs.setdefault(key, value)
        super().__init__(timeout=timeout, check_interval=check_interval,
                         fail_when_locked=fail_when_locked)
        settings = self._connection_settings()
        # Guards the calls that talk to the server (see the module's
        # docstring): taken without waiting.
        self._busy = threading.Lock()
        # Held around the short queries that read the C handle (lost): a
        # call taking _busy waits for one already inside (microseconds),
        # and a query that finds _busy taken answers from what Python
        # knows instead, so a query never makes acquire/release fail.
        self._query = threading.Lock()
        self._held = False
        self._lost_event = threading.Event()
        self._fence_token: int | None = None
        raw = channel.encode() if isinstance(channel, str) else bytes(channel)
        self._handle = _c.pl_redis_lock_new(raw)
        # A fakeredis client's loopback server lives as long as a lock on it.
        self._fakeredis_bridge = settings.get('_bridge')
        self._fakeredis_pool = settings.get('_fakeredis_pool')
        self._configure(settings)
        h = self._handle
        _c.pl_redis_lock_set_flags(h, constants._flags_to_core(flags))
        _c.pl_redis_lock_set_unavailable_timeout(h, float(unavailable_timeout))
        _c.pl_redis_lock_set_fencing(h, 1 if self.fencing else 0)
        if self_check_interval is not None:
            _c.pl_redis_lock_set_self_check_interval(h, float(self_check_interval))
        self._token = next(_tokens)
        _live[self._token] = self
        _notifier.ensure()
        _c.pl_py_redis_lock_set_lost_callback(h, self._token)

    # -- configuration -----------------------------------------------------

    def _connection_settings(self) -> dict[str, typing.Any]:
        if self.connection is not None:
            mro = type(self.connection).__mro__
            if any(c.__module__ + '.' + c.__name__ == 'redis.cluster.RedisCluster'
                   for c in mro):
                return _cluster_client_settings(self.connection)
            pool = getattr(self.connection, 'connection_pool', None)
            if pool is None:
                raise exceptions.Unsupported(
                    exceptions.LockException.LOCK_FAILED,
                    f'RedisLock cannot use the connection {self.connection!r}: '
                    'it needs a redis-py client (with a connection_pool)',
                )
            return _pool_settings(pool)
        _check_redis_kwargs(self.redis_kwargs)
        pool = self.redis_kwargs.get('connection_pool')
        if pool is not None:
            return _pool_settings(pool)
        return self.redis_kwargs

    def _configure(self, s: dict[str, typing.Any]) -> None:
        h = self._handle
        path = s.get('unix_socket_path') or s.get('path')
        if path:
            _c.pl_redis_lock_set_unix_socket(h, os.fsdecode(path))
        else:
            _c.pl_redis_lock_set_host(h, str(s.get('host') or '127.0.0.1'),
                                      int(s.get('port') or 6379))
        if s.get('db'):
            _c.pl_redis_lock_set_db(h, int(s['db']))
        if s.get('password') is not None:
            _c.pl_redis_lock_set_password(h, s.get('username'), str(s['password']))
        if s.get('socket_connect_timeout') is not None:
            _c.pl_redis_lock_set_connect_timeout(h, float(s['socket_connect_timeout']))
        if s.get('socket_timeout') is not None:
            _c.pl_redis_lock_set_command_timeout(h, float(s['socket_timeout']))
        _configure_tls(h, s)
        if s.get('_sentinel_service'):
            _c.pl_redis_lock_set_sentinels(h, s['_sentinels'])
            _c.pl_redis_lock_set_sentinel_service(h, s['_sentinel_service'])
        if s.get('_cluster_nodes'):
            _c.pl_redis_lock_set_cluster_nodes(h, s['_cluster_nodes'])
            _c.pl_redis_lock_set_cluster(h, 1)
        if self.url is not None:  # the whole connection: it decides
            _c.pl_redis_lock_set_url(h, str(self.url))

    def _fakeredis_after_fork(self, h: typing.Any) -> None:
        """In a forked child, a lock made in the parent over a fakeredis
        client: its loopback server is the parent's (so the lock would be
        on the parent's fake server, not on the copy the child's client
        sees); it moves to the child's own."""
        bridge = self._fakeredis_bridge
        if bridge is None or bridge.pid == os.getpid():
            return
        bridge = _fakeredis.bridge_for_pool(self._fakeredis_pool)
        _c.pl_redis_lock_set_host(h, bridge.host, bridge.port)
        self._fakeredis_bridge = bridge

    # -- the guard ---------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self, what: str) -> typing.Iterator[typing.Any]:
        """Holds _busy for a call that talks to the server."""
        if not self._busy.acquire(blocking=False):
            raise exceptions.InvalidState(
                exceptions.LockException.LOCK_FAILED,
                f'RedisLock {self.channel!r}: cannot {what} while another '
                'thread is inside acquire(), release() or probe() of this '
                'object',
            )
        try:
            with self._query:
                pass  # a query already reading the handle has finished
            yield self._handle
        finally:
            self._busy.release()

    # -- queries -----------------------------------------------------------

    @property
    def holder_id(self) -> str:
        """This holder's id on the wire (fixed for the object's life)."""
        return typing.cast(str, _c.pl_redis_lock_holder_id(self._handle))

    @property
    def mode(self) -> RedisLockMode:
        """The mode this lock advertises right now."""
        return _MODES[_c.pl_redis_lock_get_mode(self._handle)]

    @property
    def writer_elected(self) -> bool:
        """Whether this lock is the elected writer."""
        return bool(_c.pl_redis_lock_get_elected(self._handle))

    @property
    def fence_key(self) -> str:
        """``<channel>-fence``: the key of the channel's fencing counter
        (never expires, never deleted by the lock)."""
        key = _c.pl_redis_lock_get_fence_key(self._handle)
        return key.decode('utf-8', 'surrogateescape')

    @property
    def fence_token(self) -> int | None:
        """Token of the current fenced grant, or the most recent one; None
        until a ``fencing=True`` exclusive grant, and again from the start
        of the next acquire. Survives a loss and a release."""
        return self._fence_token

    @property
    def lost(self) -> bool:
        """True from the moment a held lock was lost until the next acquire
        (still True after release). No round trip; never waits for another
        thread's acquire, release or probe, nor makes it fail."""
        if self._lost_event.is_set():
            return True
        with self._query:
            if self._busy.locked() or not self._held:
                return False  # acquiring, releasing, or nothing held to lose
            with contextlib.suppress(exceptions.LockException):
                if _c.pl_redis_lock_is_lost(self._handle):
                    self._lost_event.set()
                    return True
            try:
                _c.pl_redis_lock_check(self._handle)
            except exceptions.LockLostError:
                self._lost_event.set()
                return True
            except exceptions.LockException:
                return False
            return False

    def ensure_held(self) -> None:
        """Raise LockLostError if the lock was lost; return quietly otherwise
        (also when idle or acquiring)."""
        if self.lost:
            raise self._lock_lost_error()

    def _lock_lost_error(self) -> exceptions.LockLostError:
        return exceptions.LockLostError(
            exceptions.LockException.LOCK_FAILED,
            f'Redis lock {self.holder_id} on channel {self.channel!r} was '
            'revoked while held',
            channel=self.channel,
            holder_id=self.holder_id,
        )

    # -- acquire / release / probe ----------------------------------------

    def acquire(
        self,
        timeout: float | None = None,
        check_interval: float | None = None,
        fail_when_locked: bool | None = None,
    ) -> RedisLock:
        """Acquire the lock; returns self.

        Args:
            timeout, check_interval, fail_when_locked: override the
                instance's values for this call (None: use them).

        Raises:
            AlreadyLocked: contention (fail_when_locked) or the timeout ran
                out.
            LockException: this object already holds the lock.
            InvalidState: another thread is inside acquire, release or
                probe of this object.
            ConnectionError: the server cannot be reached (also redis-py's
                ConnectionError).
            Interrupted: a cancel ended the wait.
        """
        with self._exclusive('acquire') as h:
            if self._held and not self._lost_event.is_set():
                try:
                    _c.pl_redis_lock_check(h)
                except exceptions.LockLostError:
                    self._lost_event.set()
                except exceptions.LockException:
                    pass
            if self._held and not self._lost_event.is_set():
                raise exceptions.LockException('This lock is already active')
            if self._held or _core_holds(h):
                # A lost hold, or one an interrupted release() left in the
                # core: tear it down first.
                self._held = False
                with contextlib.suppress(exceptions.LockException):
                    _c.pl_redis_lock_release(h)
            self._lost_event.clear()
            self._fence_token = None
            _notifier.ensure()  # a forked child's first acquire makes its own
            self._fakeredis_after_fork(h)
            try:
                with _redis_errors():
                    _c.pl_redis_lock_acquire_with(
                        h,
                        utils._seconds(utils.coalesce(timeout, self.timeout, 0.0)),
                        utils._seconds(utils.coalesce(check_interval, self.check_interval, 0.0)),
                        1 if utils.coalesce(fail_when_locked, self.fail_when_locked, False) else 0,
                    )
                self._held = True
                if self.fencing and self.flags == constants.LockFlags.EXCLUSIVE:
                    token = _c.pl_redis_lock_get_fence_token(h)
                    self._fence_token = int(token) if token else None
            except BaseException:
                # Also an exception after the core took the lock (a signal
                # handler's KeyboardInterrupt as the call returned): this
                # acquire did not succeed, so nothing may stay held
                # (releasing what is not held is a no-op).
                self._held = False
                self._fence_token = None
                with contextlib.suppress(exceptions.LockException):
                    _c.pl_redis_lock_release(h)
                raise
        return self

    def release(self) -> None:
        """Give up the lock (unsubscribe). A loss is not an error here
        (``lost`` stays True until the next acquire); a no-op when nothing
        is held.

        Raises:
            InvalidState: another thread is inside acquire, release or
                probe of this object.
        """
        with self._exclusive('release') as h:
            # (The core may hold what this object does not know of: a
            # KeyboardInterrupt between the two steps of an earlier
            # release.)
            if not self._held and not _core_holds(h):
                return
            self._held = False
            try:
                with _redis_errors():
                    _c.pl_redis_lock_release(h)
            except exceptions.LockLostError:
                self._lost_event.set()
            except exceptions.NotHeld:
                pass

    def probe(self, timeout: float | None = None) -> list[RedisLockHolder]:
        """Who holds the channel right now, changing nothing: never reaps,
        never subscribes (this lock's own record is included while it
        holds). An empty list for a channel nobody is on; LockException
        when no probe was conclusive within ``timeout`` seconds (default
        unavailable_timeout)."""
        with self._exclusive('probe') as h:
            self._fakeredis_after_fork(h)
            wait = float(self.unavailable_timeout if timeout is None else timeout)
            with _redis_errors():
                holders = _c.pl_redis_lock_probe(h, wait)
        result = []
        for i in range(_c.pl_redis_holders_count(holders)):
            holder_id, mode, elected = _c.pl_redis_holders_get(holders, i)
            result.append(RedisLockHolder(
                holder_id=holder_id,
                mode=_MODES[mode],
                legacy=holder_id.startswith('legacy-'),
                elected=None if elected < 0 else bool(elected),
            ))
        return result

    def check_or_kill_lock(self, connection: typing.Any, timeout: float) -> bool | None:
        """Deprecated (as in the reference 4.2+): use `probe`.

        Answers "is anybody holding this channel?": True when a holder
        answered within ``timeout`` seconds, None otherwise (False is never
        returned, as in the reference). Unlike the reference it never
        reaps: a crashed holder is reaped inside `acquire`, under the
        protocol's timeout rules. ``connection`` is accepted for the
        reference's signature; the probe uses this lock's own settings.

        Warns:
            DeprecationWarning: always, naming `probe`.

        Example::

            >>> lock.check_or_kill_lock(connection, timeout=1)  # doctest: +SKIP
            True
        """
        warnings.warn(
            'check_or_kill_lock is deprecated and will be removed in '
            'portalocker 5.0.0; use probe() for a read-only view of the '
            'channel. Crashed holders are reaped inside acquire().',
            DeprecationWarning,
            stacklevel=2,
        )
        try:
            holders = self.probe(timeout)
        except exceptions.LockException:
            return None
        return True if holders else None

    # -- loss --------------------------------------------------------------

    def _handle_loss(self) -> None:
        """On the notifier thread: the C core lost this held lock."""
        self._lost_event.set()
        callback = self.on_lost
        if callback is not None:
            try:
                callback(self)
            except BaseException:  # noqa: BLE001 - as the reference: reported
                sys.unraisablehook(_Unraisable(*sys.exc_info(),
                                               err_msg='Exception in RedisLock on_lost callback',
                                               object=callback))
        if self.interrupt_on_lost:
            _thread.interrupt_main()
            if not self._interrupt_on_lost_set:
                warnings.warn(
                    f'cportalocker.RedisLock on channel {self.channel!r} lost a '
                    'held lock and interrupted the main thread because '
                    'interrupt_on_lost defaults to True in portalocker 4.2. '
                    'portalocker 5.0.0 flips that default to False; pass '
                    'interrupt_on_lost explicitly to keep or drop the interrupt.',
                    DeprecationWarning,
                    stacklevel=1,
                )

    # -- context and lifetime ---------------------------------------------

    def __enter__(self) -> RedisLock:
        return self.acquire()

    def __exit__(self, exc_type: typing.Any, exc_value: typing.Any, traceback: typing.Any) -> None:
        try:
            self.release()
        except Exception as release_error:
            if exc_value is None:
                raise
            utils_chain = getattr(utils, '_chain_release_error', None)
            if utils_chain is not None:
                utils_chain(exc_value, release_error)
            return None
        if exc_type is None and self.lost:
            raise self._lock_lost_error()
        return None

    def __del__(self) -> None:
        # A safety net, as in the reference: every error is suppressed (at
        # interpreter shutdown even the module's globals may be gone). The
        # handle itself is freed by its own destructor, without the GIL.
        with contextlib.suppress(Exception):
            token = self.__dict__.get('_token')
            if token is not None:
                _live.pop(token, None)
        with contextlib.suppress(Exception):
            if self.__dict__.get('_held'):
                self._held = False
                _c.pl_redis_lock_release(self._handle)


def __getattr__(name: str) -> typing.Any:
    """``PubSubWorkerThread``: redis-py's pub/sub worker class, the name the
    reference module exports (its worker subclasses it), for code that
    names it in annotations. cportalocker's RedisLock runs no such thread:
    the C core's holder thread answers the pings. Resolved on first use so
    that redis-py stays optional (AttributeError without it)."""
    if name == 'PubSubWorkerThread':
        try:
            from redis.client import PubSubWorkerThread
        except ImportError:
            raise AttributeError(
                f'module {__name__!r} has no attribute {name!r} '
                '(it is redis-py\'s class: install redis)'
            ) from None
        return PubSubWorkerThread
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
