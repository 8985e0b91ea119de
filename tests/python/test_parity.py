"""What the reference portalocker 4.4.2 does and code written for it relies
on: open_atomic's file mode, names and kept payload, exception details,
PID parsing, BoundedSemaphore.try_lock, the Redis module's names, the
single-file bundler (`python -m cportalocker combine`) and
install_as_portalocker()."""

import copy
import errno
import os
import pickle
import stat
import subprocess
import sys
import textwrap
import uuid
import warnings

import pytest
from conftest import BUILD_PY, child_env
from test_redis import _free_port, redis_port  # noqa: F401 - the fixture

import cportalocker as cpl
from cportalocker import exceptions, utils
from cportalocker import redis as cpl_redis

# ---- open_atomic ----------------------------------------------------------


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX permission bits and the umask: Windows has neither')
def test_open_atomic_publishes_with_the_mode_a_plain_open_gives(workdir):
    old = os.umask(0o022)
    try:
        with cpl.open_atomic('atomic') as fh:
            fh.write(b'x')
        with open('plain', 'wb') as fh:
            fh.write(b'x')
        assert stat.S_IMODE(os.stat('atomic').st_mode) == 0o644
        assert stat.S_IMODE(os.stat('atomic').st_mode) == stat.S_IMODE(os.stat('plain').st_mode)
        os.umask(0o077)
        with cpl.open_atomic('private') as fh:
            fh.write(b'x')
        assert stat.S_IMODE(os.stat('private').st_mode) == 0o600
    finally:
        os.umask(old)


def test_open_atomic_existing_destination_is_named(workdir):
    (workdir / 'taken').write_bytes(b'old')
    with pytest.raises(FileExistsError) as info:
        with cpl.open_atomic('taken'):
            raise AssertionError('must not enter')
    assert info.value.filename == str(workdir / 'taken')
    assert info.value.errno == errno.EEXIST


def test_open_atomic_keeps_and_names_the_payload_when_the_name_appears(workdir):
    with pytest.raises(FileExistsError) as info:
        with cpl.open_atomic('race') as fh:
            temp = fh.name
            fh.write(b'ours')
            (workdir / 'race').write_bytes(b'theirs')
    assert (workdir / 'race').read_bytes() == b'theirs'
    assert info.value.filename == str(workdir / 'race')
    # Our finished payload survives, and the error says where.
    kept = [p for p in os.listdir(workdir) if p != 'race']
    assert len(kept) == 1 and kept[0].startswith('.portalocker.') and kept[0].endswith('.tmp')
    assert os.path.join(workdir, kept[0]) == temp
    assert (workdir / kept[0]).read_bytes() == b'ours'
    assert f'payload preserved at {temp}' in str(info.value)


def test_open_atomic_abandoned_block_leaves_nothing(workdir):
    with pytest.raises(KeyError):
        with cpl.open_atomic('gone') as fh:
            fh.write(b'half')
            raise KeyError
    assert os.listdir(workdir) == []


@pytest.mark.parametrize('binary', [True, False])
def test_open_atomic_takes_a_255_byte_basename(workdir, binary):
    name = 'a' * 255
    with cpl.open_atomic(name, binary=binary) as fh:
        # The temporary name is fixed (33 bytes), whatever the destination.
        assert len(os.path.basename(fh.name)) == 33
        fh.write(b'long' if binary else 'long')
    assert (workdir / name).read_bytes() == b'long'
    assert os.listdir(workdir) == [name]


# ---- exception details ----------------------------------------------------


def test_lock_contention_names_the_file_and_survives_pickle(workdir):
    path = str(workdir / 'held')
    holder = cpl.Lock(path, timeout=0, fail_when_locked=True)
    holder.acquire()
    try:
        with pytest.raises(cpl.AlreadyLocked) as info:
            cpl.Lock(path, timeout=0, fail_when_locked=True).acquire()
    finally:
        holder.release()
    assert info.value.fh_name == path
    assert pickle.loads(pickle.dumps(info.value)).fh_name == path


def test_copy_keeps_the_handle_deepcopy_drops_it(workdir):
    with open('f', 'w') as fh:
        exc = cpl.AlreadyLocked(1, 'lock failed', fh=fh, holder_pid=42)
        shallow = copy.copy(exc)
        assert shallow is not exc and type(shallow) is cpl.AlreadyLocked
        assert shallow.fh is fh
        assert shallow.args == exc.args and shallow.holder_pid == 42
        assert shallow.fh_name == str(workdir / 'f') or shallow.fh_name == 'f'
        deep = copy.deepcopy(exc)
        assert deep.fh is None and deep.fh_name == exc.fh_name


