"""RedisLock's API against the reference portalocker 4.4.2: names, defaults,
the errors for settings it cannot honour, fencing and the read-only probe
(real redis-server of the `redis_port` fixture)."""

import inspect
import socket
import time
import uuid

import portalocker as ref
import pytest
import redis
from test_redis import _free_port, redis_port  # noqa: F401 - the fixture

import cportalocker as cpl
from cportalocker import _portalocker_c as _c
from cportalocker import redis as cpl_redis

NO_INTERRUPT = {'interrupt_on_lost': False}


def ours(channel, port, **kw):
    kw.setdefault('interrupt_on_lost', False)
    return cpl.RedisLock(channel, redis_kwargs={'host': '127.0.0.1', 'port': port}, **kw)


def theirs(channel, port, **kw):
    kw.setdefault('interrupt_on_lost', False)
    return ref.RedisLock(channel, redis_kwargs={'host': '127.0.0.1', 'port': port}, **kw)


def test_signature_and_names_match_the_reference():
    mine = inspect.signature(cpl.RedisLock.__init__).parameters
    reference = inspect.signature(ref.RedisLock.__init__).parameters
    # ours adds keyword-only arguments only (url)
    assert [n for n, p in mine.items() if p.kind != p.KEYWORD_ONLY] == list(reference)
    assert [n for n, p in mine.items() if p.kind == p.KEYWORD_ONLY] == ['url']
    for name, param in reference.items():
        assert mine[name].default == param.default, name
    for name in ('REDIS_LOCK_PROTOCOL_VERSION', 'DEFAULT_UNAVAILABLE_TIMEOUT',
                 'DEFAULT_THREAD_SLEEP_TIME'):
        assert getattr(cpl_redis, name) == getattr(ref.redis, name), name
    assert {m.name: m.value for m in cpl_redis.RedisLockMode} == {
        m.name: m.value for m in ref.redis.RedisLockMode}
    assert cpl_redis.RedisLockMode.SHARED == 'shared'
    assert cpl_redis.RedisLockHolder._fields == ref.redis.RedisLockHolder._fields
    assert cpl_redis.RedisLockHolder('a', cpl_redis.RedisLockMode.SHARED) == (
        'a', 'shared', False, None)
    lock = cpl.RedisLock('api-names')
    for attr in ('lost', 'ensure_held', 'on_lost', 'interrupt_on_lost',
                 'self_check_interval', 'probe', 'fence_token', 'fence_key',
                 'fencing', 'holder_id', 'mode', 'writer_elected', 'channel',
                 'connection', 'close_connection', 'redis_kwargs',
                 'unavailable_timeout', 'thread_sleep_time', 'flags'):
        assert hasattr(lock, attr), attr
    assert lock.interrupt_on_lost is True
    assert lock.self_check_interval is None and lock.fencing is False
    assert lock.redis_kwargs == ref.RedisLock('api-names').redis_kwargs


def test_unknown_keyword_is_a_type_error():
    for cls in (cpl.RedisLock, ref.RedisLock):
        with pytest.raises(TypeError):
            cls('api-kw', bogus=1)
        with pytest.raises(TypeError):
            cls('api-kw', 'conn', 1, 1, False, 0.1, 1, None, 1, None, None, None, None, False, 'x')


def test_bad_self_check_interval_is_a_value_error():
    for value in (0, -1):
        with pytest.raises(ValueError):
            cpl.RedisLock('api-sci', self_check_interval=value)
        with pytest.raises(ValueError):
            ref.RedisLock('api-sci', self_check_interval=value)
    assert cpl.RedisLock('api-sci', self_check_interval=0.5).self_check_interval == 0.5


@pytest.mark.parametrize('kwargs', [
    {'ssl_ca_data': 'PEM', 'ssl': True},
    {'ssl_password': 'secret', 'ssl': True},
    {'ssl_min_version': 771, 'ssl': True},
    {'ssl_validate_ocsp': True, 'ssl': True},
    {'credential_provider': object()},
    {'connection_class': redis.SSLConnection},
])
def test_redis_kwargs_it_cannot_honour_are_refused(kwargs):
    with pytest.raises(cpl.exceptions.Unsupported) as info:
        cpl.RedisLock('api-ssl', redis_kwargs=dict(kwargs, port=1))
    assert next(iter(kwargs)) in str(info.value) or 'TLS' in str(info.value)


