# frozen_string_literal: true

require_relative "test_helper"

# The Ruby binding on Windows only (ci/win/test-ruby.sh runs the whole
# suite under wine with the cross-built ruby.exe): what the other files
# cannot show there. The other process is tests/win's pl_win_helper.exe
# (PL_WIN_HELPER), which locks with raw LockFileEx, with the library, or
# with the reference portalocker's two Windows conventions, and reports
# by exit code. Elsewhere this file defines no tests.
return unless WINDOWS

class TestWindows < Minitest::Test
  include TestHelpers
  PL = Portalocker

  def helper_exe
    ENV.fetch("PL_WIN_HELPER") { flunk "PL_WIN_HELPER is not set (ci/win/test-ruby.sh sets it)" }
  end

  # Runs the helper to completion: its exit code.
  def helper(*args)
    system(helper_exe, *args, out: File::NULL, err: File::NULL)
    $?.exitstatus
  end

  # A helper holding a lock until killed (or +seconds+): returns its pid
  # once it holds (its READY file exists).
  def spawn_holder(*args)
    ready = path("ready-#{rand(1 << 30)}")
    pid = spawn(helper_exe, *args.map { |a| a == :ready ? ready : a }, out: File::NULL, err: File::NULL)
    (@spawned ||= []) << pid
    deadline = monotonic + 30
    sleep 0.02 until File.exist?(ready) || monotonic > deadline
    assert File.exist?(ready), "the helper (#{args.first}) never became ready"
    pid
  end

  def finish(pid)
    Process.wait(pid)
    @spawned.delete(pid)
    $?
  end

  def teardown
    (@spawned || []).each do |pid|
      Process.kill(:KILL, pid)
      Process.wait(pid)
    rescue SystemCallError
      nil
    end
    super
  end

  def test_the_platform_and_what_it_lacks
    assert_match(/mingw/, RUBY_PLATFORM)
    assert_same true, PL.mechanism_supported?(:flock)
    assert_same false, PL.mechanism_supported?(:posix)
    assert_same false, PL.mechanism_supported?(:ofd)
    e = assert_raises(PL::Unsupported) { PL::Lock.new(path("p"), mechanism: :posix).acquire }
    assert_kind_of PL::LockException, e
    refute File.exist?(path("p.held")), "nothing created"
  end

  def test_a_lock_is_seen_by_another_process_and_released
    l = PL::Lock.new(path("a.lock"), mode: "w")
    f = l.acquire
    f.write("hello")
    f.flush
    assert_equal 1, helper("probe", path("a.lock")), "raw LockFileEx from another process sees it"
    assert_equal 1, helper("try", path("a.lock"), "ex"), "the library in another process is refused"
    assert_equal 1, helper("ref-msvcrt-try", path("a.lock")), "the reference's msvcrt.locking is refused"
    assert_equal 1, helper("ref-win32-try", path("a.lock"), "ex"), "the reference's Win32Locker is refused"
    l.release
    assert f.closed?, "release closes the File"
    assert_equal 0, helper("probe", path("a.lock"))
    assert_equal 0, helper("ref-msvcrt-try", path("a.lock"))
    assert_equal "hello", File.binread(path("a.lock"))
  end

  def test_shared_locks_share_with_another_process_and_exclude_exclusive
    l = PL::Lock.new(path("s.lock"), flags: PL::LOCK_SH | PL::LOCK_NB)
    l.synchronize do
      assert_equal 0, helper("try", path("s.lock"), "sh"), "another shared holder"
      assert_equal 1, helper("try", path("s.lock"), "ex"), "no exclusive holder"
    end
  end

  def test_a_holder_in_another_process_excludes_us_until_it_exits
    pid = spawn_holder("hold", path("p.lock"), "ex", :ready, "1")
    e = assert_raises(PL::AlreadyLocked) { PL::Lock.new(path("p.lock"), fail_when_locked: true).acquire }
    assert_equal PL::Native::PL_ERR_ALREADY_LOCKED, e.code
    start = monotonic
    PL::Lock.open(path("p.lock"), timeout: 20, check_interval: 0.05) { |f| assert_kind_of File, f }
    assert_operator monotonic - start, :<, 15
    assert finish(pid).success?
  end

  def test_a_holder_killed_releases
    pid = spawn_holder("hold", path("k.lock"), "ex", :ready)
    assert_raises(PL::AlreadyLocked) { PL::Lock.new(path("k.lock"), timeout: 0.2).acquire }
    Process.kill(:KILL, pid)
    finish(pid)
    PL::Lock.open(path("k.lock"), timeout: 10, check_interval: 0.05) { :ours }
  end

  def test_the_reference_conventions_held_elsewhere_exclude_us
    [["ref-msvcrt", path("m.lock"), :ready], ["ref-win32", path("w.lock"), "ex", :ready]].each do |args|
      pid = spawn_holder(*args)
      assert_raises(PL::AlreadyLocked, args.first) { PL::Lock.new(args[1], fail_when_locked: true).acquire }
      Process.kill(:KILL, pid)
      finish(pid)
      PL::Lock.open(args[1], timeout: 10, check_interval: 0.05) { :ours }
    end
  end

  def test_temporary_lock_held_elsewhere_and_removed
    t = path("t.lock")
    pid = spawn_holder("temp", t, :ready, "1")
    assert File.exist?(t)
    assert_raises(PL::AlreadyLocked) { PL::TemporaryFileLock.new(t, fail_when_locked: true).acquire }
    PL::TemporaryFileLock.new(t, fail_when_locked: false, timeout: 20, check_interval: 0.05)
                         .synchronize { assert File.exist?(t) }
    refute File.exist?(t), "removed on release"
    assert finish(pid).success?
  end

  def test_pid_file_lock_reports_the_other_process
    p = path("app.pid")
    pid = spawn_holder("pidfile", p, :ready)
    e = assert_raises(PL::AlreadyLocked) { PL::PidFileLock.new(p).acquire }
    assert_equal pid, e.holder_pid
    assert_equal pid, PL::PidFileLock.new(p).read_pid
    Process.kill(:KILL, pid)
    finish(pid)
    lock = PL::PidFileLock.new(p, fail_when_locked: false, timeout: 10, check_interval: 0.05)
    lock.synchronize { assert_equal Process.pid, lock.read_pid }
  end

  def test_semaphore_slots_paths_and_names
    a = PL::NamedBoundedSemaphore.new(2, name: "w", directory: @dir)
    b = PL::NamedBoundedSemaphore.new(2, name: "w", directory: @dir)
    a.acquire
    b.acquire
    assert_equal [0, 1], [a.slot, b.slot]
    assert_equal "#{@dir}\\w.00.lock", a.filename(0), "joined with the Windows separator"
    assert_equal 1, helper("probe", a.filename(0))
    assert_raises(PL::AlreadyLocked) do
      PL::NamedBoundedSemaphore.new(2, name: "w", directory: @dir, fail_when_locked: true).acquire
    end
    a.release
    b.release
    ["a\\b", "c:d", "e/f"].each do |bad|
      assert_raises(PL::InvalidArgument, bad) { PL::NamedBoundedSemaphore.new(2, name: bad, directory: @dir) }
    end
  end

  def test_semaphore_slot_held_by_another_process
    pid = spawn_holder("sem", "h", @dir, :ready, "1")
    s = PL::NamedBoundedSemaphore.new(1, name: "h", directory: @dir, timeout: 0.1, check_interval: 0.05)
    assert_raises(PL::AlreadyLocked) { s.acquire }
    s.synchronize(timeout: 20) { assert_equal 0, s.slot }
    assert finish(pid).success?
  end

  def test_open_atomic_publishes_and_never_replaces
    target = path("atomic.txt")
    PL.open_atomic(target) { |f| f.write("one\n") }
    assert_equal "one\n", File.binread(target)
    assert_raises(PL::FileExists) { PL.open_atomic(target) { |f| f.write("two\n") } }
    assert_equal "one\n", File.binread(target)
    assert_raises(RuntimeError) { PL.open_atomic(path("abandoned")) { raise "abandon" } }
    refute File.exist?(path("abandoned"))
    assert_equal ["atomic.txt"], Dir.children(@dir).reject { |n| n.start_with?("ready-") }
  end

  def test_cancel_ends_a_wait_on_another_process
    pid = spawn_holder("hold", path("c.lock"), "ex", :ready)
    lock = PL::Lock.new(path("c.lock"), timeout: 30)
    Thread.new { sleep 0.3; lock.cancel }
    start = monotonic
    assert_raises(PL::Interrupted) { lock.acquire }
    assert_operator monotonic - start, :<, 5
    refute lock.held?
    Process.kill(:KILL, pid)
    finish(pid)
  end

  def test_thread_raise_and_timeout_end_a_wait_on_another_process
    pid = spawn_holder("hold", path("i.lock"), "ex", :ready)
    t = Thread.new do
      Thread.current.report_on_exception = false
      PL::Lock.new(path("i.lock"), timeout: 30).acquire
    end
    sleep 0.3
    t.raise(RuntimeError, "stop")
    e = assert_raises(RuntimeError) { t.join(10) }
    assert_equal "stop", e.message
    start = monotonic
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { PL::Lock.new(path("i.lock"), timeout: 30).acquire } }
    assert_operator monotonic - start, :<, 5
    Process.kill(:KILL, pid)
    finish(pid)
  end

  def test_errors_are_portalocker_classes_with_windows_errno
    e = assert_raises(PL::OSError) { PL::Lock.new(File.join(@dir, "missing", "x.lock")).acquire }
    assert_kind_of Errno::ENOENT, e
    assert_equal Errno::ENOENT::Errno, e.errno
    e = assert_raises(SystemCallError) { PL::Lock.new(path("a" * 300)).acquire }
    assert_equal Errno::ENAMETOOLONG::Errno, e.errno
    e = assert_raises(PL::LockException) { PL::RedisLock.new("c", url: "rediss://127.0.0.1:6380").acquire }
    assert_match(/Windows/, e.message)
    e = assert_raises(PL::LockException) { PL::RedisLock.new("c", unix_socket_path: "C:\\redis.sock").acquire }
    assert_match(/unix/, e.message)
  end
end
