-- Tests of the Lua binding (`require "portalocker"`), plain Lua 5.4, no
-- external modules. Run by ci/tests.d/lua.sh, which builds the module,
-- starts a throwaway redis-server and sets:
--   LUA_PATH / LUA_CPATH   build/lua first
--   PL_TEST_REDIS_PORT     the server's 127.0.0.1 port
--   PL_TEST_REDIS_SOCKET   its unix socket
--   PL_TEST_PYTHON         a python with the reference portalocker
-- A missing prerequisite is a FAILURE, never a skip. Ends with the line
-- "N passed, N failed" and exits non-zero when anything failed.

local pl = require "portalocker"
local core = require "portalocker_c"

-- The shared framework (tests/lua/testlib.lua), found next to this file.
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local test, fail, eq, ok = T.test, T.fail, T.eq, T.ok
local expect_fail, expect_raise, exists, slurp = T.expect_fail, T.expect_raise, T.exists, T.slurp

local function sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local good, how, code = p:close()
  return out, good, how, code
end

local function now()
  local f = assert(io.open("/proc/uptime"))
  local t = f:read("n")
  f:close()
  return t
end

local function sleep(s) os.execute("sleep " .. s) end

local MYPID = (function()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return math.tointeger(pid)
end)()

local TMP = (sh("mktemp -d \"${TMPDIR:-/tmp}/pl-lua.XXXXXX\"")):gsub("%s+$", "")
assert(TMP ~= "" and exists(TMP), "mktemp -d failed")
local seq = 0
local function tmppath(name)
  seq = seq + 1
  return string.format("%s/%d-%s", TMP, seq, name or "lock")
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A second process that runs `code` (which takes some lock), prints
-- "ready", then waits (at most 20 s) until the test calls finish().
-- interp is "lua" (lua5.4 with our LUA_PATH) or "python" (PL_TEST_PYTHON).
local function spawn(interp, code)
  local go = tmppath("go")
  local script, cmd
  if interp == "lua" then
    script = tmppath("child.lua")
    local f = assert(io.open(script, "w"))
    f:write("local pl = require 'portalocker'\n", code, "\n",
            "io.stdout:write('ready\\n'); io.stdout:flush()\n",
            "for _ = 1, 1000 do\n",
            "  local g = io.open(", string.format("%q", go), ") if g then g:close() break end\n",
            "  os.execute('sleep 0.02')\n",
            "end\n")
    f:close()
    cmd = "exec lua5.4 " .. q(script)
  else
    local py = ok(os.getenv("PL_TEST_PYTHON"), "PL_TEST_PYTHON is not set")
    script = tmppath("child.py")
    local f = assert(io.open(script, "w"))
    f:write("import os, sys, time\n", code, "\n",
            "print('ready', flush=True)\n",
            "deadline = time.time() + 20\n",
            "while not os.path.exists(", string.format("%q", go), ") and time.time() < deadline:\n",
            "    time.sleep(0.02)\n")
    f:close()
    cmd = "exec " .. q(py) .. " " .. q(script)
  end
  local p = assert(io.popen("echo $$; " .. cmd .. " 2>&1", "r"))
  local pid = math.tointeger(tonumber(p:read("l")))
  local line = p:read("l")
  if line ~= "ready" then
    local rest = p:read("a")
    p:close()
    fail("child did not get ready: " .. tostring(line) .. "\n" .. tostring(rest), 2)
  end
  local child = {pid = pid, go = go}
  function child.finish()
    local f = assert(io.open(go, "w"))
    f:close()
    local out = p:read("a")
    local good, _, code_ = p:close()
    if not good then fail("child failed (" .. tostring(code_) .. "): " .. out, 2) end
    return out
  end
  return child
end

-- Runs a short script in another process; its stdout.
local function run_child(interp, code)
  local script = tmppath(interp == "lua" and "run.lua" or "run.py")
  local f = assert(io.open(script, "w"))
  if interp == "lua" then f:write("local pl = require 'portalocker'\n") end
  f:write(code, "\n")
  f:close()
  local exe = interp == "lua" and "lua5.4" or q(ok(os.getenv("PL_TEST_PYTHON"), "PL_TEST_PYTHON is not set"))
  local out, good = sh(exe .. " " .. q(script) .. " 2>&1")
  if not good then fail("child failed: " .. out, 2) end
  return out
end

local function free_now(path)
  -- Another object of this process contends like another process (flock
  -- locks belong to the open file description).
  local l = pl.Lock(path, {fail_when_locked = true, timeout = 0})
  local f, err = l:acquire()
  if f then l:release() return true end
  return false, err
end

--------------------------------------------------------------------------

test("module: version, flags, LockFlags, codes from the C table", function()
  eq(pl.__version, core.pl_version_string(), "__version")
  eq(pl.LOCK_SH, 1, "LOCK_SH"); eq(pl.LOCK_EX, 2, "LOCK_EX")
  eq(pl.LOCK_NB, 4, "LOCK_NB"); eq(pl.LOCK_UN, 8, "LOCK_UN")
  eq(pl.LockFlags.EXCLUSIVE, pl.LOCK_EX, "EXCLUSIVE")
  eq(pl.LockFlags.SHARED, pl.LOCK_SH, "SHARED")
  eq(pl.LockFlags.NON_BLOCKING, pl.LOCK_NB, "NON_BLOCKING")
  eq(pl.LockFlags.UNBLOCK, pl.LOCK_UN, "UNBLOCK")
  eq(pl.codes.ALREADY_LOCKED, -1, "codes.ALREADY_LOCKED")
  eq(pl.codes.OK, 0, "codes.OK")
  for _, cls in ipairs {"Lock", "RLock", "TemporaryFileLock", "PidFileLock",
                        "BoundedSemaphore", "NamedBoundedSemaphore", "RedisLock"} do
    ok(type(pl[cls]) == "table" and type(pl[cls].new) == "function", cls)
  end
  ok(type(pl.lock) == "function" and type(pl.unlock) == "function"
     and type(pl.open_atomic) == "function", "functions")
  -- require leaves no globals behind
  local script = tmppath("globals.lua")
  local f = assert(io.open(script, "w"))
  f:write([[
local before = {}
for k in pairs(_G) do before[k] = true end
local m = require "portalocker"
for k in pairs(_G) do if not before[k] then print("global " .. k) end end
print(type(m))]])
  f:close()
  eq(sh("lua5.4 " .. q(script) .. " 2>&1"), "table\n", "new globals")
end)

