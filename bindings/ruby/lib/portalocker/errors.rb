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
  module Error
    # The C error code (PL_ERR_*, negative) when the error came from the
    # C core, else nil.
    attr_accessor :code

    # The errno the C core saved with the error (0 if no OS call failed).
    def errno
      return @errno if instance_variable_defined?(:@errno)

      defined?(super) ? super : nil
    end

    attr_writer :errno
  end

  class LockException < StandardError
    include Error
  end

  class AlreadyLocked < LockException
    # PidFileLock: the PID of the process that holds the lock, if known.
    attr_accessor :holder_pid
  end

  class FileTooLarge < LockException; end
  # The name the C table (and the reference portalocker) uses.
  FileToLarge = FileTooLarge

  class NotHeld < LockException; end
  class InvalidState < LockException; end
  class Unsupported < LockException; end

  class LockLost < LockException
    # RedisLock: the channel and this holder's id.
    attr_accessor :channel, :holder_id
  end

  class ConnectionError < LockException; end

  # A wait that ended early with nothing held: cancelled through the C
  # API (Lock#cancel). A Ruby interrupt during a wait (Thread#raise,
  # Timeout, Ctrl-C) raises its own exception instead.
  class Interrupted < LockException; end

  class InvalidArgument < ArgumentError
    include Error
  end

  class FileExists < Errno::EEXIST
    include Error
  end

  class NoMemory < NoMemoryError
    include Error
  end

  # OS failures are raised as the Errno exception of the saved errno
  # (Errno::EACCES, Errno::ENOENT, ...; Errno::EIO when none was saved),
  # extended with this module: rescue Errno::EACCES, SystemCallError,
  # Portalocker::OSError or Portalocker::Error all catch them.
  module OSError
    include Error

    def self.from_c(message, errno)
      SystemCallError.new(message, errno.nonzero? || Errno::EIO::Errno).extend(self)
    end
  end

  # Called by the SWIG layer (pl_swig_raise) for a failed C call: +name+
  # is pl_error_exception(code), +message+ and +errno+ the calling thread's
  # pl_last_error_message() and pl_last_errno(). Returns the exception.
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
