# frozen_string_literal: true

require_relative "test_helper"

# Blocking waits run without the GVL: other Ruby threads make progress.
class TestGvl < Minitest::Test
  include TestHelpers
  PL = Portalocker

  # Runs +waiter+ in a thread, then checks that this thread gets 20 short
  # sleeps done while the waiter still waits. The waiter would wait 30 s
  # (the test then ends it by releasing the holder): a wait that held the
  # GVL would stall these sleeps far past the 3 s bound, which a busy
  # machine cannot reach by itself.
  def assert_other_threads_run(&waiter)
    started = Queue.new
    t = Thread.new do
      started << true
      waiter.call
    end
    started.pop
    sleep 0.2 # let it enter the C wait
    t0 = monotonic
    20.times { sleep 0.005 }
    elapsed = monotonic - t0
    assert t.alive?, "the waiter finished early"
    assert_operator elapsed, :<, 3, "this thread was stalled #{elapsed}s: the GVL was held"
    t
  end

  def test_lock_acquire_releases_the_gvl
    h = ruby_holder("$l = Portalocker::Lock.new(#{path('g').inspect}); $l.acquire")
    l = PL::Lock.new(path("g"), timeout: 30, check_interval: 0.5)
    t = assert_other_threads_run { l.acquire }
    h.finish # releases: the waiter takes the lock
    t.join(10) or flunk("the waiter did not get the lock once it was free")
    l.release
  end

  def test_blocking_lock_call_releases_the_gvl
    h = ruby_holder("$l = Portalocker::Lock.new(#{path('b').inspect}); $l.acquire")
    File.open(path("b"), "a") do |f|
      t = assert_other_threads_run { Portalocker.lock(f, PL::LOCK_EX) }
      h.finish # releases: the blocked flock returns
      t.join(10) or flunk("Portalocker.lock did not return")
      Portalocker.unlock(f)
    end
  end

  def test_semaphore_acquire_releases_the_gvl
    h = ruby_holder("$s = Portalocker::NamedBoundedSemaphore.new(1, name: 'g', directory: #{@dir.inspect}); $s.acquire")
    s = PL::NamedBoundedSemaphore.new(1, name: "g", directory: @dir, timeout: 30, check_interval: 0.5)
    t = assert_other_threads_run { s.acquire }
    h.finish # releases: the waiter takes the slot
    t.join(10) or flunk("the waiter did not get the slot once it was free")
    s.release
  end
end
