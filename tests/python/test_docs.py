"""help() on the lock classes shows what a user needs: parameters,
defaults, raised exceptions and an example, as the reference documents."""

import inspect
import pydoc

import pytest

import cportalocker as cpl
from cportalocker import utils


@pytest.mark.parametrize('cls', [utils.LockBase, cpl.Lock, cpl.RLock, cpl.TemporaryFileLock])
def test_class_docs_name_parameters_exceptions_and_an_example(cls):
    doc = inspect.getdoc(cls)
    assert 'Args:' in doc and 'timeout' in doc
    if cls is not utils.LockBase:
        assert 'Raises:' in doc and 'Example:' in doc and '>>>' in doc


def test_help_lock_shows_the_methods_and_their_signatures():
    text = pydoc.render_doc(cpl.Lock, renderer=pydoc.plaintext)
    for needle in (
        'acquire(self, timeout=None, check_interval=None, fail_when_locked=None)',
        'release(self)', '__enter__(self)', '__exit__(self, exc_type, exc_value, traceback)',
        'AlreadyLocked', 'raise_on_release_error', 'mechanism', '_get_fh',
        "Lock('somefile', 'w', timeout=1)",
    ):
        assert needle in text, needle
    assert 'flags' in str(inspect.signature(cpl.Lock))


@pytest.mark.parametrize('name', ['acquire', 'release', '__enter__', '__exit__'])
def test_fast_methods_have_docs_and_signatures(name):
    method = getattr(cpl.Lock, name)
    assert method.__doc__ and len(method.__doc__) > 60
    assert list(inspect.signature(method).parameters)[0] == 'self'


def test_examples_in_the_docs_run(workdir):
    lock = cpl.Lock('somefile', timeout=1)
    fh = lock.acquire()
    assert fh is lock.acquire()
    lock.release()
    with cpl.Lock('somefile', 'w', timeout=1) as fh:
        fh.write('only one process writes this at a time')
    rlock = cpl.RLock('somefile')
    with rlock as fh, rlock as again:
        assert fh is again
