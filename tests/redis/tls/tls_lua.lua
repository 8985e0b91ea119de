-- The Lua binding over TLS (ci/tests.d/redis-tls.sh: PL_TEST_REDIS_TLS_PORT
-- with client certificates required, certificates in PL_TEST_TLS_DIR):
-- rediss:// urls with the test CA and client certificate; contention with
-- and a SIGKILLed holder in a child lua5.4; a connection killed by the
-- server is a lost lock; a wrong CA, a wrong host name and a missing
-- client certificate are ConnectionErrors naming the endpoint and the cause.
local pl = require "portalocker"
local PORT = assert(os.getenv("PL_TEST_REDIS_TLS_PORT"), "PL_TEST_REDIS_TLS_PORT not set")
local DIR = assert(os.getenv("PL_TEST_TLS_DIR"), "PL_TEST_TLS_DIR not set")
local ENDPOINT = "127.0.0.1:" .. PORT .. " (TLS)"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function sleep(s) os.execute("sleep " .. s) end
-- The shared framework (tests/lua/testlib.lua).
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/../../lua/?.lua;" .. package.path
local T = require "testlib"
local test, fail, eq, ok = T.test, T.fail, T.eq, T.ok
local function has(s, part, what)
  if not tostring(s):find(part, 1, true) then
    fail(string.format("%s: %q not in %q", what or "text", part, tostring(s)), 2)
  end
end

-- A rediss:// url: opts.ca (default ca.crt), opts.cert == false leaves out
-- the client certificate, opts.extra is appended to the query.
local function url(opts)
  opts = opts or {}
  local u = string.format("rediss://127.0.0.1:%s?ssl_ca_certs=%s/%s", PORT, DIR, opts.ca or "ca.crt")
  if opts.cert ~= false then
    u = u .. string.format("&ssl_certfile=%s/client.crt&ssl_keyfile=%s/client.key", DIR, DIR)
  end
  if opts.extra then u = u .. "&" .. opts.extra end
  return u
end

local function lock(ch, opts)
  opts = opts or {}
  opts.url = opts.url or url()
  opts.check_interval = opts.check_interval or 0.05
  return pl.RedisLock(ch, opts)
end

local seq = 0
local function channel(tag)
  seq = seq + 1
  return string.format("pltest-lua-tls-%s-%d-%d-%d", tag, os.time(), math.random(1 << 30), seq)
end

