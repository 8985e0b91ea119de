-- The Lua binding on Windows, run under wine by ci/tests.d/windows.sh with
-- the cross-built lua.exe (Lua 5.4 from Debian's source) and
-- portalocker_c.dll. The same framework and checks as test_portalocker.lua
-- where they apply; that file's other tests need a POSIX shell, /proc,
-- fork-free `sleep` and the reference Python, none of which this Windows
-- run has. The second process is tests/win's pl_win_helper.exe
-- (PL_WIN_HELPER).
-- Environment: PL_TEST_TMPDIR (a Windows path), PL_WIN_HELPER,
-- PL_HELPER_REPORT=1 (the helper prints its exit code, see helper()), and
-- PL_TEST_REDIS_PORT (the redis-server windows.sh started on 127.0.0.1).
-- Ends with "N passed, N failed"; exits non-zero when anything failed.

local pl = require "portalocker"
local core = require "portalocker_c"

-- The shared framework (tests/lua/testlib.lua), found next to this file.
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local T = require "testlib"
local test, fail, eq, ok = T.test, T.fail, T.eq, T.ok
local expect_fail, exists, slurp = T.expect_fail, T.exists, T.slurp

local TMP = assert(os.getenv("PL_TEST_TMPDIR"), "PL_TEST_TMPDIR is not set")
local HELPER = assert(os.getenv("PL_WIN_HELPER"), "PL_WIN_HELPER is not set")
local seq = 0
local function tmppath(name)
  seq = seq + 1
  return string.format("%s\\lua-%d-%d-%s", TMP, os.time(), seq, name or "lock")
end

-- A command line for cmd.exe /c (what the CRT's system and popen run):
-- quoted arguments, the whole line quoted once more, as cmd strips the
-- outer pair.
local function cmdline(...)
  local args = {}
  for i, a in ipairs({...}) do args[i] = '"' .. a .. '"' end
  return '"' .. table.concat(args, " ") .. '"'
end

-- The helper's exit code, run to completion: from its "exit N" line, as
-- os.execute and io.popen report a stale errno on Windows instead.
local function helper(...)
  local p = assert(io.popen(cmdline(HELPER, ...)))
  local out = p:read("a")
  p:close()
  return math.tointeger(tonumber(out:match("exit (%-?%d+)")))
end

-- A holder in another process: the helper holding `path` until `seconds`
-- pass; returns once it holds (its READY file exists) and a finish().
local function spawn_holder(kind, path, seconds)
  local ready = tmppath("ready")
  local p
  if kind == "hold" then
    p = assert(io.popen(cmdline(HELPER, kind, path, "ex", ready, seconds)))
  else
    p = assert(io.popen(cmdline(HELPER, kind, path, ready)))
  end
  eq(helper("wait-file", ready, "30"), 0, "the holder got ready")
  return {finish = function() return p:close() end}
end

local function free_now(path)
  local l = pl.Lock(path, {fail_when_locked = true, timeout = 0})
  local f = l:acquire()
  if f then l:release() return true end
  return false
end

--------------------------------------------------------------------------
test("module: version and codes from the C table", function()
  eq(pl._VERSION, "portalocker " .. core.pl_version_string(), "version")
  ok(pl.codes.EXISTS and pl.codes.ALREADY_LOCKED, "codes")
  local good, err = pcall(core.pl_mechanism_supported, core.pl_mechanism_posix())
  ok(not good and err.code == pl.codes.UNSUPPORTED,
     "POSIX record locks are unsupported on Windows: " .. tostring(err))
end)

test("Lock: a Lua file handle over the CRT descriptor; release closes it", function()
  local path = tmppath("a.lock")
  local l = pl.Lock(path)
  local f = assert(l:acquire())
  eq(io.type(f), "file", "file handle")
  ok(l:is_held(), "held")
  f:write("hello"); f:flush()
  expect_fail("AlreadyLocked", pl.Lock(path, {fail_when_locked = true, timeout = 0}):acquire())
  eq(helper("probe", path), 1, "another process sees it locked")
  l:release()
  eq(io.type(f), "closed file", "closed by release")
  eq(helper("probe", path), 0, "free once released")
  eq(slurp(path), "hello", "written through the handle")
end)

test("Lock: mode w truncates only once locked, a appends", function()
  local path = tmppath("m.lock")
  local f0 = assert(io.open(path, "wb")); f0:write("old data"); f0:close()
  local l = pl.Lock(path, {mode = "w"})
  local f = assert(l:acquire())
  eq(slurp(path), "", "truncated once locked")
  f:write("new"); f:flush()
  l:release()
  eq(slurp(path), "new", "written")
  local a = pl.Lock(path, {mode = "a"})
  f = assert(a:acquire())
  f:write("+more"); f:flush()
  a:release()
  eq(slurp(path), "new+more", "appended")
end)

test("processes: a holder in another process excludes us until it exits", function()
  local path = tmppath("p.lock")
  local child = spawn_holder("hold", path, "1")
  expect_fail("AlreadyLocked", pl.Lock(path, {fail_when_locked = true, timeout = 0}):acquire())
  local l = pl.Lock(path, {timeout = 20, check_interval = 0.05})
  assert(l:acquire())
  ok(l:is_held(), "ours once the holder released")
  l:release()
  local good = child.finish()
  ok(good, "the holder exited cleanly")
end)

test("processes: the reference's msvcrt convention excludes us", function()
  local path = tmppath("r.lock")
  local l = pl.Lock(path)
  assert(l:acquire())
  eq(helper("ref-msvcrt-try", path), 1, "msvcrt.locking refused while we hold")
  l:release()
  eq(helper("ref-msvcrt-try", path), 0, "msvcrt.locking once we released")
end)

test("RLock: counted acquire/release; over-release raises NotHeld", function()
  local path = tmppath("r.lock")
  local r = pl.RLock(path)
  assert(r:acquire()); assert(r:acquire())
  r:release()
  ok(not free_now(path), "still held at depth 1")
  r:release()
  ok(free_now(path), "free at depth 0")
  local good, err = pcall(r.release, r)
  ok(not good and err.name == "NotHeld", "over-release")
end)

test("TemporaryFileLock: the file exists only while held", function()
  local path = tmppath("temp.lock")
  local t = pl.TemporaryFileLock(path)
  ok(not exists(path), "absent before")
  assert(t:acquire())
  ok(exists(path), "exists while held")
  expect_fail("AlreadyLocked", pl.TemporaryFileLock(path):acquire())
  t:release()
  ok(not exists(path), "removed on release")
end)

test("PidFileLock: our PID, and the holder's from another process", function()
  local path = tmppath("app.pid")
  local p = pl.PidFileLock(path)
  assert(p:acquire())
  local mine = p:read_pid()
  ok(mine and mine > 0, "our pid")
  eq(tonumber(slurp(path)), mine, "pid file content")
  p:release()
  local child = spawn_holder("pidfile", path)
  local err = expect_fail("AlreadyLocked", p:acquire())
  ok(err.holder_pid and err.holder_pid ~= mine, "holder_pid is the other process")
  eq(p:read_pid(), err.holder_pid, "read_pid sees the holder")
  -- The helper holds until killed: end it the way Windows can.
  os.execute('taskkill /F /PID ' .. math.tointeger(err.holder_pid) .. ' >NUL 2>&1')
  child.finish()
  local again = pl.PidFileLock(path, {fail_when_locked = false, timeout = 10, check_interval = 0.05})
  assert(again:acquire())
  eq(again:read_pid(), mine, "ours after the holder was killed")
  again:release()
end)

test("BoundedSemaphore: slots, Windows paths, names refuse \\ and :", function()
  local dir = tmppath("semdir")
  os.execute('mkdir "' .. dir .. '"')
  local a = pl.NamedBoundedSemaphore(2, {name = "w", directory = dir})
  local b = pl.NamedBoundedSemaphore(2, {name = "w", directory = dir})
  assert(a:acquire()); eq(a.slot, 0, "slot 0")
  assert(b:acquire()); eq(b.slot, 1, "slot 1")
  eq(a:get_filename(0), dir .. "\\w.00.lock", "slot 0 path")
  expect_fail("AlreadyLocked", pl.NamedBoundedSemaphore(2, {name = "w", directory = dir}):acquire())
  a:release(); b:release()
  for _, bad in ipairs({"a\\b", "c:d", "e/f"}) do
    local good, err = pcall(pl.NamedBoundedSemaphore, 2, {name = bad, directory = dir})
    ok(not good and err.name == "InvalidArgument", "name " .. bad .. " refused")
  end
end)

test("open_atomic: publishes, never replaces", function()
  local path = tmppath("atomic.txt")
  eq(pl.open_atomic(path, function(f) f:write("one\n") end), true, "committed")
  eq(slurp(path), "one\n", "published")
  expect_fail("FileExists", pl.open_atomic(path, function(f) f:write("two\n") end))
  eq(slurp(path), "one\n", "not replaced")
end)

local redis_port = tonumber(os.getenv("PL_TEST_REDIS_PORT"))

test("RedisLock: over Winsock against the redis-server, two holders exclude", function()
  ok(redis_port, "PL_TEST_REDIS_PORT is set (windows.sh starts the server)")
  local chan = "pl-win-lua-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e6))
  local a = pl.RedisLock(chan, {port = redis_port, fail_when_locked = true})
  local b = pl.RedisLock(chan, {url = "redis://127.0.0.1:" .. redis_port .. "/0",
                                fail_when_locked = true})
  eq(a:acquire(), a, "the first gets it")
  expect_fail("AlreadyLocked", b:acquire())
  eq(a:release(), true, "released")
  eq(b:acquire(), b, "the second gets it once released")
  eq(b:release(), true, "released")
end)

test("RedisLock: TLS and unix sockets unsupported on Windows, saying so", function()
  local good, err = pcall(pl.RedisLock, "chan", {url = "rediss://127.0.0.1:6380"})
  ok(not good, "rediss:// refused")
  ok(err and (err.name == "UnsupportedOperation" or err.code == pl.codes.UNSUPPORTED),
     "unsupported: " .. tostring(err))
  ok(tostring(err):find("Windows"), "the message says Windows: " .. tostring(err))
  good, err = pcall(pl.RedisLock, "chan", {unix_socket_path = "C:\\redis.sock"})
  ok(not good and tostring(err):find("unix"), "unix socket refused: " .. tostring(err))
end)

--------------------------------------------------------------------------
T.run()
