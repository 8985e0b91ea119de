"""RedisLock under threads, garbage collection and interpreter exit.

Each scenario runs in a child interpreter (a crash or a deadlock there is a
failed test, not a dead test run) against the real redis-server of the
`redis_port` fixture.
"""

import subprocess
import sys
import textwrap

import pytest
from conftest import child_env
from test_redis import redis_port  # noqa: F401 - the fixture

import cportalocker as cpl

PRELUDE = textwrap.dedent('''
    import gc, os, random, sys, threading, time
    import cportalocker as cpl
    PORT = int(sys.argv[1])
    KW = {'host': '127.0.0.1', 'port': PORT}
''')


def run_child(code, port, timeout=90):
    """Runs PRELUDE + code; returns (returncode, stdout, stderr). A child
    still running after `timeout` seconds is killed and fails the test."""
    try:
        proc = subprocess.run(
            [sys.executable, '-c', PRELUDE + textwrap.dedent(code), str(port)],
            env=child_env(), capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f'child hung (deadlock?) for {timeout} s; stderr: {exc.stderr!r}')
    return proc.returncode, proc.stdout, proc.stderr


def assert_free(port, channel):
    """Another lock takes `channel` at once (the old holder is gone)."""
    lock = cpl.RedisLock(channel, redis_kwargs={'port': port}, timeout=5,
                         check_interval=0.05, interrupt_on_lost=False)
    lock.acquire()
    lock.release()


def test_eight_threads_share_one_lock(redis_port):
    rc, out, err = run_child('''
        lock = cpl.RedisLock('threads-share', redis_kwargs=KW, timeout=0.3,
                             check_interval=0.01, interrupt_on_lost=False)
        stop = time.monotonic() + 4
        counts = dict(ok=0, busy=0, locked=0, active=0, other=0)
        guard = threading.Lock()

        def count(name):
            with guard:
                counts[name] += 1

        def worker(seed):
            rnd = random.Random(seed)
            while time.monotonic() < stop:
                op = rnd.random()
                try:
                    if op < 0.35:
                        lock.acquire()
                        count('ok')
                    elif op < 0.7:
                        lock.release()
                    elif op < 0.8:
                        lock.lost
                        lock.ensure_held()
                        lock.fence_token
                        lock.holder_id
                    elif op < 0.9:
                        lock.probe(timeout=0.5)
                    else:
                        other = cpl.RedisLock('threads-share-%d' % seed,
                                              redis_kwargs=KW, interrupt_on_lost=False)
                        other.acquire()
                        del other
                        gc.collect()
                except cpl.exceptions.InvalidState:
                    count('busy')
                except cpl.AlreadyLocked:
                    count('locked')
                except cpl.LockException:
                    count('active')

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), 'a worker hung'
        lock.release()
        print('OK', counts, flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    counts = eval(out.split('OK', 1)[1])
    assert counts['ok'] > 0 and counts['busy'] > 0, counts
    assert_free(redis_port, 'threads-share')


def test_release_during_acquire_raises_invalid_state(redis_port):
    """The documented outcome: the release raises InvalidState at once and
    changes nothing; the acquire then finishes holding the lock."""
    rc, out, err = run_child('''
        holder = cpl.RedisLock('threads-rda', redis_kwargs=KW, interrupt_on_lost=False)
        holder.acquire()
        lock = cpl.RedisLock('threads-rda', redis_kwargs=KW, timeout=20,
                             check_interval=0.02, interrupt_on_lost=False)
        result = {}

        def acquire():
            try:
                lock.acquire()
                result['acquired'] = True
            except BaseException as exc:
                result['acquired'] = repr(exc)

        t = threading.Thread(target=acquire)
        t.start()
        # until the thread is inside acquire (it holds the object's guard
        # there): a release before that would be a no-op, not refused
        deadline = time.monotonic() + 10
        while not lock._busy.locked() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock._busy.locked(), 'the acquiring thread never got inside acquire'
        outcomes = []
        for _ in range(20):
            try:
                lock.release()
                outcomes.append('released')
            except cpl.exceptions.InvalidState as exc:
                assert 'another thread' in str(exc), exc
                outcomes.append('busy')
            time.sleep(0.01)
        holder.release()
        t.join(30)
        assert not t.is_alive(), 'acquire hung'
        assert result.get('acquired') is True, result
        assert set(outcomes) == {'busy'}, outcomes
        assert not lock.lost
        lock.ensure_held()
        # held for real: a third lock cannot take it
        try:
            cpl.RedisLock('threads-rda', redis_kwargs=KW, fail_when_locked=True,
                          interrupt_on_lost=False).acquire()
            raise SystemExit('the acquire did not end holding')
        except cpl.AlreadyLocked:
            pass
        lock.release()
        print('OK', flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]


def test_drop_lock_while_its_connection_is_killed(redis_port):
    """GC of a held lock racing the loss of its connection (and the lost
    callback, which needs Python) never deadlocks or crashes."""
    rc, out, err = run_child('''
        import redis
        admin = redis.Redis(host='127.0.0.1', port=PORT)
        calls = []
        for i in range(25):
            lock = cpl.RedisLock('threads-gcloss-%d' % i, redis_kwargs=KW,
                                 interrupt_on_lost=False,
                                 on_lost=lambda l: (calls.append(1), time.sleep(0.01)))
            lock.acquire()
            name = lock.holder_id
            for c in admin.client_list():
                if 'subscribe' in c.get('cmd', '') or int(c.get('sub', 0)) > 0:
                    admin.client_kill_filter(_id=c['id'])
            if i % 2:
                time.sleep(0.001 * (i % 5))
            del lock
            gc.collect()
        print('OK', len(calls), flush=True)
    ''', redis_port, timeout=120)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]
    assert 'Traceback' not in err and 'Exception ignored' not in err, err[-3000:]


