# frozen_string_literal: true

require_relative "test_helper"

class TestApi < Minitest::Test
  include TestHelpers
  N = Portalocker::Native

  def test_constants_come_from_the_c_core
    assert_equal [1, 2, 4, 8], [Portalocker::LOCK_SH, Portalocker::LOCK_EX, Portalocker::LOCK_NB, Portalocker::LOCK_UN]
    assert_equal N.pl_flag_exclusive, Portalocker::LockFlags::EXCLUSIVE
    assert_equal N.pl_flag_shared, Portalocker::LockFlags::SHARED
    assert_equal N.pl_flag_non_blocking, Portalocker::LockFlags::NON_BLOCKING
    assert_equal N.pl_flag_unblock, Portalocker::LockFlags::UNBLOCK
    assert_equal N.pl_version_string, Portalocker::VERSION
    assert_equal Portalocker::VERSION, Portalocker::LIBRARY_VERSION
  end

  def test_every_class_is_there
    %i[Lock RLock TemporaryFileLock PidFileLock BoundedSemaphore NamedBoundedSemaphore RedisLock].each do |name|
      assert_kind_of Class, Portalocker.const_get(name), name
    end
    assert_operator Portalocker::RLock, :<, Portalocker::Lock
    assert_operator Portalocker::PidFileLock, :<, Portalocker::TemporaryFileLock
    assert_operator Portalocker::NamedBoundedSemaphore, :<, Portalocker::BoundedSemaphore
  end

  def test_lock_and_unlock_an_io_and_a_descriptor
    p = path("f")
    File.open(p, "w") do |a|
      File.open(p, "r") do |b| # another open file description: flock contends
        Portalocker.lock(a, Portalocker::LOCK_EX | Portalocker::LOCK_NB)
        e = assert_raises(Portalocker::AlreadyLocked) { Portalocker.lock(b.fileno, Portalocker::LOCK_SH | Portalocker::LOCK_NB) }
        assert_equal N::PL_ERR_ALREADY_LOCKED, e.code
        Portalocker.unlock(a.fileno)
        Portalocker.lock(b.fileno, Portalocker::LOCK_SH | Portalocker::LOCK_NB)
        Portalocker.lock(a, Portalocker::LOCK_SH | Portalocker::LOCK_NB) # shared + shared
        Portalocker.unlock(b)
        Portalocker.unlock(a)
      end
    end
  end

  def test_lock_rejects_bad_flags_and_objects
    File.open(path("f"), "w") do |f|
      [Portalocker::LOCK_UN, Portalocker::LOCK_EX | Portalocker::LOCK_SH, Portalocker::LOCK_NB].each do |flags|
        e = assert_raises(Portalocker::InvalidArgument) { Portalocker.lock(f, flags) }
        assert_kind_of ArgumentError, e
      end
    end
    assert_raises(TypeError) { Portalocker.lock("not an io", Portalocker::LOCK_EX) }
    e = assert_raises(Portalocker::LockException) { Portalocker.lock(12_345, Portalocker::LOCK_EX | Portalocker::LOCK_NB) }
    assert_equal Errno::EBADF::Errno, e.errno
  end

  def test_lock_options_and_defaults
    l = Portalocker::Lock.new(path("l"))
    assert_equal 5.0, l.timeout
    assert_equal 0.25, l.check_interval
    refute l.fail_when_locked
    assert_equal Portalocker::LOCK_EX | Portalocker::LOCK_NB, l.flags
    assert_equal path("l"), l.filename
    l.timeout = 1.5
    l.fail_when_locked = true
    assert_equal 1.5, l.timeout
    assert l.fail_when_locked
    assert Portalocker::TemporaryFileLock.new(path("t")).fail_when_locked
    assert Portalocker::PidFileLock.new(path("p")).fail_when_locked
    assert Portalocker::NamedBoundedSemaphore.new(2, directory: @dir).fail_when_locked
    assert_raises(Portalocker::InvalidArgument) { Portalocker::Lock.new(path("l"), mode: "q") }
    assert_raises(Portalocker::InvalidArgument) { Portalocker::Lock.new(path("l"), flags: Portalocker::LOCK_NB) }
    [l].each(&:close)
  end

  def test_timeout_in_blocking_mode_warns
    assert_output(nil, /timeout has no effect in blocking mode/) do
      Portalocker::Lock.new(path("l"), timeout: 1, flags: Portalocker::LOCK_EX).close
    end
  end

  def test_closed_lock_raises_invalid_state
    l = Portalocker::Lock.new(path("l"))
    l.acquire
    l.close
    assert l.closed?
    refute l.held?
    assert_raises(Portalocker::InvalidState) { l.acquire }
    l.close # twice is fine
  end
end
