"""pytest plugin of the reference-suite run: fails the session at once if
`portalocker` is the reference itself rather than cportalocker (the whole
run would then measure the wrong library)."""
import pytest


def pytest_sessionstart(session):
    import portalocker

    if not portalocker.__name__.startswith('cportalocker'):
        raise pytest.UsageError(
            f'portalocker resolves to {portalocker.__file__}, not cportalocker'
        )
