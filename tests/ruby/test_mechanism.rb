# frozen_string_literal: true

require_relative "test_helper"
require "json"
require "open3"
require "minitest/mock"

# The mechanism: keyword (flock / POSIX record / OFD) is the lock the C core
# really takes. The lock is taken here; a child Ruby that does not load the
# library probes the file with flock(2) and with fcntl F_GETLK (which names
# the holder's PID for a POSIX lock and -1 for an OFD lock).
class TestMechanism < Minitest::Test
  include TestHelpers
  PL = Portalocker

  PROBE = <<~'RUBY'
    require "fcntl"
    require "json"
    path = ARGV[0]
    out = {}
    File.open(path, "a") { |f| out["flock"] = !f.flock(File::LOCK_EX | File::LOCK_NB) }
    File.open(path, "a") do |f|
      # Windows has no fcntl record locks: the flock probe alone there.
      out["getlk_pid"] = nil
      next unless defined?(Fcntl::F_GETLK)

      fmt = "s!s!x4q!q!i!x4" # struct flock (Linux, 64-bit off_t; pack adds no padding)
      buf = [Fcntl::F_WRLCK, 0, 0, 0, 0].pack(fmt)
      f.fcntl(Fcntl::F_GETLK, buf)
      type, _, _, _, pid = buf.unpack(fmt)
      out["getlk_pid"] = type == Fcntl::F_UNLCK ? nil : pid
    end
    puts JSON.generate(out)
  RUBY

  FREE = { "flock" => false, "getlk_pid" => nil }.freeze

  def probe(file)
    out, err, status = Open3.capture3(RbConfig.ruby, "-e", PROBE, file)
    assert status.success?, err
    JSON.parse(out)
  end

  def expected(mechanism)
    { flock: { "flock" => true, "getlk_pid" => nil },
      posix: { "flock" => false, "getlk_pid" => Process.pid },
      ofd: { "flock" => false, "getlk_pid" => -1 } }.fetch(mechanism)
  end

  def need(mechanism)
    return if PL.mechanism_supported?(mechanism)

    unsupported_on_windows("the #{mechanism} mechanism (fcntl record locks): LockFileEx is the only lock there")

    flunk "#{mechanism} unsupported" if ENV["CI"] == "true" && RUBY_PLATFORM.include?("linux")
    skip "#{mechanism} locks are not supported here"
  end

  # [lock, the path its lock is on] for each class.
  def make(kind, **opts)
    case kind
    when :Lock then [PL::Lock.new(path("f"), fail_when_locked: true, **opts), path("f")]
    when :RLock then [PL::RLock.new(path("f"), fail_when_locked: true, **opts), path("f")]
    when :TemporaryFileLock then [PL::TemporaryFileLock.new(path("t.lock"), **opts), path("t.lock")]
    when :PidFileLock then [PL::PidFileLock.new(path("p.pid"), **opts), path("p.pid.lock")]
    when :BoundedSemaphore
      sem = PL::BoundedSemaphore.new(1, name: "bsem", directory: @dir, **opts)
      [sem, sem.filename(0)]
    when :NamedBoundedSemaphore
      sem = PL::NamedBoundedSemaphore.new(1, name: "sem", directory: @dir, **opts)
      [sem, sem.filename(0)]
    end
  end

  KINDS = %i[Lock RLock TemporaryFileLock PidFileLock BoundedSemaphore NamedBoundedSemaphore].freeze

  def test_constants
    assert_equal %i[flock posix ofd], PL::MECHANISMS.keys
    assert_same true, PL.mechanism_supported?(:flock)
    assert_same !WINDOWS, PL.mechanism_supported?(:posix) # Windows: only :flock (LockFileEx)
  end

  # pl_mechanism_supported returns a pl_status: PL_OK is nil, a failure
  # raises (an Integer return would give 0 and -4 here).
  def test_raw_mechanism_supported_is_a_status
    assert_nil PL::Native.pl_mechanism_supported(PL::MECHANISMS[:flock])
    assert_raises(PL::InvalidArgument) { PL::Native.pl_mechanism_supported(99) }
  end

  # What the raw call does when the system lacks the mechanism (the status
  # PL_ERR_UNSUPPORTED through the status typemap) is false.
  def test_mechanism_supported_is_false_for_a_mechanism_the_system_lacks
    native = PL::Native
    assert_raises(PL::Unsupported) { native.pl_binding_status(native::PL_ERR_UNSUPPORTED) }
    lacking = ->(_mechanism) { native.pl_binding_status(native::PL_ERR_UNSUPPORTED) }
    native.stub(:pl_mechanism_supported, lacking) do
      assert_same false, PL.mechanism_supported?(:ofd)
      e = assert_raises(PL::InvalidArgument) { PL.mechanism_supported?(:lockf) }
      assert_includes e.message, "unknown lock mechanism :lockf"
    end
  end

  KINDS.each do |kind|
    %i[flock posix ofd].each do |mechanism|
      define_method("test_#{kind}_#{mechanism}") do
        need(mechanism)
        lock, file = make(kind, mechanism: mechanism)
        assert_equal mechanism, lock.mechanism
        lock.acquire
        begin
          assert_equal expected(mechanism), probe(file)
        ensure
          lock.release
        end
        assert_equal FREE, probe(file) if File.exist?(file)
        lock.close
      end
    end
  end

  def test_default_is_flock
    lock, file = make(:Lock)
    assert_equal :flock, lock.mechanism
    lock.synchronize { assert_equal expected(:flock), probe(file) }
  end

  def test_string_names_are_accepted
    name = WINDOWS ? "flock" : "posix" # Windows: only :flock
    lock, file = make(:Lock, mechanism: name)
    assert_equal name.to_sym, lock.mechanism
    lock.synchronize { assert_equal expected(name.to_sym), probe(file) }
  end

  def test_module_lock_and_unlock
    (WINDOWS ? %i[flock] : %i[flock posix ofd]).each do |mechanism| # Windows: only :flock
      need(mechanism)
      File.open(path("f"), "a") do |f|
        assert_nil PL.lock(f, PL::LOCK_EX | PL::LOCK_NB, mechanism: mechanism)
        assert_equal expected(mechanism), probe(path("f")), mechanism
        PL.unlock(f, mechanism: mechanism)
        assert_equal FREE, probe(path("f")), mechanism
      end
    end
  end

  def test_posix_is_per_process_ofd_per_open_file
    unsupported_on_windows("the posix and ofd mechanisms (fcntl record locks): LockFileEx is the only lock there")
    { posix: nil, ofd: -1 }.each do |mechanism, after_close|
      need(mechanism)
      lock, file = make(:Lock, mechanism: mechanism)
      lock.acquire
      File.open(file, "r", &:close) # closing another descriptor of the file
      got = probe(file)["getlk_pid"]
      after_close.nil? ? assert_nil(got, mechanism) : assert_equal(after_close, got, mechanism)
      lock.close
    end
  end

  def test_invalid_mechanism
    [:fcntl, "FLOCK", nil, 1, :lockf].each do |bad|
      [-> { PL::Lock.new(path("f"), mechanism: bad) },
       -> { PL::RLock.new(path("f"), mechanism: bad) },
       -> { PL::TemporaryFileLock.new(path("t"), mechanism: bad) },
       -> { PL::PidFileLock.new(path("p"), mechanism: bad) },
       -> { PL::NamedBoundedSemaphore.new(1, directory: @dir, mechanism: bad) },
       -> { PL.mechanism_supported?(bad) }].each do |make_it|
        e = assert_raises(PL::InvalidArgument) { make_it.call }
        assert_kind_of ArgumentError, e
        assert_includes e.message, "unknown lock mechanism #{bad.inspect}"
      end
      File.open(path("f"), "a") do |f|
        assert_raises(PL::InvalidArgument) { PL.lock(f, PL::LOCK_EX, mechanism: bad) }
        assert_raises(PL::InvalidArgument) { PL.unlock(f, mechanism: bad) }
      end
    end
    assert_equal FREE, probe(path("f"))
  end

  def test_mechanism_is_not_a_file_option
    lock = PL::Lock.new(path("f"), mechanism: WINDOWS ? :flock : :posix, encoding: "UTF-8")
    assert_equal({ encoding: "UTF-8" }, lock.file_open_kwargs)
    lock.synchronize { |f| assert_equal Encoding::UTF_8, f.external_encoding }
  end
end
