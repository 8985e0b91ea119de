-- The Lua binding over TLS (ci/tests.d/redis-tls.sh): a rediss:// url
-- with the test CA and client certificate; a wrong CA is a clear error.
local pl = require "portalocker"
local PORT = assert(os.getenv("PL_TEST_REDIS_TLS_PORT"), "PL_TEST_REDIS_TLS_PORT not set")
local DIR = assert(os.getenv("PL_TEST_TLS_DIR"), "PL_TEST_TLS_DIR not set")
local function url(ca)
  return string.format("rediss://127.0.0.1:%s?ssl_ca_certs=%s/%s&ssl_certfile=%s/client.crt&ssl_keyfile=%s/client.key",
    PORT, DIR, ca, DIR, DIR)
end
local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1 else failed = failed + 1; print("FAIL " .. name .. ": " .. tostring(err)) end
end
local ch = "pltest-lua-tls-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))

test("acquire and contend over TLS", function()
  local a = pl.RedisLock.new(ch, {url = url("ca.crt"), timeout = 2})
  local b = pl.RedisLock.new(ch, {url = url("ca.crt"), timeout = 0.3})
  assert(a:acquire())
  local got, err = b:acquire()
  assert(not got, "a second holder over TLS")
  assert(tostring(err):find("locked") or tostring(err):find("Locked"), tostring(err))
  assert(a:release())
  assert(b:acquire({timeout = 2}))
  assert(b:release())
end)

test("wrong CA: connection error naming the endpoint and the cause", function()
  local l = pl.RedisLock.new(ch, {url = url("other-ca.crt"), timeout = 1})
  local got, err = l:acquire()
  assert(not got, "acquired with an untrusted certificate")
  err = tostring(err)
  assert(err:find("127.0.0.1:" .. PORT .. " (TLS)", 1, true), err)
  assert(err:find("certificate verification failed", 1, true), err)
end)

test("bad url is refused", function()
  local ok, err = pcall(function() pl.RedisLock.new(ch, {url = "rediss://h?ssl_nope=1"}) end)
  assert(not ok and tostring(err):find("ssl_nope", 1, true), tostring(err))
end)

print(string.format("lua tls: %d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1)
