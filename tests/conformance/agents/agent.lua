-- Conformance agent for Lua 5.4: JSON lines on stdin, JSON lines on stdout
-- (protocol: tests/conformance/README.md). Uses only the public API of
-- `require "portalocker"` (LUA_CPATH/LUA_PATH to build/lua) and lua-cjson
-- (Debian's lua-cjson, installed by ci/setup.sh).
--
-- Two things standard Lua lacks: the process id and a wall clock finer
-- than a second (for "elapsed"). On Linux both are read from /proc
-- (/proc/self/stat; /proc/uptime, 10 ms resolution). On Windows (the same
-- agent under wine, with lua.exe cross-built) there is no /proc: the
-- clock is os.clock(), which there is the CRT's clock(), wall time since
-- the process started (1 ms resolution); the process id is the one the
-- core writes into a PID file (a PidFileLock of the agent's own, at the
-- path the runner gives in PL_AGENT_PIDFILE, outside the scenario's
-- directory), so a Lua-only run cannot catch a wrong PID by itself: the
-- mixed runs with the C and Python agents (GetCurrentProcessId,
-- os.getpid) do.
local cjson = require "cjson"
local portalocker = require "portalocker"

local toint = math.tointeger
local WINDOWS = package.config:sub(1, 1) == "\\"

local function getpid()
  if WINDOWS then
    local name = assert(os.getenv("PL_AGENT_PIDFILE"), "PL_AGENT_PIDFILE is not set")
    local own = portalocker.PidFileLock(name)
    assert(own:acquire({fail_when_locked = true}))
    local pid = own:read_pid()
    assert(own:release())
    os.remove(name .. ".lock") -- the PID file itself goes with the release
    return pid
  end
  local f = assert(io.open("/proc/self/stat"))
  local pid = toint(tonumber(f:read("l"):match("^(%d+)")))
  f:close()
  return pid
end

local function now()
  if WINDOWS then return os.clock() end
  local f = assert(io.open("/proc/uptime"))
  local t = f:read("n")
  f:close()
  return t
end

local function send(obj)
  io.stdout:write(cjson.encode(obj), "\n")
  io.stdout:flush()
end

-- The binding's error objects carry the C table's name; the canonical set
-- uses the same names.
local function canonical(err)
  if type(err) == "table" and err.name then return err.name end
  return "Other:lua"
end

local NotExposed = {}

local function opt_args(args)
  local o = {}
  if args then
    o.timeout = args.timeout
    o.check_interval = args.check_interval
    o.fail_when_locked = args.fail_when_locked
  end
  return o
end

local Handle = {}
Handle.__index = Handle

local function new_handle(spec)
  -- The lock mechanism (flock, posix): the mechanism option.
  if spec.mechanism ~= nil and spec.type == "RedisLock" then
    error({NotExposed, "RedisLock has no lock mechanism"})
  end
  local self = setmetatable({type = spec.type}, Handle)
  local flags = spec.shared and portalocker.LOCK_SH or portalocker.LOCK_EX
  if not spec.blocking and spec.type ~= "RedisLock" then
    flags = flags | portalocker.LOCK_NB
  end
  local t = spec.type
  if t == "Lock" or t == "RLock" then
    self.obj = portalocker[t](spec.path, {mode = spec.mode or "a", flags = flags,
                                          mechanism = spec.mechanism})
  elseif t == "TemporaryFileLock" or t == "PidFileLock" then
    self.obj = portalocker[t](spec.path, {flags = flags, mechanism = spec.mechanism})
  elseif t == "BoundedSemaphore" then
    self.obj = portalocker.NamedBoundedSemaphore(toint(spec.maximum),
      {name = spec.name, directory = spec.directory, mechanism = spec.mechanism})
  elseif t == "RedisLock" then
    self.obj = portalocker.RedisLock(spec.channel,
      {host = spec.host, port = toint(spec.port), flags = flags,
       fencing = spec.fencing == true, unavailable_timeout = spec.unavailable_timeout})
  else
    error({NotExposed, "unknown lock type " .. tostring(t)})
  end
  return self
end

-- Returns a table of reply fields, or raises the binding's error object.
function Handle:acquire(args)
  local r, err = self.obj:acquire(opt_args(args))
  if r == nil then
    if err == nil then
      -- A semaphore without fail_when_locked returns nothing: "already locked".
      return {error = "AlreadyLocked", message = "acquire returned nil"}
    end
    error(err, 0)
  end
  if self.type ~= "RedisLock" then self.file = r end
  if self.type == "BoundedSemaphore" then return {slot = self.obj.slot} end
  if self.type == "RedisLock" then
    return {holder_id = self.obj:holder_id(), fence_token = self.obj:fence_token() or cjson.null}
  end
  return {}
end

function Handle:redis()
  if self.type ~= "RedisLock" then
    error({NotExposed, tostring(self.type) .. " has no probe or ensure_held"})
  end
  return self.obj
end

function Handle:probe(args)
  local list, err = self:redis():probe({timeout = args and args.timeout})
  if list == nil then error(err, 0) end
  local holders = {}
  for i, h in ipairs(list) do holders[i] = {holder_id = h.holder_id, mode = h.mode} end
  return {holders = holders} -- cjson writes an empty one as {}: the runner reads that as []
end

-- Quiet unless the lock was lost (the reference's ensure_held).
function Handle:ensure_held()
  local obj = self:redis()
  if obj:is_lost() then
    local _, err = obj:check()
    if err and err.name == "LockLost" then error(err, 0) end
    error({name = "LockLost", message = "the lock was lost"}, 0)
  end
end

function Handle:release()
  local ok, err = self.obj:release()
  if not ok then error(err, 0) end
end

local function increment(h, cmd)
  local path = cmd.counter
  for _ = 1, toint(cmd.n) do
    h:acquire(cmd.args)
    local ok, err = pcall(function()
      local f = io.open(path, "r+") or assert(io.open(path, "w+"))
      local value = f:read("n") or 0
      f:close()
      -- "w" truncates; still under the lock
      f = assert(io.open(path, "w"))
      assert(f:write(string.format("%d", toint(value) + 1)))
      assert(f:close())
    end)
    h:release()
    if not ok then error(err, 0) end
  end
  return {}
end

local handles = {}
for line in io.lines() do
  local cmd = cjson.decode(line)
  local op = cmd.op
  local reply = {id = cmd.id}
  local start = now()
  local quit = false
  local ok, err = pcall(function()
    if op == "hello" then
      reply.pid = getpid()
      reply.version = portalocker.__version
    elseif op == "exit" then
      quit = true
    elseif op == "acquire" or op == "release" or op == "read_pid" or op == "increment"
        or op == "write" or op == "probe" or op == "ensure_held" then
      local h = handles[cmd.handle]
      if h == nil then
        h = new_handle(cmd.lock)
        handles[cmd.handle] = h
      end
      if op == "acquire" then
        start = now()
        local aok, res = pcall(h.acquire, h, cmd.args)
        if not aok then
          if type(res) == "table" and res.name == "AlreadyLocked" and h.type == "PidFileLock" then
            reply.holder_pid = res.holder_pid or cjson.null
          end
          error(res, 0)
        end
        for k, v in pairs(res) do reply[k] = v end
      elseif op == "release" then
        h:release()
      elseif op == "write" then -- the file handle acquire returned
        assert(h.file:write(cmd.data))
        assert(h.file:flush())
      elseif op == "read_pid" then
        reply.pid = h.obj:read_pid() or cjson.null
      elseif op == "probe" then
        for k, v in pairs(h:probe(cmd.args)) do reply[k] = v end
      elseif op == "ensure_held" then
        h:ensure_held()
      else
        increment(h, cmd)
      end
    elseif op == "open_atomic" then
      local r, aerr = portalocker.open_atomic(cmd.path, function(f)
        assert(f:write(cmd.data))
        if cmd.hold then
          send({id = cmd.id, event = "open"})
          local cont = cjson.decode(io.read("l"))
          assert(cont.op == "continue", "expected continue")
        end
      end)
      if not r then error(aerr, 0) end
    else
      error({NotExposed, "unknown op " .. tostring(op)})
    end
  end)
  if ok then
    reply.ok = reply.error == nil
  elseif type(err) == "table" and err[1] == NotExposed then
    reply.ok, reply.error, reply.message = false, "NotExposed", err[2]
  else
    reply.ok, reply.error, reply.message = false, canonical(err), tostring(err)
  end
  reply.elapsed = now() - start
  send(reply)
  if quit then break end
end
