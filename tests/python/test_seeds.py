"""Usage examples from the upstream documents in /work/shared/seeds (copied
here so the suite runs anywhere), each run in its own process exactly as
written after `import cportalocker as portalocker`."""

import subprocess
import sys
import textwrap

import pytest

from conftest import child_env

IMPORT = 'import cportalocker as portalocker\n'

EXAMPLES = {
    # seeds/000: "To make sure your cache generation scripts don't race"
    'cache_lock': '''
        with portalocker.Lock('somefile', timeout=1) as fh:
            print('writing some stuff to my cache...', file=fh)
    ''',
    # seeds/000: "To customize the opening and locking a manual approach"
    'manual': '''
        open('somefile', 'w').write('0123456789abcdef')
        file = open('somefile', 'r+')
        portalocker.lock(file, portalocker.LockFlags.EXCLUSIVE)
        file.seek(12)
        file.write('foo')
        portalocker.unlock(file)
        file.close()
        assert open('somefile').read() == '0123456789abfoof'
    ''',
    # seeds/000: the bounded semaphore session
    'semaphore': '''
        n = 2
        timeout = 0.1
        semaphore_a = portalocker.BoundedSemaphore(n, timeout=timeout)
        semaphore_b = portalocker.BoundedSemaphore(n, timeout=timeout)
        semaphore_c = portalocker.BoundedSemaphore(n, timeout=timeout)
        semaphore_a.acquire()
        semaphore_b.acquire()
        try:
            semaphore_c.acquire()
        except portalocker.AlreadyLocked:
            print('third blocked')
        else:
            raise SystemExit('third acquired')
        semaphore_a.release()
        semaphore_b.release()
    ''',
    # seeds/000: fsync on networked file systems
    'fsync': '''
        import os
        open('some_file', 'w').close()
        with portalocker.Lock('some_file', 'rb+', timeout=60) as fh:
            # do what you need to do
            ...

            # flush and sync to filesystem
            fh.flush()
            os.fsync(fh.fileno())
    ''',
    # seeds/002: "Basic Usage"
    'basic_usage': '''
        open('my_file.txt', 'w').write('data')
        # Basic file locking with context manager
        with portalocker.Lock('my_file.txt', 'r+') as fh:
            data = fh.read()
            # File is automatically locked here
            fh.write('new data')
        # File is automatically unlocked when exiting context

        # Manual locking and unlocking
        with open('my_file.txt', 'r+') as fh:
            portalocker.lock(fh, portalocker.LOCK_EX)
            try:
                # Do work with locked file
                data = fh.read()
                fh.write('modified data')
            finally:
                portalocker.unlock(fh)

        # Non-blocking lock with timeout
        try:
            with portalocker.Lock('my_file.txt', timeout=5.0, fail_when_locked=True) as fh:
                # Work with file
                pass
        except portalocker.AlreadyLocked:
            print("File is locked by another process")
    ''',
    # seeds/002: "Core Imports"
    'imports': '''
        from portalocker import Lock, lock, unlock, LOCK_EX, LOCK_SH, LOCK_NB
        from portalocker import RedisLock
    ''',
    # seeds/002: open_atomic and the other classes named there
    'utilities': '''
        with portalocker.open_atomic('atomic.bin') as fh:
            fh.write(b'payload')
        with portalocker.RLock('r.lock') as fh:
            pass
        with portalocker.TemporaryFileLock('t.lock'):
            pass
        semaphore = portalocker.NamedBoundedSemaphore(2, name='workers')
        with semaphore:
            pass
    ''',
}


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_seed_example(tmp_path, name):
    code = textwrap.dedent(EXAMPLES[name])
    if name == 'imports':
        # "from portalocker import ..." must resolve to cportalocker.
        code = 'import sys, cportalocker\nsys.modules["portalocker"] = cportalocker\n' + code
    proc = subprocess.run(
        [sys.executable, '-W', 'ignore::DeprecationWarning', '-c', IMPORT + code],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    if name == 'semaphore':
        assert proc.stdout == 'third blocked\n'
    if name == 'cache_lock':
        assert (tmp_path / 'somefile').read_text() == 'writing some stuff to my cache...\n'
    if name == 'basic_usage':
        assert (tmp_path / 'my_file.txt').read_text() == 'datanew datamodified data'
