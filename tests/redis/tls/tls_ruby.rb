# frozen_string_literal: true

# The Ruby binding over TLS (ci/tests.d/redis-tls.sh): a rediss:// url
# with the test CA and client certificate; a wrong CA is a clear error.
require_relative "../../ruby/test_helper"

class TestRedisTLS < Minitest::Test
  PORT = ENV.fetch("PL_TEST_REDIS_TLS_PORT")
  DIR = ENV.fetch("PL_TEST_TLS_DIR")

  def url(ca = "ca.crt")
    "rediss://127.0.0.1:#{PORT}?ssl_ca_certs=#{DIR}/#{ca}&ssl_certfile=#{DIR}/client.crt&ssl_keyfile=#{DIR}/client.key"
  end

  def channel
    "pltest-rb-tls-#{Process.pid}-#{rand(1 << 30)}"
  end

  def test_acquire_and_contend_over_tls
    ch = channel
    a = Portalocker::RedisLock.new(ch, url: url, timeout: 2)
    b = Portalocker::RedisLock.new(ch, url: url, timeout: 0.3)
    a.acquire
    assert_raises(Portalocker::AlreadyLocked) { b.acquire }
    a.release
    b.acquire
    b.release
  end

  def test_wrong_ca_is_a_connection_error
    l = Portalocker::RedisLock.new(channel, url: url("other-ca.crt"), timeout: 1)
    e = assert_raises(Portalocker::ConnectionError) { l.acquire }
    assert_includes e.message, "127.0.0.1:#{PORT} (TLS)"
    assert_includes e.message, "certificate verification failed"
  end

  def test_bad_url
    e = assert_raises(Portalocker::InvalidArgument) { Portalocker::RedisLock.new(channel, url: "rediss://h?ssl_nope=1") }
    assert_includes e.message, "ssl_nope"
  end
end
