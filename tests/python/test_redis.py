"""RedisLock against a real redis-server started on a free 127.0.0.1 port."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

import cportalocker as cpl


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def redis_port(tmp_path_factory):
    if sys.platform == 'win32':
        # The Windows Python under wine (ci/tests.d/windows.sh): the Linux
        # redis-server that script started; a Linux binary cannot be
        # started from here.
        port = os.environ.get('PL_TEST_REDIS_PORT')
        assert port, 'PL_TEST_REDIS_PORT is required on Windows (windows.sh sets it)'
        yield int(port)
        return
    server = shutil.which('redis-server')
    assert server, 'redis-server is required (ci/setup.sh installs it)'
    port = _free_port()
    workdir = tmp_path_factory.mktemp('redis')
    proc = subprocess.Popen(
        [server, '--port', str(port), '--bind', '127.0.0.1', '--save', '',
         '--appendonly', 'no', '--dir', str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, 'redis-server exited'
            assert time.monotonic() < deadline, 'redis-server did not start'
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def test_acquire_contend_release(redis_port):
    kw = {'host': '127.0.0.1', 'port': redis_port}
    a = cpl.RedisLock('chan-a', redis_kwargs=kw, timeout=1)
    b = cpl.RedisLock('chan-a', redis_kwargs=kw, fail_when_locked=True)
    assert a.acquire() is a
    with pytest.raises(cpl.AlreadyLocked):
        b.acquire()
    start = time.monotonic()
    with pytest.raises(cpl.AlreadyLocked):
        cpl.RedisLock('chan-a', redis_kwargs=kw).acquire(timeout=0.3, check_interval=0.05)
    assert time.monotonic() - start < 5
    a.release()
    with b:
        pass


def test_context_releases_on_error(redis_port):
    kw = {'host': '127.0.0.1', 'port': redis_port}
    lock = cpl.RedisLock('chan-b', redis_kwargs=kw)
    with pytest.raises(KeyError):
        with lock:
            raise KeyError
    with cpl.RedisLock('chan-b', redis_kwargs=kw, fail_when_locked=True):
        pass


def test_connection_from_redis_py_client(redis_port):
    import redis

    client = redis.Redis(host='127.0.0.1', port=redis_port, db=0)
    lock = cpl.RedisLock('chan-c', connection=client, fail_when_locked=True)
    with lock:
        with pytest.raises(cpl.AlreadyLocked):
            cpl.RedisLock('chan-c', redis_kwargs={'port': redis_port},
                          fail_when_locked=True).acquire()


def test_connection_refused_is_a_lock_exception():
    port = _free_port()  # nothing listens there
    lock = cpl.RedisLock('chan-x', redis_kwargs={'port': port, 'socket_connect_timeout': 1},
                         timeout=0.2)
    with pytest.raises(cpl.LockException) as info:
        lock.acquire()
    assert isinstance(info.value, (cpl.exceptions.ConnectionError, cpl.AlreadyLocked))


@pytest.mark.parametrize('first', ['cportalocker', 'portalocker'])
def test_interop_with_reference_redis_lock(redis_port, first):
    import portalocker as ref

    kw = {'host': '127.0.0.1', 'port': redis_port}
    ours = cpl.RedisLock('chan-i', redis_kwargs=kw, fail_when_locked=True, timeout=2)
    theirs = ref.RedisLock('chan-i', redis_kwargs=dict(kw), fail_when_locked=True, timeout=2)
    holder, other, other_exc = (
        (ours, theirs, ref.AlreadyLocked) if first == 'cportalocker'
        else (theirs, ours, cpl.AlreadyLocked)
    )
    holder.acquire()
    try:
        with pytest.raises(other_exc):
            other.acquire()
    finally:
        holder.release()
    deadline = time.monotonic() + 10
    while True:  # the reference notices a release by polling
        try:
            other.acquire()
            break
        except other_exc:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    other.release()


def test_lost_lock_surfaces_as_callback_and_exception(redis_port):
    import redis

    kw = {'host': '127.0.0.1', 'port': redis_port}
    lost = threading.Event()
    lock = cpl.RedisLock('chan-l', redis_kwargs=kw, on_lost=lambda l: lost.set(),
                         interrupt_on_lost=False)
    admin = redis.Redis(host='127.0.0.1', port=redis_port)
    with pytest.raises(cpl.LockLostError) as info:
        with lock:
            lock.ensure_held()
            assert not lock.lost
            admin.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
            assert lost.wait(10), 'on_lost was not called'
            assert lock.lost
            with pytest.raises(cpl.LockLostError):
                lock.ensure_held()
    assert info.value.channel == 'chan-l'


def test_gil_released_while_waiting_for_redis(redis_port):
    kw = {'host': '127.0.0.1', 'port': redis_port}
    held = cpl.RedisLock('chan-g', redis_kwargs=kw)
    held.acquire()
    waiter = cpl.RedisLock('chan-g', redis_kwargs=kw, timeout=1.0, check_interval=0.1)
    result = {}

    def wait():
        try:
            waiter.acquire()
        except cpl.AlreadyLocked:
            result['timeout'] = True

    t = threading.Thread(target=wait)
    t.start()
    spins, deadline = 0, time.monotonic() + 0.5
    while time.monotonic() < deadline:
        spins += 1
    t.join(30)
    held.release()
    assert result.get('timeout')
    assert spins > 10000
