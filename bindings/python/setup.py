"""Builds the SWIG extension cportalocker._portalocker_c.

SWIG runs on ../portalocker.i (the one interface shared by every language)
and the extension is compiled together with the C core's sources
(../../core), so `pip install ./bindings/python` needs swig and a C
compiler, nothing prebuilt. PORTALOCKER_ROOT overrides where the
repository is (default: two levels up from this file).
"""

import glob
import os
import re
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('PORTALOCKER_ROOT', os.path.join(HERE, '..', '..'))
CORE_SRC = os.path.join(ROOT, 'core', 'src')
CORE_INC = os.path.join(ROOT, 'core', 'include')
INTERFACE = os.path.join(ROOT, 'bindings', 'portalocker.i')


def _have_redis(sources):
    """True when the core defines pl_redis_lock_new (the Redis lock landed)."""
    pattern = re.compile(r'\bpl_redis_lock_new\s*\(\s*pl_redis_lock\s*\*\*')
    for path in sources:
        with open(path, encoding='utf-8', errors='replace') as f:
            if pattern.search(f.read()):
                return True
    return False


class SwigBuildExt(build_ext):
    """Run SWIG into the build directory (never into the source tree)."""

    def build_extension(self, ext):
        os.makedirs(self.build_temp, exist_ok=True)
        wrap = os.path.join(self.build_temp, 'portalocker_python_wrap.c')
        proxy_dir = os.path.join(self.build_lib, 'cportalocker')
        os.makedirs(proxy_dir, exist_ok=True)
        core = sorted(glob.glob(os.path.join(CORE_SRC, '*.c')))
        cmd = ['swig', '-python', '-builtin', '-I' + CORE_INC,
               '-outdir', proxy_dir, '-o', wrap, INTERFACE]
        if _have_redis(core):
            cmd.insert(3, '-DPL_HAVE_REDIS')
        subprocess.check_call(cmd)
        ext.sources = [wrap] + core
        super().build_extension(ext)


if not os.path.exists(INTERFACE):
    raise SystemExit(f'cannot find {INTERFACE}: set PORTALOCKER_ROOT')

setup(
    ext_modules=[
        Extension(
            'cportalocker._portalocker_c',
            sources=[],  # filled in by SwigBuildExt
            include_dirs=[CORE_INC, CORE_SRC],
            define_macros=[('PL_BUILDING_LIBRARY', '1'), ('_FILE_OFFSET_BITS', '64')],
            extra_compile_args=['-std=gnu11', '-fvisibility=hidden',
                                '-Wno-unused-parameter'],
            libraries=['hiredis', 'cjson', 'pthread'],
        )
    ],
    cmdclass={'build_ext': SwigBuildExt},
)
