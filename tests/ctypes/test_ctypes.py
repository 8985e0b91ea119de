"""libportalocker through its C ABI alone: ctypes, no SWIG, no cportalocker.

Loads build/libportalocker.so.1 (or $LIBPORTALOCKER), takes a lock, checks
that a second process (also plain ctypes) is refused while it is held and
succeeds once it is released. This is the pattern for any runtime with a
foreign-function interface (LuaJIT FFI, Node, Java, ...)."""

import ctypes
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB = os.environ.get('LIBPORTALOCKER', str(ROOT / 'build' / 'libportalocker.so.1'))


def load(path=LIB):
    lib = ctypes.CDLL(path)
    lib.pl_lock_new.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
    lib.pl_lock_new.restype = ctypes.c_int
    lib.pl_lock_acquire.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
    lib.pl_lock_acquire.restype = ctypes.c_int
    lib.pl_lock_set_fail_when_locked.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.pl_lock_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_double]
    lib.pl_lock_release.argtypes = [ctypes.c_void_p]
    lib.pl_lock_is_held.argtypes = [ctypes.c_void_p]
    lib.pl_lock_free.argtypes = [ctypes.c_void_p]
    lib.pl_lock_free.restype = None
    lib.pl_error_name.restype = ctypes.c_char_p
    lib.pl_error_exception.restype = ctypes.c_char_p
    lib.pl_last_error_message.restype = ctypes.c_char_p
    lib.pl_version_string.restype = ctypes.c_char_p
    return lib


# A tiny script for the second process: try once, print the outcome.
TRY_ONCE = r'''
import ctypes, sys
sys.path.insert(0, sys.argv[1])
from test_ctypes import load
lib = load(sys.argv[2])
h = ctypes.c_void_p()
assert lib.pl_lock_new(ctypes.byref(h), sys.argv[3].encode()) == 0
lib.pl_lock_set_fail_when_locked(h, 1)
fd = ctypes.c_int(-1)
rc = lib.pl_lock_acquire(h, ctypes.byref(fd))
print(lib.pl_error_name(rc).decode(), lib.pl_error_exception(rc).decode(),
      lib.pl_last_error_message().decode(), sep='|')
lib.pl_lock_free(h)
'''


def try_from_other_process(path):
    out = subprocess.run(
        [sys.executable, '-c', TRY_ONCE, str(pathlib.Path(__file__).parent), LIB, str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().split('|')


def test_version_and_flags_through_function_twins():
    lib = load()
    assert lib.pl_version_string().decode().count('.') == 2
    assert lib.pl_version_number() >= 10000
    assert (lib.pl_flag_shared(), lib.pl_flag_exclusive(),
            lib.pl_flag_non_blocking(), lib.pl_flag_unblock()) == (1, 2, 4, 8)


def test_take_contend_release(tmp_path):
    lib = load()
    path = tmp_path / 'shared.lock'
    handle = ctypes.c_void_p()
    assert lib.pl_lock_new(ctypes.byref(handle), str(path).encode()) == 0
    fd = ctypes.c_int(-1)
    assert lib.pl_lock_acquire(handle, ctypes.byref(fd)) == 0
    assert fd.value >= 0 and lib.pl_lock_is_held(handle) == 1
    os.write(fd.value, b'held by ctypes\n')

    name, exc, message = try_from_other_process(path)
    assert (name, exc) == ('ALREADY_LOCKED', 'AlreadyLocked')
    assert str(path) in message

    assert lib.pl_lock_release(handle) == 0
    assert lib.pl_lock_is_held(handle) == 0
    name, exc, _ = try_from_other_process(path)
    assert name == 'OK'
    lib.pl_lock_free(handle)
    assert path.read_text() == 'held by ctypes\n'


def test_error_codes_are_negative_and_named():
    lib = load()
    handle = ctypes.c_void_p()
    assert lib.pl_lock_new(ctypes.byref(handle), b'/nonexistent-dir/x/y.lock') == 0
    rc = lib.pl_lock_acquire(handle, None)
    assert rc < 0
    assert lib.pl_last_error_code() == rc
    assert lib.pl_error_exception(rc) == b'OSError'
    assert b'/nonexistent-dir/x/y.lock' in lib.pl_last_error_message()
    lib.pl_lock_free(handle)
    assert lib.pl_lock_set_timeout(None, 1.0) == -4  # NULL handle: INVALID_ARGUMENT


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q']))
