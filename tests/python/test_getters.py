"""The raw module's getters (one per C setter) give back what was set, and
the attributes the lock classes keep in the C handle read it from there."""

import os

import pytest

import cportalocker as cpl
from cportalocker import _portalocker_c as _c
from cportalocker import exceptions as E
from cportalocker import portalocker as plmod


def test_lock_getters_round_trip(workdir):
    h = _c.pl_lock_new(str(workdir / 'f'))
    assert _c.pl_lock_get_mode(h) == 'a'
    assert _c.pl_lock_get_mechanism(h) == _c.PL_MECH_FLOCK
    assert _c.pl_lock_get_file_mode(h) == 0o666
    assert _c.pl_lock_get_raise_on_release_error(h) == 0
    _c.pl_lock_set_mode(h, 'w+')
    _c.pl_lock_set_mechanism(h, _c.PL_MECH_POSIX)
    _c.pl_lock_set_file_mode(h, 0o600)
    _c.pl_lock_set_raise_on_release_error(h, 1)
    _c.pl_lock_set_timeout(h, 1.5)
    _c.pl_lock_set_flags(h, _c.PL_LOCK_SH)
    assert _c.pl_lock_get_mode(h) == 'w+'
    assert _c.pl_lock_get_mechanism(h) == _c.PL_MECH_POSIX
    assert _c.pl_lock_get_file_mode(h) == 0o600
    assert _c.pl_lock_get_raise_on_release_error(h) == 1
    assert _c.pl_lock_get_timeout(h) == 1.5
    assert _c.pl_lock_get_flags(h) == _c.PL_LOCK_SH
    # plain int returns are values, not statuses
    assert _c.pl_lock_is_held(h) == 0
    assert _c.pl_lock_held_fd(h) == -1
    assert _c.pl_lock_count(h) == 0


def test_semaphore_getters_round_trip(workdir):
    s = _c.pl_semaphore_new(2, 'getters')
    _c.pl_semaphore_set_directory(s, str(workdir))
    _c.pl_semaphore_set_filename_pattern(s, '{name}-{number}.lk')
    _c.pl_semaphore_set_timeout(s, 2.5)
    _c.pl_semaphore_set_check_interval(s, 0.125)
    _c.pl_semaphore_set_mechanism(s, _c.PL_MECH_OFD)
    _c.pl_semaphore_set_file_mode(s, 0o640)
    assert _c.pl_semaphore_get_directory(s) == str(workdir)
    assert _c.pl_semaphore_get_filename_pattern(s) == '{name}-{number}.lk'
    assert _c.pl_semaphore_get_timeout(s) == 2.5
    assert _c.pl_semaphore_get_check_interval(s) == 0.125
    assert _c.pl_semaphore_get_mechanism(s) == _c.PL_MECH_OFD
    assert _c.pl_semaphore_get_file_mode(s) == 0o640
    assert _c.pl_semaphore_slot_path(s, 1) == str(workdir / 'getters-1.lk')
    assert _c.pl_semaphore_acquire_with(s, 0.0, 0.0) == 0
    assert _c.pl_semaphore_slot(s) == 0
    _c.pl_semaphore_release(s)


def test_redis_getters_round_trip():
    r = _c.pl_redis_lock_new(b'getters')
    assert _c.pl_redis_lock_get_host(r) == ('127.0.0.1', 6379)
    assert _c.pl_redis_lock_get_unix_socket(r) == ''
    assert _c.pl_redis_lock_get_password(r) == (None, None)
    _c.pl_redis_lock_set_host(r, 'redis.example', 6380)
    _c.pl_redis_lock_set_db(r, 3)
    _c.pl_redis_lock_set_password(r, None, 'secret')
    assert _c.pl_redis_lock_get_password(r) == (None, 'secret')
    _c.pl_redis_lock_set_password(r, 'user', 'secret')
    _c.pl_redis_lock_set_connect_timeout(r, 0.5)
    _c.pl_redis_lock_set_command_timeout(r, 0.75)
    _c.pl_redis_lock_set_flags(r, _c.PL_LOCK_SH)
    _c.pl_redis_lock_set_timeout(r, 3.0)
    _c.pl_redis_lock_set_check_interval(r, 0.05)
    _c.pl_redis_lock_set_fail_when_locked(r, 1)
    _c.pl_redis_lock_set_unavailable_timeout(r, 2.0)
    assert _c.pl_redis_lock_get_host(r) == ('redis.example', 6380)
    assert _c.pl_redis_lock_get_db(r) == 3
    assert _c.pl_redis_lock_get_password(r) == ('user', 'secret')
    assert _c.pl_redis_lock_get_connect_timeout(r) == 0.5
    assert _c.pl_redis_lock_get_command_timeout(r) == 0.75
    assert _c.pl_redis_lock_get_flags(r) == _c.PL_LOCK_SH
    assert _c.pl_redis_lock_get_timeout(r) == 3.0
    assert _c.pl_redis_lock_get_check_interval(r) == 0.05
    assert _c.pl_redis_lock_get_fail_when_locked(r) == 1
    assert _c.pl_redis_lock_get_unavailable_timeout(r) == 2.0
    _c.pl_redis_lock_set_unix_socket(r, '/tmp/redis.sock')
    assert _c.pl_redis_lock_get_unix_socket(r) == '/tmp/redis.sock'
    assert not hasattr(_c, 'pl_redis_lock_get_lost_callback')


