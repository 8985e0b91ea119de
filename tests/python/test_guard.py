"""The guard of a Lock object (`lock._waiter`): a reentrant lock like
threading.RLock that a forked child resets by itself."""

import os
import threading
import time

import pytest

import cportalocker as cpl


def guard():
    return cpl.Lock('/nonexistent/never-acquired')._waiter


def test_reentrant_and_exclusive_between_threads():
    g = guard()
    assert g.acquire() and g.acquire(False)
    assert g._is_owned()
    got = []
    t = threading.Thread(target=lambda: got.append(g.acquire(True, 0.05)))
    t.start()
    t.join()
    assert got == [False]
    g.release()
    g.release()
    t = threading.Thread(target=lambda: got.append(g.acquire(False)))
    t.start()
    t.join()
    assert got == [False, True]
    with pytest.raises(RuntimeError):
        g.release()  # held by the other (finished) thread, not this one


def test_blocking_acquire_waits_for_the_release():
    g = guard()
    g.acquire()
    got = []
    t = threading.Thread(target=lambda: got.append(g.acquire(True, 5)))
    t.start()
    time.sleep(0.05)
    assert not got
    g.release()
    t.join()
    assert got == [True]


def test_bad_arguments():
    g = guard()
    with pytest.raises(ValueError):
        g.acquire(False, 1)
    with pytest.raises(ValueError):
        g.acquire(True, -5)
    with pytest.raises(RuntimeError):
        g.release()


def _in_child(fn):
    pid = os.fork()
    if pid == 0:
        try:
            code = 0 if fn() else 1
        except BaseException:  # noqa: BLE001
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_gets_a_guard_another_thread_held_free():
    g = guard()
    held, done = threading.Event(), threading.Event()

    def hold():
        g.acquire()
        held.set()
        done.wait(10)
        g.release()

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    try:
        assert not g.acquire(False)
        # the holder thread does not exist in the child
        assert _in_child(lambda: g.acquire(False) and g._is_owned()) == 0
    finally:
        done.set()
        t.join()


def test_a_guard_the_forking_thread_held_stays_held_by_it_in_the_child():
    g = guard()
    g.acquire()
    try:
        def child():
            assert g._is_owned()
            g.release()  # the with-block or call that took it ends normally
            return not g._is_owned() and g.acquire(False)
        assert _in_child(child) == 0
    finally:
        g.release()


def test_signal_handlers_run_during_a_guard_wait():
    import signal

    g = guard()
    held, done = threading.Event(), threading.Event()

    def hold():
        g.acquire()
        held.set()
        done.wait(10)
        g.release()

    class Stop(Exception):
        pass

    ran = []

    def handler(signum, frame):
        ran.append(time.monotonic())
        if len(ran) == 2:
            raise Stop

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    old = signal.signal(signal.SIGALRM, handler)
    try:
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
        with pytest.raises(Stop):
            g.acquire(True, 10)
        # the first handler returned and the wait went on; the second ended it
        assert len(ran) == 2 and time.monotonic() - start < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        done.set()
        t.join()
    assert g.acquire(False)
    g.release()
