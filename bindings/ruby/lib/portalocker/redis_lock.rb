# frozen_string_literal: true

module Portalocker
  # A distributed lock on a Redis pub/sub channel, wire-compatible with the
  # reference portalocker's RedisLock (the two exclude each other). Needs no
  # Redis gem: the C core speaks to the server.
  #
  #   lock = Portalocker::RedisLock.new("jobs", host: "127.0.0.1", port: 6379)
  #   lock.synchronize { |l| l.ensure_held!; ... }
  #
  # A held lock can be lost (server restart, connection killed): #lost?
  # and #ensure_held! tell (no round trip), and #release (also at the end
  # of #synchronize) raises LockLost if it was lost meanwhile.
  class RedisLock
    include Synchronize

    attr_reader :channel

    def initialize(channel, host: "127.0.0.1", port: 6379, db: 0, username: nil, password: nil,
                   unix_socket_path: nil, connect_timeout: nil, socket_timeout: nil,
                   timeout: DEFAULT_TIMEOUT, check_interval: DEFAULT_CHECK_INTERVAL, fail_when_locked: false,
                   unavailable_timeout: 1, flags: LOCK_EX)
      unless [LOCK_EX, LOCK_SH].include?(flags)
        raise InvalidArgument, "RedisLock flags must be exactly one of LOCK_EX or LOCK_SH"
      end

      @channel = channel.to_s
      @guard = Thread::Mutex.new
      @held = false
      @handle = N.pl_redis_lock_new(@channel.b)
      if unix_socket_path
        N.pl_redis_lock_set_unix_socket(@handle, unix_socket_path.to_s)
      else
        N.pl_redis_lock_set_host(@handle, host.to_s, Integer(port))
      end
      N.pl_redis_lock_set_db(@handle, Integer(db)) if db && Integer(db) != 0
      N.pl_redis_lock_set_password(@handle, username&.to_s, password.to_s) unless password.nil?
      N.pl_redis_lock_set_connect_timeout(@handle, Util.seconds(connect_timeout)) unless connect_timeout.nil?
      N.pl_redis_lock_set_command_timeout(@handle, Util.seconds(socket_timeout)) unless socket_timeout.nil?
      N.pl_redis_lock_set_flags(@handle, flags)
      self.timeout = timeout
      self.check_interval = check_interval
      self.fail_when_locked = fail_when_locked
      self.unavailable_timeout = unavailable_timeout
    end

    def flags
      N.pl_redis_lock_get_flags(handle)
    end

    def timeout
      N.pl_redis_lock_get_timeout(handle)
    end

    def timeout=(seconds)
      N.pl_redis_lock_set_timeout(handle, Util.seconds(seconds.nil? ? DEFAULT_TIMEOUT : seconds))
    end

    def check_interval
      N.pl_redis_lock_get_check_interval(handle)
    end

    def check_interval=(seconds)
      N.pl_redis_lock_set_check_interval(handle, Util.seconds(seconds.nil? ? DEFAULT_CHECK_INTERVAL : seconds))
    end

    def fail_when_locked
      N.pl_redis_lock_get_fail_when_locked(handle) == 1
    end

    def fail_when_locked=(enabled)
      N.pl_redis_lock_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    def unavailable_timeout
      N.pl_redis_lock_get_unavailable_timeout(handle)
    end

    def unavailable_timeout=(seconds)
      N.pl_redis_lock_set_unavailable_timeout(handle, Util.seconds(seconds))
    end

    # This holder's id (what other holders see on the channel).
    def holder_id
      N.pl_redis_lock_holder_id(handle)
    end

    # Take the lock; returns self. AlreadyLocked on contention or timeout,
    # ConnectionError when the server cannot be reached. The wait does not
    # hold the GVL.
    def acquire(timeout: nil, check_interval: nil, fail_when_locked: nil)
      @guard.synchronize do
        raise LockException, "This lock is already active" if @held && !lost?

        N.pl_redis_lock_acquire_with(handle, Util.override(timeout), Util.override(check_interval),
                                     Util.flag_override(fail_when_locked))
        @held = true
      end
      self
    end

    # Release (unsubscribe). Raises LockLost if the lock was lost while
    # held (everything is cleaned up anyway). A no-op when not held.
    def release
      @guard.synchronize do
        return if @handle.nil?

        @held = false
        N.pl_redis_lock_release(@handle)
      rescue LockLost => e
        e.channel = @channel
        e.holder_id = N.pl_redis_lock_holder_id(@handle)
        raise
      end
      nil
    end

    def held?
      @held && !lost?
    end
    alias locked? held?

    # True when the held lock was lost (no round trip).
    def lost?
      return false unless @held && @handle

      N.pl_redis_lock_check(@handle)
      false
    rescue LockLost
      true
    rescue NotHeld
      false
    end

    # Raise LockLost if the held lock was lost.
    def ensure_held!
      return unless lost?

      e = LockLost.new("Redis lock #{holder_id} on channel #{@channel.inspect} was revoked while held")
      e.channel = @channel
      e.holder_id = holder_id
      raise e
    end

    # Release and free the C handle now (closes the connection).
    def close
      release
    ensure
      if @handle
        N.pl_rb_dispose_pl_redis_lock(@handle)
        @handle = nil
      end
    end

    def closed?
      @handle.nil?
    end

    def inspect
      "#<#{self.class.name} #{@channel.inspect}#{held? ? ' held' : ''}>"
    end

    private

    def handle
      @handle or raise InvalidState, "RedisLock #{@channel} is closed"
    end
  end
end
