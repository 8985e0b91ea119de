"""RedisLock over a fakeredis client: the lock is on the client's own
in-process server (served to the C core on a loopback port), visible to
every client of that server, the reference's RedisLock among them.

No Redis server is needed: fakeredis is the server. Collected on POSIX only
(conftest.py): on Windows the lock refuses a fakeredis client.
"""

import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref

import fakeredis
import portalocker as reference
import pytest

import cportalocker as cpl

from conftest import child_env


def _client(server=None, **kwargs):
    return fakeredis.FakeStrictRedis(server=server or fakeredis.FakeServer(), **kwargs)


def _refused(lock):
    with pytest.raises(cpl.AlreadyLocked):
        lock.acquire()


def test_the_lock_is_on_the_clients_fake_server():
    client = _client()
    holder = cpl.RedisLock('fk-on', connection=client, timeout=1)
    with holder:
        assert dict(client.pubsub_numsub('fk-on'))[b'fk-on'] >= 1
        _refused(cpl.RedisLock('fk-on', connection=client, timeout=0,
                               fail_when_locked=True))
        # Another fake server is another Redis: nothing held there.
        with cpl.RedisLock('fk-on', connection=_client(), timeout=0,
                           fail_when_locked=True):
            pass
    with cpl.RedisLock('fk-on', connection=client, timeout=0, fail_when_locked=True):
        pass


def test_clients_of_one_registry_server_share_it():
    # No server= : fakeredis keys its servers by host and port.
    a = fakeredis.FakeStrictRedis(host='fk-registry-host', port=7001)
    b = fakeredis.FakeStrictRedis(host='fk-registry-host', port=7001)
    with cpl.RedisLock('fk-reg', connection=a, timeout=1):
        _refused(cpl.RedisLock('fk-reg', connection=b, timeout=0,
                               fail_when_locked=True))


def test_a_release_wakes_a_waiter():
    client = _client()
    holder = cpl.RedisLock('fk-wake', connection=client, timeout=1)
    holder.acquire()
    got = threading.Event()

    def wait():
        with cpl.RedisLock('fk-wake', connection=client, timeout=20):
            got.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    assert not got.is_set()
    holder.release()
    assert got.wait(10), 'the waiter never got the lock after the release'
    waiter.join(10)


def test_the_reference_and_cportalocker_exclude_each_other():
    client = _client(decode_responses=True)
    with cpl.RedisLock('fk-ref', connection=client, timeout=1):
        with pytest.raises(reference.AlreadyLocked):
            reference.RedisLock('fk-ref', connection=client, timeout=0,
                                fail_when_locked=True,
                                interrupt_on_lost=False).acquire()
    ref = reference.RedisLock('fk-ref', connection=client, timeout=1,
                              interrupt_on_lost=False)
    ref.acquire()
    try:
        _refused(cpl.RedisLock('fk-ref', connection=client, timeout=0,
                               fail_when_locked=True))
    finally:
        ref.release()
    with cpl.RedisLock('fk-ref', connection=client, timeout=5):
        pass


def test_threads_with_their_own_locks_on_one_client_never_overlap():
    client = _client()
    inside = []
    overlaps = []

    def work():
        # A generous timeout: writers elect each other through pub/sub
        # round trips, each up to fakeredis's 10 ms push interval.
        lock = cpl.RedisLock('fk-threads', connection=client, timeout=60)
        for _ in range(8):
            with lock:
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert overlaps == []


def test_db_and_credentials_come_across():
    server = fakeredis.FakeServer(config={b'requirepass': b'sesame'})
    client = _client(server, db=3, password='sesame')
    lock = cpl.RedisLock('fk-db', connection=client, timeout=1, fencing=True)
    with lock:
        token = lock.fence_token
    assert int(client.get('fk-db-fence')) == token
    assert _client(server, db=0, password='sesame').get('fk-db-fence') is None
    wrong = _client(server, db=3, password='wrong')
    with pytest.raises(cpl.exceptions.LockException):
        cpl.RedisLock('fk-db', connection=wrong, timeout=1).acquire()


def test_a_disconnected_fake_server_is_a_connection_error():
    server = fakeredis.FakeServer()
    client = _client(server)
    server.connected = False
    lock = cpl.RedisLock('fk-down', connection=client, timeout=1,
                         unavailable_timeout=1)
    started = time.monotonic()
    with pytest.raises(cpl.exceptions.LockException) as caught:
        lock.acquire()
    assert isinstance(caught.value, cpl.redis.RedisConnectionError), caught.value
    assert time.monotonic() - started < 15


def _bridge_threads():
    return [t for t in threading.enumerate() if t.name.startswith('cportalocker-fakeredis-')]


