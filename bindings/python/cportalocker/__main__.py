"""Command-line interface: ``python -m cportalocker combine``.

The reference's ``python -m portalocker combine`` bundles its package into
one vendorable ``portalocker.py``. This does the same for cportalocker's
Python layer: one file, importable as a module of any name, with the
public API of ``import cportalocker`` (``lock``, ``Lock``, ``RedisLock``,
...). What it cannot bundle is the compiled C core: the file loads the
installed cportalocker's extension (found without importing that
package's Python modules), so the vendored file needs cportalocker
installed, as the reference's combined file needs ``redis`` for RedisLock.

Where the reference inlines its modules into one namespace by rewriting
their imports, this embeds each module's source unchanged and registers
them as the package ``cportalocker`` (the core raises its errors through
``cportalocker.exceptions`` and binds one Lock class per process, so a
process has one Python layer): the code runs exactly as in the package.
If cportalocker is already imported when the file is, the file is an
alias of that package.

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

# The bundled modules are cportalocker's Python layer, registered as the
# package `cportalocker` over the installed package's compiled core (the
# core raises through cportalocker.exceptions and binds one Lock class per
# process, so a process has one Python layer). When cportalocker is
# already imported, that layer is used and this file is an alias of it.
_PACKAGE = 'cportalocker'


def _core_spec(fullname):
    # The installed package's extension, found without importing the
    # installed package's own Python modules.
    package = _machinery.PathFinder.find_spec(_PACKAGE)
    locations = package.submodule_search_locations if package else None
    spec = (
        _machinery.PathFinder.find_spec('_portalocker_c', list(locations))
        if locations else None
    )
    if spec is None or not spec.origin:
        raise ImportError(
            "this file bundles cportalocker's Python layer only: its "
            "compiled core (cportalocker._portalocker_c) is not installed"
        )
    loader = _machinery.ExtensionFileLoader(fullname, spec.origin)
    return _util.spec_from_file_location(fullname, spec.origin, loader=loader)


class _BundleFinder:
    """Finds the bundled submodules of _PACKAGE and its compiled core."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        package, _, name = fullname.rpartition('.')
        if package != _PACKAGE or _sys.modules.get(_PACKAGE) is not _bundle:
            return None
        if name == '_portalocker_c':
            return _core_spec(fullname)
        if name in _SOURCES:
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


_bundle = None


def _load():
    global _bundle
    package = _sys.modules.get(_PACKAGE)
    if package is not None:
        return package
    _bundle = package = _types.ModuleType(_PACKAGE)
    package.__path__ = []
    package.__package__ = _PACKAGE
    package.__spec__ = _machinery.ModuleSpec(_PACKAGE, None, is_package=True)
    package.__spec__.submodule_search_locations = []
    if not any(f is _BundleFinder for f in _sys.meta_path):
        _sys.meta_path.insert(0, _BundleFinder)
    _sys.modules[_PACKAGE] = package
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
