-- One side of a cross-language lock handoff (ci/packages/installed.sh):
--   lua5.4 contend.lua hold|take LOCK SYNC INSTALLED
-- (see contend.py). The rock must be loaded from under INSTALLED.
local pl = require "portalocker"

local mode, lock_path, sync, installed = ...
local so = package.searchpath("portalocker_c", package.cpath) or "?"
if so:sub(1, #installed + 1) ~= installed .. "/" then
  io.stderr:write("lua: portalocker_c came from " .. so .. ", not " .. installed .. "\n")
  os.exit(1)
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
local function sleep(s) os.execute("sleep " .. s) end
local function wait_for(path)
  for _ = 1, 400 do
    if exists(path) then return end
    sleep(0.05)
  end
  error("lua: " .. path .. " never appeared")
end
local function touch(path) assert(io.open(path, "w")):close() end

local ready, go = sync .. "/ready", sync .. "/go"
if mode == "hold" then
  local lock <close> = pl.Lock(lock_path, {timeout = 5})
  assert(lock:acquire())
  touch(ready)
  wait_for(go)
  sleep(0.2)
  assert(lock:release())
else
  wait_for(ready)
  local busy <close> = pl.Lock(lock_path, {fail_when_locked = true})
  local f, err = busy:acquire()
  if f or err.name ~= "AlreadyLocked" then
    error("lua: took a lock another process holds (" .. tostring(err) .. ")")
  end
  touch(go)
  local lock <close> = pl.Lock(lock_path, {timeout = 10})
  assert(lock:acquire())
  assert(lock:release())
  print(string.format("lua: waited for the holder, then took the lock (rock %s from %s)",
                      pl.__version, so))
end
