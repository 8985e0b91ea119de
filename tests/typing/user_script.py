"""A user's script written against the portalocker API, fully annotated:
`mypy --strict` must accept it with cportalocker as the library (CI:
ci/tests.d/typing.sh). The assert_type lines pin what the stubs and
annotations promise; a wrong or missing annotation in cportalocker fails
the check."""

from __future__ import annotations

import tempfile
import typing
from pathlib import Path
from typing import assert_type

import cportalocker
import cportalocker as portalocker
from cportalocker import exceptions, redis, utils

directory = Path(tempfile.mkdtemp())


def locked_append(path: Path, line: str) -> None:
    with portalocker.Lock(path, 'a', timeout=1) as fh:
        fh.write(line)


def try_once(path: Path) -> bool:
    lock = portalocker.Lock(path, fail_when_locked=True, timeout=0)
    try:
        lock.acquire()
    except portalocker.AlreadyLocked as exc:
        name: str | None = exc.fh_name
        pid: int | None = exc.holder_pid
        print(name, pid)
        return False
    lock.release()
    return True


def low_level(path: Path) -> None:
    with open(path, 'a') as fh:
        assert_type(portalocker.lock(fh, portalocker.LOCK_EX | portalocker.LOCK_NB), None)
        assert_type(portalocker.unlock(fh), None)


def atomic(path: Path) -> None:
    with portalocker.open_atomic(path) as fh:
        fh.write(b'all or nothing')


def semaphore() -> bool:
    sem = portalocker.NamedBoundedSemaphore(2, directory=str(directory))
    taken = sem.try_lock(sem.get_filenames())
    assert_type(taken, bool)
    sem.release()
    slot = sem.acquire()
    if slot is not None:
        assert_type(slot, utils.Lock)
    sem.release()
    return taken


def pid_file(path: Path) -> int | None:
    lock = portalocker.PidFileLock(path)
    pid = lock.read_pid()
    assert_type(pid, typing.Optional[int])
    with lock as holder:
        assert_type(holder, typing.Optional[int])
    return pid


def redis_names(lock: redis.RedisLock) -> list[redis.RedisLockHolder]:
    holders = lock.probe(timeout=1)
    for holder in holders:
        mode: redis.RedisLockMode = holder.mode
        print(holder.holder_id, mode.value)
    version: int = redis.REDIS_LOCK_PROTOCOL_VERSION
    print(version)
    return holders


def errors() -> None:
    error = exceptions.LockException(exceptions.LockException.LOCK_FAILED, 'failed')
    strerror: str | None = error.strerror
    print(strerror)
    lost: type[exceptions.LockException] = portalocker.LockLostError
    print(lost)


def replace_third_party_imports() -> None:
    assert_type(cportalocker.install_as_portalocker(), None)


if __name__ == '__main__':
    locked_append(directory / 'log', 'line\n')
    print(try_once(directory / 'log'))
    low_level(directory / 'log')
    atomic(directory / 'atomic')
    print(semaphore(), pid_file(directory / 'app.pid'))
    errors()
