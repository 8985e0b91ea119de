# frozen_string_literal: true

# The Ruby binding in cluster mode (ci/tests.d/redis-cluster.sh): a
# redis+cluster:// url with the test cluster's nodes; contention and a
# clear error for a malformed one.
require_relative "../../ruby/test_helper"

class TestRedisCluster < Minitest::Test
  URL = "redis+cluster://#{ENV.fetch('PL_TEST_CLUSTER_NODES')}"

  def channel
    "pltest-rb-cluster-#{Process.pid}-#{rand(1 << 30)}"
  end

  def test_acquire_and_contend_in_cluster_mode
    ch = channel
    a = Portalocker::RedisLock.new(ch, url: URL, timeout: 2)
    b = Portalocker::RedisLock.new(ch, url: URL, timeout: 0.3)
    a.acquire
    assert_raises(Portalocker::AlreadyLocked) { b.acquire }
    a.release
    b.acquire
    b.release
  end

  def test_a_cluster_has_database_0_only
    e = assert_raises(Portalocker::InvalidArgument) do
      Portalocker::RedisLock.new(channel, url: "redis+cluster://127.0.0.1:7000/2")
    end
    assert_includes e.message, "db"
  end
end