def test_the_loopback_server_stops_when_no_lock_uses_it():
    gc.collect()
    before = set(_bridge_threads())
    client = _client()
    lock = cpl.RedisLock('fk-stop', connection=client, timeout=1)
    other = cpl.RedisLock('fk-stop', connection=client, timeout=1)
    new = set(_bridge_threads()) - before
    assert len(new) == 1, 'one loopback server per fake server'
    bridge = new.pop()
    port = int(bridge.name.rsplit('-', 1)[1])
    with lock:
        pass
    del lock
    gc.collect()
    time.sleep(0.3)
    with other:  # the other lock keeps it serving
        pass
    del other
    gc.collect()
    bridge.join(10)
    assert not bridge.is_alive()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(('127.0.0.1', port))


def test_a_forked_child_locks_on_its_own_copy_of_the_server():
    client = _client()
    parent = cpl.RedisLock('fk-fork', connection=client, timeout=1)
    parent.acquire()  # the parent's loopback server serves while it lives
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child, exits via os._exit
        code = 1
        try:
            with cpl.RedisLock('fk-fork-child', connection=client, timeout=5):
                # Seen by the child's client: the lock is on its copy.
                code = 0 if dict(client.pubsub_numsub('fk-fork-child'))[b'fk-fork-child'] >= 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dict(client.pubsub_numsub('fk-fork-child'))[b'fk-fork-child'] == 0
    parent.release()


def test_a_lock_made_before_a_fork_locks_on_the_childs_copy():
    # The lock object comes from the parent, which had used it (its
    # loopback server is the parent's): in the child it must still lock
    # on the child's copy of the fake server, the one the child's client
    # sees, not reach back into the parent's.
    client = _client()
    lock = cpl.RedisLock('fk-fork-made', connection=client, timeout=5)
    with lock:
        pass
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child, exits via os._exit
        code = 1
        try:
            with lock:
                seen = dict(client.pubsub_numsub('fk-fork-made'))[b'fk-fork-made']
                probed = [h.holder_id for h in lock.probe(timeout=2)]
                code = 0 if seen == 1 and probed == [lock.holder_id] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dict(client.pubsub_numsub('fk-fork-made'))[b'fk-fork-made'] == 0
    with lock:  # still the parent's, on the parent's server
        assert dict(client.pubsub_numsub('fk-fork-made'))[b'fk-fork-made'] == 1


def test_interpreter_exit_with_a_held_lock_does_not_wait(tmp_path):
    # At exit the loopback server's threads stop before the lock's last
    # release would be answered: without care, that release waits out the
    # client's socket_timeout (here 30 s) for a server that is gone.
    script = tmp_path / 'held_at_exit.py'
    script.write_text(
        'import fakeredis, cportalocker as cpl\n'
        'client = fakeredis.FakeStrictRedis(server=fakeredis.FakeServer(),\n'
        '                                   socket_timeout=30)\n'
        'lock = cpl.RedisLock("fk-exit", connection=client, timeout=5)\n'
        'lock.acquire()\n'
        'other = cpl.RedisLock("fk-exit-shared", connection=client, timeout=5,\n'
        '                      flags=cpl.LockFlags.SHARED)\n'
        'other.acquire()\n'
        'print("held", flush=True)\n'
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], env=child_env(),
                          capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'held\n'
    assert done.stderr == ''
    assert took < 15, f'exit took {took:.1f} s with a lock held'


def _handler_threads():
    return {t for t in threading.enumerate() if 'process_request_thread' in t.name}


def test_a_disconnected_fake_server_prints_no_tracebacks(capsys):
    # fakeredis's emulated disconnection (server.connected = False) is an
    # ordinary event for its users' tests: the loopback server must not
    # print a traceback for every connection it drops because of it.
    before = _handler_threads()
    server = fakeredis.FakeServer()
    client = _client(server)
    lost = threading.Event()
    holder = cpl.RedisLock('fk-quiet', connection=client, timeout=1,
                           on_lost=lambda _: lost.set(), interrupt_on_lost=False)
    holder.acquire()
    server.connected = False
    assert lost.wait(15), 'the loss was never reported'
    with pytest.raises(cpl.redis.RedisConnectionError):
        cpl.RedisLock('fk-quiet', connection=client, timeout=1).acquire()
    deadline = time.monotonic() + 10
    while _handler_threads() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.release()
    assert 'Traceback' not in capsys.readouterr().err


def test_an_async_client_gives_the_lock_on_its_own_server():
    # The lock itself blocks (it is not an asyncio lock), but an async
    # client's fake server is a fake server like any other: the lock is
    # there, seen through that client.
    async def check():
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
        try:
            with cpl.RedisLock('fk-async', connection=client, timeout=1):
                subscribers = dict(await client.pubsub_numsub('fk-async'))
                _refused(cpl.RedisLock('fk-async', connection=client, timeout=0,
                                       fail_when_locked=True))
            after = dict(await client.pubsub_numsub('fk-async'))
        finally:
            await client.aclose()
        return subscribers[b'fk-async'], after[b'fk-async']

    assert asyncio.run(check()) == (1, 0)


