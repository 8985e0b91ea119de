-- The Lua binding in cluster mode (ci/tests.d/redis-cluster.sh): a
-- redis+cluster:// url with the test cluster's nodes; contention and a
-- clear error for a malformed one.
local pl = require "portalocker"
local NODES = assert(os.getenv("PL_TEST_CLUSTER_NODES"), "PL_TEST_CLUSTER_NODES not set")
local URL = "redis+cluster://" .. NODES
local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1 else failed = failed + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end
local ch = "pltest-lua-cluster-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))

test("acquire and contend in cluster mode", function()
  local a = pl.RedisLock.new(ch, {url = URL, timeout = 2})
  local b = pl.RedisLock.new(ch, {url = URL, timeout = 0.3})
  assert(a:acquire())
  local got, err = b:acquire()
  assert(not got, "a second holder in cluster mode")
  assert(tostring(err):find("locked") or tostring(err):find("Locked"), tostring(err))
  assert(a:release())
  assert(b:acquire({timeout = 2}))
  assert(b:release())
end)

test("a cluster has database 0 only", function()
  local ok, err = pcall(function() pl.RedisLock.new(ch, {url = "redis+cluster://127.0.0.1:7000/2"}) end)
  assert(not ok and tostring(err):find("db", 1, true), tostring(err))
end)

print(string.format("lua cluster: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
