# frozen_string_literal: true

module Portalocker
  # A distributed lock on a Redis pub/sub channel, wire-compatible with the
  # reference portalocker's RedisLock (the two exclude each other). Needs no
  # Redis gem: the C core speaks to the server.
  #
  #   lock = Portalocker::RedisLock.new("jobs", host: "127.0.0.1", port: 6379)
  #   lock.synchronize { |l| l.ensure_held!; ... }
  #
  # A held lock can be lost (server restart, connection killed, or no
  # confirmation from the server within the validity window): #lost? and
  # #ensure_held! tell (no round trip; #lost? stays true after the release
  # until the next acquire), and #release (also at the end of #synchronize)
  # raises LockLost if it was lost meanwhile.
  #
  # fencing: true draws a token for every exclusive grant (INCR on
  # #fence_key, readable as #fence_token while held and after): hand it to
  # the resource with every write so a holder paused past its loss is
  # refused. #probe lists who holds the channel without changing anything.
  #
  # Threads: one RedisLock may be shared by Threads. #acquire, #release and
  # #probe never run at once on one object: a call made while another
  # Thread is inside one of them raises InvalidState at once and changes
  # nothing (so a #release during another Thread's #acquire raises
  # InvalidState, and that acquire finishes as if it had not been tried).
  # The queries (#lost?, #held?, #fence_token, ...) never wait for those
  # calls and never make them fail.
  #
  # @example
  #   lock = Portalocker::RedisLock.new("deploy", host: "127.0.0.1", port: 6379, fencing: true)
  #   lock.synchronize do
  #     lock.ensure_held!
  #     deploy(fence: lock.fence_token)
  #   end
  class RedisLock
    include Synchronize

    # One answer of #probe: holder_id (String), mode (:shared, :pending or
    # :exclusive), legacy (a reply that was no protocol record), elected
    # (true/false, nil for a peer older than the elected field).
    # @attr [String] holder_id the holder's id
    # @attr [Symbol] mode :shared, :pending or :exclusive
    # @attr [Boolean] legacy the reply was no protocol record
    # @attr [Boolean, nil] elected whether the holder was elected (nil: a
    #   peer older than the field)
    Holder = Struct.new(:holder_id, :mode, :legacy, :elected)

    # The C core's mode codes and the names {#mode} and {#probe} give them.
    # @return [Hash{Integer => Symbol}] :shared, :pending or :exclusive (frozen)
    MODES = { N::PL_REDIS_MODE_SHARED => :shared, N::PL_REDIS_MODE_PENDING => :pending,
              N::PL_REDIS_MODE_EXCLUSIVE => :exclusive }.freeze

    # The Redis pub/sub channel the lock lives on.
    # @return [String]
    attr_reader :channel

    # Connection settings and options; nothing is connected until {#acquire}.
    # The defaults are the reference's.
    #
    # @param channel [String, Symbol] the pub/sub channel (binary-safe)
    # @param host [String] the server's host name or address
    # @param port [Integer] the server's TCP port
    # @param db [Integer] the database number (SELECT)
    # @param username [String, nil] the ACL user (with +password:+)
    # @param password [String, nil] AUTH password (nil: no AUTH)
    # @param unix_socket_path [String, nil] connect through this Unix socket
    #   instead of host/port
    # @param connect_timeout [Integer, Float, nil] seconds to connect (nil: the C default)
    # @param socket_timeout [Integer, Float, nil] seconds per command (nil: the C default)
    # @param timeout [Integer, Float] seconds {#acquire} waits
    # @param check_interval [Integer, Float] longest pause between tries
    # @param fail_when_locked [Boolean] raise {AlreadyLocked} at once on contention
    # @param unavailable_timeout [Integer, Float] seconds of silence after which
    #   a holder counts as gone (give every participant of a channel the same)
    # @param flags [Integer] {LOCK_EX} (a writer) or {LOCK_SH} (a reader)
    # @param fencing [Boolean] draw a fencing token for every exclusive grant
    # @param self_check_interval [Integer, Float, nil] seconds between
    #   end-to-end self-checks of a held lock (nil: none)
    # @raise [InvalidArgument] flags other than LOCK_EX/LOCK_SH, a
    #   non-positive self_check_interval, a bad host or channel
    # @example
    #   Portalocker::RedisLock.new("jobs", unix_socket_path: "/run/redis.sock", timeout: 30)
    def initialize(channel, host: "127.0.0.1", port: 6379, db: 0, username: nil, password: nil,
                   unix_socket_path: nil, connect_timeout: nil, socket_timeout: nil,
                   timeout: DEFAULT_TIMEOUT, check_interval: DEFAULT_CHECK_INTERVAL, fail_when_locked: false,
                   unavailable_timeout: 1, flags: LOCK_EX, fencing: false, self_check_interval: nil,
                   url: nil)
      unless [LOCK_EX, LOCK_SH].include?(flags)
        raise InvalidArgument, "RedisLock flags must be exactly one of LOCK_EX or LOCK_SH"
      end

      @channel = channel.to_s
      @guard = Thread::Mutex.new
      # Held around the short queries that read the C handle (#lost?,
      # #mode): a call taking @guard waits for one already inside
      # (microseconds), and a query that finds @guard taken answers from
      # what Ruby knows, so a query never makes acquire/release fail.
      @query = Thread::Mutex.new
      @held = false
      @lost = false
      @fence_token = nil
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
      # url (redis://, rediss:// with ssl_* options, unix://): the whole
      # connection, applied last so that it decides.
      N.pl_redis_lock_set_url(@handle, url.to_s) unless url.nil?
      N.pl_redis_lock_set_flags(@handle, flags)
      N.pl_redis_lock_set_fencing(@handle, fencing ? 1 : 0)
      unless self_check_interval.nil?
        raise InvalidArgument, "self_check_interval must be positive or nil" unless self_check_interval.to_f.positive?

        N.pl_redis_lock_set_self_check_interval(@handle, Util.seconds(self_check_interval))
      end
      @holder_id = N.pl_redis_lock_holder_id(@handle)
      @flags = flags
      @fencing = fencing ? true : false
      @self_check_interval = self_check_interval
      self.timeout = timeout
      self.check_interval = check_interval
      self.fail_when_locked = fail_when_locked
      self.unavailable_timeout = unavailable_timeout
    end

    # The lock flags: {LOCK_EX} or {LOCK_SH}.
    # @return [Integer]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.flags == Portalocker::LOCK_EX # => true
    def flags
      N.pl_redis_lock_get_flags(handle)
    end

    # Seconds {#acquire} waits by default.
    # @return [Float]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.timeout # => 5.0
    def timeout
      N.pl_redis_lock_get_timeout(handle)
    end

    # Set the default wait of {#acquire}.
    # @param seconds [Integer, Float, nil] nil: {DEFAULT_TIMEOUT}
    # @return [Integer, Float, nil] +seconds+
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.timeout = 60
    def timeout=(seconds)
      N.pl_redis_lock_set_timeout(handle, Util.seconds(seconds.nil? ? DEFAULT_TIMEOUT : seconds))
    end

    # The longest pause between two tries while waiting, in seconds.
    # @return [Float]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.check_interval # => 0.25
    def check_interval
      N.pl_redis_lock_get_check_interval(handle)
    end

    # Set the longest pause between two tries while waiting.
    # @param seconds [Integer, Float, nil] nil: {DEFAULT_CHECK_INTERVAL}
    # @return [Integer, Float, nil] +seconds+
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.check_interval = 0.1
    def check_interval=(seconds)
      N.pl_redis_lock_set_check_interval(handle, Util.seconds(seconds.nil? ? DEFAULT_CHECK_INTERVAL : seconds))
    end

    # Whether {#acquire} raises {AlreadyLocked} at once on contention.
    # @return [Boolean]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.fail_when_locked # => false
    def fail_when_locked
      N.pl_redis_lock_get_fail_when_locked(handle) == 1
    end

    # Set whether {#acquire} raises at once on contention.
    # @param enabled [Boolean]
    # @return [Boolean] +enabled+
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.fail_when_locked = true
    def fail_when_locked=(enabled)
      N.pl_redis_lock_set_fail_when_locked(handle, enabled ? 1 : 0)
    end

    # Seconds of silence after which a holder counts as gone.
    # @return [Float]
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.unavailable_timeout # => 1.0
    def unavailable_timeout
      N.pl_redis_lock_get_unavailable_timeout(handle)
    end

    # Set the seconds of silence after which a holder counts as gone (also
    # the bound of a held lock's validity window).
    # @param seconds [Integer, Float]
    # @return [Integer, Float] +seconds+
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.unavailable_timeout = 2
    def unavailable_timeout=(seconds)
      N.pl_redis_lock_set_unavailable_timeout(handle, Util.seconds(seconds))
    end

    # This holder's id (what other holders see on the channel; fixed for
    # the object's life).
    # @return [String]
    attr_reader :holder_id

    # Take the lock; returns self. AlreadyLocked on contention or timeout,
    # ConnectionError when the server cannot be reached, InvalidState while
    # another Thread is inside #acquire, #release or #probe. The wait does
    # not hold the GVL.
    #
    # @param timeout [Integer, Float, nil] seconds to wait this time (nil: {#timeout})
    # @param check_interval [Integer, Float, nil] longest pause this time
    # @param fail_when_locked [Boolean, nil] raise at once on contention this time
    # @return [self]
    # @raise [AlreadyLocked] held by others, and fail_when_locked or the timeout ran out
    # @raise [ConnectionError] the server cannot be reached
    # @raise [LockException] this object already holds the lock
    # @raise [InvalidState] closed, or another Thread is inside #acquire,
    #   #release or #probe
    # @example
    #   lock.acquire(timeout: 10)
    def acquire(timeout: nil, check_interval: nil, fail_when_locked: nil)
      # Interrupts only in the waits (as Lock#acquire): once the core took
      # the lock, it is recorded before one can fire.
      Thread.handle_interrupt(Object => :on_blocking) { acquire_now(timeout, check_interval, fail_when_locked) }
    end

    private def acquire_now(timeout, check_interval, fail_when_locked)
      exclusive("acquire") do
        raise LockException, "This lock is already active" if @held && !lost?

        # A lost hold, or one an interrupted #release left in the core:
        # tear it down first.
        give_back if @held || core_holds?
        @lost = false
        @fence_token = nil
        begin
          N.pl_redis_lock_acquire_with(handle, Util.override(timeout), Util.override(check_interval),
                                       Util.flag_override(fail_when_locked))
          @held = true
          token = N.pl_redis_lock_get_fence_token(handle)
          @fence_token = token.zero? ? nil : token
        rescue Exception # rubocop:disable Lint/RescueException
          # Also an exception after the core took the lock (Thread#raise,
          # a trap's Interrupt as the call returned): this acquire did not
          # succeed, so nothing may stay held (giving back what is not
          # held is a no-op).
          give_back
          raise
        end
      end
      self
    end

    # Release (unsubscribe). Raises LockLost if the lock was lost while
    # held (everything is cleaned up anyway; #lost? stays true). A no-op
    # when not held. InvalidState while another Thread is inside #acquire,
    # #release or #probe.
    #
    # @return [nil]
    # @raise [LockLost] the lock was lost while held
    # @raise [InvalidState] another Thread is inside #acquire, #release or #probe
    # @example
    #   begin
    #     lock.release
    #   rescue Portalocker::LockLost
    #     warn "the work done under the lock may have overlapped another holder's"
    #   end
    def release
      return if @handle.nil?

      # Interrupts only in the wait: between forgetting the hold and the
      # core's release none can fire.
      Thread.handle_interrupt(Object => :on_blocking) { release_now }
    end

    private def release_now
      exclusive("release") do
        # (The core may hold what this object does not know of: an
        # exception between the two steps of an earlier release.)
        return unless @held || core_holds?

        @held = false
        begin
          N.pl_redis_lock_release(@handle)
        rescue LockLost => e
          @lost = true
          e.channel = @channel
          e.holder_id = @holder_id
          raise
        rescue NotHeld
          nil
        end
      end
      nil
    end

    # True while held and not lost (no round trip).
    # @return [Boolean]
    # @example
    #   lock.held? # => true
    def held?
      @held && !lost?
    end

    # @!method locked?
    #   Same as {#held?}.
    #   @return [Boolean]
    alias locked? held?

    # True from the moment a held lock was lost until the next #acquire,
    # also after #release (no round trip; never waits for another Thread).
    #
    # @return [Boolean]
    # @example
    #   lock.lost? # => false
    def lost?
      return true if @lost

      @query.synchronize do
        return false if @guard.locked? || !@held || @handle.nil?

        N.pl_redis_lock_check(@handle)
        false
      rescue LockLost
        @lost = true
      rescue LockException
        false
      end
    end

    # The fencing token of the current or most recent fenced exclusive
    # grant (Integer, kept after release and loss until the next acquire),
    # or nil: fencing off, a reader, or no grant yet.
    # @return [Integer, nil]
    attr_reader :fence_token

    # "<channel>-fence": the key of the channel's fencing counter (a binary
    # String; the lock never deletes it).
    #
    # @return [String]
    # @example
    #   Portalocker::RedisLock.new("jobs").fence_key # => "jobs-fence"
    def fence_key
      "#{@channel}-fence".b
    end

    # Whether this lock draws fencing tokens (+fencing: true+).
    # @return [Boolean]
    # @example
    #   lock.fencing? # => false
    def fencing?
      @fencing
    end

    # Seconds between end-to-end self-checks of a held lock, or nil.
    # @return [Integer, Float, nil]
    attr_reader :self_check_interval

    # The mode this lock advertises now (:shared, :pending or :exclusive;
    # while another Thread is inside #acquire, #release or #probe, the mode
    # this lock asks for: :shared or :pending).
    #
    # @return [Symbol] :shared, :pending or :exclusive
    # @raise [InvalidState] the lock is closed
    # @example
    #   lock.acquire
    #   lock.mode # => :exclusive
    def mode
      @query.synchronize do
        return @flags == LOCK_SH ? :shared : :pending if @guard.locked?

        MODES.fetch(N.pl_redis_lock_get_mode(handle))
      end
    end

    # Who holds the channel right now, as Holder structs; changes nothing
    # (never reaps, never subscribes; this lock's own record is included
    # while it holds). [] for a channel nobody is on; a LockException when
    # no probe was conclusive within +timeout+ seconds (default
    # unavailable_timeout). Waits without the GVL.
    #
    # @param timeout [Integer, Float, nil] seconds to get a conclusive answer
    #   (nil: {#unavailable_timeout})
    # @return [Array<Holder>]
    # @raise [ConnectionError] the server cannot be reached
    # @raise [LockException] no probe was conclusive in time
    # @raise [InvalidState] closed, or another Thread is inside #acquire,
    #   #release or #probe
    # @example
    #   lock.probe.map(&:holder_id)
    def probe(timeout: nil)
      list = exclusive("probe") do
        N.pl_redis_lock_probe(handle, Util.seconds(timeout.nil? ? unavailable_timeout : timeout))
      end
      Array.new(N.pl_redis_holders_count(list)) do |i|
        id, mode, elected = N.pl_redis_holders_get(list, i)
        Holder.new(id, MODES.fetch(mode), id.start_with?("legacy-"), elected.negative? ? nil : elected == 1)
      end
    end

    # Raise LockLost if the held lock was lost.
    # @return [nil]
    # @raise [LockLost] the held lock was lost
    # @example
    #   lock.synchronize { |l| steps.each { |s| l.ensure_held!; s.call } }
    def ensure_held!
      return unless lost?

      e = LockLost.new("Redis lock #{holder_id} on channel #{@channel.inspect} was revoked while held")
      e.channel = @channel
      e.holder_id = holder_id
      raise e
    end

    # Release and free the C handle now (closes the connection). Raises
    # LockLost as #release does (the handle is freed anyway), InvalidState
    # (and frees nothing) while another Thread is inside #acquire,
    # #release or #probe.
    #
    # @return [void]
    # @raise [LockLost] the lock was lost while held (the handle is freed anyway)
    # @raise [InvalidState] another Thread is inside #acquire, #release or #probe
    # @example
    #   lock.close
    def close
      return if @handle.nil?

      exclusive("close") do
        if @held
          @held = false
          N.pl_redis_lock_release(@handle)
        end
      rescue LockLost => e
        @lost = true
        e.channel = @channel
        e.holder_id = @holder_id
        raise
      rescue NotHeld
        nil
      ensure
        N.pl_rb_dispose_pl_redis_lock(@handle)
        @handle = nil
      end
      nil
    end

    # True after {#close}.
    # @return [Boolean]
    # @example
    #   lock.closed? # => false
    def closed?
      @handle.nil?
    end

    # The class, the channel and whether it is held.
    # @return [String]
    # @example
    #   lock.inspect # => "#<Portalocker::RedisLock \"jobs\" held>"
    def inspect
      "#<#{self.class.name} #{@channel.inspect}#{held? ? ' held' : ''}>"
    end

    private

    # Whether the C handle holds (or held and lost) the lock; no round trip.
    def core_holds?
      N.pl_redis_lock_check(handle)
      true
    rescue LockLost
      true # still to be torn down
    rescue LockException
      false # not held (or the handle is busy: not ours to say)
    end

    # Release in the core whatever it holds, forgetting this object's hold.
    def give_back
      @held = false
      @fence_token = nil
      begin
        N.pl_redis_lock_release(handle)
      rescue LockException
        nil
      end
    end

    # Runs the block holding the guard, or raises InvalidState at once when
    # another Thread holds it (see the class comment).
    def exclusive(what)
      unless @guard.try_lock
        raise InvalidState, "RedisLock #{@channel.inspect}: cannot #{what} while another Thread is " \
                            "inside acquire, release or probe of this object"
      end
      begin
        @query.synchronize { nil } # a query already reading the handle has finished
        yield
      ensure
        @guard.unlock
      end
    end

    def handle
      @handle or raise InvalidState, "RedisLock #{@channel} is closed"
    end
  end
end
