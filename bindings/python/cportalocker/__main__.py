"""Command-line interface: ``python -m cportalocker combine``.

The reference's ``python -m portalocker combine`` bundles its package into
one vendorable ``portalocker.py``. This does the same for cportalocker's
Python layer: one file, importable as a module of any name, with the
public API of ``import cportalocker`` (``lock``, ``Lock``, ``RedisLock``,
...). What it cannot bundle is the compiled C core: the file uses the
installed cportalocker's extension and, because the core raises its errors
through them, its exception classes (``cportalocker.exceptions``); so the
vendored file needs cportalocker installed, as the reference's combined
file needs ``redis`` for RedisLock. The rest (locks, lock(), open_atomic,
RedisLock, ...) runs from the bundled source.

Where the reference inlines its modules into one namespace by rewriting
their imports, this embeds each module's source unchanged and registers
them as the submodules of a private package, so the code runs exactly as
in the package (no textual surgery to get wrong).

As in the reference, every input (the modules, ``README.md``,
``LICENSE``, read from `base_path`) must be ASCII: a non-ASCII byte logs
the file and a snippet and raises UnicodeDecodeError; a missing input logs
"Input file not found" and exits with status 1. All inputs are read before
the output file is written, so a failure never truncates an earlier build.
The output is then formatted with ``ruff`` when installed (a warning
otherwise) and run once with `sys.executable`, whose status is not checked
(problems show in the log).

Example::

    $ python -m cportalocker combine --output-file vendor/portalocker.py
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import subprocess
import sys
import typing

#: Where README.md and LICENSE are read (shipped inside the package).
base_path = pathlib.Path(__file__).parent
#: The modules that are bundled.
src_path = base_path
dist_path = pathlib.Path('dist')
_default_output_path = dist_path / 'portalocker.py'

logger = logging.getLogger(__name__)

_TEXT_TEMPLATE = """'''
{}
'''

"""

# The bundle's loader. {sources} is a dict literal: module name -> source.
_LOADER = '''
import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys
import types as _types

_SOURCES = {sources}

# The bundled modules become the submodules of a private top-level
# package, so their relative imports work whatever this file is called
# (also when run as a script, or loaded without a sys.modules entry).
_PACKAGE = '_cportalocker_bundle_' + __name__.replace('.', '_')


# The compiled core and the exception classes are the installed
# cportalocker's: the core raises its errors through
# cportalocker.exceptions, so the classes must be those.
_SHARED = ('_portalocker_c', 'exceptions')


def _shared_modules():
    import importlib
    try:
        return {{name: importlib.import_module('cportalocker.' + name)
                for name in _SHARED}}
    except ImportError as exc:
        raise ImportError(
            "this file bundles cportalocker's Python layer only: it needs "
            "the installed cportalocker (its compiled core)"
        ) from exc


class _BundleFinder:
    """Finds and runs the bundled submodules of _PACKAGE."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        package, _, name = fullname.rpartition('.')
        if package != _PACKAGE:
            return None
        if name in _SOURCES and name not in _SHARED:
            return _util.spec_from_loader(fullname, cls())
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__.rpartition('.')[2]
        _run(_SOURCES[name], name, module.__dict__)


def _run(source, name, namespace):
    # A file name per module (it does not exist on disk) so that code
    # comparing frames' file names with __file__ works as in the package.
    here = globals().get('__file__') or 'bundle'
    path = _os.path.join(_os.path.abspath(here) + '.modules', name + '.py')
    namespace['__file__'] = path
    exec(compile(source, path, 'exec'), namespace)


def _load():
    package = _sys.modules.get(_PACKAGE)
    if package is None:
        if not any(f is _BundleFinder for f in _sys.meta_path):
            _sys.meta_path.append(_BundleFinder)
        package = _types.ModuleType(_PACKAGE)
        package.__path__ = []
        package.__package__ = _PACKAGE
        package.__spec__ = _machinery.ModuleSpec(_PACKAGE, None, is_package=True)
        _sys.modules[_PACKAGE] = package
        for name, module in _shared_modules().items():
            _sys.modules[_PACKAGE + '.' + name] = module
            setattr(package, name, module)
        try:
            _run(_SOURCES['__init__'], '__init__', package.__dict__)
        except BaseException:
            for name in list(_sys.modules):
                if name == _PACKAGE or name.startswith(_PACKAGE + '.'):
                    del _sys.modules[name]
            raise
    return package


