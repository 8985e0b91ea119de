# frozen_string_literal: true

require_relative "test_helper"

# The raw module's getters (one per C setter) give back what was set, and
# the readers of the lock classes read the C handle.
class TestGetters < Minitest::Test
  include TestHelpers
  N = Portalocker::Native
  PL = Portalocker

  def test_lock_getters_round_trip
    h = N.pl_lock_new(path("f"))
    assert_equal "a", N.pl_lock_get_mode(h)
    assert_equal N::PL_MECH_FLOCK, N.pl_lock_get_mechanism(h)
    assert_equal 0o666, N.pl_lock_get_file_mode(h)
    assert_equal 0, N.pl_lock_get_raise_on_release_error(h)
    N.pl_lock_set_mode(h, "r+")
    N.pl_lock_set_mechanism(h, N::PL_MECH_OFD)
    N.pl_lock_set_file_mode(h, 0o600)
    N.pl_lock_set_raise_on_release_error(h, 1)
    assert_equal "r+", N.pl_lock_get_mode(h)
    assert_equal N::PL_MECH_OFD, N.pl_lock_get_mechanism(h)
    assert_equal 0o600, N.pl_lock_get_file_mode(h)
    assert_equal 1, N.pl_lock_get_raise_on_release_error(h)
    # plain int returns are values, not statuses
    assert_equal 0, N.pl_lock_is_held(h)
    assert_equal(-1, N.pl_lock_held_fd(h))
    N.pl_rb_dispose_pl_lock(h)
  end

  def test_semaphore_getters_and_readers
    mech = WINDOWS ? :flock : :posix # Windows: only :flock (LockFileEx)
    s = PL::NamedBoundedSemaphore.new(2, name: "g", directory: @dir, filename_pattern: "{name}-{number}.lk",
                                         timeout: 1.5, check_interval: 0.125, mechanism: mech)
    assert_equal @dir, s.directory
    assert_equal "{name}-{number}.lk", s.filename_pattern
    assert_equal 1.5, s.timeout
    assert_equal 0.125, s.check_interval
    assert_equal mech, s.mechanism
    s.timeout = 2
    assert_equal 2.0, N.pl_semaphore_get_timeout(s.instance_variable_get(:@handle))
    assert_equal 2.0, s.timeout
    assert_equal slot_path("g-1.lk"), s.filename(1)
    h = s.instance_variable_get(:@handle)
    N.pl_semaphore_set_file_mode(h, 0o640)
    assert_equal 0o640, N.pl_semaphore_get_file_mode(h)
    assert_equal PL::MECHANISMS.fetch(mech), N.pl_semaphore_get_mechanism(h)
    assert_equal 0, N.pl_semaphore_acquire_with(h, 0.0, 0.0)
    assert_equal 0, s.slot
    s.close
  end

  def test_redis_getters_round_trip
    r = N.pl_redis_lock_new("getters")
    assert_equal ["127.0.0.1", 6379], N.pl_redis_lock_get_host(r)
    assert_equal "", N.pl_redis_lock_get_unix_socket(r)
    assert_equal [nil, nil], N.pl_redis_lock_get_password(r)
    N.pl_redis_lock_set_password(r, nil, "secret")
    assert_equal [nil, "secret"], N.pl_redis_lock_get_password(r)
    N.pl_redis_lock_set_password(r, "user", "secret")
    assert_equal %w[user secret], N.pl_redis_lock_get_password(r)
    N.pl_redis_lock_set_host(r, "redis.example", 6380)
    N.pl_redis_lock_set_db(r, 3)
    N.pl_redis_lock_set_connect_timeout(r, 0.5)
    N.pl_redis_lock_set_command_timeout(r, 0.75)
    assert_equal ["redis.example", 6380], N.pl_redis_lock_get_host(r)
    assert_equal 3, N.pl_redis_lock_get_db(r)
    assert_equal 0.5, N.pl_redis_lock_get_connect_timeout(r)
    assert_equal 0.75, N.pl_redis_lock_get_command_timeout(r)
    if WINDOWS # no unix sockets there: refused by the setter, nothing kept
      assert_raises(PL::Unsupported) { N.pl_redis_lock_set_unix_socket(r, "/tmp/redis.sock") }
      assert_equal "", N.pl_redis_lock_get_unix_socket(r)
    else
      N.pl_redis_lock_set_unix_socket(r, "/tmp/redis.sock")
      assert_equal "/tmp/redis.sock", N.pl_redis_lock_get_unix_socket(r)
    end
    refute N.respond_to?(:pl_redis_lock_get_lost_callback)
    N.pl_rb_dispose_pl_redis_lock(r)
  end

  def test_redis_lock_readers_read_the_c_handle
    l = PL::RedisLock.new("getters", host: "h.example", port: 1234, db: 2, username: "u", password: "p",
                                     timeout: nil, check_interval: 0.5, fail_when_locked: true,
                                     unavailable_timeout: 3, flags: PL::LOCK_SH)
    h = l.instance_variable_get(:@handle)
    assert_equal ["h.example", 1234], N.pl_redis_lock_get_host(h)
    assert_equal 2, N.pl_redis_lock_get_db(h)
    assert_equal %w[u p], N.pl_redis_lock_get_password(h)
    assert_equal PL::LOCK_SH, l.flags
    assert_equal 5.0, l.timeout # nil: the default
    assert_equal 0.5, l.check_interval
    assert_same true, l.fail_when_locked
    assert_equal 3.0, l.unavailable_timeout
    l.fail_when_locked = false
    l.timeout = 1
    assert_equal 0, N.pl_redis_lock_get_fail_when_locked(h)
    assert_equal 1.0, l.timeout
    l.close
  end

  def test_lock_mechanism_and_raise_on_release_error_live_in_the_c_handle
    l = PL::Lock.new(path("f"), mechanism: :ofd, raise_on_release_error: true)
    h = l.instance_variable_get(:@handle)
    assert_equal :ofd, l.mechanism
    assert_equal N::PL_MECH_OFD, N.pl_lock_get_mechanism(h)
    assert_equal 1, N.pl_lock_get_raise_on_release_error(h)
    N.pl_lock_set_mechanism(h, N::PL_MECH_POSIX)
    assert_equal :posix, l.mechanism
    l.close
    assert_raises(PL::InvalidState) { l.mechanism }
  end
end
