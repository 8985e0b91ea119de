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
            # instead of hanging.
            + f'import select\nselect.select([sys.stdin], [], [], {MAX_HOLD})\n'
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
    return len(os.listdir('/proc/self/fd'))
