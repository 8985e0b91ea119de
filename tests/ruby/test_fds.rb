# frozen_string_literal: true

require_relative "test_helper"

class TestFds < Minitest::Test
  include TestHelpers
  PL = Portalocker

  def cycle_everything(i)
    PL::Lock.open(path("l")) { |f| f.write("x") }
    l = PL::Lock.new(path("l2"), mode: "w")
    l.acquire
    l.release
    r = PL::RLock.new(path("r"))
    r.acquire
    r.acquire
    r.release
    r.release
    PL::TemporaryFileLock.new(path("t")).synchronize { nil }
    PL::PidFileLock.new(path("p")).synchronize { nil }
    PL::NamedBoundedSemaphore.new(2, name: "s", directory: @dir).synchronize { nil }
    PL.open_atomic(path("a#{i}")) { |f| f.write("y") }
    begin
      PL.open_atomic(path("b")) { raise "abandon" }
    rescue RuntimeError
      nil
    end
    begin
      PL::Lock.new(@dir).acquire
    rescue SystemCallError
      nil
    end
  end

  def test_no_descriptor_leaks_over_many_cycles
    cycle_everything(-1) # warm up
    GC.start
    before = open_fds
    300.times { |i| cycle_everything(i) }
    GC.start
    # <=: an object left by an earlier test may be collected meanwhile.
    # Windows has no descriptor list: the cycles and the files they leave.
    assert_operator open_fds, :<=, before unless WINDOWS
    expected = (-1...300).map { |i| "a#{i}" } + %w[l l2 r s.00.lock]
    assert_equal expected.sort, Dir.children(@dir).sort
  end

  def test_dropped_handles_are_freed_by_the_gc
    before = open_fds
    200.times { |i| PL::Lock.new(path("g#{i}")).acquire } # never released
    GC.start
    GC.start
    # A conservative GC may keep one or two; Windows: the locks freed alone.
    assert_operator open_fds, :<=, before + 2 unless WINDOWS
    free = (0...200).count do |i|
      PL::Lock.open(path("g#{i}"), fail_when_locked: true) { true }
    rescue PL::AlreadyLocked
      false
    end
    assert_operator free, :>=, 198
  end
end
