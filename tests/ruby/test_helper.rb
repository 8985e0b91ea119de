# frozen_string_literal: true

# Shared helpers for the Ruby binding's minitest suite. The library under
# test is the one `make ruby-binding` builds into build/ruby (or
# PORTALOCKER_RUBY_PATH).
require "minitest/autorun"
require "rbconfig"
require "tmpdir"
require "timeout"

ROOT = File.expand_path("../..", __dir__)
BUILD_RB = File.expand_path(ENV.fetch("PORTALOCKER_RUBY_PATH", File.join(ROOT, "build", "ruby")))
$LOAD_PATH.unshift(BUILD_RB)
require "portalocker"

loaded = $LOADED_FEATURES.find { |f| f.end_with?("portalocker/native.so") }
raise "testing #{loaded}, not the build in #{BUILD_RB}" unless loaded&.start_with?(BUILD_RB)

# The Windows ruby.exe (ci/win/test-ruby.sh runs this suite under wine):
# what cannot apply there is skipped with its reason (unsupported_on_windows).
WINDOWS = RUBY_PLATFORM.match?(/mingw|mswin/)

module TestHelpers
  MAX_HOLD = 20

  # Skips the test on Windows, saying why it cannot apply there.
  def unsupported_on_windows(reason)
    skip "not on Windows: #{reason}" if WINDOWS
  end

  def setup
    super
    @dir = Dir.mktmpdir("pl-rb")
  end

  def teardown
    (@holders || []).each(&:kill)
    remove_dir(@dir) if @dir && File.exist?(@dir)
    super
  end

  # Windows refuses to remove a file another handle has open: a killed
  # holder's handles close a moment after its kill, and a File a test
  # dropped (or a lock whose release was made to fail) is closed by the
  # GC. So there removal is retried, with a GC, for a few seconds.
  def remove_dir(dir)
    deadline = monotonic + 10
    begin
      FileUtils.remove_entry(dir)
    rescue SystemCallError
      raise unless WINDOWS && monotonic < deadline

      GC.start
      sleep 0.1
      retry
    end
  end

  def path(name)
    File.join(@dir, name)
  end

  # A semaphore slot's path as the C core joins it: with the platform's
  # separator (a backslash on Windows).
  def slot_path(name)
    WINDOWS ? "#{@dir}\\#{name}" : path(name)
  end

  # The process's open descriptors (/proc/self/fd); nil on Windows, which
  # has no such list (probing each CRT descriptor with IO.for_fd crashes
  # Ruby there): the leak checks are Linux's.
  def open_fds
    return nil if WINDOWS

    Dir.children("/proc/self/fd").size
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A second process that runs +code+ (which takes some lock), prints
  # "ready", waits for a line on stdin (at most MAX_HOLD s, so a stuck test
  # fails instead of hanging), runs +after+ and exits.
  class Holder
    attr_reader :pid

    def initialize(argv)
      @io = IO.popen(argv, "r+", err: %i[child out])
      @pid = @io.pid
      line = @io.gets
      return if line&.strip == "ready"

      rest = @io.read
      @io.close
      raise "holder failed: #{line}#{rest}"
    end

    def finish
      @io.puts "go"
      @io.flush
      out = @io.read
      @io.close
      raise "holder exited with #{$?.exitstatus}: #{out}" unless $?.success?

      out
    end

    def kill
      return if @io.closed?

      Process.kill(:KILL, @pid)
      @io.close
    rescue Errno::ESRCH, IOError
      nil
    end
  end

  def ruby_holder(code, after: "")
    script = "#{code}\n$stdout.puts 'ready'; $stdout.flush\n" \
             "IO.select([$stdin], nil, nil, #{MAX_HOLD}) && $stdin.gets\n#{after}\n"
    h = Holder.new([RbConfig.ruby, "-I", BUILD_RB, "-rportalocker", "-e", script])
    (@holders ||= []) << h
    h
  end

  # The CI venv's python (reference portalocker, redis-py); ruby.sh sets
  # PL_VENV_PYTHON from `bash ci/venv.sh`.
  def venv_python
    unsupported_on_windows("the Python holders (the reference portalocker, cportalocker) run in the Linux venv's python")
    py = ENV["PL_VENV_PYTHON"]
    return py if py && File.executable?(py)
    flunk "PL_VENV_PYTHON is not set (ci/tests.d/ruby.sh sets it)" if ENV["CI"] == "true"

    skip "PL_VENV_PYTHON not set: run through ci/tests.d/ruby.sh"
  end

  def python_holder(code, after: "")
    script = "import select, sys\n#{code}\nprint('ready', flush=True)\n" \
             "select.select([sys.stdin], [], [], #{MAX_HOLD})\nsys.stdin.readline()\n#{after}\n"
    h = Holder.new([venv_python, "-c", script])
    (@holders ||= []) << h
    h
  end
end
