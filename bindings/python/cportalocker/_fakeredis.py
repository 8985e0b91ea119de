"""fakeredis clients for RedisLock: their in-process server on a loopback port.

A fakeredis client talks to a ``FakeServer`` object inside this process;
the C core connects to a Redis server itself (hiredis over a socket), so it
cannot reach that object directly. Test suites written for the reference
hand RedisLock a ``fakeredis.FakeStrictRedis`` and then look at the same
fake server through that client (subscribers, keys), so the lock must be
*on* that server, not on a server of its own.

fakeredis ships the piece that makes this possible: ``TcpFakeServer``, a
socketserver speaking RESP over TCP for a ``FakeServer``. One is started per
fake server on 127.0.0.1 (a free port chosen by the kernel), serving the
client's own ``FakeServer``, and shared by every lock on it. It runs on a
daemon thread and stops once no lock uses it any more (each lock keeps a
reference to its bridge; the last one going stops the thread and closes the
listening socket). A forked child has none of its parent's serving threads:
its locks get bridges of their own, to its copies of the fake servers (a
lock made in the parent moves over at its first call there, see
RedisLock._fakeredis_after_fork). Interpreter exit stops the serving
threads (daemon threads) before the last locks go, so redis.py releases the
ones still held first, at exit.

What the fake server does not implement (CLIENT KILL among them) fails the
same way it would for any client of it. Not on Windows: TcpFakeServer makes
its sockets non-blocking with fcntl, and without that it pushes pub/sub
messages only when the client next sends a command, so a waiter would not
hear a release.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import typing
import weakref

from . import exceptions

__all__ = ['is_fakeredis_pool', 'bridge_for_pool']

# How long the serving thread waits for a connection before it looks again
# whether it should stop (its only cost when idle).
_ACCEPT_POLL = 0.1


def is_fakeredis_pool(pool: typing.Any) -> bool:
    """Whether ``pool`` makes fakeredis connections."""
    cls = getattr(pool, 'connection_class', None)
    return any(getattr(c, '__module__', '').split('.')[0] == 'fakeredis'
               for c in getattr(cls, '__mro__', ()))


class Bridge:
    """One fake server served on 127.0.0.1:port while a lock refers to it."""

    def __init__(self, fake_server: typing.Any) -> None:
        if sys.platform == 'win32':
            raise exceptions.Unsupported(
                exceptions.LockException.LOCK_FAILED,
                'RedisLock cannot use a fakeredis client on Windows: '
                "fakeredis's TcpFakeServer, which serves its in-process server "
                'to the C core, pushes pub/sub messages there only when the '
                'client sends a command; use a real Redis server',
            )
        tcp = _server_class()(('127.0.0.1', 0))
        # Serve the client's own server, not the new one it made.
        tcp.fake_server = fake_server
        # Connection threads must never keep the interpreter alive, nor
        # make closing the listener wait for them.
        tcp.daemon_threads = True
        tcp.block_on_close = False
        tcp.timeout = _ACCEPT_POLL
        # Registered under id(fake_server): kept alive with the bridge so
        # that no other object can take that id meanwhile.
        self.fake_server = fake_server
        self.host = '127.0.0.1'
        # The process whose threads serve it: a forked child has none.
        self.pid = os.getpid()
        self.port = int(tcp.server_address[1])
        stop = threading.Event()
        # Runs when the last lock using this bridge is gone (not from the
        # serving thread, which holds no reference to the Bridge). Set up
        # before the thread starts: an exception in between (a Ctrl-C)
        # must not leave a thread serving with nothing to ever stop it.
        weakref.finalize(self, stop.set)
        thread = threading.Thread(target=_serve, args=(tcp, stop),
                                  name=f'cportalocker-fakeredis-{self.port}',
                                  daemon=True)
        thread.start()


@functools.lru_cache(maxsize=None)
def _server_class() -> typing.Any:
    from fakeredis import TcpFakeServer  # only with fakeredis in use

    class QuietTcpFakeServer(TcpFakeServer):
        def handle_error(self, request: typing.Any, client_address: typing.Any) -> None:
            # A connection dropped because the fake server emulates a
            # disconnection (``server.connected = False``) is an ordinary
            # event of the user's test, not worth a traceback on stderr.
            if not _emulated_disconnection(self.fake_server, sys.exc_info()[1]):
                super().handle_error(request, client_address)

    return QuietTcpFakeServer


def _emulated_disconnection(fake_server: typing.Any, error: BaseException | None) -> bool:
    if not getattr(fake_server, 'connected', True):
        return True
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # pragma: no cover - fakeredis needs redis-py
        return False
    # The error the fake server raises for it, possibly chained to whatever
    # the handler was doing when it hit it.
    while error is not None:
        if isinstance(error, RedisConnectionError):
            return True
        error = error.__context__
    return False


def _serve(tcp: typing.Any, stop: threading.Event) -> None:
    try:
        while not stop.is_set():
            tcp.handle_request()  # returns after tcp.timeout when idle
    finally:
        # Open connections end too: the lock that made them is gone.
        event = getattr(tcp, '_shutdown_event', None)
        if event is not None:
            event.set()
        tcp.server_close()


_bridges: weakref.WeakValueDictionary[int, Bridge] = weakref.WeakValueDictionary()
_bridges_lock = threading.Lock()


def _forget_bridges() -> None:
    # A forked child has its own copy of every fake server and none of the
    # serving threads: its locks get bridges of their own, to its copies
    # (a lock there talking to the parent's bridge would be on the parent's
    # server, not on the one its client sees).
    global _bridges_lock
    _bridges_lock = threading.Lock()
    _bridges.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_forget_bridges)


def _fake_server_of(pool: typing.Any) -> typing.Any:
    kwargs = dict(getattr(pool, 'connection_kwargs', {}))
    # A connection object, never connected: fakeredis resolves the server
    # (the one passed as server=, or its registry's one for host:port) when
    # it is made.
    connection = pool.connection_class(**kwargs)
    server = getattr(connection, '_server', None)
    if server is None:
        raise exceptions.Unsupported(
            exceptions.LockException.LOCK_FAILED,
            f'RedisLock cannot use connections of class '
            f'{pool.connection_class.__module__}.{pool.connection_class.__name__}:'
            ' this fakeredis version does not expose its FakeServer',
        )
    return server


def bridge_for_pool(pool: typing.Any) -> Bridge:
    """The loopback bridge of the fake server behind a fakeredis pool."""
    server = _fake_server_of(pool)
    with _bridges_lock:
        bridge = _bridges.get(id(server))
        if bridge is None:
            bridge = Bridge(server)
            _bridges[id(server)] = bridge
        return bridge
