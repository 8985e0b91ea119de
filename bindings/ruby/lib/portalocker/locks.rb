# frozen_string_literal: true

require "monitor"

module Portalocker
  # Block helpers shared by every lock class: #synchronize and .open.
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
    def synchronize(**acquire_opts, &block)
      Synchronize.guarded(self, -> { acquire(**acquire_opts) }, &block)
    end

    # Calls +take+ (an acquire) with interrupts delivered only where it
    # blocks (in the wait, where the C wrapper gives back anything taken
    # before it raises), then yields its value inside Synchronize.run with
    # interrupts delivered again.
    def self.guarded(lock, take)
      Thread.handle_interrupt(Object => :on_blocking) do
        value = take.call
        run(lock) { Thread.handle_interrupt(Object => :immediate) { yield value } }
      end
    end

    # Runs the block, then releases +lock+ (see #synchronize).
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

    def self.included(base)
      base.extend(ClassMethods)
    end

    module ClassMethods
      # Like File.open: with a block, create the lock, acquire it, yield
      # the file (or what #acquire returns) and release and close the lock
      # on every exit of the block; returns the block's value. Without a
      # block, returns the acquired lock (call #release / #close).
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
  class Lock
    include Synchronize

    attr_reader :filename, :mode, :file_open_kwargs

    alias path filename

    def self.native_new(path)
      N.pl_lock_new(path)
    end

    def self.mode_settable?
      true
    end

    # Options are the reference's: mode "a", timeout 5, check_interval
    # 0.25, fail_when_locked false, flags LOCK_EX | LOCK_NB; +mechanism:+
    # :flock (default), :posix or :ofd (see Portalocker::MECHANISMS). Other
    # keyword arguments (encoding:, binmode:, ...) go to File.new.
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

    def timeout
      N.pl_lock_get_timeout(handle)
    end

    def timeout=(seconds)
      N.pl_lock_set_timeout(handle, Util.seconds(seconds))
    end

    def check_interval
      N.pl_lock_get_check_interval(handle)
    end

    def check_interval=(seconds)
      N.pl_lock_set_check_interval(handle, Util.seconds(seconds))
    end

    def fail_when_locked
      N.pl_lock_get_fail_when_locked(handle) == 1
    end

    def fail_when_locked=(enabled)
      N.pl_lock_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    def flags
      N.pl_lock_get_flags(handle)
    end

    def flags=(value)
      N.pl_lock_set_flags(handle, Integer(value))
    end

    # The lock mechanism (:flock, :posix or :ofd; see MECHANISMS).
    def mechanism
      MECHANISMS.key(N.pl_lock_get_mechanism(handle))
    end

    # Lock and return the File (the same one while held). Per-call
    # overrides: nil keeps the lock's setting. Contention or timeout
    # raises AlreadyLocked. The wait does not hold the GVL.
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
    def file
      @file
    end

    # Ends this lock's wait in progress (in another thread) with
    # Interrupted, or its next one: the C core's pl_lock_cancel. Safe from
    # any thread and from a trap handler.
    def cancel
      N.pl_lock_cancel(handle)
      nil
    end

    def held?
      !@handle.nil? && N.pl_lock_is_held(@handle) == 1
    end
    alias locked? held?

    # The locked descriptor, or nil.
    def fd
      fd = @handle && N.pl_lock_held_fd(@handle)
      fd.nil? || fd.negative? ? nil : fd
    end

    # Release and free the C handle now (instead of at garbage collection).
    # The lock cannot be used afterwards.
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

    def closed?
      @handle.nil?
    end

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
  class RLock < Lock
    def self.native_new(path)
      N.pl_rlock_new(path)
    end

    # How many times this object holds the lock.
    def count
      @handle ? N.pl_lock_count(@handle) : 0
    end

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

    def self.native_new(path)
      N.pl_temporary_lock_new(path)
    end

    def self.mode_settable?
      false
    end

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
  class PidFileLock < TemporaryFileLock
    def self.native_new(path)
      N.pl_pidfile_lock_new(path)
    end

    def initialize(filename = ".pid", **opts)
      super(filename, **opts)
    end

    # The lock file ("<filename>.lock").
    def lockfile
      "#{filename}.lock"
    end

    def acquire(**opts)
      super
    rescue AlreadyLocked => e
      pid = N.pl_lock_holder_pid(handle)
      e.holder_pid ||= pid if pid.positive?
      raise
    end

    # The PID in the PID file; nil if missing, empty or not a number.
    def read_pid
      pid = N.pl_lock_read_pid(handle)
      pid.positive? ? pid : nil
    end

    # Yields nil when this process took the lock (released after the
    # block), the holder's PID when another process holds it.
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
