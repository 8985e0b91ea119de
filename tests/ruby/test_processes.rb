# frozen_string_literal: true

require_relative "test_helper"

class TestProcesses < Minitest::Test
  include TestHelpers
  PL = Portalocker

  def test_forked_children_exclude_each_other
    unsupported_on_windows("fork (test_windows.rb: pl_win_helper.exe is the other process)")
    counter = path("counter")
    File.write(counter, "0")
    pids = Array.new(4) do
      fork do
        30.times do
          PL::Lock.open(path("counter.lock"), timeout: 20, check_interval: 0.01) do
            n = File.read(counter).to_i
            Thread.pass
            File.write(counter, (n + 1).to_s)
          end
        end
        exit!(0)
      end
    end
    pids.each { |pid| Process.wait(pid); assert $?.success? }
    assert_equal 120, File.read(counter).to_i
  end

  def test_fork_contention_and_release_on_exit
    unsupported_on_windows("fork (test_windows.rb: a holder in another process, killed)")
    r, w = IO.pipe
    go_r, go_w = IO.pipe
    pid = fork do
      r.close
      go_w.close
      PL::Lock.new(path("f")).acquire
      w.puts "held"
      w.close
      # holds until the parent has looked (not a fixed time a slow parent
      # could outlast), 10 s at most
      IO.select([go_r], nil, nil, 10)
      exit!(0) # the kernel drops the lock with the process
    end
    w.close
    go_r.close
    assert_equal "held\n", r.gets
    assert_raises(PL::AlreadyLocked) { PL::Lock.new(path("f"), timeout: 0.1).acquire }
    go_w.close # the child exits
    l = PL::Lock.new(path("f"), timeout: 10, check_interval: 0.05)
    l.acquire
    assert l.held?
    l.release
    Process.wait(pid)
  end

  def test_semaphore_across_processes
    opts = "name: 's', directory: #{@dir.inspect}"
    h1 = ruby_holder("$s = Portalocker::NamedBoundedSemaphore.new(2, #{opts}); $s.acquire")
    h2 = ruby_holder("$s = Portalocker::NamedBoundedSemaphore.new(2, #{opts}); $s.acquire")
    s = PL::NamedBoundedSemaphore.new(2, name: "s", directory: @dir, timeout: 0.2, check_interval: 0.05)
    assert_raises(PL::AlreadyLocked) { s.acquire }
    h1.finish
    s.synchronize(timeout: 5) { assert_includes [0, 1], s.slot }
    h2.finish
  end

  def test_ruby_excludes_a_reference_python_holder
    h = python_holder("import portalocker\nlock = portalocker.Lock(#{path('py').inspect})\nlock.acquire()")
    e = assert_raises(PL::AlreadyLocked) { PL::Lock.new(path("py"), timeout: 0.2).acquire }
    assert_kind_of PL::LockException, e
    h.finish
    PL::Lock.open(path("py"), fail_when_locked: true) { :ours }
  end

  def test_a_reference_python_lock_fails_while_ruby_holds
    PL::Lock.open(path("rb")) do
      code = "import portalocker\ntry:\n    portalocker.Lock(#{path('rb').inspect}, timeout=0.2).acquire()\n" \
             "    print('acquired')\nexcept portalocker.AlreadyLocked:\n    print('locked')"
      out = IO.popen([venv_python, "-c", code], &:read)
      assert_equal "locked", out.strip
    end
    code = "import portalocker\nportalocker.Lock(#{path('rb').inspect}, timeout=0.2).acquire()\nprint('acquired')"
    assert_equal "acquired", IO.popen([venv_python, "-c", code], &:read).strip
  end

  def test_ruby_pid_file_lock_against_cportalocker
    env = { "PYTHONPATH" => File.join(ROOT, "build", "python") }
    code = "import cportalocker, os\nl = cportalocker.PidFileLock(#{path('x.pid').inspect})\n" \
           "with l.fail_closed():\n    print(l.read_pid() == os.getpid(), flush=True)\n    import sys; sys.stdin.readline()"
    io = IO.popen([env, venv_python, "-c", code], "r+")
    assert_equal "True", io.gets&.strip
    e = assert_raises(PL::AlreadyLocked) { PL::PidFileLock.new(path("x.pid")).acquire }
    assert_equal io.pid, e.holder_pid
    io.puts
    io.close
    PL::PidFileLock.new(path("x.pid")).fail_closed { :ours }
  end
end