def test_copy_of_a_deprecated_class_does_not_warn_again():
    with pytest.warns(DeprecationWarning):
        exc = exceptions.FileToLarge(1, 'too large')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert copy.copy(exc).args == (1, 'too large')


def test_unlock_error_chains_the_os_error(workdir):
    fd = os.open('f', os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    with pytest.raises(cpl.LockException) as info:
        cpl.unlock(fd)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.__cause__.errno == errno.EBADF
    assert info.value.args[0].errno == errno.EBADF
    assert info.value.strerror


def test_custom_locker_eoferror_is_a_lock_exception(workdir, monkeypatch):
    def lockf_on_nfs(fd, flags):
        raise EOFError('lost communication with locking daemon')

    monkeypatch.setattr(cpl.portalocker, 'LOCKER', lockf_on_nfs)
    with open('f', 'w') as fh:
        for call in (lambda: cpl.lock(fh, cpl.LOCK_EX), lambda: cpl.unlock(fh)):
            with pytest.raises(cpl.LockException) as info:
                call()
            assert isinstance(info.value.__cause__, EOFError)
            assert info.value.fh is fh


# ---- PidFileLock ----------------------------------------------------------


@pytest.mark.parametrize('content', ['+7', ' +7', '-1', '0', '1_000', '0x10',
                                     '\uff11\uff12', '12abc', '7 7', ''])
def test_read_pid_rejects_anything_but_plain_digits(workdir, content):
    (workdir / 'app.pid').write_text(content, encoding='utf-8')
    assert cpl.PidFileLock('app.pid').read_pid() is None


def test_read_pid_takes_digits_between_whitespace(workdir):
    (workdir / 'app.pid').write_text(' 42\n')
    assert cpl.PidFileLock('app.pid').read_pid() == 42


def test_pidfile_contention_with_missing_pid_file_chains_the_read_error(workdir):
    holder = cpl.PidFileLock('app.pid')
    holder.acquire()
    try:
        os.unlink('app.pid')
        with pytest.raises(cpl.AlreadyLocked) as info, cpl.PidFileLock('app.pid'):
            pytest.fail('the block ran without the lock')
        assert isinstance(info.value.__cause__, FileNotFoundError)
    finally:
        holder.release()


# ---- BoundedSemaphore.try_lock -------------------------------------------


def test_try_lock_takes_the_first_free_candidate(workdir):
    sem = cpl.NamedBoundedSemaphore(2, name='t', directory=str(workdir))
    other = cpl.NamedBoundedSemaphore(2, name='t', directory=str(workdir))
    names = sem.get_filenames()
    assert sem.try_lock(names) is True
    assert sem.lock is not None and sem.lock.filename == str(names[0])
    with pytest.raises(cpl.LockException, match='Already locked'):
        sem.try_lock(names)
    with pytest.raises(cpl.LockException, match='Already locked'):
        sem.acquire()
    assert other.try_lock(names) is True
    assert other.lock.filename == str(names[1])
    third = cpl.NamedBoundedSemaphore(2, name='t', directory=str(workdir))
    assert third.try_lock(names) is False and third.lock is None
    sem.release()
    assert sem.lock is None
    assert third.try_lock(names) is True
    third.release()
    other.release()
    # Released for real: the semaphore's own acquire takes both slots.
    assert sem.acquire() is not None and other.acquire() is not None
    sem.release()
    other.release()


def test_try_lock_missing_directory_raises_and_changes_nothing(tmp_path):
    sem = cpl.NamedBoundedSemaphore(1, name='t', directory=str(tmp_path / 'nope'))
    with pytest.raises(FileNotFoundError):
        sem.try_lock(sem.get_filenames())
    assert sem.lock is None


# ---- the Redis module's names --------------------------------------------


def test_redis_module_names_of_the_reference():
    import redis.client

    assert cpl_redis.REDIS_LOCK_PROTOCOL_VERSION == 1
    assert cpl_redis.RedisLockMode.SHARED.value == 'shared'
    assert cpl_redis.RedisLockHolder._fields[:2] == ('holder_id', 'mode')
    assert cpl_redis.PubSubWorkerThread is redis.client.PubSubWorkerThread
    with pytest.raises(AttributeError):
        cpl_redis.NoSuchName  # noqa: B018


def test_check_or_kill_lock_is_deprecated_and_answers(redis_port):
    kw = {'redis_kwargs': {'host': '127.0.0.1', 'port': redis_port},
          'interrupt_on_lost': False}
    channel = f'cok-{uuid.uuid4()}'
    holder = cpl.RedisLock(channel, **kw)
    other = cpl.RedisLock(channel, **kw)
    with pytest.deprecated_call(match='probe'):
        assert other.check_or_kill_lock(None, timeout=1) is None
    holder.acquire()
    try:
        with pytest.deprecated_call(match='probe'):
            assert other.check_or_kill_lock(None, timeout=1) is True
    finally:
        holder.release()


# ---- python -m cportalocker combine ---------------------------------------


def run_python(code, cwd, **kw):
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd,
                          env=child_env(), capture_output=True, text=True,
                          timeout=120, **kw)


