# frozen_string_literal: true

module Portalocker
  # Every error this library raises includes Portalocker::Error (a tag
  # module), so `rescue Portalocker::Error` catches them all while each
  # class keeps the Ruby parent that fits it:
  #
  #   LockException < StandardError   any locking failure
  #     AlreadyLocked                 contention or timeout (#holder_pid)
  #     FileTooLarge (FileToLarge)    file too large for the lock call
  #     NotHeld                       e.g. an RLock released too often
  #     InvalidState                  the object is in the wrong state
  #     Unsupported                   not supported on this system/build
  #     LockLost                      a held RedisLock was lost
  #     ConnectionError               the Redis server cannot be reached
  #     Interrupted                   a wait cancelled (Lock#cancel)
  #   InvalidArgument < ArgumentError an argument the C core rejected
  #   FileExists < Errno::EEXIST      open_atomic's destination exists
  #   OSError (a module)              raised as the matching Errno::EXXX
  #                                   (e.g. Errno::EACCES), tagged with it
  #   NoMemory < NoMemoryError        out of memory
  #
  # Which class a C error code becomes is decided by the C core's single
  # error table: the SWIG layer calls Portalocker._from_c with the name
  # pl_error_exception(code) gives, and _from_c looks that constant up in
  # this module. There is no code -> class table in Ruby.
  #
  # @example Catch everything the library raises
  #   begin
  #     lock.acquire
  #   rescue Portalocker::Error => e
  #     warn "#{e.class}: #{e.message} (code #{e.code.inspect}, errno #{e.errno.inspect})"
  #   end
  module Error
    # The C error code (PL_ERR_*, negative) when the error came from the
    # C core, else nil.
    # @return [Integer, nil]
    attr_accessor :code

    # The errno the C core saved with the error (0 if no OS call failed).
    # @return [Integer, nil] the saved errno; nil for an error raised in
    #   Ruby (a SystemCallError answers its own #errno)
    def errno
      return @errno if instance_variable_defined?(:@errno)

      defined?(super) ? super : nil
    end

    # @!attribute [w] errno
    #   Set by the library when it raises.
    #   @return [Integer, nil]
    attr_writer :errno
  end

  # Any locking failure; the parent of the library's other lock errors
  # (the reference's LockException).
  # @example
  #   rescue Portalocker::LockException => e
  class LockException < StandardError
    include Error
  end

  # The lock is held elsewhere: contention with fail_when_locked, or the
  # timeout ran out.
  # @example
  #   begin
  #     Portalocker::PidFileLock.new("app.pid").acquire
  #   rescue Portalocker::AlreadyLocked => e
  #     abort "already running as PID #{e.holder_pid}"
  #   end
  class AlreadyLocked < LockException
    # PidFileLock: the PID of the process that holds the lock, if known.
    # @return [Integer, nil]
    attr_accessor :holder_pid
  end

  # The file is too large for the lock call (the reference's FileToLarge).
  # @example
  #   rescue Portalocker::FileTooLarge
  class FileTooLarge < LockException; end
  # The name the C table (and the reference portalocker) uses.
  # @return [Class] {FileTooLarge}
  FileToLarge = FileTooLarge

  # Released what is not held, e.g. an RLock released more often than it
  # was acquired.
  # @example
  #   rescue Portalocker::NotHeld
  class NotHeld < LockException; end
  # The object is in the wrong state for the call: closed, already
  # acquired, or used by another Thread at the same moment.
  # @example
  #   rescue Portalocker::InvalidState
  class InvalidState < LockException; end
  # Not supported on this system or build (e.g. :ofd locks off Linux).
  # @example
  #   rescue Portalocker::Unsupported
  class Unsupported < LockException; end

  # A held RedisLock was lost (its subscription ended or could not be
  # confirmed in time); raised by {RedisLock#release}, {RedisLock#close}
  # and {RedisLock#ensure_held!}.
  # @example
  #   rescue Portalocker::LockLost => e
  #     warn "lost #{e.channel} (#{e.holder_id})"
  class LockLost < LockException
    # RedisLock: the channel of the lost lock.
    # @return [String, nil]
    attr_accessor :channel
    # RedisLock: this holder's id.
    # @return [String, nil]
    attr_accessor :holder_id
  end

  # The Redis server cannot be reached (or not within the timeouts).
  # @example
  #   rescue Portalocker::ConnectionError
  class ConnectionError < LockException; end

  # A wait that ended early with nothing held: cancelled through the C
  # API (Lock#cancel). A Ruby interrupt during a wait (Thread#raise,
  # Timeout, Ctrl-C) raises its own exception instead.
  # @example
  #   Thread.new { sleep 1; lock.cancel }
  #   lock.acquire(timeout: Float::INFINITY) rescue Portalocker::Interrupted
  class Interrupted < LockException; end

  # An argument the library rejected (bad flags, an unknown mechanism, a
  # bad mode or pattern, ...); the message names it.
  # @example
  #   Portalocker.lock(f, Portalocker::LOCK_UN) # raises InvalidArgument
  class InvalidArgument < ArgumentError
    include Error
  end

  # {Portalocker.open_atomic}'s destination exists (never replaced).
  # @example
  #   rescue Portalocker::FileExists # also rescue Errno::EEXIST
  class FileExists < Errno::EEXIST
    include Error
  end

  # The C core ran out of memory.
  # @example
  #   rescue Portalocker::NoMemory
  class NoMemory < NoMemoryError
    include Error
  end

  # OS failures are raised as the Errno exception of the saved errno
  # (Errno::EACCES, Errno::ENOENT, ...; Errno::EIO when none was saved),
  # extended with this module: rescue Errno::EACCES, SystemCallError,
  # Portalocker::OSError or Portalocker::Error all catch them.
  # @example
  #   begin
  #     Portalocker::Lock.open("/root/x.lock") { }
  #   rescue Portalocker::OSError => e
  #     e.class # => Errno::EACCES
  #   end
  module OSError
    include Error

    # The SystemCallError for +errno+, tagged with this module.
    # @param message [String] the C core's message
    # @param errno [Integer] the saved errno (0: Errno::EIO)
    # @return [SystemCallError]
    # @example
    #   Portalocker::OSError.from_c("cannot open 'x'", Errno::EACCES::Errno) # => #<Errno::EACCES ...>
    def self.from_c(message, errno)
      SystemCallError.new(message, errno.nonzero? || Errno::EIO::Errno).extend(self)
    end
  end

  # Called by the SWIG layer (pl_swig_raise) for a failed C call: +name+
  # is pl_error_exception(code), +message+ and +errno+ the calling thread's
  # pl_last_error_message() and pl_last_errno(). Returns the exception.
  # @api private
  # @param code [Integer] the C status code
  # @param name [String] the exception name the C table gives the code
  # @param message [String] the error message
  # @param errno [Integer] the saved errno
  # @return [Exception] the exception to raise (including {Error})
  def self._from_c(code, name, message, errno)
    target = const_get(name, false) if name.match?(/\A[A-Z]\w*\z/) && const_defined?(name, false)
    unless target.is_a?(Module) && (target.respond_to?(:from_c) || (target.is_a?(Class) && target <= Exception))
      target = LockException # a name this version does not know yet
    end
    exc = target.respond_to?(:from_c) ? target.from_c(message, errno) : target.new(message)
    exc.extend(Error) unless exc.is_a?(Error)
    exc.code = code
    exc.errno = errno
    exc
  end
end
