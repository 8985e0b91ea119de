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
- Releases the RedisLock objects a Redis test leaves held (every test that
  fails on the reference's private attributes after its acquire does), at
  its teardown while its fixtures still stand: otherwise such a lock can be
  lost later, with the suite's 0.2 s unavailable_timeout on a busy machine,
  and its interrupt_on_lost then interrupts whatever test runs at that
  moment, ending the session. Outcomes are untouched (the call is over).
"""
import contextlib
import gc
import os

import pytest

_OS_NAME = os.name
_FAILED = pytest.StashKey[bool]()


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
        outcome = yield
    finally:
        os.name = patched
    if call.when == 'call' and outcome.get_result().failed:
        item.stash[_FAILED] = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # Only after a failed call (a passing test released its locks).
    if 'redis' in item.nodeid and item.stash.get(_FAILED, False):
        from cportalocker.redis import RedisLock

        for obj in gc.get_objects():
            if isinstance(obj, RedisLock):
                with contextlib.suppress(Exception):
                    obj.release()
    yield
