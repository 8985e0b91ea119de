"""`import portalocker` answered by cportalocker, for running the reference
portalocker's own test suite against it.

cportalocker.install_as_portalocker() replaces this package in sys.modules
with cportalocker and makes each ``portalocker.<sub>`` cportalocker's
module of that name, so code written for the reference (its tests
included) imports ours unchanged. ``portalocker.__main__`` is ours too
(the suite tests the single-file bundler). A submodule cportalocker does
not have (``__about__``) stays missing: importing it fails as it would
for a user.
"""
import sys

import cportalocker
import cportalocker.__main__

cportalocker.install_as_portalocker()
sys.modules['portalocker.__main__'] = cportalocker.__main__