def test_redis_lock_settings_reach_the_c_handle():
    lock = cpl.RedisLock(
        'getters', redis_kwargs={'host': 'h.example', 'port': 1234, 'db': 2,
                                 'username': 'u', 'password': 'p'},
        flags=cpl.LockFlags.SHARED, unavailable_timeout=3,
    )
    h = lock._handle
    assert _c.pl_redis_lock_get_host(h) == ('h.example', 1234)
    assert _c.pl_redis_lock_get_db(h) == 2
    assert _c.pl_redis_lock_get_password(h) == ('u', 'p')
    # The C core's value (the Python one differs on Windows).
    assert _c.pl_redis_lock_get_flags(h) == _c.PL_LOCK_SH
    assert _c.pl_redis_lock_get_unavailable_timeout(h) == 3.0


def test_lock_flags_and_raise_on_release_error_live_in_the_c_handle(workdir):
    lock = cpl.Lock('f')
    assert lock.flags == cpl.LockFlags.EXCLUSIVE | cpl.LockFlags.NON_BLOCKING
    assert isinstance(lock.flags, cpl.LockFlags)
    # The handle keeps the C core's values; the attribute gives and takes
    # the Python ones (the reference's: on Windows they differ).
    _c.pl_lock_set_flags(lock._handle, _c.PL_LOCK_SH | _c.PL_LOCK_NB)
    assert lock.flags == cpl.LOCK_SH | cpl.LOCK_NB
    assert isinstance(lock.flags, cpl.LockFlags)
    lock.flags = cpl.LOCK_EX
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_EX
    assert lock.flags == cpl.LOCK_EX
    lock.flags = int(cpl.LOCK_SH)  # a raw number means the same
    assert _c.pl_lock_get_flags(lock._handle) == _c.PL_LOCK_SH

    assert lock.raise_on_release_error is False
    lock.raise_on_release_error = True  # after construction: reaches the core
    assert _c.pl_lock_get_raise_on_release_error(lock._handle) == 1
    assert lock.raise_on_release_error is True
    assert cpl.Lock('g', raise_on_release_error=True).raise_on_release_error is True


def test_mechanism_is_set_in_the_c_handle_at_acquire(workdir):
    lock = cpl.Lock('f', fail_when_locked=True)
    assert _c.pl_lock_get_mechanism(lock._handle) == _c.PL_MECH_FLOCK
    lock.mechanism = 'posix'
    with lock:
        assert _c.pl_lock_get_mechanism(lock._handle) == _c.PL_MECH_POSIX
    # changed behind the object's back: the next acquire puts it right
    _c.pl_lock_set_mechanism(lock._handle, _c.PL_MECH_OFD)
    with lock:
        assert _c.pl_lock_get_mechanism(lock._handle) == _c.PL_MECH_POSIX


def test_semaphore_slot_lock_names_the_mechanism_in_use(workdir):
    sem = cpl.NamedBoundedSemaphore(1, directory=str(workdir), mechanism='ofd')
    slot_lock = sem.acquire()
    assert _c.pl_semaphore_get_mechanism(sem._handle) == _c.PL_MECH_OFD
    assert slot_lock.mechanism == 'ofd'
    assert slot_lock.flags == cpl.LockFlags.EXCLUSIVE | cpl.LockFlags.NON_BLOCKING
    assert slot_lock.raise_on_release_error is False
    assert os.path.samefile(slot_lock.filename, sem.get_filename(0))
    sem.release()


def test_mechanism_name_is_the_inverse_of_mechanism_value():
    for name, value in plmod.MECHANISMS.items():
        assert plmod.mechanism_name(value) == name
        assert plmod.mechanism_value(name) == value
    with pytest.raises(E.InvalidArgument):
        plmod.mechanism_name(99)
