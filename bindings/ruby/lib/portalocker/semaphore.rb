# frozen_string_literal: true

require "tmpdir"

module Portalocker
  # At most +maximum+ holders across processes, using +maximum+ lock files
  # named by +filename_pattern+ in +directory+ (the reference's
  # BoundedSemaphore). Without an explicit name this is deprecated, as in
  # the reference: use NamedBoundedSemaphore.
  #
  # #acquire takes the first free slot and returns a File over the slot's
  # lock file (locked with +mechanism:+ :flock, :posix or :ofd); when no
  # slot frees up within the timeout it raises
  # AlreadyLocked (fail_when_locked: true, the default) or returns nil.
  # #synchronize always raises AlreadyLocked rather than run the block
  # without a slot.
  class BoundedSemaphore
    include Synchronize

    attr_reader :maximum, :name

    def initialize(maximum, name: "bounded_semaphore", filename_pattern: "{name}.{number:02d}.lock",
                   directory: Dir.tmpdir, timeout: DEFAULT_TIMEOUT, check_interval: DEFAULT_CHECK_INTERVAL,
                   fail_when_locked: true, mechanism: :flock)
      if name.nil? || name == "bounded_semaphore"
        warn("BoundedSemaphore without an explicit name: is deprecated, use NamedBoundedSemaphore",
             uplevel: 1, category: :deprecated)
      end
      @maximum = Integer(maximum)
      @name = (name || "bounded_semaphore").to_s
      # Reentrant, as a file lock's (see Lock#release).
      @guard = Monitor.new
      @file = nil
      mechanism_code = Util.mechanism(mechanism)
      @handle = N.pl_semaphore_new(@maximum, @name)
      N.pl_semaphore_set_mechanism(@handle, mechanism_code)
      N.pl_semaphore_set_filename_pattern(@handle, filename_pattern.to_s)
      N.pl_semaphore_set_directory(@handle, File.expand_path(directory))
      self.timeout = timeout.nil? ? DEFAULT_TIMEOUT : timeout
      self.check_interval = check_interval.nil? ? DEFAULT_CHECK_INTERVAL : check_interval
      self.fail_when_locked = fail_when_locked
    end

    def filename_pattern
      N.pl_semaphore_get_filename_pattern(handle)
    end

    def directory
      N.pl_semaphore_get_directory(handle)
    end

    # The lock mechanism of the slots (:flock, :posix or :ofd).
    def mechanism
      MECHANISMS.key(N.pl_semaphore_get_mechanism(handle))
    end

    def timeout
      N.pl_semaphore_get_timeout(handle)
    end

    def timeout=(seconds)
      N.pl_semaphore_set_timeout(handle, Util.seconds(seconds))
    end

    def check_interval
      N.pl_semaphore_get_check_interval(handle)
    end

    def check_interval=(seconds)
      N.pl_semaphore_set_check_interval(handle, Util.seconds(seconds))
    end

    def fail_when_locked
      N.pl_semaphore_get_fail_when_locked(handle) == 1
    end

    def fail_when_locked=(enabled)
      N.pl_semaphore_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    # The path of slot +number+.
    def filename(number)
      N.pl_semaphore_slot_path(handle, Integer(number))
    end

    def filenames
      Array.new(@maximum) { |n| filename(n) }
    end

    # Take a free slot: a File over its lock file, or nil (see the class).
    # Acquiring while holding a slot raises InvalidState.
    def acquire(timeout: nil, check_interval: nil, fail_when_locked: nil)
      # Interrupts only in the waits (see Lock#acquire).
      Thread.handle_interrupt(Object => :on_blocking) do
        @guard.synchronize { take_slot(timeout, check_interval, fail_when_locked) }
      end
    end

    def take_slot(timeout, check_interval, fail_when_locked)
      fwl = fail_when_locked.nil? ? self.fail_when_locked : fail_when_locked
      begin
        slot = N.pl_semaphore_acquire_with(handle, Util.override(timeout), Util.override(check_interval))
      rescue AlreadyLocked
        raise if fwl

        return nil
      end
      begin
        @file = Util.wrap_fd(N.pl_semaphore_fd(handle), "a", filename(slot), owner: @handle)
      rescue Exception # rubocop:disable Lint/RescueException
        N.pl_semaphore_release(handle)
        raise
      end
    end
    private :take_slot

    def synchronize(timeout: nil, check_interval: nil, &block)
      super(timeout: timeout, check_interval: check_interval, fail_when_locked: true, &block)
    end

    # Give the slot back; a no-op when none is held.
    # A no-op when nothing is held, and when called again on the thread
    # that is inside a release or an acquire of this semaphore.
    def release
      return nil if @guard.mon_owned?

      @guard.synchronize do
        return if @handle.nil? || (@file.nil? && N.pl_semaphore_slot(@handle).negative?)

        if @file
          file = @file
          @file = nil
          Util.close_file(file)
        end
        N.pl_semaphore_release(@handle)
      end
      nil
    end

    # The held slot's number, or nil.
    def slot
      slot = @handle && N.pl_semaphore_slot(@handle)
      slot.nil? || slot.negative? ? nil : slot
    end

    def held?
      !slot.nil?
    end

    # Ends this semaphore's wait in progress (in another thread) with
    # Interrupted, or its next one (pl_semaphore_cancel).
    def cancel
      N.pl_semaphore_cancel(handle)
      nil
    end
    alias locked? held?

    # The slot's File while held.
    def file
      @file
    end

    # Release and free the C handle now.
    def close
      release
    ensure
      if @handle
        N.pl_rb_dispose_pl_semaphore(@handle)
        @handle = nil
      end
    end

    def closed?
      @handle.nil?
    end

    private

    def handle
      @handle or raise InvalidState, "#{self.class.name} #{@name} is closed"
    end
  end

  # A BoundedSemaphore with a name (random when not given).
  class NamedBoundedSemaphore < BoundedSemaphore
    def initialize(maximum, name: nil, **opts)
      name ||= "bounded_semaphore.#{rand(0..1_000_000)}"
      super(maximum, name: name, **opts)
    end
  end
end
