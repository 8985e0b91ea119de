# frozen_string_literal: true

require_relative "test_helper"
require_relative "test_redis"
require "open3"
require "rbconfig"
require "timeout"

# RedisLock shared by Threads, dropped while its connection dies, held at
# exit; fencing and the read-only probe. The thread and GC scenarios run in
# a child ruby (a crash or a hang there fails the test instead of ending
# the run), against the redis-server test_redis.rb starts.
class TestRedisThreads < Minitest::Test
  include TestHelpers
  PL = Portalocker

  PRELUDE = <<~RUBY
    $LOAD_PATH.unshift(ARGV.fetch(1))
    require "portalocker"
    require "socket"
    PORT = Integer(ARGV.fetch(0))
    def kill_pubsub
      TCPSocket.open("127.0.0.1", PORT) do |s|
        s.write("*4\\r\\n$6\\r\\nCLIENT\\r\\n$4\\r\\nKILL\\r\\n$4\\r\\nTYPE\\r\\n$6\\r\\npubsub\\r\\n")
        s.gets
      end
    end
  RUBY

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

  # Runs PRELUDE + code in a child ruby; [status, stdout, stderr]. A child
  # still running after +limit+ seconds is killed and fails the test.
  def run_child(code, limit: 90)
    cmd = [RbConfig.ruby, "-e", PRELUDE + code, @port.to_s, BUILD_RB]
    Open3.popen3(*cmd) do |stdin, out, err, wait|
      stdin.close
      readers = [Thread.new { out.read }, Thread.new { err.read }]
      unless wait.join(limit)
        Process.kill(:KILL, wait.pid)
        flunk "child hung (deadlock?) for #{limit} s: #{readers[1].value}"
      end
      [wait.value, readers[0].value, readers[1].value]
    end
  end

  def assert_free(channel)
    rlock(channel, timeout: 5, check_interval: 0.05).synchronize { :free }
  end

  def test_eight_threads_share_one_lock
    status, out, err = run_child(<<~RUBY)
      lock = Portalocker::RedisLock.new("rb-share", port: PORT, timeout: 0.3, check_interval: 0.01)
      counts = Hash.new(0)
      m = Mutex.new
      stop = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 4
      threads = 8.times.map do |i|
        Thread.new do
          rnd = Random.new(i)
          while Process.clock_gettime(Process::CLOCK_MONOTONIC) < stop
            begin
              case rnd.rand(10)
              when 0..3 then lock.acquire; m.synchronize { counts[:ok] += 1 }
              when 4..6 then lock.release
              when 7 then lock.lost?; lock.held?; lock.fence_token; lock.holder_id
              when 8 then lock.probe(timeout: 0.5)
              else
                other = Portalocker::RedisLock.new("rb-share-\#{i}", port: PORT)
                other.acquire
                other = nil
                GC.start
              end
            rescue Portalocker::InvalidState
              m.synchronize { counts[:busy] += 1 }
            rescue Portalocker::LockException
              m.synchronize { counts[:other] += 1 }
            end
          end
        end
      end
      threads.each { |t| abort "a worker hung" unless t.join(60) }
      lock.release
      puts "OK \#{counts[:ok]} \#{counts[:busy]}"
    RUBY
    assert status.success?, "child failed (#{status}): #{err[-3000..] || err}"
    ok, busy = out[/OK (\d+ \d+)/, 1].split.map(&:to_i)
    assert_operator ok, :>, 0
    assert_operator busy, :>, 0
    assert_free("rb-share")
  end

  def test_release_during_acquire_raises_invalid_state
    holder = rlock("rb-rda")
    holder.acquire
    lock = rlock("rb-rda", timeout: 20, check_interval: 0.02)
    t = Thread.new { lock.acquire }
    # Until the thread is blocked, which it is only inside acquire (after
    # taking the object): a release before that would be a no-op, not
    # refused.
    deadline = monotonic + 10
    sleep 0.01 until t.status == "sleep" || monotonic > deadline
    assert_equal "sleep", t.status, "the acquiring thread never blocked"
    outcomes = 20.times.map do
      lock.release
      :released
    rescue PL::InvalidState => e
      assert_match(/another Thread/, e.message)
      :busy
    ensure
      sleep 0.01
    end
    assert_raises(PL::InvalidState) { lock.close }
    refute lock.closed?
    holder.release
    assert_same lock, t.value
    assert_equal [:busy], outcomes.uniq
    assert lock.held?
    assert_raises(PL::AlreadyLocked) { rlock("rb-rda", fail_when_locked: true).acquire }
    lock.release
  end

  def test_gc_while_the_connection_is_killed
    status, _out, err = run_child(<<~RUBY, limit: 120)
      25.times do |i|
        lock = Portalocker::RedisLock.new("rb-gcloss-\#{i}", port: PORT)
        lock.acquire
        kill_pubsub
        sleep(0.001 * (i % 5)) if i.odd?
        lock = nil
        GC.start
      end
      puts "OK"
    RUBY
    assert status.success?, "child failed (#{status}): #{err}"
    assert_empty err
  end

  def test_exit_while_holding
    status, out, err = run_child(<<~RUBY)
      $lock = Portalocker::RedisLock.new("rb-exit", port: PORT)
      $lock.acquire
      held_r, held_w = IO.pipe # (Queue#pop has no timeout in Ruby 3.1)
      Thread.new { l = Portalocker::RedisLock.new("rb-exit-t", port: PORT); l.acquire; held_w.write("x"); sleep 30 }
      IO.select([held_r], nil, nil, 10) or abort "the thread never acquired"
      puts "OK"
    RUBY
    assert status.success?, "child failed (#{status}): #{err}"
    assert_equal "OK\n", out
    assert_empty err
    assert_free("rb-exit")
    assert_free("rb-exit-t")
  end

  def test_fencing_tokens
    lock = rlock("rb-fence", fencing: true)
    assert lock.fencing?
    assert_equal "rb-fence-fence".b, lock.fence_key
    assert_nil lock.fence_token
    lock.synchronize { assert_kind_of Integer, lock.fence_token }
    first = lock.fence_token
    refute_nil first # kept after release
    lock.synchronize { assert_equal first + 1, lock.fence_token }
    reader = rlock("rb-fence", fencing: true, flags: PL::LOCK_SH)
    reader.synchronize { assert_nil reader.fence_token }
    plain = rlock("rb-fence")
    plain.synchronize { assert_nil plain.fence_token }
    assert_raises(PL::InvalidArgument) { PL::RedisLock.new("x", self_check_interval: 0) }
    assert_in_delta 0.5, rlock("x", self_check_interval: 0.5).self_check_interval
  end

  def test_probe_lists_holders_and_changes_nothing
    lock = rlock("rb-probe")
    assert_equal [], lock.probe
    lock.synchronize do
      (me,) = rlock("rb-probe").probe
      assert_equal lock.holder_id, me.holder_id
      assert_equal :exclusive, me.mode
      refute me.legacy
    end
    assert_equal [], lock.probe
    assert_equal :pending, rlock("rb-probe").mode # an idle writer, as the reference's
    assert_equal :shared, rlock("rb-probe", flags: PL::LOCK_SH).mode
  end
end
