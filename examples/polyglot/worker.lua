-- The Lua worker of the polyglot demo.
local portalocker = require "portalocker"

local t0 = tonumber(os.getenv("DEMO_T0") or "0")
-- Plain Lua has no sub-second wall clock: ask date(1). The line is
-- printed after the event it reports, so the order stays right.
local function now()
  local p = io.popen("date +%s.%N")
  local s = p:read("l"); p:close()
  return tonumber(s)
end
local function pid()
  local f = io.open("/proc/self/stat"); local s = f:read("l"); f:close()
  return s:match("^(%d+)")
end
local PID = nil
local function say(what)
  PID = PID or pid()
  io.write(string.format("%7.1f ms  Lua    pid %-7s %s\n", (now() - t0) * 1e3, PID, what))
  io.flush()
end
local function sleep(s) os.execute("sleep " .. s) end

local dir = assert(arg[1], "usage: worker.lua DIR")
say("waits for demo.lock")
do
  local lock <close> = portalocker.Lock(dir .. "/demo.lock", {timeout = 30})
  assert(lock:acquire())
  say("HOLDS demo.lock")
  sleep(0.15)
  say("releases demo.lock")
end -- <close> releases here

local semaphore <close> = portalocker.NamedBoundedSemaphore(2, {name = "demo", directory = dir, timeout = 30})
assert(semaphore:acquire())
local slot = semaphore.slot
say("HOLDS semaphore slot " .. slot .. " of 2")
sleep(0.3)
say("releases slot " .. slot)
semaphore:release()
