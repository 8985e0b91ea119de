"""Shared fixtures for the cportalocker suite.

The package under test is the one `make` builds into build/python (or
CPORTALOCKER_PATH); the reference portalocker comes from the CI venv.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_PY = pathlib.Path(os.environ.get('CPORTALOCKER_PATH', ROOT / 'build' / 'python'))
sys.path.insert(0, str(BUILD_PY))

import cportalocker  # noqa: E402

assert pathlib.Path(cportalocker.__file__).resolve().is_relative_to(BUILD_PY.resolve()), (
    f'testing {cportalocker.__file__}, not the build in {BUILD_PY}'
)


def child_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(BUILD_PY), env.get('PYTHONPATH', '')) if p
    )
    return env


MAX_HOLD = 20


class Holder:
    """A second process that runs `code` (which takes some lock), prints
    'ready', waits for a line on stdin, then runs `after` and exits."""

    def __init__(self, code, cwd, after=''):
        script = (
            'import sys, os\n'
            + code
            + '\nprint("ready", flush=True)\n'
            # Wait for the test's go, at most MAX_HOLD seconds: a test whose
            # main thread is stuck (e.g. the GIL not released) then fails
            # instead of hanging. (A reading thread, not select: Windows
            # cannot select on a pipe.)
            + 'import threading\n'
            + 't = threading.Thread(target=sys.stdin.readline, daemon=True)\n'
            + f't.start()\nt.join({MAX_HOLD})\n'
            + after
        )
        self.proc = subprocess.Popen(
            [sys.executable, '-c', script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=child_env(),
        )
        line = self.proc.stdout.readline()
        if line.strip() != 'ready':
            out, err = self.proc.communicate(timeout=30)
            raise AssertionError(f'holder failed: {line}{out}{err}')

    @property
    def pid(self):
        return self.proc.pid

    def finish(self):
        out, err = self.proc.communicate('go\n', timeout=60)
        assert self.proc.returncode == 0, err
        return out


@pytest.fixture
def holder(tmp_path):
    started = []

    def start(code, after=''):
        h = Holder(code, tmp_path, after)
        started.append(h)
        return h

    yield start
    for h in started:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def open_fds():
    if sys.platform == 'win32':
        # No /proc: the CRT descriptors (the core's too, on the same
        # UCRT) are those fstat accepts.
        n = 0
        for fd in range(4096):
            try:
                os.fstat(fd)
            except OSError:
                continue
            n += 1
        return n
    return len(os.listdir('/proc/self/fd'))


# test_windows.py: what only Windows has (its flag values, the reference's
# Windows lockers, pywin32); collected there only, as the Linux run counts
# a skip as a failure in CI.
# test_redis_fakeredis.py: on Windows a fakeredis client is refused (see
# cportalocker/_fakeredis.py), and fakeredis is not installed there.
collect_ignore = (['test_redis_fakeredis.py'] if sys.platform == 'win32'
                  else ['test_windows.py'])


# ---- the Windows run (ci/tests.d/windows.sh: python.org's CPython under
# wine). Tests that cannot apply there are skipped, each with its reason;
# differences from the reference not closed yet are strict xfails (they
# fail the run once they pass, so the list stays true).
_WINDOWS_SKIPS = {
    'test_guard.py::test_a_forked_child': 'POSIX only: fork',
    'test_guard.py::test_a_guard_the_forking_thread': 'POSIX only: fork',
    'test_guard.py::test_signal_handlers_run_during_a_guard_wait': 'POSIX only: SIGALRM',
    'test_redis_threads.py::test_fork_child_of_a_holder': 'POSIX only: fork',
    'test_lock_hooks.py::test_hooked_default_get_fh_refuses_a_fifo': 'POSIX only: FIFOs',
    'test_getters.py::test_semaphore_getters_round_trip': 'sets the posix mechanism: '
        'Unsupported on Windows (tests/win checks that)',
    'test_getters.py::test_mechanism_is_set_in_the_c_handle_at_acquire': 'the posix and ofd '
        'mechanisms: Unsupported on Windows (tests/win checks that)',
    'test_getters.py::test_semaphore_slot_lock_names_the_mechanism_in_use': 'the posix '
        'mechanism: Unsupported on Windows',
    'test_getters.py::test_redis_getters_round_trip': 'sets a unix socket: Unsupported on '
        'Windows (tests/win/test_redis_windows.c checks that)',
    'test_redis_api.py::test_connection_pool_settings_are_used': 'a unix-socket pool: '
        'Unsupported on Windows',
    'test_redis_api.py::test_tls_settings_come_across_never_plaintext': 'TLS: Unsupported on '
        'Windows (no OpenSSL for mingw-w64 in Debian)',
    'test_redis_api.py::test_url_sets_the_connection': 'rediss:// and unix:// URLs: '
        'Unsupported on Windows',
    'test_processes.py::test_lock_excludes_across_processes_and_implementations[waiter=portalocker':
        'wine: the reference\'s msvcrt.locking fails with errno 0 under wine '
        '(tests/win/binding_python.py covers its MsvcrtLocker convention, '
        'test_windows.py the same with its Win32Locker)',
    'test_processes.py::test_low_level_lock_interop': 'wine: the reference\'s '
        'msvcrt.locking fails with errno 0 under wine (tests/win covers its convention, '
        'test_windows.py its Win32Locker)',
}
# None open now (the LockFlags values were the last); the mechanism stays
# for the next difference found.
_WINDOWS_XFAILS: dict[str, str] = {
}


def pytest_collection_modifyitems(config, items):
    if sys.platform != 'win32':
        return
    for item in items:
        nodeid = item.nodeid.replace('\\', '/').rsplit('/', 1)[-1]
        for prefix, reason in _WINDOWS_SKIPS.items():
            if nodeid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=f'Windows: {reason}'))
        for prefix, reason in _WINDOWS_XFAILS.items():
            if nodeid.startswith(prefix):
                item.add_marker(pytest.mark.xfail(strict=True, reason=f'Windows: {reason}'))
