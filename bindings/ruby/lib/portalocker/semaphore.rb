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
  #
  # @example At most 4 encoders across processes
  #   sem = Portalocker::BoundedSemaphore.new(4, name: "encoders", timeout: 60)
  #   sem.synchronize { |file| encode }
  class BoundedSemaphore
    include Synchronize

    # How many holders at most (the number of slots).
    # @return [Integer]
    attr_reader :maximum
    # The name in the slot files' names.
    # @return [String]
    attr_reader :name

    # Settings only: no slot file is opened until {#acquire}.
    #
    # @param maximum [Integer] how many holders at most (the number of slots)
    # @param name [String, nil] the semaphore's name (nil or the default
    #   "bounded_semaphore" warn: deprecated, use {NamedBoundedSemaphore})
    # @param filename_pattern [String] the slot files' names: +{name}+ and
    #   +{number}+ (Python format specs such as +{number:02d}+) are replaced
    # @param directory [String] where the slot files are
    # @param timeout [Integer, Float, nil] seconds {#acquire} waits (nil: {DEFAULT_TIMEOUT})
    # @param check_interval [Integer, Float, nil] longest pause between tries
    #   (nil: {DEFAULT_CHECK_INTERVAL})
    # @param fail_when_locked [Boolean] raise {AlreadyLocked} when no slot
    #   frees up in time (false: {#acquire} returns nil)
    # @param mechanism [Symbol] :flock, :posix or :ofd
    # @raise [InvalidArgument] a maximum below 1, a bad pattern or mechanism
    # @example
    #   Portalocker::BoundedSemaphore.new(2, name: "uploads", directory: "/var/lock")
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

    # The pattern of the slot files' names.
    # @return [String]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.filename_pattern # => "{name}.{number:02d}.lock"
    def filename_pattern
      N.pl_semaphore_get_filename_pattern(handle)
    end

    # The directory of the slot files (absolute).
    # @return [String]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.directory # => "/tmp"
    def directory
      N.pl_semaphore_get_directory(handle)
    end

    # The lock mechanism of the slots (:flock, :posix or :ofd).
    # @return [Symbol] :flock, :posix or :ofd
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.mechanism # => :flock
    def mechanism
      MECHANISMS.key(N.pl_semaphore_get_mechanism(handle))
    end

    # Seconds {#acquire} waits by default.
    # @return [Float]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.timeout # => 5.0
    def timeout
      N.pl_semaphore_get_timeout(handle)
    end

    # Set the default wait of {#acquire}.
    # @param seconds [Integer, Float]
    # @return [Integer, Float] +seconds+
    # @raise [TypeError] +seconds+ is not a number
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.timeout = 30
    def timeout=(seconds)
      N.pl_semaphore_set_timeout(handle, Util.seconds(seconds))
    end

    # The longest pause between two tries while waiting, in seconds.
    # @return [Float]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.check_interval # => 0.25
    def check_interval
      N.pl_semaphore_get_check_interval(handle)
    end

    # Set the longest pause between two tries while waiting.
    # @param seconds [Integer, Float]
    # @return [Integer, Float] +seconds+
    # @raise [TypeError] +seconds+ is not a number
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.check_interval = 0.1
    def check_interval=(seconds)
      N.pl_semaphore_set_check_interval(handle, Util.seconds(seconds))
    end

    # Whether {#acquire} raises {AlreadyLocked} (true) or returns nil when no
    # slot frees up in time.
    # @return [Boolean]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.fail_when_locked # => true
    def fail_when_locked
      N.pl_semaphore_get_fail_when_locked(handle) == 1
    end

    # Set whether {#acquire} raises (true) or returns nil without a slot.
    # @param enabled [Boolean]
    # @return [Boolean] +enabled+
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.fail_when_locked = false
    def fail_when_locked=(enabled)
      N.pl_semaphore_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    # The path of slot +number+.
    # @param number [Integer] 0 ... {#maximum}
    # @return [String]
    # @raise [InvalidArgument] +number+ out of range
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   Portalocker::NamedBoundedSemaphore.new(2, name: "jobs").filename(1) # => "/tmp/jobs.01.lock"
    def filename(number)
      N.pl_semaphore_slot_path(handle, Integer(number))
    end

    # The paths of every slot, in slot order.
    # @return [Array<String>]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   sem.filenames.size == sem.maximum # => true
    def filenames
      Array.new(@maximum) { |n| filename(n) }
    end

    # Take a free slot: a File over its lock file, or nil (see the class).
    # Acquiring while holding a slot raises InvalidState.
    # @param timeout [Integer, Float, nil] seconds to wait this time (nil: {#timeout})
    # @param check_interval [Integer, Float, nil] longest pause this time
    # @param fail_when_locked [Boolean, nil] raise (true) or return nil (false)
    #   without a slot this time (nil: {#fail_when_locked})
    # @return [File, nil] the slot's lock file; nil when no slot freed up and
    #   fail_when_locked is false
    # @raise [AlreadyLocked] no slot freed up in time and fail_when_locked is true
    # @raise [Interrupted] the wait was ended by {#cancel}
    # @raise [InvalidState] a slot is already held, or the semaphore is closed
    # @raise [SystemCallError] a slot file cannot be opened (includes {OSError})
    # @example
    #   if (file = sem.acquire(fail_when_locked: false))
    #     begin
    #       work
    #     ensure
    #       sem.release
    #     end
    #   end
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

    # Take a slot, yield its File, give the slot back on every exit of the
    # block (see {Synchronize#synchronize}); never runs the block without a
    # slot.
    # @param timeout [Integer, Float, nil] seconds to wait this time
    # @param check_interval [Integer, Float, nil] longest pause this time
    # @yieldparam file [File] the slot's lock file
    # @return [Object] the block's value
    # @raise [AlreadyLocked] no slot freed up in time
    # @example
    #   sem.synchronize(timeout: 10) { |file| work }
    def synchronize(timeout: nil, check_interval: nil, &block)
      super(timeout: timeout, check_interval: check_interval, fail_when_locked: true, &block)
    end

    # Give the slot back (closing its File). A no-op when none is held,
    # and when called again on the thread
    # that is inside a release or an acquire of this semaphore.
    # @return [nil]
    # @raise [LockException] unlocking the slot failed
    # @example
    #   sem.release
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
    # @return [Integer, nil] 0 ... {#maximum}, or nil
    # @example
    #   sem.acquire
    #   sem.slot # => 0
    def slot
      slot = @handle && N.pl_semaphore_slot(@handle)
      slot.nil? || slot.negative? ? nil : slot
    end

    # True while this object holds a slot.
    # @return [Boolean]
    # @example
    #   sem.held? # => false
    def held?
      !slot.nil?
    end

    # Ends this semaphore's wait in progress (in another thread) with
    # Interrupted, or its next one (pl_semaphore_cancel).
    # @return [nil]
    # @raise [InvalidState] the semaphore is closed
    # @example
    #   trap("TERM") { sem.cancel }
    def cancel
      N.pl_semaphore_cancel(handle)
      nil
    end
    # @!method locked?
    #   Same as {#held?}.
    #   @return [Boolean]
    alias locked? held?

    # The slot's File while held.
    # @return [File, nil]
    # @example
    #   sem.file&.path
    def file
      @file
    end

    # Release and free the C handle now.
    # @return [void]
    # @raise [LockException] releasing failed (the handle is freed anyway)
    # @example
    #   sem.close
    def close
      release
    ensure
      if @handle
        N.pl_rb_dispose_pl_semaphore(@handle)
        @handle = nil
      end
    end

    # True after {#close}.
    # @return [Boolean]
    # @example
    #   sem.closed? # => false
    def closed?
      @handle.nil?
    end

    private

    def handle
      @handle or raise InvalidState, "#{self.class.name} #{@name} is closed"
    end
  end

  # A BoundedSemaphore with a name (random when not given).
  #
  # @example
  #   sem = Portalocker::NamedBoundedSemaphore.new(3, name: "crawlers")
  #   sem.synchronize { crawl }
  class NamedBoundedSemaphore < BoundedSemaphore
    # A semaphore named +name+, or a random name.
    #
    # @param maximum [Integer] how many holders at most
    # @param name [String, nil] the name (nil: "bounded_semaphore.<random number>")
    # @param opts [Hash] {BoundedSemaphore#initialize}'s other options
    # @raise [InvalidArgument] see {BoundedSemaphore#initialize}
    # @example
    #   Portalocker::NamedBoundedSemaphore.new(2, name: "db-migrations", timeout: 0)
    def initialize(maximum, name: nil, **opts)
      name ||= "bounded_semaphore.#{rand(0..1_000_000)}"
      super(maximum, name: name, **opts)
    end
  end
end