test("errors: every C code becomes an error object named by the C table", function()
  local RAISES = {InvalidArgument = true, InvalidState = true, NotHeld = true, NoMemory = true}
  local min = math.tointeger(core.pl_error_min())
  ok(min <= -12, "pl_error_min")
  eq(pl._binding_status(0), true, "code 0")
  local names = {}
  for code = -1, min, -1 do
    local name = core.pl_error_exception(code)
    ok(name ~= "" and not names[name], "distinct name for " .. code)
    names[name] = true
    -- the raw module raises the object ...
    local good, raw = pcall(core.pl_binding_status, code)
    ok(not good, "raw status " .. code .. " did not raise")
    eq(getmetatable(raw), pl.Error, "metatable")
    eq(raw.name, name, "raw name"); eq(raw.code, code, "raw code")
    ok(type(raw.message) == "string" and #raw.message > 0, "message")
    -- ... and the Lua layer returns it, or raises it for programming errors
    local err
    if RAISES[name] then
      err = expect_raise(name, pl._binding_status, code)
    else
      err = expect_fail(name, pl._binding_status(code))
    end
    eq(err.code, code, "code")
    local s = tostring(err)
    ok(s:find(name, 1, true) and s:find(err.message, 1, true), "tostring: " .. s)
    ok(pl.is_error(err, name), "is_error")
  end
  ok(names.AlreadyLocked and names.LockException and names.FileToLarge, "reference names")
  -- Lua-side errors use the same table
  local e = pl.error(pl.codes.EXISTS, "custom")
  eq(e.name, "FileExists", "pl.error name"); eq(tostring(e), "FileExists: custom", "tostring")
end)

test("errors: bad arguments raise InvalidArgument objects", function()
  expect_raise("InvalidArgument", pl.Lock, 42)
  expect_raise("InvalidArgument", pl.Lock, tmppath(), {timout = 1})
  expect_raise("InvalidArgument", pl.Lock, tmppath(), {timeout = "1"})
  expect_raise("InvalidArgument", pl.Lock, tmppath(), {flags = 2.5})
  expect_raise("InvalidArgument", pl.Lock, tmppath(), {mode = "q"}) -- from the C core
  expect_raise("InvalidArgument", pl.Lock, "")                      -- from the C core
  expect_raise("InvalidArgument", pl.TemporaryFileLock, tmppath(), {mode = "a"})
  expect_raise("InvalidArgument", pl.BoundedSemaphore, "2")
  expect_raise("InvalidArgument", pl.NamedBoundedSemaphore, 2, {name = "../x"})
  expect_raise("InvalidArgument", pl.RedisLock, "ch", {port = "6379"})
  expect_raise("InvalidArgument", pl.RedisLock, "ch", {flags = pl.LOCK_EX | pl.LOCK_NB})
  expect_raise("InvalidArgument", pl.open_atomic, tmppath(), "not a function")
  local l = pl.Lock(tmppath())
  expect_raise("InvalidArgument", l.acquire, l, {timeout = true})
  expect_raise("InvalidArgument", l.acquire, l, 5)
  local f = assert(io.open(tmppath(), "w"))
  expect_raise("InvalidArgument", pl.lock, f, pl.LOCK_NB)
  expect_raise("InvalidArgument", pl.lock, f, pl.LOCK_UN)
  expect_raise("InvalidArgument", pl.lock, f, pl.LOCK_SH | pl.LOCK_EX)
  expect_raise("InvalidArgument", pl.lock, "path", pl.LOCK_EX)
  f:close()
  expect_raise("InvalidArgument", pl.lock, f, pl.LOCK_EX)
end)

test("lock/unlock: file handles and descriptors", function()
  local path = tmppath()
  local a = assert(io.open(path, "w"))
  local b = assert(io.open(path, "r"))
  eq(pl.lock(a, pl.LOCK_EX | pl.LOCK_NB), true, "lock a")
  local err = expect_fail("AlreadyLocked", pl.lock(b, pl.LOCK_EX | pl.LOCK_NB))
  eq(err.code, pl.codes.ALREADY_LOCKED, "code")
  expect_fail("AlreadyLocked", pl.lock(b, pl.LOCK_SH | pl.LOCK_NB))
  eq(pl.unlock(a), true, "unlock a")
  eq(pl.lock(b, pl.LOCK_SH | pl.LOCK_NB), true, "shared b")
  eq(pl.lock(a, pl.LockFlags.SHARED | pl.LockFlags.NON_BLOCKING), true, "shared a")
  eq(pl.unlock(a), true); eq(pl.unlock(b), true)
  -- a descriptor: our own lock's fd
  local l = pl.Lock(tmppath())
  l:acquire()
  local fd = math.tointeger(core.pl_lua_fileno(l.fh))
  ok(fd and fd > 2, "fd")
  eq(pl.unlock(fd), true, "unlock fd")
  eq(pl.lock(fd, pl.LOCK_EX), true, "lock fd")
  expect_fail("LockException", pl.lock(99999, pl.LOCK_EX | pl.LOCK_NB))
  l:release()
  a:close(); b:close()
end)

test("raw getters: one per setter, back what was set", function()
  local h = core.pl_lock_new(tmppath())
  eq(core.pl_lock_get_mode(h), "a", "mode")
  eq(math.tointeger(core.pl_lock_get_mechanism(h)), pl.MECHANISMS.flock, "mechanism")
  eq(math.tointeger(core.pl_lock_get_file_mode(h)), 438, "file mode 0666")
  eq(math.tointeger(core.pl_lock_get_raise_on_release_error(h)), 0, "raise_on_release_error")
  core.pl_lock_set_mode(h, "w+")
  core.pl_lock_set_mechanism(h, pl.MECHANISMS.posix)
  core.pl_lock_set_file_mode(h, 384)
  core.pl_lock_set_raise_on_release_error(h, 1)
  eq(core.pl_lock_get_mode(h), "w+", "mode set")
  eq(math.tointeger(core.pl_lock_get_mechanism(h)), pl.MECHANISMS.posix, "mechanism set")
  eq(math.tointeger(core.pl_lock_get_file_mode(h)), 384, "file mode 0600")
  eq(math.tointeger(core.pl_lock_get_raise_on_release_error(h)), 1, "raise_on_release_error set")
  -- plain int returns are values, not statuses
  eq(math.tointeger(core.pl_lock_is_held(h)), 0, "is_held")
  eq(math.tointeger(core.pl_lock_held_fd(h)), -1, "held_fd")
  core.pl_lua_dispose(h)
  local dir = tmppath("getdir")
  os.execute("mkdir -p " .. q(dir))
  local s = core.pl_semaphore_new(2, "g")
  core.pl_semaphore_set_directory(s, dir)
  core.pl_semaphore_set_filename_pattern(s, "{name}-{number}.lk")
  core.pl_semaphore_set_timeout(s, 1.5)
  core.pl_semaphore_set_check_interval(s, 0.125)
  core.pl_semaphore_set_mechanism(s, pl.MECHANISMS.ofd)
  eq(core.pl_semaphore_get_directory(s), dir, "directory")
  eq(core.pl_semaphore_get_filename_pattern(s), "{name}-{number}.lk", "pattern")
  eq(core.pl_semaphore_get_timeout(s), 1.5, "timeout")
  eq(core.pl_semaphore_get_check_interval(s), 0.125, "check_interval")
  eq(math.tointeger(core.pl_semaphore_get_mechanism(s)), pl.MECHANISMS.ofd, "sem mechanism")
  eq(core.pl_semaphore_slot_path(s, 1), dir .. "/g-1.lk", "slot path")
  eq(math.tointeger(core.pl_semaphore_acquire_with(s, 0.0, 0.0)), 0, "acquire_with: the slot")
  core.pl_semaphore_release(s)
  core.pl_lua_dispose(s)
  local r = core.pl_redis_lock_new("getters")
  local host, port = core.pl_redis_lock_get_host(r)
  eq(host, "127.0.0.1", "host"); eq(port, 6379, "port")
  eq(core.pl_redis_lock_get_unix_socket(r), "", "unix socket")
  local user, pass = core.pl_redis_lock_get_password(r)
  eq(user, nil, "no username"); eq(pass, nil, "no password")
  eq(select("#", core.pl_redis_lock_get_password(r)), 2, "two values even when unset")
  core.pl_redis_lock_set_password(r, nil, "secret")
  user, pass = core.pl_redis_lock_get_password(r)
  eq(user, nil, "username"); eq(pass, "secret", "password")
  core.pl_redis_lock_set_host(r, "redis.example", 6380)
  core.pl_redis_lock_set_db(r, 3)
  core.pl_redis_lock_set_timeout(r, 3.0)
  core.pl_redis_lock_set_fail_when_locked(r, 1)
  host, port = core.pl_redis_lock_get_host(r)
  eq(host, "redis.example", "host set"); eq(port, 6380, "port set")
  eq(math.tointeger(core.pl_redis_lock_get_db(r)), 3, "db")
  eq(core.pl_redis_lock_get_timeout(r), 3.0, "redis timeout")
  eq(math.tointeger(core.pl_redis_lock_get_fail_when_locked(r)), 1, "redis fwl")
  eq(core.pl_redis_lock_get_lost_callback, nil, "no lost-callback getter")
  core.pl_lua_dispose(r)
  -- the Lua object's fields are the truth: acquire gives the C handle what changed
  local p = tmppath()
  local l = pl.Lock(p, {fail_when_locked = true})
  l.flags = pl.LOCK_SH | pl.LOCK_NB
  l.mechanism = "ofd"
  assert(l:acquire())
  eq(math.tointeger(core.pl_lock_get_flags(l._h)), pl.LOCK_SH | pl.LOCK_NB, "flags synced")
  eq(math.tointeger(core.pl_lock_get_mechanism(l._h)), pl.MECHANISMS.ofd, "mechanism synced")
  assert(l:release())
end)

test("Lock: acquire gives a Lua file handle; release closes it", function()
  local path = tmppath()
  local l = pl.Lock(path, {timeout = 1})
  eq(l.mode, "a", "mode"); eq(l.timeout, 1, "timeout")
  eq(l.check_interval, 0.25, "check_interval"); eq(l.fail_when_locked, false, "fwl")
  eq(l.flags, pl.LOCK_EX | pl.LOCK_NB, "flags")
  ok(tostring(l):find("portalocker.Lock", 1, true), "tostring")
  local f = assert(l:acquire())
  eq(io.type(f), "file", "io.type")
  ok(l:is_held(), "held")
  eq(l:acquire(), f, "acquire while held: same handle")
  f:write("hello ", 42, "\n")
  ok(f:seek("cur") >= 0, "seek")
  ok(not free_now(path), "another object contends")
  eq(l:release(), true, "release")
  eq(io.type(f), "closed file", "closed on release")
  ok(not pcall(f.write, f, "late"), "writing a released handle errors")
  ok(not l:is_held(), "not held")
  eq(l:release(), true, "second release is a no-op")
  eq(slurp(path), "hello 42\n", "content flushed on release")
  ok(free_now(path), "free after release")
  -- reusable; mode "a" appends
  f = assert(l:acquire())
  f:write("more\n")
  l:release()
  eq(slurp(path), "hello 42\nmore\n", "appended")
end)

test("Lock: modes r, w (truncates once locked), a+ reads", function()
  local path = tmppath()
  local w = io.open(path, "w"); w:write("old content\n"); w:close()
  local r = pl.Lock(path, {mode = "r"})
  local f = assert(r:acquire())
  eq(f:read("l"), "old content", "read mode r")
  ok(not f:write("x"), "mode r is read-only")
  r:release()
  local ap = pl.Lock(path, {mode = "a+"})
  f = assert(ap:acquire())
  f:seek("set", 0)
  eq(f:read("l"), "old content", "a+ reads")
  ap:release()
  local t = pl.Lock(path, {mode = "w"})
  f = assert(t:acquire())
  f:write("new\n")
  t:release()
  eq(slurp(path), "new\n", "mode w truncated")
end)

test("Lock: contention, timeout and fail_when_locked", function()
  local path = tmppath()
  local holder = pl.Lock(path)
  assert(holder:acquire())
  local l = pl.Lock(path, {timeout = 0.4, check_interval = 0.05})
  local t0 = now()
  local err = expect_fail("AlreadyLocked", l:acquire())
  local dt = now() - t0
  ok(dt >= 0.3 and dt < 4, "waited the timeout: " .. dt)
  eq(err.code, -1, "code"); ok(#err.message > 0, "message")
  -- the overrides on a lock that would otherwise wait 5 s: refused at
  -- once, within a bound a busy machine cannot miss
  local slow = pl.Lock(path, {timeout = 5, check_interval = 0.05})
  t0 = now()
  expect_fail("AlreadyLocked", slow:acquire({fail_when_locked = true}))
  ok(now() - t0 < 2.5, "fail_when_locked: no wait")
  t0 = now()
  expect_fail("AlreadyLocked", slow:acquire({timeout = 0}))
  ok(now() - t0 < 2.5, "timeout 0: one attempt")
  expect_fail("AlreadyLocked", l:acquire({timeout = -1}))
  holder:release()
  ok(l:acquire({timeout = 0}), "free now")
  l:release()
  -- shared locks coexist
  local s1 = pl.Lock(path, {flags = pl.LOCK_SH | pl.LOCK_NB})
  local s2 = pl.Lock(path, {flags = pl.LOCK_SH | pl.LOCK_NB})
  ok(s1:acquire() and s2:acquire(), "two shared")
  expect_fail("AlreadyLocked", pl.Lock(path, {fail_when_locked = true}):acquire())
  s1:release(); s2:release()
  -- flags changed after construction are used (the fields are the truth)
  local ch = pl.Lock(path)
  ch.flags = pl.LOCK_SH | pl.LOCK_NB
  ok(s1:acquire() and ch:acquire(), "changed flags: shared")
  s1:release(); ch:release()
end)

test("<close>: released on normal exit and on error", function()
  local path = tmppath()
  do
    local l <close> = pl.Lock(path)
    assert(l:acquire())
    ok(not free_now(path), "held inside")
  end
  ok(free_now(path), "released at scope end")
  local stash
  local good, err = pcall(function()
    local l <close> = pl.Lock(path)
    stash = assert(l:acquire())
    stash:write("partial")
    error("boom")
  end)
  ok(not good and tostring(err):find("boom"), "the error propagates")
  ok(free_now(path), "released after the error")
  eq(io.type(stash), "closed file", "file closed")
  eq(slurp(path), "partial", "flushed")
  -- a <close> on a never-acquired lock, then release again: fine
  do local l <close> = pl.Lock(path) end
  do
    local l <close> = pl.Lock(path)
    l:acquire(); l:release()
  end
  -- RLock: closing the scope releases every level
  do
    local r <close> = pl.RLock(path)
    r:acquire(); r:acquire(); r:acquire()
    eq(r:count(), 3, "count")
  end
  ok(free_now(path), "RLock released at scope end")
  -- the error inside the scope wins over a failing release
  good, err = pcall(function()
    local l <close> = pl.Lock(path)
    l:acquire()
    error("first")
  end)
  ok(tostring(err):find("first"), "block's error kept")
end)

test("__gc: a dropped held lock is released; handles freed once", function()
  local path = tmppath()
  do
    local l = pl.Lock(path)
    assert(l:acquire())
  end
  collectgarbage(); collectgarbage()
  ok(free_now(path), "collected lock released")
  -- the file handle keeps its lock alive, and writes still land
  local f
  do
    local l = pl.Lock(path, {mode = "w"})
    f = assert(l:acquire())
  end
  collectgarbage(); collectgarbage()
  ok(not free_now(path), "lock kept alive by its file handle")
  f:write("still mine\n")
  f = nil
  collectgarbage(); collectgarbage()
  ok(free_now(path), "released once the handle is gone too")
  eq(slurp(path), "still mine\n", "buffered data flushed by the collector")
  -- release, __close, then __gc: all safe
  do
    local l <close> = pl.Lock(path)
    l:acquire()
    l:release(); l:release()
  end
  collectgarbage(); collectgarbage()
  -- disposing the raw handle: later calls fail cleanly, __gc does nothing
  local h = core.pl_lock_new(path)
  core.pl_lua_dispose(h)
  core.pl_lua_dispose(h)
  expect_raise("InvalidArgument", core.pl_lock_acquire, h)
  h = nil
  collectgarbage(); collectgarbage()
  -- many dropped locks, each held, collected together
  for i = 1, 50 do
    local l = pl.Lock(path .. i)
    local fh = assert(l:acquire())
    fh:write(i)
  end
  collectgarbage(); collectgarbage()
  for i = 1, 50 do
    ok(free_now(path .. i), "collected " .. i)
    eq(slurp(path .. i), tostring(i), "flushed " .. i)
  end
end)

test("RLock: counted acquire/release; over-release raises NotHeld", function()
  local path = tmppath()
  local r = pl.RLock(path)
  local f1 = assert(r:acquire())
  local f2 = assert(r:acquire())
  eq(f1, f2, "same handle"); eq(r:count(), 2, "count 2")
  ok(not free_now(path), "held")
  r:release()
  eq(r:count(), 1, "count 1"); eq(io.type(f1), "file", "handle open at count 1")
  ok(not free_now(path), "still held")
  r:release()
  eq(io.type(f1), "closed file", "closed at count 0")
  ok(free_now(path), "free")
  local err = expect_raise("NotHeld", r.release, r)
  eq(err.code, pl.codes.NOT_HELD, "code")
  -- another RLock object contends
  assert(r:acquire())
  expect_fail("AlreadyLocked", pl.RLock(path, {fail_when_locked = true}):acquire())
  r:release()
end)

test("TemporaryFileLock: the file exists only while held", function()
  local path = tmppath("temp.lock")
  local t = pl.TemporaryFileLock(path)
  eq(t.fail_when_locked, true, "fail_when_locked default")
  ok(not exists(path), "absent before")
  local f = assert(t:acquire())
  eq(io.type(f), "file", "file handle")
  ok(exists(path), "exists while held")
  expect_fail("AlreadyLocked", pl.TemporaryFileLock(path):acquire())
  t:release()
  ok(not exists(path), "removed on release")
  do
    local t2 <close> = pl.TemporaryFileLock(path)
    t2:acquire()
    ok(exists(path), "exists in scope")
  end
  ok(not exists(path), "removed by <close>")
  eq(pl.TemporaryFileLock().filename, ".lock", "default filename")
end)

test("PidFileLock: PID file, read_pid, holder_pid from another process", function()
  local path = tmppath("app.pid")
  local p = pl.PidFileLock(path)
  eq(p.fail_when_locked, true, "fail_when_locked default")
  eq(p:read_pid(), nil, "no pid yet")
  assert(p:acquire())
  eq(p:read_pid(), MYPID, "our pid")
  eq(tonumber(slurp(path)), MYPID, "pid file content")
  p:release()
  eq(pl.PidFileLock().filename, ".pid", "default filename")
  local child = spawn("lua", string.format(
    "HOLD = pl.PidFileLock(%q); assert(HOLD:acquire())", path))
  local err = expect_fail("AlreadyLocked", p:acquire())
  eq(err.holder_pid, child.pid, "holder_pid")
  eq(p:read_pid(), child.pid, "read_pid sees the holder")
  child.finish()
  assert(p:acquire())
  eq(p:read_pid(), MYPID, "ours after the holder exits")
  p:release()
end)

test("BoundedSemaphore / NamedBoundedSemaphore: slots across objects", function()
  local dir = tmppath("semdir")
  os.execute("mkdir -p " .. q(dir))
  local a = pl.NamedBoundedSemaphore(2, {directory = dir, timeout = 0.2, check_interval = 0.05})
  ok(a.name:match("^bounded_semaphore%.%d+$"), "random name " .. a.name)
  eq(a.fail_when_locked, true, "fail_when_locked default")
  local b = pl.BoundedSemaphore(2, {name = a.name, directory = dir})
  local c = pl.NamedBoundedSemaphore(2, {name = a.name, directory = dir, fail_when_locked = false,
                                         timeout = 0.3, check_interval = 0.05})
  eq(c.name, a.name, "explicit name kept")
  local fa = assert(a:acquire())
  eq(io.type(fa), "file", "a file handle"); eq(a.slot, 0, "slot 0")
  assert(b:acquire()); eq(b.slot, 1, "slot 1")
  ok(a:is_held() and b:is_held(), "held")
  local fn = a:get_filenames()
  eq(#fn, 2, "two names")
  eq(fn[1], dir .. "/" .. a.name .. ".00.lock", "slot 0 path")
  eq(a:get_filename(1), dir .. "/" .. a.name .. ".01.lock", "slot 1 path")
  ok(exists(fn[1]) and exists(fn[2]), "slot files")
  local t0 = now()
  expect_fail("AlreadyLocked", c:acquire())
  ok(now() - t0 >= 0.2, "waited (fail_when_locked false)")
  expect_raise("InvalidState", a.acquire, a)
  a:release()
  eq(io.type(fa), "closed file", "slot handle closed")
  eq(a.slot, nil, "no slot")
  assert(c:acquire()); eq(c.slot, 0, "freed slot taken")
  eq(a:release(), true, "release when not held")
  do
    local d <close> = pl.BoundedSemaphore(1, {name = a.name .. "x", directory = dir})
    assert(d:acquire())
    expect_fail("AlreadyLocked", pl.BoundedSemaphore(1, {name = a.name .. "x", directory = dir}):acquire())
  end
  assert(pl.BoundedSemaphore(1, {name = a.name .. "x", directory = dir}):acquire())
  b:release(); c:release()
  collectgarbage()
end)

test("open_atomic: callback form publishes, never replaces, abandons on error", function()
  local dir = tmppath("atomic")
  local path = dir .. "/sub/out.txt"
  eq(pl.open_atomic(path, function(f)
    eq(io.type(f), "file", "file handle")
    f:write("line 1\n", "line 2\n")
  end), true, "committed")
  eq(slurp(path), "line 1\nline 2\n", "published")
  local err = expect_fail("FileExists", pl.open_atomic(path, function() end))
  eq(err.code, pl.codes.EXISTS, "code")
  local other = dir .. "/other.txt"
  local good, e = pcall(pl.open_atomic, other, function(f)
    f:write("half")
    error("writer failed")
  end)
  ok(not good and tostring(e):find("writer failed"), "error propagates")
  ok(not exists(other), "nothing published")
  -- the path appears while writing: FileExists, the other file untouched
  err = expect_fail("FileExists", pl.open_atomic(other, function(f)
    f:write("mine")
    local o = io.open(other, "w"); o:write("theirs"); o:close()
  end))
  eq(slurp(other), "theirs", "not replaced")
  -- our finished payload is kept, and the error names it
  local kept = sh("ls -A " .. q(dir) .. " | grep '^\\.portalocker\\..*\\.tmp$'"):gsub("\n$", "")
  ok(kept ~= "" and tostring(err.message):find(kept, 1, true), "payload kept and named")
  eq(slurp(dir .. "/" .. kept), "mine", "kept payload")
  os.remove(dir .. "/" .. kept)
  eq(sh("ls -A " .. q(dir)), "other.txt\nsub\n", "no other temporary files left")
  eq(sh("ls -A " .. q(dir .. "/sub")), "out.txt\n", "no temporary files left in sub")
end)

test("open_atomic: object form (write/commit, <close> abandons)", function()
  local dir = tmppath("atomic2")
  local path = dir .. "/x.txt"
  local af = assert(pl.open_atomic(path))
  ok(exists(af.temp_path), "temp file exists")
  eq(af:write("a", "b"), af, "write chains")
  af.file:write("c")
  eq(af:commit(), true, "commit")
  eq(slurp(path), "abc", "published")
  ok(not exists(af.temp_path), "temp removed")
  eq(io.type(af.file), "closed file", "file closed")
  expect_raise("InvalidState", af.commit, af)
  local p2 = dir .. "/y.txt"
  local tmp
  do
    local a2 <close> = assert(pl.open_atomic(p2))
    tmp = a2.temp_path
    a2:write("never")
  end
  ok(not exists(p2), "abandoned by <close>")
  ok(not exists(tmp), "temp removed by <close>")
  expect_fail("FileExists", pl.open_atomic(path))
end)

test("processes: a Lua holder in another process excludes us, and we it", function()
  local path = tmppath()
  local child = spawn("lua", string.format("HOLD = pl.Lock(%q); assert(HOLD:acquire())", path))
  local l = pl.Lock(path, {timeout = 0.3, check_interval = 0.05})
  expect_fail("AlreadyLocked", l:acquire())
  child.finish()
  local f = assert(l:acquire({timeout = 5}))
  f:write("parent\n"); f:flush()
  local out = run_child("lua", string.format([[
local l = pl.Lock(%q, {fail_when_locked = true})
local f, err = l:acquire()
print(f and "acquired" or err.name)]], path))
  eq(out, "AlreadyLocked\n", "child sees our lock")
  l:release()
  out = run_child("lua", string.format([[
local l = pl.Lock(%q, {fail_when_locked = true})
print(assert(l:acquire()) and "acquired")]], path))
  eq(out, "acquired\n", "child acquires after release")
  -- a blocking acquire waits until the holder lets go (it is told to
  -- after ~0.5 s, in the background)
  child = spawn("lua", string.format("HOLD = pl.Lock(%q); assert(HOLD:acquire())", path))
  -- (t0 first: the release comes 0.5 s after it however long os.execute takes)
  local t0 = now()
  os.execute("(sleep 0.5; touch " .. q(child.go) .. ") &")
  local waiter = pl.Lock(path, {flags = pl.LOCK_EX})
  ok(waiter:acquire(), "blocking acquire")
  local dt = now() - t0
  ok(dt >= 0.3 and dt < 15, "waited for the holder: " .. dt)
  waiter:release()
  child.finish()
end)

test("processes: locks exclude the reference Python portalocker", function()
  local path = tmppath()
  local child = spawn("python", string.format(
    "import portalocker\nHOLD = portalocker.Lock(%q, fail_when_locked=True)\nHOLD.acquire()", path))
  local l = pl.Lock(path, {fail_when_locked = true})
  local err = expect_fail("AlreadyLocked", l:acquire())
  ok(#err.message > 0, "message")
  child.finish()
  assert(l:acquire({timeout = 5}))
  local out = run_child("python", string.format([[
import portalocker
try:
    portalocker.Lock(%q, fail_when_locked=True).acquire()
    print('acquired')
except portalocker.AlreadyLocked:
    print('AlreadyLocked')]], path))
  eq(out, "AlreadyLocked\n", "the reference sees our lock")
  l:release()
  -- and the Python binding of this library (cportalocker), when built
  local sem_dir = tmppath("semx")
  os.execute("mkdir -p " .. q(sem_dir))
  local s = pl.BoundedSemaphore(1, {name = "xsem", directory = sem_dir})
  assert(s:acquire())
  out = run_child("python", string.format([[
import portalocker
s = portalocker.BoundedSemaphore(1, name='xsem', directory=%q, timeout=0.1)
try:
    s.acquire()
    print('acquired')
except portalocker.AlreadyLocked:
    print('AlreadyLocked')]], sem_dir))
  eq(out, "AlreadyLocked\n", "the reference semaphore sees our slot")
  s:release()
end)

test("no descriptor leaks over many cycles", function()
  -- In a fresh process: there nothing else is live, and the cycles run in
  -- a function whose frame is gone when the collector runs (stale stack
  -- slots of this long-running script could keep objects alive). The
  -- warm-up includes a contended timed wait, which creates the library's
  -- per-thread inotify descriptor (cached by design, one per thread).
  local dir = tmppath("fds")
  os.execute("mkdir -p " .. q(dir))
  local out = run_child("lua", string.format([[
local dir = %q
-- os.execute creates no descriptor in this process (io.popen would: its
-- pipe's write end is closed only after the child started, a race with ls)
local function fds()
  local f = assert(io.open("/proc/self/stat")); local pid = f:read("n"); f:close()
  local out = dir .. "/fd-list"
  assert(os.execute("ls /proc/" .. math.tointeger(pid) .. "/fd > " .. out))
  f = assert(io.open(out))
  local n = 0
  for _ in f:read("a"):gmatch("%%S+") do n = n + 1 end
  f:close()
  return n
end
local function cycles(n)
  local l = pl.Lock(dir .. "/l")
  local r = pl.RLock(dir .. "/r")
  local t = pl.TemporaryFileLock(dir .. "/t")
  local p = pl.PidFileLock(dir .. "/p")
  local s = pl.BoundedSemaphore(2, {name = "fdsem", directory = dir})
  local w = pl.Lock(dir .. "/l", {timeout = 0.01, check_interval = 0.005})
  for i = 1, n do
    assert(l:acquire()):write("x")
    assert(not w:acquire())          -- a contended timed wait
    l:release()
    r:acquire(); r:acquire(); r:release(); r:release()
    assert(t:acquire()); t:release()
    assert(p:acquire()); p:release()
    assert(s:acquire()); s:release()
    do local c <close> = pl.Lock(dir .. "/c"); c:acquire() end
    if i %% 20 == 0 then
      assert(pl.open_atomic(dir .. "/a" .. i, function(f) f:write(i) end))
      assert(not pcall(pl.open_atomic, dir .. "/b" .. i, function() error("x") end))
      local d = pl.Lock(dir .. "/d" .. i); d:acquire()   -- dropped while held
    end
  end
end
cycles(2)
collectgarbage(); collectgarbage()
local before = fds()
cycles(200)
collectgarbage(); collectgarbage()
print(before, fds())]], dir))
  local before, after = out:match("^(%d+)\t(%d+)\n$")
  ok(before, "child output: " .. out)
  eq(after, before, "open descriptors after 200 cycles")
end)

--------------------------------------------------------------------------
-- RedisLock against the real server ci/tests.d/lua.sh started

local PORT = math.tointeger(tonumber(os.getenv("PL_TEST_REDIS_PORT") or ""))
local SOCKET = os.getenv("PL_TEST_REDIS_SOCKET")
local function need_redis() ok(PORT, "PL_TEST_REDIS_PORT is not set (no redis-server)") end
local function channel() return string.format("pl-lua-%d-%d-%d", MYPID, seq, os.time()) end

test("RedisLock: acquire, contend, release, <close>", function()
  need_redis()
  local ch = channel()
  local a = pl.RedisLock(ch, {port = PORT, timeout = 2})
  eq(a.timeout, 2, "timeout"); eq(a.fail_when_locked, false, "fwl default")
  eq(a.flags, pl.LOCK_EX, "flags default")
  eq(a:acquire(), a, "acquire returns the lock")
  eq(a:check(), true, "check while held")
  ok(a:is_held() and not a:is_lost(), "held, not lost")
  ok(type(a:holder_id()) == "string" and #a:holder_id() > 0, "holder_id")
  expect_raise("InvalidState", a.acquire, a)
  local b = pl.RedisLock(ch, {host = "127.0.0.1", port = PORT, timeout = 0.3, check_interval = 0.05})
  local t0 = now()
  expect_fail("AlreadyLocked", b:acquire())
  ok(now() - t0 >= 0.2, "waited")
  expect_fail("AlreadyLocked", b:acquire({fail_when_locked = true}))
  eq(a:release(), true, "release")
  expect_fail("NotHeld", a:check())
  eq(a:release(), true, "release again: no-op")
  eq(b:acquire({timeout = 5}), b, "b after a")
  b:release()
  local good = pcall(function()
    local c <close> = pl.RedisLock(ch, {port = PORT})
    assert(c:acquire())
    error("inside")
  end)
  ok(not good, "error propagated")
  eq(b:acquire({timeout = 0}), b, "released by <close>")
  b:release()
  -- dropped while held: __gc releases
  do local d = pl.RedisLock(ch, {port = PORT}); assert(d:acquire()) end
  collectgarbage(); collectgarbage()
  eq(b:acquire({timeout = 2}), b, "released by __gc")
  b:release()
end)

test("RedisLock: unix socket, unreachable server, lost lock", function()
  need_redis()
  ok(SOCKET, "PL_TEST_REDIS_SOCKET is not set")
  local ch = channel()
  local u = pl.RedisLock(ch, {unix_socket_path = SOCKET})
  assert(u:acquire())
  expect_fail("AlreadyLocked", pl.RedisLock(ch, {port = PORT, fail_when_locked = true}):acquire())
  u:release()
  local dead = pl.RedisLock(ch, {port = 1, timeout = 0.2, unavailable_timeout = 0.2,
                                 socket_connect_timeout = 0.2})
  local err = expect_fail("ConnectionError", dead:acquire())
  eq(err.code, pl.codes.CONNECTION, "code")
  -- lose it: kill the lock's pub/sub connection on the server
  local l = pl.RedisLock(ch, {port = PORT})
  assert(l:acquire())
  local out = sh("redis-cli -p " .. PORT .. " client kill type pubsub")
  ok(tonumber(out) and tonumber(out) >= 1, "killed: " .. out)
  local lost = false
  for _ = 1, 100 do
    if l:is_lost() then lost = true break end
    sleep(0.05)
  end
  ok(lost, "the loss was noticed")
  expect_fail("LockLost", l:check())
  err = expect_fail("LockLost", l:release())
  eq(err.channel, ch, "channel on the error")
  eq(l:acquire({timeout = 2}), l, "acquire again after the loss")
  l:release()
end)

test("RedisLock: excludes the reference Python RedisLock", function()
  need_redis()
  local ch = channel()
  local child = spawn("python", string.format([[
import portalocker
HOLD = portalocker.RedisLock(%q, redis_kwargs={'port': %d}, fail_when_locked=True)
HOLD.acquire()]], ch, PORT))
  local l = pl.RedisLock(ch, {port = PORT, timeout = 0.5, check_interval = 0.05})
  expect_fail("AlreadyLocked", l:acquire())
  child.finish()
  eq(l:acquire({timeout = 5}), l, "after the reference holder exits")
  local out = run_child("python", string.format([[
import portalocker
try:
    portalocker.RedisLock(%q, redis_kwargs={'port': %d}, fail_when_locked=True, timeout=0.2).acquire()
    print('acquired')
except portalocker.AlreadyLocked:
    print('AlreadyLocked')]], ch, PORT))
  eq(out, "AlreadyLocked\n", "the reference sees our lock")
  l:release()
end)

-- The mechanism option is the lock the C core really takes: a child
-- process that does not load the library probes the file with flock(2),
-- fcntl.lockf and F_GETLK (the holder's PID for a POSIX lock, -1 for OFD).
local PROBE = [[
import fcntl, json, struct, sys
path = sys.argv[1]
out = {}
with open(path, 'a') as f:
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); out['flock'] = False
    except OSError:
        out['flock'] = True
with open(path, 'a') as f:
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB); out['lockf'] = False
    except OSError:
        out['lockf'] = True
with open(path, 'a') as f:
    fmt = 'hhqqi4x'
    t, _, _, _, pid = struct.unpack(fmt, fcntl.fcntl(f, fcntl.F_GETLK, struct.pack(fmt, fcntl.F_WRLCK, 0, 0, 0, 0)))
    out['getlk'] = 'none' if t == fcntl.F_UNLCK else str(pid)
print('flock=%s lockf=%s getlk=%s' % (out['flock'], out['lockf'], out['getlk']))
]]

local function probe(path)
  local script = tmppath("probe.py")
  local f = assert(io.open(script, "w"))
  f:write(PROBE)
  f:close()
  local py = ok(os.getenv("PL_TEST_PYTHON"), "PL_TEST_PYTHON is not set")
  local out, good = sh(q(py) .. " " .. q(script) .. " " .. q(path) .. " 2>&1")
  if not good then fail("probe failed: " .. out, 2) end
  return (out:gsub("%s+$", ""))
end

local PROBE_FREE = "flock=False lockf=False getlk=none"
local PROBE_SEES = {
  flock = "flock=True lockf=False getlk=none",
  posix = "flock=False lockf=True getlk=" .. MYPID,
  ofd = "flock=False lockf=True getlk=-1",
}

local function need(mech)
  ok(pl.mechanism_supported(mech), mech .. " is not supported here (Linux expected)")
end

test("mechanism: every class takes the lock its mechanism option names", function()
  eq(pl.MECHANISMS.flock, math.tointeger(core.pl_mechanism_flock()), "MECHANISMS.flock")
  eq(pl.MECHANISMS.posix, math.tointeger(core.pl_mechanism_posix()), "MECHANISMS.posix")
  eq(pl.MECHANISMS.ofd, math.tointeger(core.pl_mechanism_ofd()), "MECHANISMS.ofd")
  local dir = tmppath("mechdir")
  os.execute("mkdir -p " .. q(dir))
  local kinds = {
    Lock = function(o) local p = tmppath() o.fail_when_locked = true return pl.Lock(p, o), p end,
    RLock = function(o) local p = tmppath() o.fail_when_locked = true return pl.RLock(p, o), p end,
    TemporaryFileLock = function(o) local p = tmppath() return pl.TemporaryFileLock(p, o), p end,
    PidFileLock = function(o) local p = tmppath() return pl.PidFileLock(p, o), p .. ".lock" end,
    BoundedSemaphore = function(o)
      o.name, o.directory = "bsem" .. seq, dir
      local s = pl.BoundedSemaphore(1, o) return s, s:get_filename(0)
    end,
    NamedBoundedSemaphore = function(o)
      o.directory = dir
      local s = pl.NamedBoundedSemaphore(1, o) return s, s:get_filename(0)
    end,
  }
  for _, kind in ipairs({"Lock", "RLock", "TemporaryFileLock", "PidFileLock",
                         "BoundedSemaphore", "NamedBoundedSemaphore"}) do
    for _, mech in ipairs({"flock", "posix", "ofd"}) do
      need(mech)
      local lock, path = kinds[kind]({mechanism = mech})
      eq(lock.mechanism, mech, kind .. ".mechanism")
      assert(lock:acquire())
      eq(probe(path), PROBE_SEES[mech], kind .. " " .. mech)
      assert(lock:release())
      if exists(path) then eq(probe(path), PROBE_FREE, kind .. " " .. mech .. " released") end
    end
  end
  -- default: flock
  local p = tmppath()
  local l = pl.Lock(p, {fail_when_locked = true})
  eq(l.mechanism, "flock", "default")
  assert(l:acquire())
  eq(probe(p), PROBE_SEES.flock, "default")
  -- the field is the truth for the next acquire (not while held)
  l.mechanism = "posix"
  assert(l:acquire())
  eq(probe(p), PROBE_SEES.flock, "held lock keeps its mechanism")
  assert(l:release())
  assert(l:acquire())
  eq(probe(p), PROBE_SEES.posix, "changed field")
  assert(l:release())
end)

test("mechanism: lock(f, flags, {mechanism}) / unlock(f, {mechanism})", function()
  local p = tmppath()
  for _, mech in ipairs({"flock", "posix", "ofd"}) do
    need(mech)
    local f = assert(io.open(p, "a"))
    eq(pl.lock(f, pl.LOCK_EX | pl.LOCK_NB, {mechanism = mech}), true, "lock " .. mech)
    eq(probe(p), PROBE_SEES[mech], "lock " .. mech)
    eq(pl.unlock(f, {mechanism = mech}), true, "unlock " .. mech)
    eq(probe(p), PROBE_FREE, "unlock " .. mech)
    f:close()
  end
  -- POSIX locks are per process: closing another descriptor drops them;
  -- OFD locks belong to their open file and stay.
  for mech, after in pairs({posix = PROBE_FREE, ofd = PROBE_SEES.ofd}) do
    local l = pl.Lock(p, {mechanism = mech})
    assert(l:acquire())
    assert(io.open(p, "r")):close()
    eq(probe(p), after, mech .. " after closing another descriptor")
    assert(l:release())
  end
end)

test("mechanism: pl_mechanism_supported is a status; lacking a mechanism is false", function()
  -- the raw call returns a pl_status: nothing for PL_OK, a raised error
  -- otherwise (an int return would give 0 and -4 here)
  eq(select("#", core.pl_mechanism_supported(pl.MECHANISMS.flock)), 0, "values for PL_OK")
  expect_raise("InvalidArgument", core.pl_mechanism_supported, 99)
  eq(pl.mechanism_supported("flock"), true, "flock")
  -- what the raw call does when the system lacks the mechanism: the status
  -- PL_ERR_UNSUPPORTED through the status typemap
  expect_raise("Unsupported", core.pl_binding_status, pl.codes.UNSUPPORTED)
  local real = core.pl_mechanism_supported
  core.pl_mechanism_supported = function() return core.pl_binding_status(pl.codes.UNSUPPORTED) end
  local good, got = pcall(pl.mechanism_supported, "ofd")
  local bad_ok, bad = pcall(pl.mechanism_supported, "lockf")
  core.pl_mechanism_supported = real
  ok(good, "mechanism_supported raised: " .. tostring(got))
  eq(got, false, "a mechanism the system lacks")
  ok(not bad_ok and getmetatable(bad) == pl.Error and bad.name == "InvalidArgument",
     "an unknown name still raises InvalidArgument: " .. tostring(bad))
end)

test("mechanism: unknown values raise InvalidArgument", function()
  local p = tmppath()
  for _, bad in ipairs({"fcntl", "FLOCK", ""}) do
    for _, make in ipairs({
      function() return pl.Lock(p, {mechanism = bad}) end,
      function() return pl.RLock(p, {mechanism = bad}) end,
      function() return pl.TemporaryFileLock(p, {mechanism = bad}) end,
      function() return pl.PidFileLock(p, {mechanism = bad}) end,
      function() return pl.BoundedSemaphore(1, {name = "x", mechanism = bad}) end,
      function() return pl.NamedBoundedSemaphore(1, {mechanism = bad}) end,
      function() return pl.mechanism_supported(bad) end,
    }) do
      local err = expect_raise("InvalidArgument", make)
      ok(err.message:find("unknown lock mechanism", 1, true), err.message)
      ok(err.message:find(bad, 1, true), err.message)
    end
    local f = assert(io.open(p, "a"))
    expect_raise("InvalidArgument", pl.lock, f, pl.LOCK_EX, {mechanism = bad})
    expect_raise("InvalidArgument", pl.unlock, f, {mechanism = bad})
    f:close()
  end
  -- not a string: the option check
  expect_raise("InvalidArgument", pl.Lock, p, {mechanism = 1})
  expect_raise("InvalidArgument", pl.lock, 0, pl.LOCK_EX, {mech = "posix"})
  -- set on the object: raised at acquire, nothing locked
  local l = pl.Lock(p, {fail_when_locked = true})
  l.mechanism = "lockf"
  expect_raise("InvalidArgument", l.acquire, l)
  eq(probe(p), PROBE_FREE, "nothing locked")
end)

test("rockspec: luarocks make installs a module that loads and locks", function()
  local rockspec = "bindings/lua/portalocker-1.0.0-1.rockspec"
  ok(exists(rockspec), "run from the repository root")
  local tree = tmppath("rocktree")
  local out, good = sh("luarocks --lua-version 5.4 --tree " .. q(tree) .. " make "
                       .. rockspec .. " 2>&1")
  ok(good, "luarocks make failed:\n" .. out)
  -- only the tree on the paths (no ";;"), so build/lua cannot be used
  local lpath = tree .. "/share/lua/5.4/?.lua"
  local cpath = tree .. "/lib/lua/5.4/?.so"
  local script = tmppath("rock.lua")
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local pl = require "portalocker"
assert(package.searchpath("portalocker_c", package.cpath):find(%q, 1, true))
local l <close> = pl.Lock(%q)
assert(io.type(assert(l:acquire())) == "file")
print("ok " .. pl.__version)]], tree, tmppath()))
  f:close()
  out, good = sh("LUA_PATH=" .. q(lpath) .. " LUA_CPATH=" .. q(cpath)
                 .. " lua5.4 " .. q(script) .. " 2>&1")
  ok(good, "the installed module failed:\n" .. out)
  eq(out, "ok " .. pl.__version .. "\n", "output")
end)

--------------------------------------------------------------------------
-- Bounding and cancelling waits (no signals in plain Lua: on_wait and
-- :cancel()), lifetimes, bad paths.

-- Holds the lock at `path` and both slots of semaphore "sem" in `dir`.
local function hold_all(path, dir)
  return spawn("lua", string.format([[
HOLD = pl.Lock(%q); assert(HOLD:acquire())
S1 = pl.BoundedSemaphore(2, {name = "sem", directory = %q}); assert(S1:acquire())
S2 = pl.BoundedSemaphore(2, {name = "sem", directory = %q}); assert(S2:acquire())]],
    path, dir, dir))
end

local function wait_kinds(path, dir)
  return {
    deadline = function(on_wait)
      return pl.Lock(path, {timeout = 30}):acquire({on_wait = on_wait})
    end,
    infinite = function(on_wait)
      return pl.Lock(path, {timeout = math.huge, on_wait = on_wait}):acquire()
    end,
    blocking_flags = function(on_wait)
      return pl.Lock(path, {flags = pl.LOCK_EX}):acquire({on_wait = on_wait})
    end,
    fd_lock = function(on_wait)
      local f = assert(io.open(path, "a"))
      return pl.lock(f, pl.LOCK_EX, {on_wait = on_wait})
    end,
    semaphore = function(on_wait)
      return pl.BoundedSemaphore(2, {name = "sem", directory = dir, timeout = 30})
        :acquire({on_wait = on_wait})
    end,
  }
end

-- The goal is 0.1 s; loose for a busy machine (the waits ended here last
-- 30 s or forever otherwise).
local BOUND = 2.0

test("on_wait: a truthy result ends every wait kind at once, nothing held", function()
  local dir = tmppath("semdir")
  os.execute("mkdir -p " .. q(dir))
  local path = tmppath()
  local child = hold_all(path, dir)
  for name, wait in pairs(wait_kinds(path, dir)) do
    local start, calls = now(), 0
    local v, err = wait(function()
      calls = calls + 1
      return now() - start >= 0.3
    end)
    local took = now() - start
    expect_fail("Interrupted", v, err)
    ok(took < 0.3 + BOUND, name .. ": ended after " .. took .. " s")
    ok(calls >= 3, name .. ": on_wait ran " .. calls .. " times")
  end
  child.finish()
  ok(free_now(path), "the lock is free once the holder is gone")
end)

test("on_wait: a falsy result lets the wait go on to its deadline", function()
  local path = tmppath()
  local child = spawn("lua", string.format("HOLD = pl.Lock(%q); assert(HOLD:acquire())", path))
  local calls, start = 0, now()
  local v, err = pl.Lock(path, {timeout = 0.6}):acquire({on_wait = function()
    calls = calls + 1
    return false
  end})
  expect_fail("AlreadyLocked", v, err)
  ok(now() - start >= 0.55, "the deadline was kept")
  ok(calls >= 5, "on_wait ran " .. calls .. " times")
  child.finish()
end)

test("on_wait: an error in it ends the wait and propagates as it is", function()
  local path = tmppath()
  local child = spawn("lua", string.format("HOLD = pl.Lock(%q); assert(HOLD:acquire())", path))
  local lock = pl.Lock(path, {timeout = 30})
  local good, err = pcall(lock.acquire, lock, {on_wait = function() error({mine = true}) end})
  ok(not good and type(err) == "table" and err.mine, "the function's own error")
  ok(not lock:is_held(), "nothing held")
  child.finish()
  -- the next call has no on_wait left over
  local f = ok(lock:acquire({timeout = 1}))
  lock:release()
  ok(f)
end)

test("cancel: a pending cancel ends the next wait with Interrupted", function()
  local path = tmppath()
  local child = spawn("lua", string.format("HOLD = pl.Lock(%q); assert(HOLD:acquire())", path))
  local lock = pl.Lock(path, {timeout = 30})
  lock:cancel()
  local start = now()
  expect_fail("Interrupted", lock:acquire())
  ok(now() - start < BOUND, "at once")
  local sem = pl.BoundedSemaphore(1, {name = "c", directory = TMP, timeout = 0.2})
  sem:cancel()
  expect_fail("Interrupted", sem:acquire())
  child.finish()
end)

test("lifetimes: the file handle keeps the lock after the lock object is collected", function()
  local path = tmppath()
  local f = assert(pl.Lock(path, {mode = "w"}):acquire())
  collectgarbage()
  collectgarbage()
  ok(not free_now(path), "still locked")
  local other = assert(io.open(tmppath("other"), "w"))
  assert(f:write("mine"))
  assert(f:flush())
  other:close()
  eq(slurp(path), "mine", "the lock file got the write")
  f = nil -- luacheck: ignore
  collectgarbage()
  collectgarbage()
  ok(free_now(path), "released with the last reference")
end)

test("paths: a NUL byte in a path or name is an error", function()
  local path = tmppath("settings.conf")
  local f = assert(io.open(path, "w")); f:write("keep me"); f:close()
  local makers = {
    function() return pl.Lock(path .. "\0.lock", {mode = "w"}):acquire() end,
    function() return pl.RLock(tmppath("job") .. "\0A"):acquire() end,
    function() return pl.TemporaryFileLock(tmppath("job") .. "\0A"):acquire() end,
    function() return pl.PidFileLock(tmppath("job") .. "\0A"):acquire() end,
    function() return pl.BoundedSemaphore(2, {name = "x\0y", directory = TMP}):acquire() end,
    function() return pl.BoundedSemaphore(2, {name = "x", directory = TMP .. "\0y"}):acquire() end,
  }
  for i, make in ipairs(makers) do
    local good, err = pcall(make)
    ok(not good, i .. ": accepted a NUL byte")
    ok(tostring(err):find("NUL", 1, true), i .. ": " .. tostring(err))
  end
  eq(slurp(path), "keep me", "settings.conf")
end)

test("paths: too long is an OSError with errno ENAMETOOLONG", function()
  local err = expect_fail("OSError", pl.Lock(TMP .. "/" .. string.rep("a", 300)):acquire())
  eq(err.errno, 36, "errno")
end)

test("paths: a FIFO at a Lock path fails instead of hanging", function()
  local fifo = tmppath("planted")
  os.execute("mkfifo " .. q(fifo))
  local out = run_child("lua", string.format([[
for _, cls in ipairs({pl.Lock, pl.RLock}) do
  local good, v, err = pcall(function() return cls(%q, {timeout = 1}):acquire() end)
  print(good and v == nil and tostring(err) or ("unexpected " .. tostring(v)))
end]], fifo))
  local n = 0
  for line in out:gmatch("[^\n]+") do
    n = n + 1
    ok(line:find("planted", 1, true), line)
  end
  eq(n, 2, "two errors")
end)

--------------------------------------------------------------------------

T.run{cleanup = function() os.execute("rm -rf " .. q(TMP)) end}
