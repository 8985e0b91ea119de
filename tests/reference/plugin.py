"""pytest plugin of the reference-suite run.

- Fails the session at once if `portalocker` is the reference itself rather
  than cportalocker (the whole run would then measure the wrong library).
- Lets a failing test that patched ``os.name`` be reported: several of the
  reference's tests set ``os.name = 'nt'`` (to walk its Windows release
  path) and undo it only in their monkeypatch teardown, which runs after
  pytest has built the failure report. Building it makes pathlib paths,
  and with ``os.name == 'nt'`` pathlib refuses (``cannot instantiate
  'WindowsPath'``), which ends the whole session. The real value is put
  back just while the report is made; the test's own value is restored
  for its teardown.
"""
import os

import pytest

_OS_NAME = os.name


def pytest_sessionstart(session):
    import portalocker

    if not portalocker.__name__.startswith('cportalocker'):
        raise pytest.UsageError(
            f'portalocker resolves to {portalocker.__file__}, not cportalocker'
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    patched = os.name
    os.name = _OS_NAME
    try:
        yield
    finally:
        os.name = patched
