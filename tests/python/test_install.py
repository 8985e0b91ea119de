"""`pip install ./bindings/python` into a throwaway venv builds a working
package (SWIG + the core's sources; no prebuilt library involved)."""

import os
import shutil
import subprocess
import sys
import venv

import pytest

from conftest import ROOT


@pytest.mark.skipif(
    sys.platform == 'win32',
    reason='builds the package from source with SWIG and a C compiler, which '
    'the Windows Python under wine has neither of (make windows-python '
    'cross-builds its extension); wine cannot create a venv either (no CopyFile2)',
)
def test_pip_install_into_throwaway_venv(tmp_path):
    env_dir = tmp_path / 'venv'
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / 'bin' / 'python'
    # Build from a copy so the checkout stays clean (setup.py finds the
    # interface and the core through PORTALOCKER_ROOT).
    src = tmp_path / 'src'
    shutil.copytree(ROOT / 'bindings' / 'python', src,
                    ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__'))
    env = dict(os.environ, PORTALOCKER_ROOT=str(ROOT))
    env.pop('PYTHONPATH', None)
    proc = subprocess.run(
        [str(py), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', str(src)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = (
        'import cportalocker as pl, os, sys\n'
        'assert pl.__file__.startswith(sys.prefix), pl.__file__\n'
        'with pl.Lock("f", timeout=1) as fh:\n'
        '    fh.write("ok")\n'
        '    try:\n'
        '        pl.Lock("f", fail_when_locked=True).acquire()\n'
        '    except pl.AlreadyLocked:\n'
        '        print("contended")\n'
        'import importlib.resources as r\n'
        'assert r.files("cportalocker").joinpath("py.typed").is_file()\n'
        'assert r.files("cportalocker").joinpath("_portalocker_c.pyi").is_file()\n'
        # The single-file bundle needs README.md and LICENSE in the package.
        'import subprocess\n'
        'subprocess.run([sys.executable, "-m", "cportalocker", "combine",\n'
        '                "-o", "vendored/portalocker_single.py"], check=True,\n'
        '               capture_output=True)\n'
        'sys.path.insert(0, "vendored")\n'
        'import portalocker_single\n'
        'assert portalocker_single.Lock.__module__.endswith(".utils")\n'
    )
    run = subprocess.run([str(py), '-c', check], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == 'contended\n'
    assert (tmp_path / 'f').read_text() == 'ok'
    assert sys.executable != str(py)
