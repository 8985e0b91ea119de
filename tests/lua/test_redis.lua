-- Redis tests of the Lua binding: a lock dropped (__gc) while its
-- connection dies, many locks used from coroutines, exit while holding,
-- fencing and the read-only probe. Plain Lua 5.4; run by ci/tests.d/lua.sh
-- (PL_TEST_REDIS_PORT: the throwaway redis-server's 127.0.0.1 port). Ends
-- with "N passed, N failed" and exits non-zero when anything failed.

local pl = require "portalocker"

-- The shared framework (tests/lua/testlib.lua), found next to this file.
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local test, fail, eq, ok = T.test, T.fail, T.eq, T.ok

local PORT = math.tointeger(tonumber(os.getenv("PL_TEST_REDIS_PORT") or ""))
assert(PORT, "PL_TEST_REDIS_PORT is not set (no redis-server)")

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function redis_cli(...)
  local args = {}
  for _, a in ipairs({...}) do args[#args + 1] = q(tostring(a)) end
  local p = assert(io.popen("redis-cli -h 127.0.0.1 -p " .. PORT .. " " .. table.concat(args, " ") .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function lock(channel, opts)
  opts = opts or {}
  opts.port = PORT
  return pl.RedisLock(channel, opts)
end

local function assert_free(channel)
  local l = lock(channel, {timeout = 5, check_interval = 0.05})
  ok(l:acquire())
  ok(l:release())
end

-- Runs `code` in a child lua5.4 with the same module paths; returns its
-- exit status, stdout and stderr (a child still running after `limit`
-- seconds is killed by timeout(1): status 124/137).
local function run_child(code, limit)
  local script = os.tmpname()
  local errf = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local pl = require "portalocker"\nlocal PORT = ' .. PORT .. '\n' .. code)
  f:close()
  local p = assert(io.popen(string.format("timeout -s KILL %d lua5.4 %s 2>%s; echo \"rc=$?\"",
                                          limit or 60, q(script), q(errf))))
  local out = p:read("a")
  p:close()
  local ef = assert(io.open(errf))
  local err = ef:read("a")
  ef:close()
  os.remove(script)
  os.remove(errf)
  local rc = math.tointeger(tonumber(out:match("rc=(%d+)%s*$")))
  return rc, out:gsub("rc=%d+%s*$", ""), err
end

test("gc of a held lock while its connection is killed", function()
  for i = 1, 25 do
    local l = lock("lua-gcloss-" .. i)
    ok(l:acquire())
    redis_cli("CLIENT", "KILL", "TYPE", "pubsub")
    l = nil -- luacheck: ignore
    collectgarbage()
    collectgarbage()
  end
  assert_free("lua-gcloss-1")
end)

test("coroutines sharing one lock and the collector", function()
  local shared = lock("lua-co", {timeout = 0.2, check_interval = 0.01})
  local cos = {}
  local acquired = 0
  for i = 1, 8 do
    cos[i] = coroutine.create(function()
      for j = 1, 15 do
        if (i + j) % 3 == 0 then
          if shared:acquire() then acquired = acquired + 1 end
        elseif (i + j) % 3 == 1 then
          shared:release()
        else
          shared:is_lost()
          shared:fence_token()
          local other = lock("lua-co-" .. i)
          other:acquire()
          other = nil -- luacheck: ignore
          collectgarbage()
        end
        coroutine.yield()
      end
    end)
  end
  local alive = true
  while alive do
    alive = false
    for _, co in ipairs(cos) do
      if coroutine.status(co) ~= "dead" then
        local good, err = coroutine.resume(co)
        if not good then
          if not (getmetatable(err) == pl.Error and err.name == "InvalidState") then error(err, 0) end
        end
        alive = true
      end
    end
  end
  ok(acquired > 0, "no coroutine acquired")
  shared:release()
  assert_free("lua-co")
end)

test("exit while holding: no error output, the lock is free afterwards", function()
  local rc, out, err = run_child([[
    HELD = pl.RedisLock("lua-exit", {port = PORT})
    assert(HELD:acquire())
    local other = pl.RedisLock("lua-exit-2", {port = PORT})
    assert(other:acquire())
    print("OK")
    os.exit(0, true)
  ]])
  eq(rc, 0, "exit status (stderr: " .. err .. ")")
  ok(out:find("OK"), "child output: " .. out)
  eq(err, "", "stderr")
  assert_free("lua-exit")
  assert_free("lua-exit-2")
end)

test("fencing tokens", function()
  local l = lock("lua-fence", {fencing = true})
  eq(l:fence_key(), "lua-fence-fence", "fence_key")
  eq(l:fence_token(), nil, "token before any grant")
  ok(l:acquire())
  local first = ok(l:fence_token(), "no token while held")
  eq(redis_cli("GET", "lua-fence-fence"), tostring(first), "the counter")
  ok(l:release())
  eq(l:fence_token(), first, "token after release")
  ok(l:acquire())
  eq(l:fence_token(), first + 1, "next token")
  ok(l:release())
  local r = lock("lua-fence", {fencing = true, flags = pl.LOCK_SH})
  ok(r:acquire())
  eq(r:fence_token(), nil, "a reader's token")
  ok(r:release())
  local bad = pcall(pl.RedisLock, "x", {self_check_interval = 0})
  ok(not bad, "self_check_interval = 0 accepted")
end)

test("probe lists holders and changes nothing", function()
  local l = lock("lua-probe")
  local none = ok(l:probe())
  eq(#none, 0, "holders of a free channel")
  eq(l:mode(), "pending", "an idle writer's mode")
  ok(l:acquire())
  local list = ok(lock("lua-probe"):probe())
  eq(#list, 1, "holders")
  eq(list[1].holder_id, l:holder_id(), "holder id")
  eq(list[1].mode, "exclusive", "mode")
  eq(list[1].legacy, false, "legacy")
  ok(l:release())
  eq(#ok(l:probe()), 0, "after release")
end)

T.run()
