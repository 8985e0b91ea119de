"""Lock, RLock, LockBase and TemporaryFileLock are generic over their file
object as the reference's (4.3+): subscriptable at run time, and typed by
mode for a type checker (``Lock(p, 'rb')`` hands out ``IO[bytes]``)."""

import os
import subprocess
import sys
import textwrap
import typing

import pytest

import cportalocker as cpl
from cportalocker import utils

from conftest import BUILD_PY


def test_classes_are_subscriptable_at_run_time():
    assert cpl.Lock[typing.IO[str]] is not None
    assert utils.LockBase[int] is not None
    assert cpl.RLock[typing.IO[bytes]] is not None
    assert issubclass(cpl.TemporaryFileLock, cpl.Lock)
    lock: cpl.Lock[typing.IO[bytes]] = cpl.Lock('x', 'rb')
    assert lock.mode == 'rb'


USER_SCRIPT = '''
    import typing
    import cportalocker as portalocker
    from cportalocker import types, utils

    def binary(path: str) -> bytes:
        with portalocker.Lock(path, 'rb') as fh:
            reveal_type(fh)
            data = fh.read()
            reveal_type(data)
            return data

    def text(path: str) -> str:
        lock = portalocker.Lock(path)
        reveal_type(lock)
        fh = lock.acquire()
        out: str = fh.read()
        lock.release()
        return out

    def rlock(path: str) -> bytes:
        with portalocker.RLock(path, 'ab+') as fh:
            reveal_type(fh)
            return fh.read()

    def dynamic(path: str, mode: types.Mode) -> None:
        with portalocker.Lock(path, mode) as fh:
            reveal_type(fh)

    class Counter(utils.LockBase[int]):
        def acquire(self, timeout: float | None = None,
                    check_interval: float | None = None,
                    fail_when_locked: bool | None = None) -> int:
            return 1

        def release(self) -> None:
            pass

    with Counter() as n:
        reveal_type(n)
    annotated: portalocker.Lock[typing.IO[str]] = portalocker.Lock('x')
    reveal_type(portalocker.TemporaryFileLock('x.lock').acquire())
'''

EXPECTED = [
    'Revealed type is "typing.IO[bytes]"',
    'Revealed type is "bytes"',
    'Revealed type is "cportalocker.utils.Lock[typing.IO[str]]"',
    'Revealed type is "typing.IO[bytes]"',
    'Revealed type is "typing.IO[Any]"',
    'Revealed type is "int"',
    'Revealed type is "typing.IO[str]"',
]


def test_mypy_strict_types_the_file_object_by_mode(tmp_path):
    pytest.importorskip('mypy')
    script = tmp_path / 'user.py'
    script.write_text(textwrap.dedent(USER_SCRIPT))
    env = dict(os.environ, MYPYPATH=str(BUILD_PY))
    # As for an installed package: its own modules are checked but their
    # errors are not the user's.
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy', '--strict', '--follow-imports=silent',
         '--show-traceback', '--cache-dir', str(tmp_path / 'cache'), '--no-pretty',
         '--show-column-numbers', '--hide-error-context', str(script)],
        capture_output=True, text=True, env=env, timeout=240,
    )
    out = proc.stdout + proc.stderr
    # older mypy spells builtins out ("builtins.bytes")
    revealed = [line.split('note: ', 1)[1].replace('builtins.', '')
                for line in out.splitlines() if 'note: Revealed type' in line]
    assert revealed == EXPECTED, out
    assert ' error: ' not in out, out
    assert proc.returncode == 0, out