_package = _load()
globals().update(
    (key, value) for key, value in vars(_package).items()
    if not key.startswith('__') or key in ('__all__', '__version__')
)
del _package
'''


def _log_decode_error(path: pathlib.Path, exception: UnicodeDecodeError) -> None:
    """Log the file and a snippet around the bytes that are not ASCII."""
    _, text, start_byte, end_byte, error = exception.args
    offset = 100
    snippet = text[max(start_byte - offset, 0) : end_byte + offset]
    logger.error(
        f'Invalid encoding for {path}: {error} at byte '
        f'({start_byte}:{end_byte})\nSnippet: {snippet!r}'
    )


def _read_text_ascii(path: pathlib.Path) -> str:
    """``path`` as ASCII text.

    Raises:
        UnicodeDecodeError: a byte is not ASCII (logged with a snippet).
        SystemExit: ``path`` does not exist (status 1, the file logged).
    """
    try:
        return path.read_text(encoding='ascii')
    except UnicodeDecodeError as exception:
        _log_decode_error(path, exception)
        raise
    except FileNotFoundError as exception:
        logger.error(f'Input file not found: {path}')  # noqa: TRY400
        raise SystemExit(1) from exception


def _module_sources() -> dict[str, str]:
    """Every module of the package but this one, name -> source."""
    sources = {}
    for path in sorted(src_path.glob('*.py')):
        if path.name == '__main__.py':
            continue
        source = _read_text_ascii(path)
        if source.startswith('# This file was automatically generated by SWIG'):
            continue  # SWIG's unused proxy: the package imports the extension
        sources[path.stem] = source
    return sources


def main(argv: typing.Sequence[str] | None = None) -> None:
    """Parse the command line and run the subcommand (``combine``).

    Args:
        argv: the arguments without the program name (default
            ``sys.argv[1:]``), e.g. ``['combine', '--output-file', 'x.py']``.

    Raises:
        SystemExit: bad arguments, or no subcommand (it is required).
    """
    parser = argparse.ArgumentParser(prog='python -m cportalocker')
    subparsers = parser.add_subparsers(required=True)
    combine_parser = subparsers.add_parser(
        'combine',
        help='Combine the Python modules into one vendorable file '
        '(portalocker.py) over the installed compiled core',
    )
    combine_parser.add_argument(
        '--output-file', '-o', type=pathlib.Path, default=_default_output_path,
    )
    combine_parser.set_defaults(func=combine)
    args = parser.parse_args(argv)
    args.func(args)


def combine(args: argparse.Namespace) -> None:
    """Write the single-file bundle to ``args.output_file``.

    The file holds README.md and LICENSE (as strings, for reference) and
    every module of the package, loaded as described in the module
    docstring. All inputs are read first: a failure leaves an existing
    output file untouched. Then ``ruff format`` / ``ruff check --fix``
    run on it when ruff is installed, and it is run once with
    `sys.executable` as a smoke test (its status is not checked).

    Args:
        args: the parsed command line; only ``args.output_file`` is used
            (default ``dist/portalocker.py``).

    Raises:
        UnicodeDecodeError: an input is not ASCII.
        SystemExit: an input is missing (status 1).
    """
    output_path: pathlib.Path = args.output_file
    sources = _module_sources()
    parts = [
        'from __future__ import annotations\n',
        _TEXT_TEMPLATE.format(_read_text_ascii(base_path / 'README.md')),
        _TEXT_TEMPLATE.format(_read_text_ascii(base_path / 'LICENSE')),
        '# Generated by `python -m cportalocker combine`: cportalocker\'s '
        'Python modules\n# in one file, over the installed cportalocker\'s '
        'compiled core.\n',
        _LOADER.format(sources=repr(sources)),
    ]
    output_path.parent.mkdir(parents=True, exist_ok=True)
    output_path.write_text(''.join(parts), encoding='ascii')
    logger.info(f'Wrote combined file to {output_path}')
    try:
        subprocess.run(['ruff', 'format', str(output_path)], timeout=3)
        subprocess.run(
            ['ruff', 'check', '--fix', '--fix-only', str(output_path)], timeout=3,
        )
    except FileNotFoundError:
        logger.warning('Ruff is not installed. Skipping linting and formatting step.')
    subprocess.run([sys.executable, str(output_path)])


if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)
    main()