-- redis-cli over TLS with the test client certificate.
local function redis_cli(...)
  local args = {}
  for _, a in ipairs({...}) do args[#args + 1] = q(a) end
  local p = assert(io.popen(string.format(
    "redis-cli -h 127.0.0.1 -p %s --tls --cacert %s --cert %s --key %s %s 2>&1", PORT,
    q(DIR .. "/ca.crt"), q(DIR .. "/client.crt"), q(DIR .. "/client.key"), table.concat(args, " "))))
  local out = p:read("a")
  local good = p:close()
  ok(good, "redis-cli " .. table.concat({...}, " ") .. ": " .. out)
  return out
end

local function write_script(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local pl = require "portalocker"\n', code)
  f:close()
  return script
end

-- What a child lua5.4 gets trying `ch` with fail_when_locked.
local function try_in_child(ch)
  local script = write_script(string.format([[
    local l = pl.RedisLock(%q, {url = %q, fail_when_locked = true})
    local got, err = l:acquire()
    if got then l:release(); print("acquired") else print(err.name) end
  ]], ch, url()))
  local p = assert(io.popen("timeout -s KILL 30 lua5.4 " .. q(script) .. " 2>&1"))
  local out = p:read("a")
  p:close()
  os.remove(script)
  return (out:gsub("%s+$", ""))
end

-- A child lua5.4 that takes `ch` over TLS and holds it until its stdin (a
-- FIFO we hold open) ends: h.finish() ends it (the child releases),
-- h.kill() sends SIGKILL; both return the child's output. timeout(1)
-- bounds a stuck child; the runner kills what a failed test left behind.
local live = {}
local function holder(ch)
  local dir = os.tmpname()
  os.remove(dir)
  ok(os.execute("mkdir -m 700 " .. q(dir)), "mkdir")
  local fifo = dir .. "/stdin"
  ok(os.execute("mkfifo " .. q(fifo)), "mkfifo")
  local script = write_script(string.format([[
    local pid = io.open("/proc/self/stat"):read("a"):match("^(%%d+)")
    local l = pl.RedisLock(%q, {url = %q, timeout = 10, check_interval = 0.05})
    assert(l:acquire())
    print("held " .. pid)
    io.stdout:flush()
    io.read("a")
    assert(l:release())
    print("released")
  ]], ch, url()))
  local p = assert(io.popen(string.format("timeout -s KILL 30 lua5.4 %s < %s 2>&1", q(script), q(fifo))))
  local w = assert(io.open(fifo, "w")) -- meets the child's end of the FIFO
  local h = {}
  local function cleanup()
    live[h] = nil
    if w then w:close(); w = nil end
    local rest = p:read("a")
    p:close()
    os.remove(script)
    os.remove(fifo)
    os.remove(dir)
    return rest
  end
  local line = p:read("l") or ""
  h.pid = line:match("^held (%d+)$")
  if not h.pid then fail("holder did not hold: " .. line .. cleanup()) end
  live[h] = true
  function h.finish() return cleanup() end
  function h.kill()
    local sent = os.execute("kill -KILL " .. h.pid .. " 2>/dev/null")
    local rest = cleanup()
    ok(sent, "kill -KILL " .. h.pid .. " failed: " .. rest)
    return rest
  end
  return h
end


test("acquire and contend over TLS, also with a child process", function()
  local ch = channel("contend")
  local a = lock(ch, {timeout = 2})
  local b = lock(ch, {timeout = 0.3})
  ok(a:acquire())
  ok(a:is_held(), "held")
  local got, err = b:acquire()
  ok(not got, "a second holder over TLS")
  eq(err.name, "AlreadyLocked", "contention")
  eq(try_in_child(ch), "AlreadyLocked", "the child while we hold")
  ok(a:release())
  ok(b:acquire({timeout = 2}))
  ok(b:release())
  eq(try_in_child(ch), "acquired", "the child once free")
end)

test("a child process holds, then releases", function()
  local ch = channel("proc")
  local h = holder(ch)
  local mine = lock(ch, {timeout = 0.3})
  local got, err = mine:acquire()
  ok(not got, "acquired while the child holds")
  eq(err.name, "AlreadyLocked", "contention")
  has(h.finish(), "released", "the child's output")
  ok(mine:acquire({timeout = 5}))
  ok(mine:release())
end)

test("a holder killed with SIGKILL is reaped; the waiter gets the lock", function()
  local ch = channel("crash")
  local h = holder(ch)
  local waiter = lock(ch, {fail_when_locked = true})
  local got, err = waiter:acquire()
  ok(not got, "acquired while the child holds")
  eq(err.name, "AlreadyLocked", "contention")
  local rest = h.kill()
  ok(not rest:find("released", 1, true), "the killed child released: " .. rest)
  local t0 = os.time()
  got, err = waiter:acquire({timeout = 8, fail_when_locked = false})
  ok(got, "after the holder's death: " .. tostring(err))
  -- unavailable_timeout is 1 s; bound loosely for a busy machine
  ok(os.time() - t0 <= 7, "reaping took " .. (os.time() - t0) .. " s")
  ok(waiter:release())
end)

test("a connection killed by the server is a lost lock", function()
  local ch = channel("lost")
  local l = lock(ch)
  ok(l:acquire())
  ok(l:check())
  local name = "name=" .. ch .. "-lock-" .. l:holder_id()
  local id
  for line in redis_cli("CLIENT", "LIST"):gmatch("[^\n]+") do
    for word in line:gmatch("%S+") do
      if word == name then id = line:match("^id=(%d+)") end
    end
  end
  ok(id, "no client " .. name)
  eq(redis_cli("CLIENT", "KILL", "ID", id):gsub("%s+$", ""), "1", "CLIENT KILL")
  local deadline = os.time() + 5
  while not l:is_lost() and os.time() <= deadline do sleep(0.02) end
  ok(l:is_lost(), "not lost after the kill")
  ok(not l:is_held(), "still held after the kill")
  local good, err = l:check()
  ok(not good, "check passed on a lost lock")
  eq(err.name, "LockLost", "check")
  good, err = l:release()
  ok(not good, "release of a lost lock succeeded")
  eq(err.name, "LockLost", "release")
  eq(err.channel, ch, "the lost lock's channel")
  eq(err.code, pl.codes.LOCK_LOST, "code")
  local again = lock(ch, {timeout = 5})
  ok(again:acquire())
  ok(again:release())
end)

local function connection_error(l, words)
  local t0 = os.time()
  local got, err = l:acquire()
  ok(not got, "acquired: expected a connection error with " .. words)
  ok(os.time() - t0 <= 5, "the failure took " .. (os.time() - t0) .. " s")
  ok(pl.is_error(err, "ConnectionError"), "not a ConnectionError: " .. tostring(err))
  eq(err.code, pl.codes.CONNECTION, "code")
  has(err.message, ENDPOINT, "the message")
  has(err.message, words, "the message")
  ok(not l:is_held(), "held after a failed acquire")
end

test("wrong CA: connection error naming the endpoint and the cause", function()
  connection_error(lock(channel("ca"), {url = url({ca = "other-ca.crt"}), timeout = 1}),
                   "certificate verification failed")
end)

test("wrong host name: connection error; with the check off it connects", function()
  local ch = channel("name")
  connection_error(lock(ch, {url = url({extra = "ssl_server_name=redis.invalid"}), timeout = 1}),
                   "hostname mismatch")
  local off = lock(ch, {url = url({extra = "ssl_server_name=redis.invalid&ssl_check_hostname=false"}),
                        timeout = 2})
  ok(off:acquire())
  ok(off:release())
end)

test("no client certificate while the server requires one: connection error", function()
  connection_error(lock(channel("client"), {url = url({cert = false}), timeout = 1}),
                   "certificate required")
end)

test("bad url is refused", function()
  local good, err = pcall(pl.RedisLock, "x", {url = "rediss://h?ssl_nope=1"})
  ok(not good, "accepted ssl_nope")
  ok(pl.is_error(err, "InvalidArgument"), tostring(err))
  has(err.message, "ssl_nope", "the message")
end)

T.run{after_each = function() for h in pairs(live) do pcall(h.kill) end end, label = "lua tls"}