def test_on_lost_may_release_the_lock(redis_port):
    rc, out, err = run_child('''
        import redis
        admin = redis.Redis(host='127.0.0.1', port=PORT)
        errors = []
        for i in range(10):
            done = threading.Event()

            def on_lost(lock):
                try:
                    lock.release()
                except BaseException as exc:
                    errors.append(repr(exc))
                done.set()

            lock = cpl.RedisLock('threads-onlost-%d' % i, redis_kwargs=KW, on_lost=on_lost,
                                 interrupt_on_lost=False)
            lock.acquire()
            admin.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
            # the main thread polls `lost` meanwhile: that must not make
            # the callback's release fail
            deadline = time.monotonic() + 20
            while not done.is_set() and time.monotonic() < deadline:
                lock.lost
            assert done.is_set(), 'on_lost did not run'
            assert lock.lost
        assert not errors, errors
        print('OK', flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]


@pytest.mark.parametrize('where', ['global', 'thread', 'cycle'])
def test_exit_while_holding(redis_port, where):
    """No traceback at exit, and the lock is free once the process is gone."""
    code = {
        'global': '''
            lock = cpl.RedisLock('threads-exit-global', redis_kwargs=KW)
            lock.acquire()
        ''',
        'thread': '''
            held = threading.Event()
            def hold():
                lock = cpl.RedisLock('threads-exit-thread', redis_kwargs=KW)
                lock.acquire()
                held.set()
                time.sleep(30)
            threading.Thread(target=hold, daemon=True).start()
            assert held.wait(10), 'the thread never acquired'

        ''',
        'cycle': '''
            class Box:
                pass
            box = Box()
            box.self = box
            box.lock = cpl.RedisLock('threads-exit-cycle', redis_kwargs=KW,
                                     on_lost=lambda l: box)
            box.lock.acquire()
            del box
        ''',
    }[where]
    rc, out, err = run_child(textwrap.dedent(code) + "\nprint(\"OK\", flush=True)\n", redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out
    assert err.strip() == '', err[-3000:]
    assert_free(redis_port, f'threads-exit-{where}')


def test_interrupt_on_lost_interrupts_the_main_thread(redis_port):
    rc, out, err = run_child('''
        import warnings, redis
        admin = redis.Redis(host='127.0.0.1', port=PORT)
        for explicit in (True, None):
            lock = cpl.RedisLock('threads-intr', redis_kwargs=KW,
                                 interrupt_on_lost=explicit)
            lock.acquire()
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter('always')
                try:
                    admin.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
                    deadline = time.monotonic() + 20
                    while time.monotonic() < deadline:
                        time.sleep(0.01)
                    raise SystemExit('no KeyboardInterrupt')
                except KeyboardInterrupt:
                    pass
                time.sleep(0.2)
            assert lock.lost
            dep = [w for w in seen if issubclass(w.category, DeprecationWarning)]
            assert bool(dep) == (explicit is None), (explicit, seen)
            lock.release()
        lock = cpl.RedisLock('threads-intr2', redis_kwargs=KW, interrupt_on_lost=False)
        lock.acquire()
        admin.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
        deadline = time.monotonic() + 20
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock.lost
        print('OK', flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]


def test_fork_child_of_a_holder(redis_port):
    """A forked child can release its inherited copy without revoking the
    parent's hold, even if a thread was inside a call at the fork; its own
    locks get their losses reported (a fresh notification pipe)."""
    rc, out, err = run_child('''
        import redis
        admin = redis.Redis(host='127.0.0.1', port=PORT)
        parent = cpl.RedisLock('threads-fork', redis_kwargs=KW, interrupt_on_lost=False)
        parent.acquire()
        # a thread of the parent is inside a call of `busy` at the fork
        holder = cpl.RedisLock('threads-fork-busy', redis_kwargs=KW, interrupt_on_lost=False)
        holder.acquire()
        busy = cpl.RedisLock('threads-fork-busy', redis_kwargs=KW, timeout=3,
                             check_interval=0.05, interrupt_on_lost=False)

        def wait_busy():
            try:
                busy.acquire()
            except cpl.AlreadyLocked:
                pass

        t = threading.Thread(target=wait_busy)
        t.start()
        deadline = time.monotonic() + 10
        while not busy._busy.locked() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert busy._busy.locked(), 'the waiting thread never got inside acquire'
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                parent.release()        # the parent's hold stays
                busy.release()          # not stuck on the parent thread's guard
                lost = threading.Event()
                own = cpl.RedisLock('threads-fork-child', redis_kwargs=KW,
                                    interrupt_on_lost=False, on_lost=lambda l: lost.set())
                own.acquire()
                for c in admin.client_list():
                    if own.holder_id in c.get('name', ''):
                        admin.client_kill_filter(_id=c['id'])
                assert lost.wait(10), 'the child was not told of its loss'
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        parent.ensure_held()
        try:
            cpl.RedisLock('threads-fork', redis_kwargs=KW, fail_when_locked=True,
                          interrupt_on_lost=False).acquire()
            raise SystemExit('the child revoked the parent hold')
        except cpl.AlreadyLocked:
            pass
        t.join(10)
        parent.release()
        print('OK', flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]


def test_no_descriptors_or_threads_left_behind(redis_port):
    rc, out, err = run_child('''
        def census():
            gc.collect()
            return len(os.listdir('/proc/self/fd')), len(os.listdir('/proc/self/task'))

        def settled(want):
            # what the freed locks had may go in its own time: waited for
            # (10 s at most), not given a fixed sleep a busy machine can
            # overrun
            deadline = time.monotonic() + 10
            have = census()
            while have != want and time.monotonic() < deadline:
                time.sleep(0.05)
                have = census()
            return have

        warm = cpl.RedisLock('threads-leak-warm', redis_kwargs=KW, interrupt_on_lost=False)
        warm.acquire()
        warm.release()
        del warm
        time.sleep(0.2)
        before = census()

        def churn(i):
            for j in range(15):
                lock = cpl.RedisLock('threads-leak-%d-%d' % (i, j), redis_kwargs=KW,
                                     interrupt_on_lost=False)
                lock.acquire()
                if j % 3:
                    lock.release()
                del lock  # every third one is freed while held

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = settled(before)
        assert after == before, (before, after)
        print('OK', flush=True)
    ''', redis_port)
    assert rc == 0, f'child died with {rc}: {err[-3000:]}'
    assert 'OK' in out, err[-3000:]