def test_unknown_redis_kwargs_are_a_type_error_and_known_ones_accepted():
    with pytest.raises(TypeError, match='sockt_timeout'):
        cpl.RedisLock('api-rkw', redis_kwargs={'sockt_timeout': 1})
    # what redis-py accepts and does not change the lock's meaning
    cpl.RedisLock('api-rkw', redis_kwargs={'ssl': False, 'retry_on_timeout': True,
                                            'health_check_interval': 0,
                                            'client_name': 'x', 'encoding': 'utf-8'})


def test_connection_pool_settings_are_used(redis_port):
    pool = redis.ConnectionPool(host='127.0.0.1', port=redis_port, db=3,
                                username='someone', password='secret')
    for lock in (cpl.RedisLock('api-pool', redis_kwargs={'connection_pool': pool}),
                 cpl.RedisLock('api-pool', connection=redis.Redis(connection_pool=pool))):
        h = lock._handle
        assert _c.pl_redis_lock_get_host(h) == ('127.0.0.1', redis_port)
        assert _c.pl_redis_lock_get_db(h) == 3
        assert _c.pl_redis_lock_get_password(h) == ('someone', 'secret')
    unix = redis.ConnectionPool(connection_class=redis.UnixDomainSocketConnection,
                                path='/tmp/nowhere.sock', db=2)
    h = cpl.RedisLock('api-pool', redis_kwargs={'connection_pool': unix})._handle
    assert _c.pl_redis_lock_get_unix_socket(h) == '/tmp/nowhere.sock'
    assert _c.pl_redis_lock_get_db(h) == 2


def test_fence_counter_lives_in_the_pools_database(redis_port):
    pool = redis.ConnectionPool(host='127.0.0.1', port=redis_port, db=3)
    lock = cpl.RedisLock('api-pool-db', connection=redis.Redis(connection_pool=pool),
                         fencing=True, interrupt_on_lost=False)
    with lock:
        token = lock.fence_token
    assert int(redis.Redis(connection_pool=pool).get('api-pool-db-fence')) == token
    assert redis.Redis(host='127.0.0.1', port=redis_port, db=0).get('api-pool-db-fence') is None


def _own_connect_client():
    """A redis-py client whose connections connect their own way (a proxy,
    an in-process server), host a random name."""

    class ProxyConnection(redis.Connection):
        def connect(self):  # pragma: no cover - never called
            raise AssertionError

    ProxyConnection.__module__ = 'proxylib._connection'
    pool = redis.ConnectionPool(connection_class=ProxyConnection,
                                host=uuid.uuid4().hex, port=6379)
    return redis.Redis(connection_pool=pool)


def test_a_client_it_cannot_use_is_a_clear_error():
    with pytest.raises(cpl.exceptions.Unsupported, match='proxylib.*real server'):
        cpl.RedisLock('api-fake', connection=_own_connect_client())
    with pytest.raises(cpl.exceptions.Unsupported, match='redis-py client'):
        cpl.RedisLock('api-fake', connection=object())



def test_tls_settings_come_across_never_plaintext():
    """redis_kwargs, a TLS client and a TLS pool all give a TLS handle with
    their settings (the TLS suite connects with them for real)."""
    pool = redis.ConnectionPool(connection_class=redis.SSLConnection, host='h', port=7,
                                ssl_ca_certs='/ca.pem', ssl_certfile='/c.pem',
                                ssl_keyfile='/k.pem', ssl_cert_reqs='none',
                                ssl_check_hostname=False)
    for lock in (cpl.RedisLock('api-tls', redis_kwargs={'ssl': True, 'port': 1}),
                 cpl.RedisLock('api-tls', connection=redis.Redis(ssl=True, port=1)),
                 cpl.RedisLock('api-tls', redis_kwargs={'connection_pool': pool}),
                 cpl.RedisLock('api-tls', connection=redis.Redis.from_url('rediss://h:7'))):
        assert _c.pl_redis_lock_get_tls(lock._handle) == 1
    h = cpl.RedisLock('api-tls', redis_kwargs={'connection_pool': pool})._handle
    assert _c.pl_redis_lock_get_tls_ca_file(h) == '/ca.pem'
    assert _c.pl_redis_lock_get_tls_cert_file(h) == '/c.pem'
    assert _c.pl_redis_lock_get_tls_key_file(h) == '/k.pem'
    assert _c.pl_redis_lock_get_tls_verify_peer(h) == 0
    assert _c.pl_redis_lock_get_tls_check_hostname(h) == 0
    h = cpl.RedisLock('api-tls', redis_kwargs={'ssl': True})._handle
    assert _c.pl_redis_lock_get_tls_verify_peer(h) == 1
    assert _c.pl_redis_lock_get_tls_check_hostname(h) == 1
    assert _c.pl_redis_lock_get_tls_ca_file(h) is None
    # without ssl=True the ssl_* keys mean nothing, as in redis-py
    h = cpl.RedisLock('api-tls', redis_kwargs={'ssl_ca_certs': '/x'})._handle
    assert _c.pl_redis_lock_get_tls(h) == 0
    with pytest.raises(ValueError, match='ssl_cert_reqs'):
        cpl.RedisLock('api-tls', redis_kwargs={'ssl': True, 'ssl_cert_reqs': 'maybe'})


