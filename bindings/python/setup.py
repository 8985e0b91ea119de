"""Builds the SWIG extension cportalocker._portalocker_c.

SWIG runs on ../portalocker.i (the one interface shared by every language)
and the extension is compiled together with the C core's sources
(../../core), so `pip install ./bindings/python` needs swig and a C
compiler, nothing prebuilt. PORTALOCKER_ROOT overrides where the
repository is (default: two levels up from this file).

The core's source directories, include directories, compile flags,
libraries and the swig arguments come from core/build.mk, shared with the
Makefile and the Ruby gem.
"""

import glob
import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('PORTALOCKER_ROOT', os.path.join(HERE, '..', '..'))
SETTINGS = os.path.join(ROOT, 'core', 'build.mk')
INTERFACE = os.path.join(ROOT, 'bindings', 'portalocker.i')
PLATFORM = 'win' if os.name == 'nt' else 'unix'


def read_settings(path):
    """core/build.mk: `NAME = words` lines, `#` comments."""
    settings = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            name, eq, value = line.split('#', 1)[0].partition('=')
            if eq:
                settings[name.strip()] = value.split()
    return settings


def in_root(paths):
    return [os.path.join(ROOT, p) for p in paths]


for required in (SETTINGS, INTERFACE):
    if not os.path.exists(required):
        raise SystemExit(f'cannot find {required}: set PORTALOCKER_ROOT')
S = read_settings(SETTINGS)
INCLUDE_DIRS = in_root(S['PL_INCLUDE_DIRS'])
SOURCES = sorted(
    path for d in in_root(S['PL_SRC_DIRS_' + PLATFORM])
    for path in glob.glob(os.path.join(d, '*.c'))
)


class SwigBuildExt(build_ext):
    """Run SWIG into the build directory (never into the source tree)."""

    def build_extension(self, ext):
        os.makedirs(self.build_temp, exist_ok=True)
        wrap = os.path.join(self.build_temp, 'portalocker_python_wrap.c')
        proxy_dir = os.path.join(self.build_lib, 'cportalocker')
        os.makedirs(proxy_dir, exist_ok=True)
        cmd = ['swig', *S['PL_SWIG_python'],
               *('-I' + d for d in in_root(S['PL_SWIG_INCLUDE_DIRS'])),
               '-outdir', proxy_dir, '-o', wrap, INTERFACE]
        subprocess.check_call(cmd)
        ext.sources = [wrap] + SOURCES
        # README.md and LICENSE ship inside the package: `python -m
        # cportalocker combine` embeds them in the file it writes.
        for name, src in (('README.md', os.path.join(HERE, 'README.md')),
                          ('LICENSE', os.path.join(ROOT, 'LICENSE'))):
            shutil.copyfile(src, os.path.join(proxy_dir, name))
        super().build_extension(ext)


setup(
    ext_modules=[
        Extension(
            'cportalocker._portalocker_c',
            sources=[],  # filled in by SwigBuildExt
            include_dirs=INCLUDE_DIRS,
            # The wrapper is SWIG's code: no unused-parameter noise. Never
            # -Werror here (a user's compiler may warn about more).
            extra_compile_args=S['PL_CORE_CFLAGS'] + ['-Wno-unused-parameter'],
            libraries=S['PL_LIBS'],
        )
    ],
    cmdclass={'build_ext': SwigBuildExt},
)