def test_a_fake_server_is_freed_with_its_last_lock_and_client():
    # A test suite's fake servers (and their data) must not outlive the
    # test: nothing of cportalocker's may keep one once its locks and
    # clients are gone.
    server = fakeredis.FakeServer()
    gone = weakref.ref(server)
    client = _client(server)
    client.set('fk-freed-data', b'x' * 1000)
    with cpl.RedisLock('fk-freed', connection=client, timeout=1):
        pass
    del server, client
    deadline = time.monotonic() + 10
    while gone() is not None and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    assert gone() is None, 'the fake server outlived its last lock and client'


@pytest.mark.parametrize('holder_kind', ['reference', 'cportalocker'])
def test_shared_holders_of_both_implementations_on_one_fake_server(holder_kind):
    client = _client(decode_responses=True)

    def make(kind, flags, **kwargs):
        if kind == 'reference':
            return reference.RedisLock('fk-shared', connection=client,
                                       flags=getattr(reference.LockFlags, flags),
                                       interrupt_on_lost=False, **kwargs)
        return cpl.RedisLock('fk-shared', connection=client,
                             flags=getattr(cpl.LockFlags, flags),
                             interrupt_on_lost=False, **kwargs)

    other = 'cportalocker' if holder_kind == 'reference' else 'reference'
    failure = cpl.AlreadyLocked if other == 'cportalocker' else reference.AlreadyLocked
    first = make(holder_kind, 'SHARED', timeout=1)
    first.acquire()
    try:
        second = make(other, 'SHARED', timeout=1)
        second.acquire()  # readers share
        try:
            with pytest.raises(failure):
                make(other, 'EXCLUSIVE', timeout=0, fail_when_locked=True).acquire()
        finally:
            second.release()
    finally:
        first.release()
    writer = make(other, 'EXCLUSIVE', timeout=5)
    writer.acquire()
    writer.release()


def test_ctrl_c_during_a_wait_leaves_the_lock_usable():
    client = _client()
    holder = cpl.RedisLock('fk-sigint', connection=client, timeout=1)
    holder.acquire()
    waiter = cpl.RedisLock('fk-sigint', connection=client, timeout=30)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            waiter.acquire()
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15
    # The interrupted attempt's unsubscribe may still be on its way (the
    # loopback server reads a connection every 10 ms): only the holder
    # stays.
    deadline = time.monotonic() + 10
    while (dict(client.pubsub_numsub('fk-sigint'))[b'fk-sigint'] != 1
           and time.monotonic() < deadline):
        time.sleep(0.01)
    assert dict(client.pubsub_numsub('fk-sigint'))[b'fk-sigint'] == 1
    assert not holder.lost
    holder.release()
    waiter.acquire(timeout=10)
    assert dict(client.pubsub_numsub('fk-sigint'))[b'fk-sigint'] == 1
    waiter.release()
    assert dict(client.pubsub_numsub('fk-sigint'))[b'fk-sigint'] == 0


def _fds():
    return len(os.listdir('/proc/self/fd'))


def test_many_fake_servers_leave_no_descriptors_or_threads_behind():
    # A suite making a fake server per test: each one's loopback server,
    # its connections and their threads go with its locks, also when a
    # lock is dropped while held.
    def one_round():
        for _ in range(15):
            client = _client()
            held = cpl.RedisLock('fk-many', connection=client, timeout=1)
            held.acquire()
            with cpl.RedisLock('fk-many-other', connection=client, timeout=1):
                pass
            del held, client

    def settled():
        deadline = time.monotonic() + 10
        while True:
            gc.collect()
            counts = (_fds(), threading.active_count())
            if not _bridge_threads() and not _handler_threads() or time.monotonic() > deadline:
                return counts
            time.sleep(0.05)

    one_round()
    fds, threads = settled()
    for _ in range(2):
        one_round()
    assert settled() == (fds, threads)


@pytest.mark.parametrize('kwargs', [
    dict(decode_responses=True),
    dict(version=6),
    dict(version=(7, 2)),
    dict(server_type='valkey'),
    dict(protocol=3),
], ids=lambda kwargs: ','.join(f'{k}={v}' for k, v in kwargs.items()))
def test_client_flavours(kwargs):
    server_kwargs = {k: kwargs.pop(k) for k in ('version', 'server_type') if k in kwargs}
    client = _client(fakeredis.FakeServer(**server_kwargs), **kwargs)
    lock = cpl.RedisLock('fk-flavour', connection=client, timeout=1, fencing=True)
    with lock:
        _refused(cpl.RedisLock('fk-flavour', connection=client, timeout=0,
                               fail_when_locked=True))
        assert [h.holder_id for h in lock.probe(timeout=5)] == [lock.holder_id]
    assert int(client.get('fk-flavour-fence')) == lock.fence_token
