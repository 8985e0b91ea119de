-- The framework of the Lua binding's test scripts (tests/lua/test_*.lua,
-- tests/redis/tls/tls_lua.lua), plain Lua 5.4: tests registered in
-- order, the checks they share, and the runner that prints "ok" or
-- "FAILED" per test (with the traceback) and the closing line
-- "N passed, N failed", exiting non-zero when anything failed.
-- Each script puts its own directory on package.path to find it.

local pl = require "portalocker"

local M = {}
local tests = {}

function M.test(name, fn) tests[#tests + 1] = {name = name, fn = fn} end

-- An error reported at the caller's caller's line (level 1: whoever
-- called the check that failed).
function M.fail(msg, level) error(msg, (level or 1) + 1) end

function M.eq(a, b, what)
  if a ~= b then
    M.fail(string.format("%s: expected %s, got %s", what or "value",
                         tostring(b), tostring(a)), 2)
  end
end

function M.ok(v, what)
  if not v then M.fail(what or "assertion failed", 2) end
  return v
end

-- The error object of an expected failure: nil, err with err.name == name.
function M.expect_fail(name, v, err)
  if v ~= nil then M.fail("expected nil, " .. name .. "; got " .. tostring(v), 2) end
  if getmetatable(err) ~= pl.Error then M.fail("not an error object: " .. tostring(err), 2) end
  if err.name ~= name then M.fail("expected " .. name .. ", got " .. tostring(err), 2) end
  return err
end

-- fn must raise an error object named `name`.
function M.expect_raise(name, fn, ...)
  local good, err = pcall(fn, ...)
  if good then M.fail("expected a raised " .. name, 2) end
  if getmetatable(err) ~= pl.Error then M.fail("raised a non-error-object: " .. tostring(err), 2) end
  if err.name ~= name then M.fail("expected raised " .. name .. ", got " .. tostring(err), 2) end
  return err
end

function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

function M.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs every registered test, a garbage collection after each (handles a
-- test dropped are finalized before the next one starts).
-- opts.after_each: called after each test, whatever its outcome;
-- opts.cleanup: called once before the summary; opts.label: put before
-- the closing line's counts. Exits the process.
function M.run(opts)
  opts = opts or {}
  local passed, failed = 0, 0
  for _, t in ipairs(tests) do
    local good, err = xpcall(t.fn, function(e) return debug.traceback(tostring(e), 2) end)
    if opts.after_each then opts.after_each() end
    collectgarbage()
    if good then
      passed = passed + 1
      print("ok     " .. t.name)
    else
      failed = failed + 1
      print("FAILED " .. t.name .. "\n  " .. tostring(err):gsub("\n", "\n  "))
    end
  end
  if opts.cleanup then opts.cleanup() end
  print(string.format("%s%d passed, %d failed", opts.label and (opts.label .. ": ") or "",
                      passed, failed))
  os.exit(failed == 0 and 0 or 1, true)
end

return M
