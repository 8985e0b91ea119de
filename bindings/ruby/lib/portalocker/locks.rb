# frozen_string_literal: true

require "monitor"

module Portalocker
  # Block helpers shared by every lock class: #synchronize and .open.
  #
  # @example
  #   lock = Portalocker::Lock.new("cache.lock")
  #   lock.synchronize { |file| file.puts "one writer at a time" }
  module Synchronize
    # Acquire, yield what #acquire returned (a File for file locks) and
    # release on every exit of the block: normal return, exception, break,
    # throw. When the block raised, its exception wins over a failure to
    # release.
    #
    # Interrupts (Thread#raise, Timeout.timeout, Ctrl-C) end the wait in
    # acquire; one that arrives once the lock is taken is held back until
    # the block that releases has begun: without that it could fire between
    # acquire and the block and leave the lock held with no one to release
    # it.
    #
    # @param acquire_opts [Hash] passed to #acquire (+timeout:+,
    #   +check_interval:+, +fail_when_locked:+)
    # @yieldparam acquired [Object] what #acquire returned (a File for the
    #   file locks and semaphores, the lock itself for a RedisLock)
    # @return [Object] the block's value
    # @raise [AlreadyLocked] the lock could not be taken in time
    # @raise [LockException] acquiring or releasing failed
    # @example
    #   lock.synchronize(timeout: 10) { |file| file.write("...") }
    def synchronize(**acquire_opts, &block)
      Synchronize.guarded(self, -> { acquire(**acquire_opts) }, &block)
    end

    # Calls +take+ (an acquire) with interrupts delivered only where it
    # blocks (in the wait, where the C wrapper gives back anything taken
    # before it raises), then yields its value inside Synchronize.run with
    # interrupts delivered again.
    #
    # @param lock [#release] the lock to release after the block
    # @param take [Proc] acquires, returns what to yield
    # @yieldparam acquired [Object] what +take+ returned
    # @return [Object] the block's value
    # @raise [Exception] whatever +take+, the block or the release raise
    # @example
    #   Portalocker::Synchronize.guarded(lock, -> { lock.acquire(timeout: 1) }) { |f| f.write("x") }
    def self.guarded(lock, take)
      Thread.handle_interrupt(Object => :on_blocking) do
        value = take.call
        run(lock) { Thread.handle_interrupt(Object => :immediate) { yield value } }
      end
    end

    # Runs the block, then releases +lock+ (see #synchronize).
    #
    # @param lock [#release] released on every exit of the block
    # @return [Object] the block's value
    # @raise [Exception] the block's exception (it wins over a release
    #   failure), or the release's
    # @example
    #   lock.acquire
    #   Portalocker::Synchronize.run(lock) { work }
    def self.run(lock)
      failed = false
      begin
        yield
      rescue Exception # rubocop:disable Lint/RescueException
        failed = true
        begin
          lock.release
        rescue StandardError
          nil # the block's own exception wins
        end
        raise
      ensure
        lock.release unless failed
      end
    end

    # Ruby's hook: a class that includes Synchronize also gets
    # {ClassMethods} (.open).
    # @param base [Class] the including class
    # @return [void]
    def self.included(base)
      base.extend(ClassMethods)
    end

    # The class-level .open every lock class gets.
    #
    # @example
    #   Portalocker::RLock.open("f.lock") { |file| file.read }
    module ClassMethods
      # Like File.open: with a block, create the lock, acquire it, yield
      # the file (or what #acquire returns) and release and close the lock
      # on every exit of the block; returns the block's value. Without a
      # block, returns the acquired lock (call #release / #close).
      #
      # @param args [Array] the class's positional arguments (e.g. the filename)
      # @param opts [Hash] the class's keyword options
      # @yieldparam acquired [Object] what #acquire returned
      # @return [Object] the block's value, or the acquired lock without a block
      # @raise [AlreadyLocked] the lock could not be taken in time
      # @raise [LockException] creating, acquiring or releasing failed
      # @example
      #   Portalocker::Lock.open("cache.lock", timeout: 1, mode: "w") { |f| f.write("x") }
      # @example Without a block
      #   lock = Portalocker::Lock.open("cache.lock")
      #   begin
      #     lock.file.write("x")
      #   ensure
      #     lock.close
      #   end
      def open(*args, **opts, &block)
        lock = new(*args, **opts)
        return lock.tap(&:acquire) unless block

        begin
          lock.synchronize(&block)
        ensure
          lock.close
        end
      end
    end
  end

  # Opens +filename+ and holds a lock on it (the reference's Lock).
  #
  #   lock = Portalocker::Lock.new("file", timeout: 1, mode: "w")
  #   lock.synchronize { |file| file.write("...") }
  #
  # +acquire+ returns a Ruby File over the descriptor the C core locked
  # (the same File while held). The C core opens the file with +mode+ and
  # truncates for "w" only once the lock is taken; the Ruby File is opened
  # with "w"/"x" replaced by "a" so that Ruby never truncates again (it
  # wraps the descriptor, it does not reopen the path). #release closes
  # (flushes) the File first, then the C core unlocks and closes the fd.
  #
  # One object is used by one Thread at a time; different objects on the
  # same file exclude each other, in this process and across processes.
  #
  # @example
  #   lock = Portalocker::Lock.new("cache.txt", mode: "w", timeout: 10)
  #   file = lock.acquire
  #   file.write("fresh cache")
  #   lock.release
  class Lock
    include Synchronize

    # The locked file's absolute path.
    # @return [String]
    attr_reader :filename
    # The mode of the File {#acquire} returns ("w"/"x" read as "a": the C
    # core truncates once locked).
    # @return [String]
    attr_reader :mode
    # The extra File.new options ({#initialize}'s other keywords).
    # @return [Hash{Symbol => Object}]
    attr_reader :file_open_kwargs

    # @!method path
    #   The locked file's absolute path (same as {#filename}).
    #   @return [String]
    alias path filename

    # The C constructor of this kind of lock (subclasses override it).
    # @api private
    # @param path [String] the absolute path
    # @return [Object] the C handle
    def self.native_new(path)
      N.pl_lock_new(path)
    end

    # Whether +mode:+ applies to this kind (false for the temporary and
    # PID-file locks, which always write).
    # @api private
    # @return [Boolean]
    def self.mode_settable?
      true
    end

    # Options are the reference's: mode "a", timeout 5, check_interval
    # 0.25, fail_when_locked false, flags LOCK_EX | LOCK_NB; +mechanism:+
    # :flock (default), :posix or :ofd (see Portalocker::MECHANISMS). Other
    # keyword arguments (encoding:, binmode:, ...) go to File.new.
    #
    # Nothing is opened or locked until {#acquire}.
    #
    # @param filename [String] the file to lock (created if missing;
    #   relative to the current directory)
    # @param mode [String] fopen-style mode ("a", "w", "r+", "x", ...,
    #   optionally ":encoding"); "w" truncates only once the lock is held
    # @param timeout [Integer, Float, nil] seconds to wait
    #   (nil: {DEFAULT_TIMEOUT}; Float::INFINITY: forever); warns when
    #   given with blocking +flags+ (no LOCK_NB), as the reference does
    # @param check_interval [Integer, Float] longest pause between tries
    # @param fail_when_locked [Boolean] raise {AlreadyLocked} at once on
    #   contention instead of waiting
    # @param flags [Integer] {LOCK_EX} or {LOCK_SH}, | {LOCK_NB} (default
    #   {LOCK_METHOD})
    # @param raise_on_release_error [Boolean] raise (instead of warn) when
    #   flushing or unlocking fails in {#release}
    # @param mechanism [Symbol] :flock, :posix or :ofd
    # @param file_open_kwargs [Hash] more File.new options (encoding:,
    #   binmode:, ...)
    # @raise [InvalidArgument] a bad mode, flags or mechanism
    # @raise [TypeError] a non-numeric timeout or check_interval
    # @example
    #   Portalocker::Lock.new("log.txt", mode: "a", timeout: 2, encoding: "UTF-8")
    def initialize(filename, mode: "a", timeout: nil, check_interval: DEFAULT_CHECK_INTERVAL,
                   fail_when_locked: DEFAULT_FAIL_WHEN_LOCKED, flags: LOCK_METHOD,
                   raise_on_release_error: false, mechanism: :flock, **file_open_kwargs)
      c_mode, encoding = String(mode).split(":", 2)
      @filename = File.expand_path(filename)
      @mode = [c_mode.tr("wx", "aa").squeeze("a"), encoding].compact.join(":")
      @file_open_kwargs = file_open_kwargs
      @file = nil
      # Reentrant: a trap handler that runs inside a wait or a release of
      # this lock on the same thread must not deadlock (see #release).
      # Ruby abandons the mutexes of the threads a fork leaves behind, so a
      # child never finds it held by a thread it does not have.
      @guard = Monitor.new
      mechanism_code = Util.mechanism(mechanism)
      @handle = self.class.native_new(@filename)
      N.pl_lock_set_mechanism(@handle, mechanism_code)
      N.pl_lock_set_mode(@handle, c_mode) if self.class.mode_settable?
      N.pl_lock_set_raise_on_release_error(@handle, 1) if raise_on_release_error
      self.flags = flags
      if timeout.nil?
        timeout = DEFAULT_TIMEOUT
      elsif flags & LOCK_NB == 0
        warn("timeout has no effect in blocking mode", uplevel: 2)
      end
      self.timeout = timeout
      self.check_interval = check_interval
      self.fail_when_locked = fail_when_locked
    end

    # Seconds {#acquire} waits by default.
    # @return [Float]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.timeout # => 5.0
    def timeout
      N.pl_lock_get_timeout(handle)
    end

    # Set the default wait of {#acquire}.
    # @param seconds [Integer, Float] negative or NaN: one try; Float::INFINITY: forever
    # @return [Integer, Float] +seconds+
    # @raise [TypeError] +seconds+ is not a number
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.timeout = Float::INFINITY
    def timeout=(seconds)
      N.pl_lock_set_timeout(handle, Util.seconds(seconds))
    end

    # The longest pause between two tries while waiting, in seconds.
    # @return [Float]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.check_interval # => 0.25
    def check_interval
      N.pl_lock_get_check_interval(handle)
    end

    # Set the longest pause between two tries while waiting.
    # @param seconds [Integer, Float]
    # @return [Integer, Float] +seconds+
    # @raise [TypeError] +seconds+ is not a number
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.check_interval = 0.05
    def check_interval=(seconds)
      N.pl_lock_set_check_interval(handle, Util.seconds(seconds))
    end

    # Whether {#acquire} raises {AlreadyLocked} at once on contention.
    # @return [Boolean]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.fail_when_locked # => false
    def fail_when_locked
      N.pl_lock_get_fail_when_locked(handle) == 1
    end

    # Set whether {#acquire} raises at once on contention.
    # @param enabled [Boolean]
    # @return [Boolean] +enabled+
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.fail_when_locked = true
    def fail_when_locked=(enabled)
      N.pl_lock_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    # The lock flags ({LOCK_EX} or {LOCK_SH}, | {LOCK_NB}).
    # @return [Integer]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.flags == Portalocker::LOCK_METHOD # => true
    def flags
      N.pl_lock_get_flags(handle)
    end

    # Set the lock flags used by the next {#acquire}.
    # @param value [Integer] {LOCK_EX} or {LOCK_SH}, optionally | {LOCK_NB}
    # @return [Integer] +value+
    # @raise [InvalidArgument] not exactly one of LOCK_SH and LOCK_EX, or LOCK_UN
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.flags = Portalocker::LOCK_SH | Portalocker::LOCK_NB
    def flags=(value)
      N.pl_lock_set_flags(handle, Integer(value))
    end

    # The lock mechanism (:flock, :posix or :ofd; see MECHANISMS).
    # @return [Symbol] :flock, :posix or :ofd
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.mechanism # => :flock
    def mechanism
      MECHANISMS.key(N.pl_lock_get_mechanism(handle))
    end

    # Lock and return the File (the same one while held). Per-call
    # overrides: nil keeps the lock's setting. Contention or timeout
    # raises AlreadyLocked. The wait does not hold the GVL.
    #
    # @param timeout [Integer, Float, nil] seconds to wait this time
    # @param check_interval [Integer, Float, nil] longest pause this time
    # @param fail_when_locked [Boolean, nil] raise at once on contention this time
    # @return [File] over the locked descriptor (closed by {#release})
    # @raise [AlreadyLocked] held elsewhere, and fail_when_locked or the
    #   timeout ran out
    # @raise [Interrupted] the wait was ended by {#cancel}
    # @raise [InvalidState] closed, or used by another Thread right now
    # @raise [SystemCallError] the file cannot be opened (an Errno::EXXX
    #   that includes {OSError}, e.g. Errno::EACCES)
    # @raise [LockException] the lock failed otherwise
    # @example
    #   file = lock.acquire(timeout: 1)
    def acquire(timeout: nil, check_interval: nil, fail_when_locked: nil)
      # Interrupts only in the waits: once the C core took the lock, the
      # File is made and recorded before one can fire (it then fires as
      # this method returns, with the lock held and #release able to
      # release it).
      Thread.handle_interrupt(Object => :on_blocking) do
        @guard.synchronize do
          return @file if @file && !reentrant?

          fd = c_acquire(timeout, check_interval, fail_when_locked)
          @file ||= wrap(fd)
        end
      end
    end

    # Unlock and close; a no-op when nothing is held (an RLock counts).
    # A no-op when nothing is held, and when called again on the thread
    # that is inside a release or an acquire of this lock (a trap handler
    # running there).
    #
    # A failure to flush the File warns, or raises with
    # +raise_on_release_error: true+ (the lock is released either way).
    #
    # @return [nil]
    # @raise [IOError, SystemCallError] flushing failed and
    #   raise_on_release_error is set
    # @raise [LockException] unlocking failed and raise_on_release_error is set
    # @example
    #   lock.release
    def release
      return nil if @guard.mon_owned?

      @guard.synchronize do
        # Nothing held: no C call (in a forked child the handle may still
        # be marked busy by a parent's thread that waited in it).
        return if @handle.nil? || (@file.nil? && N.pl_lock_is_held(@handle).zero?)

        if @file
          file = @file
          @file = nil
          error = Util.close_file(file)
          if error
            if N.pl_lock_get_raise_on_release_error(@handle) == 1
              N.pl_lock_release(@handle)
              raise error
            end
            warn("portalocker: suppressed error while releasing lock on #{@filename}: #{error.inspect}")
          end
        end
        N.pl_lock_release(@handle)
      end
      nil
    end

    # The File while held, else nil.
    # @return [File, nil]
    # @example
    #   lock.file&.write("x")
    def file
      @file
    end

    # Ends this lock's wait in progress (in another thread) with
    # Interrupted, or its next one: the C core's pl_lock_cancel. Safe from
    # any thread and from a trap handler.
    #
    # @return [nil]
    # @raise [InvalidState] the lock is closed
    # @example
    #   trap("TERM") { lock.cancel }
    def cancel
      N.pl_lock_cancel(handle)
      nil
    end

    # True while this object holds its lock.
    # @return [Boolean]
    # @example
    #   lock.held? # => false
    def held?
      !@handle.nil? && N.pl_lock_is_held(@handle) == 1
    end
    # @!method locked?
    #   Same as {#held?}.
    #   @return [Boolean]
    alias locked? held?

    # The locked descriptor, or nil.
    # @return [Integer, nil]
    # @example
    #   lock.fd # => 7 while held
    def fd
      fd = @handle && N.pl_lock_held_fd(@handle)
      fd.nil? || fd.negative? ? nil : fd
    end

    # Release and free the C handle now (instead of at garbage collection).
    # The lock cannot be used afterwards.
    # @return [void]
    # @raise [LockException] releasing failed (the handle is freed anyway)
    # @example
    #   lock.close
    #   lock.closed? # => true
    def close
      return if @handle.nil?

      release while reentrant? && N.pl_lock_count(@handle) > 1
      release unless reentrant? && N.pl_lock_count(@handle).zero? # an idle RLock: NotHeld
    ensure
      if @handle
        N.pl_rb_dispose_pl_lock(@handle)
        @handle = nil
      end
    end

    # True after {#close}.
    # @return [Boolean]
    # @example
    #   lock.closed? # => false
    def closed?
      @handle.nil?
    end

    # The class, the path and whether it is held.
    # @return [String]
    # @example
    #   lock.inspect # => "#<Portalocker::Lock \"/tmp/x.lock\" held>"
    def inspect
      "#<#{self.class.name} #{@filename.inspect}#{held? ? ' held' : ''}>"
    end

    private

    def reentrant?
      false
    end

    def handle
      @handle or raise InvalidState, "#{self.class.name} #{@filename} is closed"
    end

    def c_acquire(timeout, check_interval, fail_when_locked)
      N.pl_lock_acquire_with(handle, Util.override(timeout), Util.override(check_interval),
                             Util.flag_override(fail_when_locked))
    end

    def wrap(fd)
      Util.wrap_fd(fd, @mode, @filename, owner: @handle, **@file_open_kwargs)
    rescue Exception # rubocop:disable Lint/RescueException
      N.pl_lock_release(@handle)
      raise
    end
  end

  # A Lock that the same object may acquire repeatedly; release counts.
  # Releasing more often than acquired raises NotHeld.
  #
  # @example
  #   lock = Portalocker::RLock.new("state.lock")
  #   lock.acquire
  #   lock.acquire   # the same File again
  #   lock.count     # => 2
  #   lock.release
  #   lock.release   # unlocked now
  class RLock < Lock
    # The C constructor of a reentrant lock.
    # @api private
    # @param path [String] the absolute path
    # @return [Object] the C handle
    def self.native_new(path)
      N.pl_rlock_new(path)
    end

    # How many times this object holds the lock.
    # @return [Integer] 0 when not held (or closed)
    # @example
    #   lock.count # => 0
    def count
      @handle ? N.pl_lock_count(@handle) : 0
    end

    # Release once; the last release closes the File and unlocks.
    # @return [nil]
    # @raise [NotHeld] released more often than acquired
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.release
    def release
      return nil if @guard.mon_owned?

      @guard.synchronize do
        if @file && N.pl_lock_count(handle) == 1
          file = @file
          @file = nil
          error = Util.close_file(file)
          warn("portalocker: suppressed error while releasing lock on #{@filename}: #{error.inspect}") if error
        end
        N.pl_lock_release(handle) # NotHeld when released more than acquired
      end
      nil
    end

    private

    def reentrant?
      true
    end
  end

  # A lock file that exists only while the lock is held (default ".lock";
  # fail_when_locked defaults to true). Held temporary locks are released
  # (their files removed) when the process exits.
  #
  # @example
  #   Portalocker::TemporaryFileLock.open("/tmp/backup.lock") { run_backup }
  class TemporaryFileLock < Lock
    EXIT_RELEASES = ObjectSpace::WeakMap.new
    private_constant :EXIT_RELEASES
    at_exit do
      EXIT_RELEASES.each_key do |lock|
        lock.release
      rescue StandardError
        nil
      end
    end

    # The C constructor of a temporary lock.
    # @api private
    # @param path [String] the absolute path
    # @return [Object] the C handle
    def self.native_new(path)
      N.pl_temporary_lock_new(path)
    end

    # False: a temporary lock always opens its file for writing.
    # @api private
    # @return [Boolean]
    def self.mode_settable?
      false
    end

    # The options are {Lock#initialize}'s, without +mode:+ and with
    # +fail_when_locked:+ true by default.
    #
    # @param filename [String] the lock file, created on {#acquire} and
    #   removed on {#release}
    # @param timeout [Integer, Float, nil] seconds to wait (nil: {DEFAULT_TIMEOUT})
    # @param check_interval [Integer, Float] longest pause between tries
    # @param fail_when_locked [Boolean] raise {AlreadyLocked} at once on contention
    # @param flags [Integer] {LOCK_EX} or {LOCK_SH}, | {LOCK_NB}
    # @param raise_on_release_error [Boolean] raise instead of warn in {#release}
    # @param mechanism [Symbol] :flock, :posix or :ofd
    # @raise [InvalidArgument] bad flags or mechanism
    # @example
    #   Portalocker::TemporaryFileLock.new("run.lock", fail_when_locked: false, timeout: 30)
    def initialize(filename = ".lock", timeout: nil, check_interval: DEFAULT_CHECK_INTERVAL,
                   fail_when_locked: true, flags: LOCK_METHOD, raise_on_release_error: false,
                   mechanism: :flock)
      super(filename, mode: "w", timeout: timeout, check_interval: check_interval,
                      fail_when_locked: fail_when_locked, flags: flags,
                      raise_on_release_error: raise_on_release_error, mechanism: mechanism)
      EXIT_RELEASES[self] = true
    end
  end

  # Locks "<filename>.lock" and writes this process's PID to +filename+
  # (default ".pid"). On contention AlreadyLocked#holder_pid is the
  # holder's PID.
  #
  #   lock.synchronize { |holder_pid| ... }  # as the reference's `with`:
  #       yields nil when this process holds the lock, else the holder's
  #       PID (the block runs either way; only a held lock is released)
  #   lock.fail_closed { |file| ... }        # strict: raises AlreadyLocked
  #
  # @example A single instance
  #   Portalocker::PidFileLock.new("/run/myd.pid").synchronize do |holder_pid|
  #     abort "myd already runs as #{holder_pid}" if holder_pid
  #     serve
  #   end
  class PidFileLock < TemporaryFileLock
    # The C constructor of a PID-file lock.
    # @api private
    # @param path [String] the absolute path of the PID file
    # @return [Object] the C handle
    def self.native_new(path)
      N.pl_pidfile_lock_new(path)
    end

    # A PID-file lock; the options are {TemporaryFileLock#initialize}'s.
    #
    # @param filename [String] the PID file (the lock is "<filename>.lock")
    # @param opts [Hash] {TemporaryFileLock#initialize}'s options
    # @raise [InvalidArgument] bad flags or mechanism
    # @example
    #   Portalocker::PidFileLock.new("worker.pid", timeout: 0)
    def initialize(filename = ".pid", **opts)
      super(filename, **opts)
    end

    # The lock file ("<filename>.lock").
    # @return [String]
    # @example
    #   Portalocker::PidFileLock.new("/run/a.pid").lockfile # => "/run/a.pid.lock"
    def lockfile
      "#{filename}.lock"
    end

    # Take the lock and write this process's PID (see {Lock#acquire}).
    # @param opts [Hash] +timeout:+, +check_interval:+, +fail_when_locked:+
    # @return [File] the PID file
    # @raise [AlreadyLocked] held by another process ({AlreadyLocked#holder_pid}
    #   is its PID when known)
    # @raise [LockException] the lock failed otherwise
    # @example
    #   begin
    #     lock.acquire
    #   rescue Portalocker::AlreadyLocked => e
    #     puts "held by #{e.holder_pid}"
    #   end
    def acquire(**opts)
      super
    rescue AlreadyLocked => e
      pid = N.pl_lock_holder_pid(handle)
      e.holder_pid ||= pid if pid.positive?
      raise
    end

    # The PID in the PID file; nil if missing, empty or not a number.
    # @return [Integer, nil]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.read_pid # => 4242
    def read_pid
      pid = N.pl_lock_read_pid(handle)
      pid.positive? ? pid : nil
    end

    # Yields nil when this process took the lock (released after the
    # block), the holder's PID when another process holds it.
    # @param acquire_opts [Hash] +timeout:+, +check_interval:+, +fail_when_locked:+
    # @yieldparam holder_pid [Integer, nil] nil: this process holds the
    #   lock; else the holder's PID
    # @return [Object] the block's value
    # @raise [AlreadyLocked] held elsewhere and the holder's PID cannot be read
    # @raise [LockException] the lock failed otherwise
    # @example
    #   lock.synchronize { |pid| pid ? puts("running as #{pid}") : serve }
    def synchronize(**acquire_opts, &block)
      holder = nil
      take = lambda do
        acquire(**acquire_opts)
      rescue AlreadyLocked
        holder = read_pid
        raise AlreadyLocked, "the lock is held but the holder PID could not be read" if holder.nil?
      end
      Thread.handle_interrupt(Object => :on_blocking) do
        take.call
        return Thread.handle_interrupt(Object => :immediate) { block.call(holder) } if holder

        Synchronize.run(self) { Thread.handle_interrupt(Object => :immediate) { block.call(nil) } }
      end
    end

    # Acquire or raise AlreadyLocked (with #holder_pid); yields the File.
    # @param acquire_opts [Hash] +timeout:+, +check_interval:+, +fail_when_locked:+
    # @yieldparam file [File] the PID file
    # @return [Object] the block's value
    # @raise [AlreadyLocked] held by another process (with {AlreadyLocked#holder_pid})
    # @raise [LockException] the lock failed otherwise
    # @example
    #   lock.fail_closed { |file| serve }
    def fail_closed(**acquire_opts, &block)
      take = lambda do
        acquire(**acquire_opts)
      rescue AlreadyLocked => e
        e.holder_pid ||= read_pid
        raise
      end
      Synchronize.guarded(self, take, &block)
    end
  end
end
