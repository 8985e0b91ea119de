# frozen_string_literal: true

# The Ruby binding over TLS (ci/tests.d/redis-tls.sh: PL_TEST_REDIS_TLS_PORT
# with client certificates required, certificates in PL_TEST_TLS_DIR):
# rediss:// urls with the test CA and client certificate; contention with
# and a SIGKILLed holder in a second ruby process; a connection killed by
# the server is a lost lock; a wrong CA, a wrong host name and a missing
# client certificate are ConnectionErrors naming the endpoint and the cause.
require_relative "../../ruby/test_helper"

class TestRedisTLS < Minitest::Test
  include TestHelpers

  PORT = ENV.fetch("PL_TEST_REDIS_TLS_PORT")
  DIR = ENV.fetch("PL_TEST_TLS_DIR")
  ENDPOINT = "127.0.0.1:#{PORT} (TLS)"

  # A rediss:// url; +cert: false+ leaves out the client certificate,
  # +opts+ adds query options (ssl_server_name, ...).
  def url(ca: "ca.crt", cert: true, **opts)
    q = { ssl_ca_certs: "#{DIR}/#{ca}" }
    q.update(ssl_certfile: "#{DIR}/client.crt", ssl_keyfile: "#{DIR}/client.key") if cert
    q.update(opts)
    "rediss://127.0.0.1:#{PORT}?" + q.map { |k, v| "#{k}=#{v}" }.join("&")
  end

  def channel(tag)
    "pltest-rb-tls-#{tag}-#{Process.pid}-#{rand(1 << 30)}"
  end

  def rlock(ch, **opts)
    lock = Portalocker::RedisLock.new(ch, **{ url: url, check_interval: 0.05 }.merge(opts))
    (@locks ||= []) << lock
    lock
  end

  def teardown
    (@locks || []).each do |l|
      l.close
    rescue Portalocker::LockLost
      nil
    end
    super
  end

  # redis-cli over TLS with the test client certificate.
  def redis_cli(*args)
    out = IO.popen(["redis-cli", "-h", "127.0.0.1", "-p", PORT, "--tls", "--cacert", "#{DIR}/ca.crt",
                    "--cert", "#{DIR}/client.crt", "--key", "#{DIR}/client.key", *args.map(&:to_s)],
                   err: %i[child out], &:read)
    assert $?.success?, "redis-cli #{args.join(' ')}: #{out}"
    out
  end

  # A second ruby process taking +ch+ over TLS (it holds until told).
  def tls_holder(ch)
    ruby_holder("l = Portalocker::RedisLock.new(#{ch.dump}, url: #{url.dump}, timeout: 10, " \
                "check_interval: 0.05)\nl.acquire", after: "l.release\nputs 'released'")
  end

  # What a second ruby process gets trying +ch+ with fail_when_locked.
  def try_in_child(ch)
    code = "begin\n  Portalocker::RedisLock.new(#{ch.dump}, url: #{url.dump}, fail_when_locked: true)" \
           ".synchronize { puts 'acquired' }\nrescue Portalocker::AlreadyLocked\n  puts 'locked'\nend"
    IO.popen([RbConfig.ruby, "-I", BUILD_RB, "-rportalocker", "-e", code], err: %i[child out], &:read).strip
  end

  def test_acquire_and_contend_over_tls
    ch = channel("contend")
    a = rlock(ch, timeout: 2)
    b = rlock(ch, timeout: 0.3)
    a.acquire
    assert a.held?
    assert_raises(Portalocker::AlreadyLocked) { b.acquire }
    assert_equal "locked", try_in_child(ch)
    a.release
    b.acquire
    b.release
    assert_equal "acquired", try_in_child(ch)
  end

  def test_contend_with_another_process_then_it_releases
    ch = channel("proc")
    h = tls_holder(ch)
    mine = rlock(ch, timeout: 0.3)
    assert_raises(Portalocker::AlreadyLocked) { mine.acquire }
    assert_includes h.finish, "released"
    mine.acquire(timeout: 5)
    mine.release
  end

  def test_holder_killed_with_sigkill_is_reaped
    ch = channel("crash")
    h = tls_holder(ch)
    waiter = rlock(ch, fail_when_locked: true)
    assert_raises(Portalocker::AlreadyLocked) { waiter.acquire }
    h.kill
    assert_equal 9, $?.termsig, "the holder was not killed: #{$?.inspect}"
    t0 = monotonic
    waiter.acquire(timeout: 8, fail_when_locked: false)
    assert_operator monotonic - t0, :<, 7 # unavailable_timeout is 1 s; loose for a busy machine
    assert waiter.held?
    waiter.release
  end

  def test_connection_killed_by_the_server_is_a_lost_lock
    ch = channel("lost")
    a = rlock(ch)
    a.acquire
    a.ensure_held!
    name = "#{ch}-lock-#{a.holder_id}"
    line = redis_cli("CLIENT", "LIST").lines.find { |l| l.split.include?("name=#{name}") }
    refute_nil line, "no client named #{name}"
    id = line[/\bid=(\d+)/, 1]
    assert_equal "1", redis_cli("CLIENT", "KILL", "ID", id).strip
    deadline = monotonic + 5
    sleep 0.02 until a.lost? || monotonic > deadline
    assert a.lost?
    refute a.held?
    e = assert_raises(Portalocker::LockLost) { a.ensure_held! }
    assert_equal ch, e.channel
    e = assert_raises(Portalocker::LockLost) { a.release }
    assert_equal ch, e.channel
    assert_equal Portalocker::Native::PL_ERR_LOCK_LOST, e.code
    assert a.lost?
    rlock(ch, timeout: 5).synchronize { :free }
  end

  def assert_connection_error(lock, words)
    t0 = monotonic
    e = assert_raises(Portalocker::ConnectionError) { lock.acquire }
    assert_operator monotonic - t0, :<, 5
    assert_kind_of Portalocker::LockException, e
    assert_equal Portalocker::Native::PL_ERR_CONNECTION, e.code
    assert_includes e.message, ENDPOINT
    assert_includes e.message, words
    refute lock.held?
  end

  def test_wrong_ca_is_a_connection_error
    assert_connection_error(rlock(channel("ca"), url: url(ca: "other-ca.crt"), timeout: 1),
                            "certificate verification failed")
  end

  def test_wrong_hostname_is_a_connection_error
    ch = channel("name")
    assert_connection_error(rlock(ch, url: url(ssl_server_name: "redis.invalid"), timeout: 1),
                            "hostname mismatch")
    # the same name with the check off connects: it was the name, nothing else
    rlock(ch, url: url(ssl_server_name: "redis.invalid", ssl_check_hostname: "false"), timeout: 2)
      .synchronize { :ok }
  end

  def test_missing_client_certificate_is_a_connection_error
    assert_connection_error(rlock(channel("client"), url: url(cert: false), timeout: 1), "certificate required")
  end

  def test_bad_url
    e = assert_raises(Portalocker::InvalidArgument) { Portalocker::RedisLock.new(channel("url"), url: "rediss://h?ssl_nope=1") }
    assert_includes e.message, "ssl_nope"
  end
end
