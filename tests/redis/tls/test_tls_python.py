"""The Python binding over TLS, beside redis-py and the reference portalocker
on the same TLS server (ci/tests.d/redis-tls.sh: PL_TEST_REDIS_TLS_PORT,
client certificates required; PL_TEST_REDIS_PORT is the same server's
plain port, for looking at it; certificates in PL_TEST_TLS_DIR).
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

import portalocker as ref
import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / 'build' / 'python'))
import cportalocker as cpl  # noqa: E402

TLS_PORT = int(os.environ['PL_TEST_REDIS_TLS_PORT'])
PLAIN_PORT = int(os.environ['PL_TEST_REDIS_PORT'])
DIR = pathlib.Path(os.environ['PL_TEST_TLS_DIR'])
CA, OTHER_CA = str(DIR / 'ca.crt'), str(DIR / 'other-ca.crt')
CERT, KEY = str(DIR / 'client.crt'), str(DIR / 'client.key')
ENDPOINT = f'127.0.0.1:{TLS_PORT} (TLS)'


def tls_kwargs(**over):
    kw = dict(host='127.0.0.1', port=TLS_PORT, ssl=True, ssl_ca_certs=CA,
              ssl_certfile=CERT, ssl_keyfile=KEY)
    kw.update(over)
    return kw


def url(ca=CA, **opts):
    q = '&'.join(f'{k}={v}' for k, v in dict(ssl_ca_certs=ca, ssl_certfile=CERT,
                                                ssl_keyfile=KEY, **opts).items())
    return f'rediss://127.0.0.1:{TLS_PORT}?{q}'


def channel(tag):
    return f'pytls-{tag}-{uuid.uuid4().hex[:8]}'


def numsub(ch):
    c = redis.Redis(port=PLAIN_PORT)
    try:
        return c.pubsub_numsub(ch)[0][1]
    finally:
        c.close()


def ours(ch, **kw):
    kw.setdefault('check_interval', 0.05)
    kw.setdefault('interrupt_on_lost', False)
    if 'url' not in kw and 'connection' not in kw:
        kw.setdefault('redis_kwargs', tls_kwargs())
    return cpl.RedisLock(ch, **kw)


def test_every_way_of_asking_for_tls_connects_over_tls():
    ch = channel('ways')
    client = redis.Redis(**tls_kwargs())
    pool = redis.ConnectionPool(connection_class=redis.SSLConnection, **{
        k: v for k, v in tls_kwargs().items() if k != 'ssl'})
    for lock in (ours(ch), ours(ch, url=url()), ours(ch, connection=client),
                 ours(ch, redis_kwargs={'connection_pool': pool})):
        with lock:
            assert numsub(ch) == 1
            assert lock.probe()[0].holder_id == lock.holder_id
        assert numsub(ch) == 0
    client.close()


def test_plaintext_to_the_tls_port_fails_never_silently():
    lock = ours(channel('plain'), redis_kwargs=dict(host='127.0.0.1', port=TLS_PORT,
                                                    socket_timeout=1),
                timeout=1, fail_when_locked=True)
    with pytest.raises(cpl.exceptions.ConnectionError):
        lock.acquire()


def test_contends_with_the_reference_over_tls():
    ch = channel('ref')
    theirs = ref.RedisLock(ch, redis_kwargs=tls_kwargs(), check_interval=0.05,
                           timeout=0.5, fail_when_locked=False)
    mine = ours(ch, timeout=0.5)
    with theirs:
        with pytest.raises(cpl.exceptions.AlreadyLocked):
            mine.acquire()
    with mine:
        with pytest.raises(ref.exceptions.AlreadyLocked):
            theirs.acquire()
    with theirs:
        pass


def test_crashed_holder_is_reaped():
    ch = channel('crash')
    code = (
        'import sys; sys.path.insert(0, %r)\n'
        'import cportalocker as cpl\n'
        'l = cpl.RedisLock(%r, redis_kwargs=%r, interrupt_on_lost=False)\n'
        'l.acquire(timeout=5)\n'
        'print("held", flush=True)\n'
        'import time; time.sleep(60)\n'
    ) % (str(ROOT / 'build' / 'python'), ch, tls_kwargs())
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == 'held'
        p.send_signal(signal.SIGKILL)
        p.wait()
        t0 = time.monotonic()
        with ours(ch, timeout=5):
            assert time.monotonic() - t0 < 4
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_killed_connection_is_lost():
    ch = channel('lost')
    lock = ours(ch)
    lock.acquire()
    admin = redis.Redis(port=PLAIN_PORT)
    name = f'{ch}-lock-{lock.holder_id}'
    ids = [c['id'] for c in admin.client_list() if c.get('name') == name]
    assert ids
    admin.client_kill_filter(_id=ids[0])
    admin.close()
    end = time.monotonic() + 20  # ends once seen: a bound a busy machine cannot miss
    while not lock.lost and time.monotonic() < end:
        time.sleep(0.01)
    assert lock.lost
    with pytest.raises(cpl.exceptions.LockLostError):
        lock.ensure_held()
    lock.release()
    assert numsub(ch) == 0


@pytest.mark.parametrize('how, words', [
    (dict(redis_kwargs=tls_kwargs(ssl_ca_certs=OTHER_CA)), 'certificate verification failed'),
    (dict(url=url(OTHER_CA)), 'certificate verification failed'),
    (dict(url=url(ssl_server_name='redis.invalid')), 'hostname mismatch'),
    (dict(redis_kwargs=tls_kwargs(ssl_certfile=None, ssl_keyfile=None)), 'certificate required'),
])
def test_tls_failures_are_connection_errors_naming_endpoint_and_cause(how, words):
    lock = ours(channel('fail'), timeout=2, **how)
    t0 = time.monotonic()
    with pytest.raises(cpl.exceptions.ConnectionError) as info:
        lock.acquire()
    assert time.monotonic() - t0 < 3
    assert isinstance(info.value, redis.exceptions.ConnectionError)
    assert ENDPOINT in str(info.value) and words in str(info.value), str(info.value)


def test_hostname_check_off_and_localhost():
    ch = channel('names')
    with ours(ch, redis_kwargs=tls_kwargs(host='localhost')):
        pass
    with ours(ch, url=url(ssl_server_name='redis.invalid', ssl_check_hostname='false')):
        pass
    # redis-py agrees that the certificate is good for localhost
    c = redis.Redis(**tls_kwargs(host='localhost'))
    assert c.ping()
    c.close()
