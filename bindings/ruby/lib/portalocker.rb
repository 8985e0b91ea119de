# frozen_string_literal: true

# Portalocker: cross-process file locks, reentrant, temporary and PID-file
# locks, bounded semaphores, atomic file writes and a Redis lock, over the
# C library libportalocker (the same locks as the Python portalocker and
# cportalocker: all use flock(2)).
#
#   require "portalocker"
#   Portalocker::Lock.open("somefile", timeout: 1) do |file|
#     file.puts "writing some stuff to my cache..."
#   end
#
# The raw SWIG module is Portalocker::Native (C-shaped; not the API).
require "portalocker/native"
require "portalocker/version"
require "portalocker/errors"

module Portalocker
  N = Native
  private_constant :N

  # The flock(2) values, as the C core and the reference use them.
  LOCK_SH = N.pl_flag_shared
  LOCK_EX = N.pl_flag_exclusive
  LOCK_NB = N.pl_flag_non_blocking
  LOCK_UN = N.pl_flag_unblock

  # The reference's LockFlags names.
  module LockFlags
    SHARED = LOCK_SH
    EXCLUSIVE = LOCK_EX
    NON_BLOCKING = LOCK_NB
    UNBLOCK = LOCK_UN
  end

  DEFAULT_TIMEOUT = 5
  DEFAULT_CHECK_INTERVAL = 0.25
  DEFAULT_FAIL_WHEN_LOCKED = false
  LOCK_METHOD = LOCK_EX | LOCK_NB

  # The version of the loaded C library.
  LIBRARY_VERSION = N.pl_version_string

  # The lock mechanisms (the OS primitive a lock uses), for the
  # +mechanism:+ keyword of every lock class, semaphore, lock and unlock:
  #   :flock  flock(2), the default (what the Python portalocker uses)
  #   :posix  fcntl record locks: per process, dropped when the process
  #           closes ANY descriptor of the file
  #   :ofd    Linux open-file-description record locks
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
    def unlock(io_or_fd, mechanism: :flock)
      N.pl_unlock_fd_mechanism(Util.fd_of(io_or_fd), Util.mechanism(mechanism))
      nil
    end

    # True if +mechanism+ (:flock, :posix, :ofd) works on this system;
    # an unknown name raises InvalidArgument.
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
  module Util
    module_function

    # The C value of a mechanism name (Symbol or String); InvalidArgument
    # naming the value otherwise.
    def mechanism(name)
      code = (name.is_a?(Symbol) || name.is_a?(String)) && MECHANISMS[name.to_sym]
      return code if code

      raise InvalidArgument, "unknown lock mechanism #{name.inspect}: expected one of #{MECHANISMS.keys.map(&:inspect).join(', ')}"
    end

    def fd_of(io_or_fd)
      return io_or_fd if io_or_fd.is_a?(Integer)
      return io_or_fd.fileno if io_or_fd.respond_to?(:fileno)

      raise TypeError, "expected an IO, an object with #fileno or an Integer descriptor, got #{io_or_fd.class}"
    end

    # A wait for the C core: negative or NaN -> 0 (one attempt, as the
    # reference), Float::INFINITY stays.
    def seconds(value)
      value = Float(value)
      value.nan? || value.negative? ? 0.0 : value
    end

    # nil -> PL_INHERIT (use the handle's setting).
    def override(value)
      value.nil? ? N.pl_inherit.to_f : seconds(value)
    end

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