def test_url_sets_the_connection():
    lock = cpl.RedisLock('api-url', url='rediss://u:p@example.com:6390/4?ssl_cert_reqs=none')
    h = lock._handle
    assert _c.pl_redis_lock_get_host(h) == ('example.com', 6390)
    assert _c.pl_redis_lock_get_db(h) == 4
    assert _c.pl_redis_lock_get_password(h) == ('u', 'p')
    assert _c.pl_redis_lock_get_tls(h) == 1
    assert _c.pl_redis_lock_get_tls_verify_peer(h) == 0
    with pytest.raises(cpl.exceptions.LockException, match='ssl_nope'):
        cpl.RedisLock('api-url', url='rediss://h?ssl_nope=1')
    with pytest.raises(ValueError, match='not both'):
        cpl.RedisLock('api-url', url='redis://h', connection=redis.Redis())


def test_connection_errors_are_also_redis_py_errors():
    port = _free_port()  # nothing listens there
    lock = cpl.RedisLock('api-refused', redis_kwargs={'port': port, 'socket_connect_timeout': 1},
                         timeout=0, fail_when_locked=True)
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        lock.acquire()
    assert isinstance(info.value, cpl.exceptions.ConnectionError)
    assert isinstance(info.value, cpl.LockException)
    assert issubclass(cpl_redis.RedisLockSelfCheckError, redis.exceptions.ConnectionError)


def test_lost_is_sticky_until_the_next_acquire(redis_port):
    admin = redis.Redis(host='127.0.0.1', port=redis_port)
    calls = []
    lock = ours('api-lost', redis_port, on_lost=calls.append)
    assert not lock.lost
    lock.ensure_held()  # idle: quiet
    lock.acquire()
    admin.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [lock]
    assert lock.lost
    with pytest.raises(cpl.LockLostError):
        lock.ensure_held()
    lock.release()  # a loss is not a release error (the reference's rule)
    assert lock.lost
    lock.acquire()
    assert not lock.lost
    lock.release()
    assert calls == [lock]


def test_fencing_tokens(redis_port):
    admin = redis.Redis(host='127.0.0.1', port=redis_port)
    lock = ours('api-fence', redis_port, fencing=True)
    assert lock.fence_key == 'api-fence-fence' == theirs('api-fence', redis_port).fence_key
    assert lock.fence_token is None
    with lock:
        first = lock.fence_token
        assert first == int(admin.get('api-fence-fence'))
    assert lock.fence_token == first  # survives release
    with lock:
        assert lock.fence_token == first + 1
    reader = ours('api-fence', redis_port, fencing=True, flags=cpl.LockFlags.SHARED)
    with reader:
        assert reader.fence_token is None
    unfenced = ours('api-fence', redis_port)
    with unfenced:
        assert unfenced.fence_token is None
    assert int(admin.get('api-fence-fence')) == first + 1


