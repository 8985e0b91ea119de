# frozen_string_literal: true

require_relative "test_helper"

class TestLocks < Minitest::Test
  include TestHelpers
  PL = Portalocker

  def test_acquire_returns_a_file_over_the_locked_descriptor
    l = PL::Lock.new(path("a"), mode: "w")
    f = l.acquire
    assert_kind_of File, f
    assert_equal path("a"), f.path
    assert_equal l.fd, f.fileno
    assert_same f, l.acquire # the same File while held
    assert l.held?
    f.write("hello")
    l.release
    assert f.closed?
    refute l.held?
    assert_nil l.file
    assert_equal "hello", File.read(path("a"))
    l.release # no-op
  ensure
    l&.close
  end

  def test_modes_text_binary_append_and_encoding
    File.write(path("m"), "old\n")
    PL::Lock.open(path("m")) { |f| f.write("appended\n") } # default "a"
    assert_equal "old\nappended\n", File.read(path("m"))
    PL::Lock.open(path("m"), mode: "r+") do |f|
      assert_equal "old\n", f.gets
    end
    PL::Lock.open(path("m"), mode: "rb") do |f|
      assert_equal Encoding::ASCII_8BIT, f.read.encoding
    end
    PL::Lock.open(path("m"), mode: "w:ISO-8859-1") { |f| f.write("é") }
    assert_equal "\xE9".b, File.binread(path("m"))
    PL::Lock.open(path("m"), mode: "r", encoding: "ISO-8859-1:UTF-8") do |f|
      assert_equal "é", f.read
    end
  end

  def test_mode_w_truncates_only_once_the_lock_is_taken
    File.write(path("w"), "precious")
    h = ruby_holder("$l = Portalocker::Lock.new(#{path('w').inspect}); $l.acquire")
    l = PL::Lock.new(path("w"), mode: "w", timeout: 0.2)
    assert_raises(PL::AlreadyLocked) { l.acquire }
    assert_equal "precious", File.read(path("w"))
    h.finish
    l.synchronize { |f| f.write("new") }
    assert_equal "new", File.read(path("w"))
  end

  def test_contention_timeout_and_overrides
    h = ruby_holder("$l = Portalocker::Lock.new(#{path('c').inspect}); $l.acquire")
    l = PL::Lock.new(path("c"), timeout: 0.4, check_interval: 0.05)
    t0 = monotonic
    e = assert_raises(PL::AlreadyLocked) { l.acquire }
    waited = monotonic - t0
    assert_operator waited, :>=, 0.35
    assert_operator waited, :<, 3
    assert_equal Portalocker::Native::PL_ERR_ALREADY_LOCKED, e.code
    # The overrides on a lock that would otherwise wait 5 s: refused at
    # once, within a bound a busy machine cannot miss.
    slow = PL::Lock.new(path("c"), timeout: 5, check_interval: 0.05)
    t0 = monotonic
    assert_raises(PL::AlreadyLocked) { slow.acquire(fail_when_locked: true) }
    assert_operator monotonic - t0, :<, 2.5
    t0 = monotonic
    assert_raises(PL::AlreadyLocked) { slow.acquire(timeout: 0) }
    assert_operator monotonic - t0, :<, 2.5
    h.finish
    assert_kind_of File, l.acquire(timeout: 2)
    l.release
  end

  def test_blocking_flags_wait_for_the_holder
    h = ruby_holder("$l = Portalocker::Lock.new(#{path('b').inspect}); $l.acquire",
                    after: "sleep 0.3; $l.release")
    l = PL::Lock.new(path("b"), flags: PL::LOCK_EX)
    finisher = Thread.new { sleep 0.1; h.finish }
    t0 = monotonic
    l.synchronize { |f| assert_kind_of File, f }
    assert_operator monotonic - t0, :>=, 0.25
    finisher.join
  end

  def test_synchronize_releases_on_exception_break_and_throw
    l = PL::Lock.new(path("s"))
    files = []
    assert_raises(RuntimeError) { l.synchronize { |f| files << f; raise "boom" } }
    refute l.held?
    [1].each { l.synchronize { |f| files << f; break } }
    refute l.held?
    catch(:out) { l.synchronize { |f| files << f; throw :out } }
    refute l.held?
    assert_equal 42, l.synchronize { 42 }
    assert(files.all?(&:closed?))
    assert_equal 3, files.size
    # Another handle can take it every time.
    PL::Lock.open(path("s"), fail_when_locked: true) { :ok }
  end

  def test_block_exception_wins_over_release_failure
    l = PL::Lock.new(path("e"))
    l.define_singleton_method(:release) { raise PL::LockException, "release failed" }
    e = assert_raises(RuntimeError) { l.synchronize { raise "block" } }
    assert_equal "block", e.message
    assert_raises(PL::LockException) { l.synchronize { :ok } }
  ensure
    # The real release again, so that the file is closed now (Windows
    # cannot remove the test's directory while it is open).
    l.singleton_class.send(:remove_method, :release)
    l.close
  end

  def test_open_with_and_without_a_block
    result = PL::Lock.open(path("o"), timeout: 1) do |f|
      assert_raises(PL::AlreadyLocked) { PL::Lock.new(path("o"), fail_when_locked: true).acquire }
      f.write("x")
      :value
    end
    assert_equal :value, result
    assert_raises(ZeroDivisionError) { PL::Lock.open(path("o")) { 1 / 0 } }
    l = PL::Lock.open(path("o"))
    assert l.held?
    l.close
    PL::Lock.open(path("o"), fail_when_locked: true) { :free_again }
  end

  def test_rlock_counts
    r = PL::RLock.new(path("r"))
    f1 = r.acquire
    f2 = r.acquire
    assert_same f1, f2
    assert_equal 2, r.count
    other = PL::Lock.new(path("r"), fail_when_locked: true)
    r.synchronize { assert_equal 3, r.count }
    r.release
    assert_raises(PL::AlreadyLocked) { other.acquire }
    refute f1.closed?
    r.release
    assert f1.closed?
    assert_equal 0, r.count
    e = assert_raises(PL::NotHeld) { r.release }
    assert_kind_of PL::LockException, e
    r.close # released already: closing is fine
    assert r.closed?
    assert_equal :ok, PL::RLock.open(path("r")) { :ok }
    other.synchronize { :ok }
  end

  def test_temporary_file_lock_exists_only_while_held
    t = PL::TemporaryFileLock.new(path("tmp.lock"))
    t.synchronize do |f|
      assert_kind_of File, f
      assert File.exist?(path("tmp.lock"))
      assert_raises(PL::AlreadyLocked) { PL::TemporaryFileLock.new(path("tmp.lock")).acquire }
    end
    refute File.exist?(path("tmp.lock"))
  end

  def test_temporary_file_lock_is_removed_at_exit
    out = IO.popen([RbConfig.ruby, "-I", BUILD_RB, "-rportalocker", "-e",
                    "Portalocker::TemporaryFileLock.new(#{path('x.lock').inspect}).acquire; " \
                    "print File.exist?(#{path('x.lock').inspect})"], &:read)
    assert_equal "true", out
    refute File.exist?(path("x.lock"))
  end

  def test_pid_file_lock
    pl = PL::PidFileLock.new(path("app.pid"))
    assert_equal path("app.pid.lock"), pl.lockfile
    yielded = :none
    pl.synchronize do |pid|
      yielded = pid
      assert_equal Process.pid.to_s, File.read(path("app.pid")).strip
      assert_equal Process.pid, pl.read_pid
    end
    assert_nil yielded
    refute File.exist?(path("app.pid"))
    assert_nil pl.read_pid
  end

  def test_pid_file_lock_contention_reports_the_holder
    h = ruby_holder("$l = Portalocker::PidFileLock.new(#{path('h.pid').inspect}); $l.acquire")
    pl = PL::PidFileLock.new(path("h.pid"))
    e = assert_raises(PL::AlreadyLocked) { pl.acquire }
    assert_equal h.pid, e.holder_pid
    assert_equal h.pid, pl.read_pid
    ran = nil
    pl.synchronize { |pid| ran = pid }
    assert_equal h.pid, ran
    e = assert_raises(PL::AlreadyLocked) { pl.fail_closed { flunk "must not run" } }
    assert_equal h.pid, e.holder_pid
    h.finish
    pl.fail_closed { |f| assert_kind_of File, f }
    refute File.exist?(path("h.pid"))
  end

  def test_bounded_semaphores
    a = PL::NamedBoundedSemaphore.new(2, name: "sem", directory: @dir, timeout: 0.3, check_interval: 0.05)
    b = PL::NamedBoundedSemaphore.new(2, name: "sem", directory: @dir, timeout: 0.3, check_interval: 0.05)
    c = PL::NamedBoundedSemaphore.new(2, name: "sem", directory: @dir, timeout: 0.3, check_interval: 0.05,
                                         fail_when_locked: false)
    assert_equal [slot_path("sem.00.lock"), slot_path("sem.01.lock")], a.filenames
    fa = a.acquire
    assert_kind_of File, fa
    assert_equal 0, a.slot
    assert_equal slot_path("sem.00.lock"), fa.path
    b.acquire
    assert_equal 1, b.slot
    t0 = monotonic
    assert_nil c.acquire # full, fail_when_locked: false
    assert_operator monotonic - t0, :>=, 0.25
    assert_raises(PL::AlreadyLocked) { c.acquire(fail_when_locked: true, timeout: 0) }
    assert_raises(PL::AlreadyLocked) { c.synchronize { flunk "ran without a slot" } }
    a.release
    assert fa.closed?
    assert_nil a.slot
    c.synchronize(timeout: 1) { |f| assert_equal slot_path("sem.00.lock"), f.path }
    refute c.held?
    [a, b, c].each(&:close)
    assert_match(/\Abounded_semaphore\.\d+\z/, PL::NamedBoundedSemaphore.new(1).name)
  end

  def test_unnamed_bounded_semaphore_is_deprecated
    old = Warning[:deprecated]
    Warning[:deprecated] = true
    assert_output(nil, /deprecated, use NamedBoundedSemaphore/) { PL::BoundedSemaphore.new(1, directory: @dir).close }
    assert_output(nil, "") { PL::BoundedSemaphore.new(1, name: "n", directory: @dir).close }
  ensure
    Warning[:deprecated] = old
  end

  def test_semaphore_open_block
    r = PL::NamedBoundedSemaphore.open(1, name: "o", directory: @dir) do |f|
      assert_raises(PL::AlreadyLocked) do
        PL::NamedBoundedSemaphore.new(1, name: "o", directory: @dir, timeout: 0).acquire
      end
      f.path
    end
    assert_equal slot_path("o.00.lock"), r
    PL::NamedBoundedSemaphore.open(1, name: "o", directory: @dir, timeout: 0) { :free }
  end

  def test_open_atomic
    target = path("out/atomic.bin")
    temp = nil
    r = PL.open_atomic(target) do |f|
      temp = f.path
      assert File.exist?(temp)
      refute File.exist?(target)
      f.write("\x00\xffdata".b)
      :done
    end
    assert_equal :done, r
    assert_equal "\x00\xffdata".b, File.binread(target)
    refute File.exist?(temp)
    e = assert_raises(PL::FileExists) { PL.open_atomic(target) { flunk "ran" } }
    assert_kind_of Errno::EEXIST, e
    # An exception abandons: nothing published, no temporary left.
    assert_raises(RuntimeError) { PL.open_atomic(path("out/abandoned")) { |f| f.write("x"); raise "no" } }
    refute File.exist?(path("out/abandoned"))
    assert_equal ["atomic.bin"], Dir.children(path("out"))
    # break commits (a normal exit of the block).
    [1].each { PL.open_atomic(path("out/text"), binary: false) { |f| f.write("text"); break } }
    assert_equal "text", File.read(path("out/text"))
    # A file appearing meanwhile is never replaced.
    assert_raises(Errno::EEXIST) { PL.open_atomic(path("out/race")) { File.write(path("out/race"), "theirs") } }
    assert_equal "theirs", File.read(path("out/race"))
    assert_raises(ArgumentError) { PL.open_atomic(path("out/noblock")) }
  end
end