def test_combine_writes_one_importable_file(tmp_path):
    out = tmp_path / 'vendor' / 'single.py'
    proc = subprocess.run(
        [sys.executable, '-m', 'cportalocker', 'combine', '--output-file', str(out)],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert 'Wrote combined file' in proc.stderr
    # Loaded without a sys.modules entry: the bundled modules run (as the
    # package cportalocker), over the installed compiled core only.
    proc = run_python(f'''
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location('vendored', {str(out)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        assert mod.utils.__file__.startswith({str(out)!r}), mod.utils.__file__
        assert sys.modules['cportalocker._portalocker_c'].__file__.startswith({str(BUILD_PY)!r})
        import cportalocker
        assert cportalocker.Lock is mod.Lock
        with mod.Lock('f', timeout=1) as fh:
            fh.write('ok')
            try:
                mod.Lock('f', fail_when_locked=True, timeout=0).acquire()
            except mod.AlreadyLocked as exc:
                print('contended', exc.fh_name.endswith('f'))
        assert mod.RedisLock is not None and callable(mod.lock)
        assert set(mod.__all__) <= set(dir(mod))
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'contended True\n'


def test_combine_failure_keeps_an_earlier_output(tmp_path, monkeypatch, caplog):
    import cportalocker.__main__ as main

    (tmp_path / 'README.md').write_bytes(b'caf\xe9\n')
    (tmp_path / 'LICENSE').write_text('license\n')
    out = tmp_path / 'out.py'
    out.write_text('# previous build\n')
    monkeypatch.setattr(main, 'base_path', tmp_path)
    with pytest.raises(UnicodeDecodeError):
        main.main(['combine', '-o', str(out)])
    assert 'README.md' in caplog.text and 'Snippet' in caplog.text
    (tmp_path / 'README.md').unlink()
    with pytest.raises(SystemExit) as info:
        main.main(['combine', '-o', str(out)])
    assert info.value.code == 1 and 'not found' in caplog.text
    assert out.read_text() == '# previous build\n'


# ---- install_as_portalocker -----------------------------------------------


def test_install_as_portalocker_serves_third_party_imports(tmp_path):
    # A "third-party package" written for the reference.
    pkg = tmp_path / 'thirdparty'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(textwrap.dedent('''
        import portalocker
        import portalocker.redis
        from portalocker import utils, exceptions
        from portalocker.constants import LockFlags
        from portalocker.types import Mode

        def locked_write(path):
            with portalocker.Lock(path, 'w', timeout=1) as fh:
                fh.write('done')
            return portalocker, utils, exceptions, portalocker.redis, LockFlags
    '''))
    proc = run_python('''
        import sys
        import cportalocker
        cportalocker.install_as_portalocker()
        import thirdparty
        pl, utils, exceptions, redis, flags = thirdparty.locked_write('out')
        assert pl is cportalocker, pl
        assert utils is cportalocker.utils and exceptions is cportalocker.exceptions
        assert redis is cportalocker.redis and flags is cportalocker.LockFlags
        assert sys.modules['portalocker.portalocker'] is cportalocker.portalocker
        print(open('out').read())
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'done\n'


def test_install_as_portalocker_wins_over_an_installed_reference(tmp_path):
    # The CI venv has the reference installed: after the call, ours answers.
    proc = run_python('''
        import importlib.util
        assert importlib.util.find_spec('portalocker') is not None, 'no reference'
        import cportalocker
        cportalocker.install_as_portalocker()
        import portalocker
        from portalocker import utils
        print(portalocker.__name__, utils.__name__)
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == 'cportalocker cportalocker.utils\n'


def test_build_tree_ships_readme_and_license():
    assert (BUILD_PY / 'cportalocker' / 'README.md').is_file()
    assert (BUILD_PY / 'cportalocker' / 'LICENSE').is_file()


def test_utils_open_atomic_is_the_package_one():
    assert utils.open_atomic is cpl.open_atomic


@pytest.mark.parametrize('interrupt', [KeyboardInterrupt, SystemExit])
def test_try_lock_interrupted_after_the_slot_lock_gives_it_back(workdir, monkeypatch, interrupt):
    sem = cpl.NamedBoundedSemaphore(1, name='i', directory=str(workdir), timeout=0)
    real_acquire = utils.Lock.acquire

    def interrupted(self, *args, **kwargs):
        real_acquire(self, *args, **kwargs)
        raise interrupt('a signal right after the slot lock')

    monkeypatch.setattr(utils.Lock, 'acquire', interrupted)
    with pytest.raises(interrupt) as info:
        sem.try_lock(sem.get_filenames())
    monkeypatch.undo()
    assert info.traceback is not None and sem.lock is None  # frame still pinned
    other = cpl.NamedBoundedSemaphore(1, name='i', directory=str(workdir), timeout=0)
    assert other.acquire() is not None
    other.release()


@pytest.mark.parametrize('obj', [
    cpl.open_atomic, cpl.lock, cpl.PidFileLock, cpl.PidFileLock.fail_closed,
    cpl.BoundedSemaphore, cpl.BoundedSemaphore.try_lock, cpl.NamedBoundedSemaphore,
    exceptions.BaseLockException,
], ids=lambda o: o.__qualname__)
def test_docstring_examples_run(obj, workdir):
    import doctest

    doc = obj.__doc__ or ''
    for needed in ('Example',):
        assert needed in doc, f'{obj.__qualname__}: no {needed}'
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(obj, obj.__qualname__, globs=vars(utils) | vars(cpl.portalocker))
    assert tests and tests[0].examples, f'{obj.__qualname__}: no runnable example'
    for test in tests:
        runner.run(test)
    assert runner.failures == 0


@pytest.mark.parametrize('obj', [
    cpl.lock, cpl.unlock, cpl.open_atomic, cpl.PidFileLock, cpl.BoundedSemaphore,
    cpl.BoundedSemaphore.acquire, cpl.BoundedSemaphore.try_lock, cpl.RedisLock,
    cpl.RedisLock.acquire, cpl.install_as_portalocker,
], ids=lambda o: o.__qualname__)
def test_public_docstrings_document_arguments_and_errors(obj):
    doc = obj.__doc__ or ''
    assert 'Raises' in doc or 'raises nothing' in doc, obj.__qualname__
    assert 'Example' in doc or obj in (cpl.unlock, cpl.BoundedSemaphore.acquire,
                                       cpl.RedisLock.acquire), obj.__qualname__


def test_wrong_password_is_redis_py_authentication_error(redis_port):
    import redis.exceptions as rex

    lock = cpl.RedisLock(f'auth-{uuid.uuid4()}', interrupt_on_lost=False, redis_kwargs={
        'host': '127.0.0.1', 'port': redis_port, 'password': 'definitely-wrong'})
    with pytest.raises(rex.AuthenticationError) as info:
        lock.acquire(timeout=5)
    # Still what it was before: cportalocker's and redis-py's ConnectionError.
    assert isinstance(info.value, cpl.exceptions.ConnectionError)
    assert isinstance(info.value, rex.ConnectionError)
    with pytest.raises(rex.AuthenticationError):  # reusable, same clean error
        lock.acquire(timeout=5)


def test_fencing_key_that_is_no_counter_is_redis_py_response_error(redis_port):
    import redis
    import redis.exceptions as rex

    channel = f'fence-{uuid.uuid4()}'
    client = redis.Redis(host='127.0.0.1', port=redis_port)
    client.set(f'{channel}-fence', 'not-a-counter')
    lock = cpl.RedisLock(channel, interrupt_on_lost=False, fencing=True,
                         redis_kwargs={'host': '127.0.0.1', 'port': redis_port})
    with pytest.raises(rex.ResponseError):
        lock.acquire(timeout=1)
    assert client.pubsub_numsub(channel)[0][1] == 0  # nothing left subscribed
    client.delete(f'{channel}-fence')
    lock.acquire(timeout=5)
    try:
        assert lock.fence_token == 1
    finally:
        lock.release()
    client.close()