def test_fencing_tokens_increase_across_implementations(redis_port):
    a = ours('api-fence-x', redis_port, fencing=True, timeout=10, check_interval=0.02)
    b = theirs('api-fence-x', redis_port, fencing=True, timeout=10, check_interval=0.02)
    tokens = []
    for lock in (a, b, a, a, b, b, a):
        deadline = time.monotonic() + 10
        while True:  # the reference notices a release by polling
            try:
                lock.acquire()
                break
            except (cpl.AlreadyLocked, ref.AlreadyLocked):
                assert time.monotonic() < deadline
        tokens.append(lock.fence_token)
        lock.release()
    assert tokens == sorted(set(tokens)) and None not in tokens, tokens


def test_probe_reports_holders_and_never_reaps(redis_port):
    admin = redis.Redis(host='127.0.0.1', port=redis_port)
    lock = ours('api-probe', redis_port)
    assert lock.probe() == []
    with lock:
        (me,) = lock.probe()
        assert me.holder_id == lock.holder_id
        assert me.mode is cpl_redis.RedisLockMode.EXCLUSIVE and not me.legacy
    other = theirs('api-probe', redis_port, flags=ref.LockFlags.SHARED)
    with other:
        (them,) = ours('api-probe', redis_port).probe()
        assert them.holder_id == other.holder_id
        assert them.mode == 'shared' and them.elected is False
    assert lock.probe() == []
    # a subscriber that never answers: inconclusive, and still there after
    silent = admin.pubsub()
    silent.subscribe('api-probe')
    # until the server confirms (a fixed 1 s wait could let the probe
    # below count no subscriber on a busy machine)
    deadline = time.monotonic() + 10
    while silent.get_message(timeout=1) is None:
        assert time.monotonic() < deadline, 'the subscription was never confirmed'
    try:
        start = time.monotonic()
        with pytest.raises(cpl.LockException):
            lock.probe(timeout=0.5)
        assert time.monotonic() - start < 10
        assert admin.pubsub_numsub('api-probe')[0][1] == 1
    finally:
        silent.close()


def test_mode_and_writer_elected(redis_port):
    writer = ours('api-mode', redis_port)
    reader = ours('api-mode', redis_port, flags=cpl.LockFlags.SHARED)
    assert writer.mode == ref.RedisLock('api-mode').mode == 'pending'
    assert reader.mode == 'shared'
    with writer:
        assert writer.mode == 'exclusive'
    assert writer.writer_elected is False


def test_a_sentinel_master_pool_comes_across():
    import redis.sentinel
    sentinel = redis.sentinel.Sentinel([('10.0.0.1', 26379), ('::1', 26380)])
    h = cpl.RedisLock('api-sentinel', connection=sentinel.master_for(
        'mymaster', password='pw', db=2))._handle
    assert _c.pl_redis_lock_get_sentinel_service(h) == 'mymaster'
    assert _c.pl_redis_lock_get_sentinels(h) == '10.0.0.1:26379,[::1]:26380'
    assert _c.pl_redis_lock_get_password(h) == (None, 'pw')
    assert _c.pl_redis_lock_get_db(h) == 2
    with pytest.raises(cpl.exceptions.Unsupported, match='replica'):
        cpl.RedisLock('api-sentinel', connection=sentinel.slave_for('mymaster'))
    h = cpl.RedisLock('api-sentinel',
                      url='redis+sentinel://s1:26379,s2/mymaster/1')._handle
    assert _c.pl_redis_lock_get_sentinels(h) == 's1:26379,s2'


def test_a_cluster_url_sets_cluster_mode():
    h = cpl.RedisLock('api-cluster',
                      url='redis+cluster://:pw@n1:7000,[::1]:7001,n3')._handle
    assert _c.pl_redis_lock_get_cluster(h) == 1
    assert _c.pl_redis_lock_get_cluster_nodes(h) == 'n1:7000,[::1]:7001,n3'
    assert _c.pl_redis_lock_get_password(h) == (None, 'pw')
    # the URL says everything: a plain one leaves cluster mode
    h2 = cpl.RedisLock('api-cluster', url='redis://127.0.0.1:6379')._handle
    assert _c.pl_redis_lock_get_cluster(h2) == 0
    with pytest.raises(cpl.exceptions.InvalidArgument, match='db'):
        cpl.RedisLock('api-cluster', url='redis+cluster://n1:7000/1')
    with pytest.raises(cpl.exceptions.InvalidArgument, match='hash tag'):
        cpl.RedisLock('}api', url='redis+cluster://n1:7000')
