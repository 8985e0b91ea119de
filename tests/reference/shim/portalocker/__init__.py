"""`import portalocker` answered by cportalocker, for running the reference
portalocker's own test suite against it.

This package replaces itself in sys.modules with cportalocker, and makes
each `portalocker.<sub>` name cportalocker's module of that name, so code
written for the reference (its tests included) imports ours unchanged.
A submodule cportalocker does not have stays missing: importing it fails
as it would for a user.
"""
import importlib
import sys

import cportalocker

_SUBMODULES = ('__about__', '__main__', 'constants', 'exceptions',
               'portalocker', 'redis', 'types', 'utils')

for _name in _SUBMODULES:
    try:
        _module = importlib.import_module('cportalocker.' + _name)
    except ImportError:
        continue
    sys.modules['portalocker.' + _name] = _module
    setattr(cportalocker, _name, _module) if not hasattr(cportalocker, _name) else None

sys.modules[__name__] = cportalocker
