# frozen_string_literal: true

require_relative "test_helper"
require "socket"

# RedisLock against a real redis-server this file starts on a free
# 127.0.0.1 port (and a unix socket) in its own temp dir.
module RedisServer
  class << self
    attr_reader :port, :socket, :error

    def start
      return if @port || @error

      # On Windows, the Linux redis-server ci/win/test-ruby.sh started (a
      # Windows ruby cannot run it); no unix socket there.
      if WINDOWS
        port = ENV["PL_TEST_REDIS_PORT"]
        return @error = "PL_TEST_REDIS_PORT is not set (ci/win/test-ruby.sh starts the server)" unless port

        return @port = Integer(port)
      end

      server = ENV.fetch("PATH", "").split(":").map { |d| File.join(d, "redis-server") }.find { |f| File.executable?(f) }
      return @error = "redis-server is not installed (ci/setup.sh installs it)" unless server

      @dir = Dir.mktmpdir("pl-rb-redis")
      @socket = File.join(@dir, "redis.sock")
      5.times do
        port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
        pid = spawn(server, "--port", port.to_s, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", @dir, "--unixsocket", @socket, "--unixsocketperm", "700", out: File::NULL, err: File::NULL)
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 10
        loop do
          begin
            TCPSocket.new("127.0.0.1", port).close
            @pid = pid
            @port = port
            Minitest.after_run { stop }
            return
          rescue SystemCallError
            break if Process.wait(pid, Process::WNOHANG) || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

            sleep 0.05
          end
        end
        begin
          Process.kill(:KILL, pid)
          Process.wait(pid)
        rescue SystemCallError
          nil
        end
      end
      @error = "could not start redis-server"
    end

    def stop
      return unless @pid

      Process.kill(:TERM, @pid)
      Process.wait(@pid)
      FileUtils.remove_entry(@dir)
    rescue SystemCallError
      nil
    end

    # One command over RESP (no client gem needed).
    def command(*args)
      TCPSocket.open("127.0.0.1", @port) do |s|
        s.write("*#{args.size}\r\n" + args.map { |a| "$#{a.to_s.bytesize}\r\n#{a}\r\n" }.join)
        s.gets
      end
    end
  end
end

class TestRedis < Minitest::Test
  include TestHelpers
  PL = Portalocker

  def setup
    super
    RedisServer.start
    flunk RedisServer.error if RedisServer.error
    @port = RedisServer.port
  end

  def rlock(channel, **opts)
    lock = PL::RedisLock.new(channel, port: @port, **opts)
    (@locks ||= []) << lock
    lock
  end

  def teardown
    (@locks || []).each do |l|
      l.close
    rescue PL::LockLost
      nil
    end
    super
  end

  # Runs the block with Native.<name> replaced by `body` (which gets the
  # original method and the arguments).
  def with_native(name, body)
    native = PL::Native
    original = native.method(name)
    native.define_singleton_method(name) { |*args| body.call(original, *args) }
    yield
  ensure
    native.singleton_class.send(:remove_method, name)
    native.define_singleton_method(name, original) unless native.respond_to?(name)
  end

  # An exception just as the core's acquire (or the fence token read after
  # it) returns: acquire raises it, and nothing stays held.
  def test_interrupt_after_the_core_took_the_lock_holds_nothing
    %i[pl_redis_lock_acquire_with pl_redis_lock_get_fence_token].each do |late|
      lock = rlock("late-#{late}", fencing: true)
      with_native(late, ->(original, *args) { original.call(*args); raise Interrupt }) do
        assert_raises(Interrupt) { lock.acquire }
      end
      refute lock.held?
      rlock("late-#{late}", timeout: 0, fail_when_locked: true).synchronize { nil } # free
      lock.synchronize { refute_nil lock.fence_token } # and usable
    end
  end

  # An exception inside #release before the core gave the lock back: still
  # held (truthfully); the next #release or #acquire sorts it out.
  def test_interrupt_before_the_core_released_is_recovered
    %w[release acquire].each do |then_call|
      lock = rlock("early-#{then_call}")
      lock.acquire
      with_native(:pl_redis_lock_release, ->(_original, *_args) { raise Interrupt }) do
        assert_raises(Interrupt) { lock.release }
      end
      other = rlock("early-#{then_call}", timeout: 0, fail_when_locked: true)
      assert_raises(PL::AlreadyLocked) { other.acquire } # the core still holds it
      if then_call == "release"
        lock.release
      else
        lock.synchronize { nil }
      end
      other.synchronize { nil }
    end
  end

  def test_acquire_contend_release
    a = rlock("chan-a")
    b = rlock("chan-a", timeout: 0.3, check_interval: 0.05)
    assert_same a, a.acquire
    assert a.held?
    refute a.lost?
    t0 = monotonic
    e = assert_raises(PL::AlreadyLocked) { b.acquire }
    assert_operator monotonic - t0, :>=, 0.2
    assert_equal Portalocker::Native::PL_ERR_ALREADY_LOCKED, e.code
    assert_raises(PL::LockException) { a.acquire } # already active
    a.release
    refute a.held?
    b.acquire(timeout: 5)
    b.release
    refute_empty a.holder_id
  end

  def test_synchronize_releases_on_exception_and_open
    a = rlock("chan-s")
    assert_raises(RuntimeError) { a.synchronize { |l| assert_same a, l; raise "boom" } }
    refute a.held?
    catch(:x) { a.synchronize { throw :x } }
    r = PL::RedisLock.open("chan-s", port: @port, fail_when_locked: true) { |l| l.holder_id }
    refute_empty r
    rlock("chan-s", fail_when_locked: true).synchronize { :free }
  end

  def test_unix_socket_and_binary_channel
    # Windows: no unix sockets (test_windows.rb: refused with a message);
    # the binary channel over TCP there.
    a = WINDOWS ? rlock("chan-\u00e9") : rlock("chan-\u00e9", unix_socket_path: RedisServer.socket)
    b = rlock("chan-\u00e9", fail_when_locked: true)
    a.synchronize { assert_raises(PL::AlreadyLocked) { b.acquire } }
  end

  def test_connection_refused_is_a_connection_error
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] } # now closed
    lock = PL::RedisLock.new("chan-x", port: port, connect_timeout: 1, timeout: 0.2)
    e = assert_raises(PL::ConnectionError) { lock.acquire }
    assert_kind_of PL::LockException, e
    assert_equal Portalocker::Native::PL_ERR_CONNECTION, e.code
    lock.close
  end

  def test_lost_lock_surfaces_in_lost_and_release
    a = rlock("chan-l")
    e = assert_raises(PL::LockLost) do
      a.synchronize do
        a.ensure_held!
        assert_match(/:1/, RedisServer.command("CLIENT", "KILL", "TYPE", "pubsub"))
        deadline = monotonic + 20
        sleep 0.05 until a.lost? || monotonic > deadline
        assert a.lost?
        assert_raises(PL::LockLost) { a.ensure_held! }
      end
    end
    assert_equal "chan-l", e.channel
    assert_equal Portalocker::Native::PL_ERR_LOCK_LOST, e.code
    rlock("chan-l", fail_when_locked: true).synchronize { :free }
  end

  def test_gvl_released_while_waiting
    held = rlock("chan-g").acquire
    # The waiter would wait 30 s (ended here by the release): a wait that
    # held the GVL would stall the sleeps far past the 3 s bound.
    waiter = rlock("chan-g", timeout: 30, check_interval: 0.1)
    t = Thread.new { waiter.acquire }
    sleep 0.2
    t0 = monotonic
    20.times { sleep 0.005 }
    assert_operator monotonic - t0, :<, 3
    assert t.alive?
    held.release
    t.join(10) or flunk("the waiter did not get the lock once it was free")
    waiter.release
  end

  def test_interop_with_the_reference_redis_lock
    kw = "redis_kwargs={'host': '127.0.0.1', 'port': #{@port}}"
    h = python_holder("import portalocker\nl = portalocker.RedisLock('chan-i', #{kw})\nl.acquire()")
    ours = rlock("chan-i", timeout: 0.5)
    assert_raises(PL::AlreadyLocked) { ours.acquire }
    h.finish
    ours.acquire(timeout: 10)
    code = "import portalocker\ntry:\n    portalocker.RedisLock('chan-i', #{kw}, timeout=0.5, " \
           "fail_when_locked=True).acquire()\n    print('acquired')\nexcept portalocker.AlreadyLocked:\n    print('locked')"
    assert_equal "locked", IO.popen([venv_python, "-c", code], &:read).strip
    ours.release
  end

  def test_flags_are_validated
    assert_raises(PL::InvalidArgument) { PL::RedisLock.new("c", port: @port, flags: PL::LOCK_EX | PL::LOCK_NB) }
  end
end
