# frozen_string_literal: true

require "portalocker/native"
require "portalocker/version"
require "portalocker/errors"

# Portalocker: cross-process file locks, reentrant, temporary and PID-file
# locks, bounded semaphores, atomic file writes and a Redis lock, over the
# C library libportalocker (the same locks as the Python portalocker and
# cportalocker: all use flock(2)).
#
# The classes: {Lock}, {RLock}, {TemporaryFileLock}, {PidFileLock},
# {BoundedSemaphore}, {NamedBoundedSemaphore}, {RedisLock}; the functions
# {.lock}, {.unlock}, {.open_atomic}, {.mechanism_supported?}; the errors
# ({Error} and the classes that include it, see errors.rb). Blocking waits
# do not hold the GVL.
#
# The raw SWIG module is Portalocker::Native (C-shaped; not the API).
#
# @example Hold a lock while writing a file
#   require "portalocker"
#   Portalocker::Lock.open("somefile", timeout: 1) do |file|
#     file.puts "writing some stuff to my cache..."
#   end
#
# @example Contention is an exception
#   begin
#     Portalocker::Lock.open("job.lock", fail_when_locked: true) { run_job }
#   rescue Portalocker::AlreadyLocked
#     warn "another process runs the job"
#   end
module Portalocker
  N = Native
  private_constant :N

  # flock(2)'s LOCK_SH (1): a shared lock, many holders at once.
  # @return [Integer]
  LOCK_SH = N.pl_flag_shared
  # flock(2)'s LOCK_EX (2): an exclusive lock, one holder.
  # @return [Integer]
  LOCK_EX = N.pl_flag_exclusive
  # flock(2)'s LOCK_NB (4): combined with LOCK_SH or LOCK_EX, do not
  # wait (contention raises {AlreadyLocked}).
  # @return [Integer]
  LOCK_NB = N.pl_flag_non_blocking
  # flock(2)'s LOCK_UN (8): unlock. Not valid for {Portalocker.lock}
  # (which raises {InvalidArgument}); call {Portalocker.unlock}.
  # @return [Integer]
  LOCK_UN = N.pl_flag_unblock

  # The reference's LockFlags names for the flock(2) values.
  #
  # @example
  #   Portalocker::Lock.new("f", flags: Portalocker::LockFlags::SHARED | Portalocker::LockFlags::NON_BLOCKING)
  module LockFlags
    # Same as {Portalocker::LOCK_SH}.
    # @return [Integer]
    SHARED = LOCK_SH
    # Same as {Portalocker::LOCK_EX}.
    # @return [Integer]
    EXCLUSIVE = LOCK_EX
    # Same as {Portalocker::LOCK_NB}.
    # @return [Integer]
    NON_BLOCKING = LOCK_NB
    # Same as {Portalocker::LOCK_UN}.
    # @return [Integer]
    UNBLOCK = LOCK_UN
  end

  # Seconds a lock waits by default (5, the reference's).
  # @return [Integer]
  DEFAULT_TIMEOUT = 5
  # Longest pause, in seconds, between two tries of a waiting lock (0.25,
  # the reference's; a release is usually noticed at once, through
  # inotify).
  # @return [Float]
  DEFAULT_CHECK_INTERVAL = 0.25
  # Whether {Lock#acquire} raises at once on contention by default
  # (false: it waits up to the timeout).
  # @return [Boolean]
  DEFAULT_FAIL_WHEN_LOCKED = false
  # The default +flags:+ of the file locks: LOCK_EX | LOCK_NB.
  # @return [Integer]
  LOCK_METHOD = LOCK_EX | LOCK_NB

  # The version of the loaded C library (e.g. "1.0.0").
  # @return [String]
  LIBRARY_VERSION = N.pl_version_string

  # The lock mechanisms (the OS primitive a lock uses), for the
  # +mechanism:+ keyword of every lock class, semaphore, lock and unlock:
  #   :flock  flock(2), the default (what the Python portalocker uses)
  #   :posix  fcntl record locks: per process, dropped when the process
  #           closes ANY descriptor of the file
  #   :ofd    Linux open-file-description record locks
  # @return [Hash{Symbol => Integer}] name => the C core's code (frozen)
  MECHANISMS = {
    flock: N.pl_mechanism_flock,
    posix: N.pl_mechanism_posix,
    ofd: N.pl_mechanism_ofd
  }.freeze

  class << self
    # Lock +io_or_fd+ (an IO, anything with #fileno, or an Integer
    # descriptor) with +flags+ (LOCK_EX or LOCK_SH, optionally | LOCK_NB)
    # and +mechanism+ (see MECHANISMS).
    # Contention with LOCK_NB raises AlreadyLocked; without LOCK_NB the
    # call waits (without holding the GVL). Ruby's buffers are not flushed.
    #
    # @param io_or_fd [IO, Integer, #fileno] the open file to lock
    # @param flags [Integer] {LOCK_EX} or {LOCK_SH}, optionally | {LOCK_NB}
    # @param mechanism [Symbol] :flock (default), :posix or :ofd (see {MECHANISMS})
    # @return [nil]
    # @raise [AlreadyLocked] LOCK_NB was given and another holder has it
    # @raise [InvalidArgument] LOCK_UN, both or neither of LOCK_SH and
    #   LOCK_EX, or an unknown mechanism
    # @raise [TypeError] +io_or_fd+ is neither an IO, nor has #fileno, nor
    #   is an Integer
    # @raise [Interrupted] the wait was cancelled
    # @raise [LockException] the OS refused the lock for another reason
    # @example
    #   File.open("data.txt", "a") do |f|
    #     Portalocker.lock(f, Portalocker::LOCK_EX | Portalocker::LOCK_NB)
    #     f.puts "mine"
    #     f.flush
    #     Portalocker.unlock(f)
    #   end
    def lock(io_or_fd, flags, mechanism: :flock)
      flags = Integer(flags)
      if flags & LOCK_UN != 0
        raise InvalidArgument, "lock() cannot release locks: LOCK_UN is not valid here, call unlock()"
      end
      if flags & LOCK_SH != 0 && flags & LOCK_EX != 0
        raise InvalidArgument, "LOCK_SH and LOCK_EX are mutually exclusive: pass exactly one"
      end
      if flags & (LOCK_SH | LOCK_EX) == 0
        raise InvalidArgument, "lock() needs a lock type: combine the flags with LOCK_SH or LOCK_EX"
      end

      N.pl_lock_fd_mechanism(Util.fd_of(io_or_fd), flags, Util.mechanism(mechanism))
      nil
    end

    # Unlock +io_or_fd+ (with the +mechanism:+ it was locked with).
    #
    # @param io_or_fd [IO, Integer, #fileno] the locked file
    # @param mechanism [Symbol] the mechanism it was locked with: :flock
    #   (default), :posix or :ofd
    # @return [nil]
    # @raise [InvalidArgument] an unknown mechanism
    # @raise [TypeError] +io_or_fd+ is not a file or descriptor
    # @raise [LockException] the OS refused to unlock
    # @example
    #   Portalocker.unlock(file)
    def unlock(io_or_fd, mechanism: :flock)
      N.pl_unlock_fd_mechanism(Util.fd_of(io_or_fd), Util.mechanism(mechanism))
      nil
    end

    # True if +mechanism+ (:flock, :posix, :ofd) works on this system;
    # an unknown name raises InvalidArgument.
    #
    # @param mechanism [Symbol] :flock, :posix or :ofd
    # @return [Boolean] whether locks with it can be taken here
    # @raise [InvalidArgument] an unknown mechanism name
    # @example
    #   mech = Portalocker.mechanism_supported?(:ofd) ? :ofd : :flock
    def mechanism_supported?(mechanism)
      N.pl_mechanism_supported(Util.mechanism(mechanism))
      true
    rescue Unsupported
      false
    end

    # Write to a temporary file next to +path+ and publish it under +path+
    # when the block returns (also on break/throw). Never replaces an
    # existing file: FileExists (an Errno::EEXIST) when +path+ exists on
    # entry or appears before the end of the block. If the block raises,
    # nothing is published and the temporary file is removed; when the
    # publication fails, the finished temporary file is kept and the
    # error names it. Returns the block's value.
    #
    # @param path [String] where the file appears once written
    # @param binary [Boolean] open the temporary file in binary mode ("wb",
    #   the default) or text mode ("w")
    # @yieldparam file [File] the temporary file, open for writing
    # @return [Object] the block's value
    # @raise [ArgumentError] no block was given
    # @raise [FileExists] +path+ exists, or appeared while the block ran
    #   (the payload is kept and the message names it)
    # @raise [SystemCallError] the temporary file could not be created,
    #   written, synced or linked (an Errno::EXXX that includes {OSError})
    # @example
    #   Portalocker.open_atomic("config.json") { |f| f.write(JSON.dump(config)) }
    def open_atomic(path, binary: true)
      raise ArgumentError, "open_atomic needs a block" unless block_given?

      handle = N.pl_atomic_open(File.expand_path(path))
      begin
        file = Util.wrap_fd(N.pl_atomic_fd(handle), binary ? "wb" : "w", N.pl_atomic_temp_path(handle))
        failed = false
        begin
          yield file
        rescue Exception # rubocop:disable Lint/RescueException
          failed = true
          raise
        ensure
          unless failed
            file.close # flush
            N.pl_atomic_commit(handle)
          end
        end
      ensure
        file.close if file && !file.closed?
        N.pl_rb_dispose_pl_atomic_file(handle) # abandons unless committed
      end
    end
  end

  # Helpers shared by the lock classes (not API).
  # @api private
  module Util
    module_function

    # The C value of a mechanism name (Symbol or String); InvalidArgument
    # naming the value otherwise.
    # @param name [Symbol, String] :flock, :posix or :ofd
    # @return [Integer] the C core's code
    # @raise [InvalidArgument] an unknown name
    def mechanism(name)
      code = (name.is_a?(Symbol) || name.is_a?(String)) && MECHANISMS[name.to_sym]
      return code if code

      raise InvalidArgument, "unknown lock mechanism #{name.inspect}: expected one of #{MECHANISMS.keys.map(&:inspect).join(', ')}"
    end

    # The descriptor of an IO, an object with #fileno, or an Integer.
    # @param io_or_fd [IO, Integer, #fileno]
    # @return [Integer]
    # @raise [TypeError] anything else
    def fd_of(io_or_fd)
      return io_or_fd if io_or_fd.is_a?(Integer)
      return io_or_fd.fileno if io_or_fd.respond_to?(:fileno)

      raise TypeError, "expected an IO, an object with #fileno or an Integer descriptor, got #{io_or_fd.class}"
    end

    # A wait for the C core: negative or NaN -> 0 (one attempt, as the
    # reference), Float::INFINITY stays.
    # @param value [Integer, Float]
    # @return [Float]
    def seconds(value)
      value = Float(value)
      value.nan? || value.negative? ? 0.0 : value
    end

    # nil -> PL_INHERIT (use the handle's setting).
    # @param value [Integer, Float, nil]
    # @return [Float]
    def override(value)
      value.nil? ? N.pl_inherit.to_f : seconds(value)
    end

    # A per-call boolean override for the C core: nil -> PL_INHERIT (use
    # the handle's setting), else 1 or 0.
    # @param value [Boolean, nil]
    # @return [Integer]
    def flag_override(value)
      value.nil? ? N.pl_inherit : (value ? 1 : 0)
    end

    # A Ruby File over a descriptor the C core owns (autoclose: false):
    # closing it flushes Ruby's buffer and leaves the descriptor alone.
    # #path is the locked file's path.
    #
    # +owner+ (the C handle that owns the descriptor) is kept by the File,
    # so the handle, its lock and the descriptor live as long as the File
    # does, even when the lock object is garbage collected first.
    # @param fd [Integer] the descriptor
    # @param mode [String] File.new's mode
    # @param path [String] what File#path answers
    # @param owner [Object, nil] the C handle to keep alive
    # @param open_kwargs [Hash] more File.new options
    # @return [File]
    def wrap_fd(fd, mode, path, owner: nil, **open_kwargs)
      file = if RUBY_VERSION >= "3.2"
               File.new(fd, mode: mode, autoclose: false, path: path, **open_kwargs)
             else
               File.new(fd, mode: mode, autoclose: false, **open_kwargs).tap do |f|
                 f.define_singleton_method(:path) { path }
                 f.define_singleton_method(:to_path) { path }
               end
             end
      file.instance_variable_set(:@portalocker_owner, owner) if owner
      file
    end

    # Close a File we handed out; returns the error instead of raising.
    # @param file [File]
    # @return [StandardError, nil] the error closing raised, if any
    def close_file(file)
      file.close unless file.closed?
      nil
    rescue StandardError => e
      e
    end
  end
  private_constant :Util
end

require "portalocker/locks"
require "portalocker/semaphore"
require "portalocker/redis_lock"
