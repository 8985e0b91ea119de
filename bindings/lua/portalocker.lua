--- portalocker for Lua 5.4: cross-process file locks, semaphores, atomic
-- writes and a Redis lock, over libportalocker (the SWIG module
-- `portalocker_c`). The names and option defaults are those of the Python
-- reference `portalocker`.
--
--   local portalocker = require "portalocker"
--   local lock <close> = portalocker.Lock("cache.lock", {timeout = 1})
--   local f = assert(lock:acquire())   -- a standard Lua file handle
--   f:write("writing some stuff to my cache...\n")
--   -- leaving the scope (normally or by an error) releases the lock
--
-- Errors. Expected outcomes (contention, a timeout, I/O errors, an existing
-- file, a lost Redis lock, an unreachable server) are returned the Lua way:
-- `nil, err`. Programming errors (bad argument types, unknown options, and
-- the C codes InvalidArgument, InvalidState, NotHeld and NoMemory) raise
-- with `error(err)`. In both cases `err` is an error object: a table with
-- `name` ("AlreadyLocked", ...), `code` (the C code), `message`, sometimes
-- `errno` and `holder_pid`, and a readable `tostring`. The name comes from
-- the C core's error table (pl_error_exception); this file has no copy of
-- it. `getmetatable(err) == portalocker.Error` identifies them.
--
-- Handles. Every lock object has a `__close` metamethod (release, for
-- `local l <close> = ...`); the C handle inside is freed by its `__gc`
-- exactly once, which also releases a lock still held. A file handle
-- returned by acquire keeps its lock object alive, and release closes it
-- (after flushing), so a stale handle fails cleanly ("attempt to use a
-- closed file") instead of writing to a recycled descriptor.
--
-- Reference: the functions and tables below, and one section per class
-- (`Lock`, `RLock`, `TemporaryFileLock`, `PidFileLock`,
-- `BoundedSemaphore`, `NamedBoundedSemaphore`, `AtomicFile`,
-- `RedisLock`); a class is called to make an object (`Lock(...)` is
-- `Lock.new(...)`).
-- @module portalocker
-- @usage
-- local portalocker = require "portalocker"
-- local lock <close> = portalocker.Lock("job.lock", {fail_when_locked = true})
-- local f, err = lock:acquire()
-- if not f then
--   if err.name == "AlreadyLocked" then return print("another process runs the job") end
--   error(err)
-- end
-- run_job(f)

-- SWIG's Lua runtime defines the globals swig_type and swig_equals when the
-- C module loads; a module should not leave globals behind.
local had_swig_globals = rawget(_G, "swig_type") ~= nil
local core = require "portalocker_c"
if not had_swig_globals then
  rawset(_G, "swig_type", nil)
  rawset(_G, "swig_equals", nil)
end

local M = {}

local toint = math.tointeger
local fmt = string.format

--- The version of the loaded C library ("1.0.0").
-- @field __version
M.__version = core.pl_version_string()
--- "portalocker " followed by the version, as Lua modules name themselves.
-- @field _VERSION
M._VERSION = "portalocker " .. M.__version

--- Errors.
-- @section errors

local Error = core.pl_lua_error_metatable()
--- The metatable of every error object (shared with the C module).
-- An error object is a table with these fields; `tostring(err)` gives
-- "Name: message".
-- @field name the error's name ("AlreadyLocked", "LockLost", ...: the
-- exception name in the C core's error table)
-- @field code the C error code (an integer, see `codes`)
-- @field message what went wrong, naming the path or option
-- @field errno the saved errno, when an OS call failed (or nil)
-- @field holder_pid PidFileLock: the holder's PID, when known (or nil)
-- @field channel RedisLock: the channel of a lost lock (or nil)
-- @usage
-- local f, err = lock:acquire()
-- if not f and getmetatable(err) == portalocker.Error then
--   print(err.name, err.code, err.message)
-- end
-- @table Error
M.Error = Error

--- Error codes by name, from the C table: `codes.OK == 0`,
-- `codes.ALREADY_LOCKED == -1`, ... (`err.code` is one of them).
-- @usage if err.code == portalocker.codes.ALREADY_LOCKED then retry() end
-- @table codes
M.codes = {}
for code = 0, toint(core.pl_error_min()), -1 do
  M.codes[core.pl_error_name(code)] = code
end

local INVALID_ARGUMENT = M.codes.INVALID_ARGUMENT
local INVALID_STATE = M.codes.INVALID_STATE
local IO_ERROR = M.codes.IO

-- The error names that mean "the program is wrong": they raise.
local RAISES = {
  InvalidArgument = true, InvalidState = true, NotHeld = true, NoMemory = true,
}

local function new_error(code, message, fields)
  local err = {
    name = core.pl_error_exception(code),
    code = code,
    message = message,
  }
  for k, v in pairs(fields or {}) do err[k] = v end
  return setmetatable(err, Error)
end

--- Make an error object.
-- @tparam integer code a C error code (see `codes`)
-- @tparam[opt] string message the message (default: the C core's text
-- for `code`)
-- @treturn Error the error object (not raised)
-- @usage return nil, portalocker.error(portalocker.codes.ALREADY_LOCKED, "busy")
function M.error(code, message)
  return new_error(code, message or core.pl_strerror(code))
end

--- True if `v` is a portalocker error object (optionally with that name).
-- @param v any value
-- @tparam[opt] string name an error name such as "AlreadyLocked"
-- @treturn boolean
-- @usage
-- local ok, err = pcall(lock.acquire, lock, {timeout = "x"})
-- assert(portalocker.is_error(err, "InvalidArgument"))
function M.is_error(v, name)
  return getmetatable(v) == Error and (name == nil or v.name == name)
end

local function raise(code, message, level)
  error(new_error(code, message), (level or 1) + 1)
end

local function argerror(what, message)
  raise(INVALID_ARGUMENT, fmt("bad argument to '%s' (%s)", what, message), 3)
end

-- pcall result -> true, results... | false, err (expected) | re-raise.
local function check(ok, ...)
  if ok then return true, ... end
  local err = ...
  if getmetatable(err) == Error and not RAISES[err.name] then
    return false, err
  end
  error(err, 0)
end

local function try(fn, ...)
  return check(pcall(fn, ...))
end

-- Test hook: `code` as a status through the path every real call takes
-- (the C status typemap, then the raise-or-return policy above).
function M._binding_status(code)
  local ok, err = try(core.pl_binding_status, code)
  if not ok then return nil, err end
  return true
end

--- Flags, options.
-- @section flags

--- flock(2)'s LOCK_SH (1): a shared lock, many holders at once.
-- @field LOCK_SH
M.LOCK_SH = toint(core.pl_flag_shared())
--- flock(2)'s LOCK_EX (2): an exclusive lock, one holder.
-- @field LOCK_EX
M.LOCK_EX = toint(core.pl_flag_exclusive())
--- flock(2)'s LOCK_NB (4): with LOCK_SH or LOCK_EX, do not wait.
-- @field LOCK_NB
M.LOCK_NB = toint(core.pl_flag_non_blocking())
--- flock(2)'s LOCK_UN (8): not valid for `lock` (call `unlock`).
-- @field LOCK_UN
M.LOCK_UN = toint(core.pl_flag_unblock())

--- The reference's LockFlags enum (combine with `|`).
-- @field SHARED `LOCK_SH`
-- @field EXCLUSIVE `LOCK_EX`
-- @field NON_BLOCKING `LOCK_NB`
-- @field UNBLOCK `LOCK_UN`
-- @usage portalocker.Lock("f", {flags = portalocker.LockFlags.SHARED | portalocker.LockFlags.NON_BLOCKING})
-- @table LockFlags
M.LockFlags = {
  SHARED = M.LOCK_SH,
  EXCLUSIVE = M.LOCK_EX,
  NON_BLOCKING = M.LOCK_NB,
  UNBLOCK = M.LOCK_UN,
}

--- The lock mechanisms (the OS primitive a lock uses), for the `mechanism`
-- option of every class and of `lock`/`unlock`. Name -> C value.
-- @field flock flock(2), the default (what the Python portalocker uses)
-- @field posix fcntl record locks: per process, dropped when the process
-- closes ANY descriptor of the file
-- @field ofd Linux open-file-description record locks
-- @usage portalocker.Lock("f", {mechanism = "ofd"})
-- @table MECHANISMS
M.MECHANISMS = {
  flock = toint(core.pl_mechanism_flock()),
  posix = toint(core.pl_mechanism_posix()),
  ofd = toint(core.pl_mechanism_ofd()),
}

-- The C value of a mechanism name; an unknown one raises InvalidArgument.
local function mechanism_code(name, what)
  local code = type(name) == "string" and M.MECHANISMS[name] or nil
  if code == nil then
    argerror(what, fmt("unknown lock mechanism %s (expected \"flock\", \"posix\" or \"ofd\")",
                       type(name) == "string" and fmt("%q", name) or tostring(name)))
  end
  return code
end

--- Whether a lock mechanism works on this system.
-- @tparam string name "flock", "posix" or "ofd"
-- @treturn boolean
-- @raise InvalidArgument (an error object) for an unknown name
-- @usage local mech = portalocker.mechanism_supported("ofd") and "ofd" or "flock"
function M.mechanism_supported(name)
  local good, err = pcall(core.pl_mechanism_supported,
                          mechanism_code(name, "mechanism_supported"))
  if good then return true end
  if getmetatable(err) == Error and err.name == "Unsupported" then return false end
  error(err, 0)
end

--- Seconds a lock waits by default (5, the reference's).
-- @field DEFAULT_TIMEOUT
M.DEFAULT_TIMEOUT = 5
--- Longest pause, in seconds, between two tries of a waiting lock (0.25).
-- @field DEFAULT_CHECK_INTERVAL
M.DEFAULT_CHECK_INTERVAL = 0.25
--- Whether `Lock:acquire` fails at once on contention by default (false).
-- @field DEFAULT_FAIL_WHEN_LOCKED
M.DEFAULT_FAIL_WHEN_LOCKED = false
--- The default `flags` of the file locks: `LOCK_EX | LOCK_NB`.
-- @field LOCK_METHOD
M.LOCK_METHOD = M.LOCK_EX | M.LOCK_NB

-- Checks an options table against `spec` (option -> Lua type); unknown
-- options are errors (they are almost always typos).
local function options(opts, spec, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    argerror(what, "options table expected, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = spec[k]
    if want == nil then
      argerror(what, fmt("unknown option '%s'", tostring(k)))
    end
    local got = type(v)
    if want == "integer" then
      if math.type(v) ~= "integer" then
        argerror(what, fmt("option '%s': integer expected, got %s", k,
                           got == "number" and "float" or got))
      end
    elseif got ~= want then
      argerror(what, fmt("option '%s': %s expected, got %s", k, want, got))
    end
  end
  return opts
end

local function check_string(v, what, name)
  if type(v) ~= "string" then
    argerror(what, fmt("%s: string expected, got %s", name, type(v)))
  end
end

-- A wait for the C core: negative or NaN -> 0 (one attempt, as the
-- reference); math.huge waits forever.
local function seconds(v)
  if v ~= v or v < 0 then return 0.0 end
  return v + 0.0
end

local function pick(a, b)
  if a == nil then return b end
  return a
end

-- on_wait: a function the wait calls at least every 20 ms (on the waiting
-- thread, inside the C call); a truthy result ends the wait (nil +
-- Interrupted, nothing held), an error ends it too and propagates. Plain
-- Lua has no signals: this is how a program bounds or cancels a wait on
-- its own terms (a deadline of its own, a flag a coroutine scheduler or a
-- C signal handler sets). It must not yield or use the object waited on.
local ACQUIRE_OPTS = {
  timeout = "number", check_interval = "number", fail_when_locked = "boolean",
}
local WAIT_ACQUIRE_OPTS = {
  timeout = "number", check_interval = "number", fail_when_locked = "boolean",
  on_wait = "function",
}

-- Runs the blocking C call fn(...) with `on_wait` (nil: none) for its
-- wait; the wrapper takes the function over, the clear after covers a
-- call that failed before it did.
local function waiting(on_wait, fn, ...)
  if on_wait ~= nil then core.pl_lua_on_wait(on_wait) end
  local function done(...)
    if on_wait ~= nil then core.pl_lua_on_wait(nil) end
    return ...
  end
  return done(pcall(fn, ...))
end

-- Copies the metamethods every class needs (they are not inherited).
local function class(name, parent)
  local cls = {}
  cls.__index = cls
  cls.__name = "portalocker." .. name
  cls.__close = function(self, err) return self:_close(err) end
  cls.__tostring = function(self) return self:_describe() end
  setmetatable(cls, {
    __index = parent,
    __call = function(c, ...) return c.new(...) end,
  })
  return cls
end

-- The __close policy: release everything; a failure raises only when no
-- error is already on its way out of the scope.
local function close_with(self, err, release_all)
  local ok, rerr = release_all(self)
  if not ok and err == nil then error(rerr, 0) end
end

--- lock() / unlock() on descriptors and file handles.
-- @section fd

local function fd_of(file, what)
  if math.type(file) == "integer" then return file end
  local t = io.type(file)
  if t == "file" then return toint(core.pl_lua_fileno(file)) end
  if t == "closed file" then argerror(what, "attempt to use a closed file") end
  if type(file) == "table" or type(file) == "userdata" then
    local ok, fileno = pcall(function() return file.fileno end)
    if ok and type(fileno) == "function" then
      local fd = fileno(file)
      if math.type(fd) == "integer" then return fd end
    end
  end
  argerror(what, "file handle, descriptor or object with :fileno() expected, got "
           .. type(file))
end

local function check_lock_flags(flags, what)
  if math.type(flags) ~= "integer" then
    argerror(what, "flags: integer expected, got " .. type(flags))
  end
  if flags & M.LOCK_UN ~= 0 then
    argerror(what, "LOCK_UN is not a valid flag for lock(); call unlock()")
  end
  if flags & M.LOCK_SH ~= 0 and flags & M.LOCK_EX ~= 0 then
    argerror(what, "LOCK_SH and LOCK_EX are mutually exclusive")
  end
  if flags & (M.LOCK_SH | M.LOCK_EX) == 0 then
    argerror(what, "flags need LOCK_SH or LOCK_EX")
  end
end

local FD_OPTS = {mechanism = "string"}
local FD_LOCK_OPTS = {mechanism = "string", on_wait = "function"}

--- Lock a file handle or descriptor. Without `LOCK_NB` it waits.
-- Buffered data is not flushed (as in the reference).
-- @tparam file|integer|table file a Lua file handle, a descriptor, or an
-- object with a `:fileno()` method
-- @tparam integer flags `LOCK_EX` or `LOCK_SH`, optionally `| LOCK_NB`
-- @tparam[opt] table opts options
-- @tparam[opt="flock"] string opts.mechanism "flock", "posix" or "ofd"
-- @tparam[opt] function opts.on_wait called at least every 20 ms while
-- waiting; a truthy result ends the wait (nil + Interrupted)
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error AlreadyLocked on contention, Interrupted when on_wait
-- ended the wait, LockException otherwise
-- @raise InvalidArgument for LOCK_UN, both or neither of LOCK_SH and
-- LOCK_EX, a closed file, an unknown option or mechanism
-- @usage
-- local f = assert(io.open("data.txt", "a"))
-- assert(portalocker.lock(f, portalocker.LOCK_EX | portalocker.LOCK_NB))
-- f:write("mine\n"); f:flush()
-- portalocker.unlock(f)
function M.lock(file, flags, opts)
  check_lock_flags(flags, "lock")
  opts = options(opts, FD_LOCK_OPTS, "lock")
  local mech = mechanism_code(pick(opts.mechanism, "flock"), "lock")
  local ok, err = check(waiting(opts.on_wait, core.pl_lock_fd_mechanism,
                                fd_of(file, "lock"), flags, mech))
  if not ok then return nil, err end
  return true
end

--- Unlock a file handle or descriptor (with the mechanism it was locked
-- with).
-- @tparam file|integer|table file a Lua file handle, a descriptor, or an
-- object with `:fileno()`
-- @tparam[opt] table opts options
-- @tparam[opt="flock"] string opts.mechanism "flock", "posix" or "ofd"
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error the OS refused
-- @raise InvalidArgument for a closed file, an unknown option or mechanism
-- @usage portalocker.unlock(f)
function M.unlock(file, opts)
  opts = options(opts, FD_OPTS, "unlock")
  local mech = mechanism_code(pick(opts.mechanism, "flock"), "unlock")
  local ok, err = try(core.pl_unlock_fd_mechanism, fd_of(file, "unlock"), mech)
  if not ok then return nil, err end
  return true
end

-- File locks: Lock, RLock, TemporaryFileLock, PidFileLock ---------------

-- The fopen-style mode of the Lua file handle for a lock's mode. The C
-- core opens the file (and truncates "w" only once locked); the handle
-- never truncates.
local function stream_mode(mode)
  local base = mode:match("[rwax]") or "a"
  if base == "x" then base = "w" end
  return base .. (mode:find("+", 1, true) and "+" or "")
end

-- Closes the Lua file handle (flushing it). true, or false + error object.
local function close_stream(f)
  if io.type(f) ~= "file" then return true end
  local ok, msg, errno = f:close()
  if ok then return true end
  return false, new_error(IO_ERROR, "flushing the lock file: " .. tostring(msg),
                          {errno = errno})
end

--- Opens a file and holds a lock on it (the reference's Lock).
-- Create with `portalocker.Lock(filename, opts)` (`Lock.new`). The fields
-- below are the object's settings: change them between calls.
-- @field filename the file's path
-- @field mode the fopen-style mode ("a", "w", "r+", ...; "w" truncates
-- only once locked)
-- @field timeout seconds `acquire` waits (`math.huge`: forever)
-- @field check_interval the longest pause between tries
-- @field fail_when_locked fail at once on contention
-- @field flags `LOCK_EX` or `LOCK_SH`, `| LOCK_NB`
-- @field raise_on_release_error report a failed flush or unlock from
-- `release`
-- @field mechanism "flock", "posix" or "ofd"
-- @field on_wait the default `on_wait` of `acquire` (or nil)
-- @field fh the file handle while held, else nil
-- @usage
-- local lock <close> = portalocker.Lock("cache.txt", {mode = "w", timeout = 10})
-- local f = assert(lock:acquire())
-- f:write("fresh cache")
-- -- leaving the scope releases the lock
-- @type Lock
local Lock = class("Lock")
M.Lock = Lock

local LOCK_OPTS = {
  mode = "string", timeout = "number", check_interval = "number",
  fail_when_locked = "boolean", flags = "integer",
  raise_on_release_error = "boolean", mechanism = "string",
  on_wait = "function",
}

local function init_file_lock(cls, ctor, filename, opts, what, defaults)
  check_string(filename, what, "filename")
  local spec = LOCK_OPTS
  if not defaults.mode_settable then
    spec = {}
    for k, v in pairs(LOCK_OPTS) do if k ~= "mode" then spec[k] = v end end
  end
  opts = options(opts, spec, what)
  local self = {
    filename = filename,
    mode = pick(opts.mode, defaults.mode),
    timeout = pick(opts.timeout, M.DEFAULT_TIMEOUT),
    check_interval = pick(opts.check_interval, M.DEFAULT_CHECK_INTERVAL),
    fail_when_locked = pick(opts.fail_when_locked, defaults.fail_when_locked),
    flags = pick(opts.flags, M.LOCK_METHOD),
    raise_on_release_error = pick(opts.raise_on_release_error, false),
    mechanism = pick(opts.mechanism, "flock"),
    on_wait = opts.on_wait, -- see WAIT_ACQUIRE_OPTS
    fh = nil,
  }
  local mech = mechanism_code(self.mechanism, what)
  -- The C handle first, then the object: finalizers run newest first, so
  -- the handle (which closes the descriptor) is always finalized after the
  -- object and after any file handle made over its descriptor.
  self._h = ctor(filename)
  if defaults.mode_settable then core.pl_lock_set_mode(self._h, self.mode) end
  core.pl_lock_set_flags(self._h, self.flags)
  core.pl_lock_set_mechanism(self._h, mech)
  if self.raise_on_release_error then
    core.pl_lock_set_raise_on_release_error(self._h, 1)
  end
  self._stream_mode = stream_mode(self.mode)
  setmetatable(self, cls)
  if opts.timeout ~= nil then self:_warn_blocking_timeout() end
  return self
end

--- Make a file lock (also `portalocker.Lock(filename, opts)`); nothing is
-- opened or locked until `acquire`. Giving `timeout` with blocking
-- `flags` (no LOCK_NB) warns, as the reference does.
-- @tparam string filename the file to lock (created if missing)
-- @tparam[opt] table opts options
-- @tparam[opt="a"] string opts.mode fopen-style mode
-- @tparam[opt=5] number opts.timeout seconds to wait
-- @tparam[opt=0.25] number opts.check_interval longest pause between tries
-- @tparam[opt=false] boolean opts.fail_when_locked fail at once on contention
-- @tparam[opt=LOCK_EX|LOCK_NB] integer opts.flags lock flags
-- @tparam[opt=false] boolean opts.raise_on_release_error report release failures
-- @tparam[opt="flock"] string opts.mechanism "flock", "posix" or "ofd"
-- @tparam[opt] function opts.on_wait see `acquire`
-- @treturn Lock
-- @raise InvalidArgument for a bad option (unknown, wrong type, bad mode,
-- flags or mechanism)
-- @usage local lock = portalocker.Lock("app.lock", {timeout = 1})
function Lock.new(filename, opts)
  return init_file_lock(Lock, core.pl_lock_new, filename, opts, "Lock",
                        {mode = "a", fail_when_locked = false, mode_settable = true})
end

function Lock:_describe()
  return fmt("%s(%q)", getmetatable(self).__name, self.filename)
end

function Lock:_warn_blocking_timeout()
  if self._warned or self.flags & M.LOCK_NB ~= 0 then return end
  self._warned = true
  warn("portalocker: timeout has no effect in blocking mode")
end

--- Lock the file: the Lua file handle (the same one while held). The
-- file handle keeps this object (and so the lock and its descriptor)
-- alive.
-- @tparam[opt] table opts per-call overrides of the object's settings
-- @tparam[opt] number opts.timeout seconds to wait this time
-- @tparam[opt] number opts.check_interval longest pause this time
-- @tparam[opt] boolean opts.fail_when_locked fail at once this time
-- @tparam[opt] function opts.on_wait called at least every 20 ms on this
-- thread while waiting; a truthy result ends the wait (nil +
-- Interrupted, nothing held), an error ends it and propagates; it must
-- not yield or use this lock
-- @treturn[1] file the locked file handle
-- @treturn[2] nil
-- @treturn[2] Error AlreadyLocked on contention or timeout, Interrupted
-- when on_wait or `cancel` ended the wait, IO when the file cannot be
-- opened (with errno)
-- @raise InvalidArgument for a bad option; InvalidState while another
-- thread uses this object
-- @usage
-- local f, err = lock:acquire({timeout = 0})
-- if not f then print("busy: " .. err.message) end
function Lock:acquire(opts)
  opts = options(opts, WAIT_ACQUIRE_OPTS, "acquire")
  if opts.timeout ~= nil then self:_warn_blocking_timeout() end
  -- The fields are the truth: the C handle gets what changed.
  if self.flags ~= toint(core.pl_lock_get_flags(self._h)) then
    core.pl_lock_set_flags(self._h, self.flags)
  end
  if self.fh == nil then -- a held lock keeps its mechanism
    local mech = mechanism_code(self.mechanism, "acquire")
    if mech ~= toint(core.pl_lock_get_mechanism(self._h)) then
      core.pl_lock_set_mechanism(self._h, mech)
    end
  end
  local ok, fd = check(waiting(pick(opts.on_wait, self.on_wait),
                     core.pl_lock_acquire_with, self._h,
                     seconds(pick(opts.timeout, self.timeout)),
                     seconds(pick(opts.check_interval, self.check_interval)),
                     pick(opts.fail_when_locked, self.fail_when_locked) and 1 or 0))
  if not ok then return nil, self:_acquire_failed(fd) end
  if self.fh == nil then
    local f, msg = core.pl_lua_stream(toint(fd), self._stream_mode, self)
    if not f then
      core.pl_lock_release(self._h)
      raise(M.codes.NO_MEMORY, "cannot make a file handle: " .. tostring(msg))
    end
    self.fh = f
  end
  return self.fh
end

function Lock:_acquire_failed(err) return err end

--- Release: flush and close the file handle, unlock, close. A no-op when
-- nothing is held. RLock: releases once (the last one unlocks).
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error the flush or, with raise_on_release_error, the
-- unlock failed (the lock is released anyway)
-- @raise NotHeld for an RLock released more often than acquired
-- @usage assert(lock:release())
function Lock:release()
  local ok, err = true, nil
  if self.fh ~= nil and toint(core.pl_lock_count(self._h)) <= 1 then
    local f = self.fh
    self.fh = nil
    ok, err = close_stream(f)
  end
  local rok, rerr = try(core.pl_lock_release, self._h)
  if not ok then return nil, err end
  if not rok then return nil, rerr end
  return true
end

--- End this lock's wait in progress, or its next one (nil +
-- Interrupted): the C core's pl_lock_cancel, safe from any thread
-- (another Lua state's) and from a C signal handler.
-- @usage lock:cancel()
function Lock:cancel()
  core.pl_lock_cancel(self._h)
end

--- True while this object holds its lock.
-- @treturn boolean
-- @usage if lock:is_held() then lock:release() end
function Lock:is_held()
  return core.pl_lock_is_held(self._h) == 1
end

local function release_all(self)
  local ok, err = true, nil
  for _ = 1, toint(core.pl_lock_count(self._h)) + 1 do
    if not self:is_held() then break end
    local rok, rerr = self:release()
    if not rok and ok then ok, err = false, rerr end
  end
  return ok, err
end

function Lock:_close(err)
  close_with(self, err, release_all)
end

--- A Lock the same object may acquire repeatedly; `release` counts, and
-- the last release unlocks. Has every method of `Lock`.
-- @usage
-- local lock = portalocker.RLock("state.lock")
-- lock:acquire(); lock:acquire()
-- assert(lock:count() == 2)
-- lock:release(); lock:release()
-- @type RLock
local RLock = class("RLock", Lock)
M.RLock = RLock

--- Make a reentrant lock (also `portalocker.RLock(filename, opts)`).
-- @tparam string filename the file to lock
-- @tparam[opt] table opts `Lock.new`'s options
-- @treturn RLock
-- @raise InvalidArgument for a bad option
-- @usage local lock = portalocker.RLock("state.lock", {timeout = 2})
function RLock.new(filename, opts)
  return init_file_lock(RLock, core.pl_rlock_new, filename, opts, "RLock",
                        {mode = "a", fail_when_locked = false, mode_settable = true})
end

--- How many times this object holds the lock.
-- @treturn integer 0 when not held
-- @usage print(lock:count())
function RLock:count()
  return toint(core.pl_lock_count(self._h))
end

--- A lock file that exists only while the lock is held; `fail_when_locked`
-- defaults to true. Has every method of `Lock`.
-- @usage
-- local lock <close> = portalocker.TemporaryFileLock("/tmp/backup.lock")
-- if lock:acquire() then run_backup() end
-- @type TemporaryFileLock
local TemporaryFileLock = class("TemporaryFileLock", Lock)
M.TemporaryFileLock = TemporaryFileLock

--- Make a temporary lock (also `portalocker.TemporaryFileLock(filename,
-- opts)`).
-- @tparam[opt=".lock"] string filename the lock file, created by
-- `acquire` and removed by `release`
-- @tparam[opt] table opts `Lock.new`'s options except `mode`
-- (`fail_when_locked` defaults to true)
-- @treturn TemporaryFileLock
-- @raise InvalidArgument for a bad option (`mode` among them)
-- @usage local lock = portalocker.TemporaryFileLock("run.lock", {timeout = 30, fail_when_locked = false})
function TemporaryFileLock.new(filename, opts)
  return init_file_lock(TemporaryFileLock, core.pl_temporary_lock_new,
                        pick(filename, ".lock"), opts, "TemporaryFileLock",
                        {mode = "w", fail_when_locked = true})
end

--- Locks "<filename>.lock" and writes this process's PID to filename. On
-- contention `acquire` gives nil, err with `err.holder_pid` (the
-- holder's PID when it could be read). Has every method of `Lock`.
-- @usage
-- local lock = portalocker.PidFileLock("/run/myd.pid")
-- local ok, err = lock:acquire()
-- if not ok then error("already running as " .. tostring(err.holder_pid)) end
-- @type PidFileLock
local PidFileLock = class("PidFileLock", Lock)
M.PidFileLock = PidFileLock

--- Make a PID-file lock (also `portalocker.PidFileLock(filename, opts)`).
-- @tparam[opt=".pid"] string filename the PID file
-- @tparam[opt] table opts `Lock.new`'s options except `mode`
-- (`fail_when_locked` defaults to true)
-- @treturn PidFileLock
-- @raise InvalidArgument for a bad option
-- @usage local lock = portalocker.PidFileLock("worker.pid")
function PidFileLock.new(filename, opts)
  return init_file_lock(PidFileLock, core.pl_pidfile_lock_new,
                        pick(filename, ".pid"), opts, "PidFileLock",
                        {mode = "w", fail_when_locked = true})
end

function PidFileLock:_acquire_failed(err)
  if err.name == "AlreadyLocked" then
    local pid = toint(core.pl_lock_holder_pid(self._h))
    if not pid or pid <= 0 then pid = self:read_pid() end
    if pid and pid > 0 then err.holder_pid = pid end
  end
  return err
end

--- The PID in the PID file.
-- @treturn integer|nil nil when the file is missing, empty or not a number
-- @usage print(lock:read_pid())
function PidFileLock:read_pid()
  local pid = toint(core.pl_lock_read_pid(self._h))
  if pid and pid > 0 then return pid end
  return nil
end

-- Bounded semaphores ----------------------------------------------------

--- At most `maximum` holders across processes, using `maximum` lock files
-- (the reference's BoundedSemaphore). The fields are the settings.
-- @field maximum how many holders at most
-- @field name the name in the slot files' names
-- @field filename_pattern the slot files' names ({name}, {number:02d})
-- @field directory where the slot files are
-- @field timeout seconds `acquire` waits
-- @field check_interval the longest pause between tries
-- @field fail_when_locked kept for the reference's API
-- @field mechanism "flock", "posix" or "ofd"
-- @field on_wait the default `on_wait` of `acquire` (or nil)
-- @field slot the held slot's number (0-based), else nil
-- @field fh the held slot's file handle, else nil
-- @usage
-- local sem <close> = portalocker.BoundedSemaphore(4, {name = "encoders", timeout = 60})
-- if sem:acquire() then encode() end
-- @type BoundedSemaphore
local BoundedSemaphore = class("BoundedSemaphore")
M.BoundedSemaphore = BoundedSemaphore

local SEM_OPTS = {
  name = "string", filename_pattern = "string", directory = "string",
  timeout = "number", check_interval = "number", fail_when_locked = "boolean",
  mechanism = "string", on_wait = "function",
}

local function init_semaphore(cls, maximum, opts, what, default_name)
  if math.type(maximum) ~= "integer" then
    argerror(what, "maximum: integer expected, got " .. type(maximum))
  end
  opts = options(opts, SEM_OPTS, what)
  local self = {
    maximum = maximum,
    name = pick(opts.name, default_name),
    filename_pattern = pick(opts.filename_pattern, "{name}.{number:02d}.lock"),
    directory = pick(opts.directory, os.getenv("TMPDIR") or "/tmp"),
    timeout = pick(opts.timeout, M.DEFAULT_TIMEOUT),
    check_interval = pick(opts.check_interval, M.DEFAULT_CHECK_INTERVAL),
    fail_when_locked = pick(opts.fail_when_locked, true),
    mechanism = pick(opts.mechanism, "flock"),
    on_wait = opts.on_wait, -- see WAIT_ACQUIRE_OPTS
    slot = nil,
    fh = nil,
  }
  local mech = mechanism_code(self.mechanism, what)
  self._h = core.pl_semaphore_new(maximum, self.name)
  core.pl_semaphore_set_mechanism(self._h, mech)
  core.pl_semaphore_set_filename_pattern(self._h, self.filename_pattern)
  core.pl_semaphore_set_directory(self._h, self.directory)
  return setmetatable(self, cls)
end

--- Make a semaphore (also `portalocker.BoundedSemaphore(maximum, opts)`).
-- Without a name it is deprecated (a warning): use NamedBoundedSemaphore.
-- @tparam integer maximum how many holders at most (at least 1)
-- @tparam[opt] table opts options
-- @tparam[opt="bounded_semaphore"] string opts.name the name
-- @tparam[opt="{name}.{number:02d}.lock"] string opts.filename_pattern
-- the slot files' names
-- @tparam[opt] string opts.directory where the slot files are (default
-- $TMPDIR or "/tmp")
-- @tparam[opt=5] number opts.timeout seconds to wait
-- @tparam[opt=0.25] number opts.check_interval longest pause between tries
-- @tparam[opt=true] boolean opts.fail_when_locked as in the reference
-- @tparam[opt="flock"] string opts.mechanism "flock", "posix" or "ofd"
-- @tparam[opt] function opts.on_wait see `Lock:acquire`
-- @treturn BoundedSemaphore
-- @raise InvalidArgument for a bad option or a maximum below 1
-- @usage local sem = portalocker.BoundedSemaphore(2, {name = "uploads", directory = "/var/lock"})
function BoundedSemaphore.new(maximum, opts)
  local self = init_semaphore(BoundedSemaphore, maximum, opts,
                              "BoundedSemaphore", "bounded_semaphore")
  if self.name == "bounded_semaphore" then
    warn("portalocker: BoundedSemaphore without an explicit name is ",
         "deprecated, use NamedBoundedSemaphore")
  end
  return self
end

function BoundedSemaphore:_describe()
  return fmt("%s(%d, %q)", getmetatable(self).__name, self.maximum, self.name)
end

--- Take a free slot: a Lua file handle on the slot's file (`self.slot` is
-- the slot number, 0-based).
-- @tparam[opt] table opts per-call overrides
-- @tparam[opt] number opts.timeout seconds to wait this time
-- @tparam[opt] number opts.check_interval longest pause this time
-- @tparam[opt] boolean opts.fail_when_locked accepted, as in the reference
-- @tparam[opt] function opts.on_wait see `Lock:acquire`
-- @treturn[1] file the slot's file handle
-- @treturn[2] nil
-- @treturn[2] Error AlreadyLocked when no slot frees up in time,
-- Interrupted when on_wait or `cancel` ended the wait
-- @raise InvalidState when a slot is already held; InvalidArgument for a
-- bad option
-- @usage
-- local f, err = sem:acquire({timeout = 1})
-- if f then work(); sem:release() end
function BoundedSemaphore:acquire(opts)
  opts = options(opts, WAIT_ACQUIRE_OPTS, "acquire")
  if self.fh == nil then -- the field is the truth
    local mech = mechanism_code(self.mechanism, "acquire")
    if mech ~= toint(core.pl_semaphore_get_mechanism(self._h)) then
      core.pl_semaphore_set_mechanism(self._h, mech)
    end
  end
  local ok, slot = check(waiting(pick(opts.on_wait, self.on_wait),
                       core.pl_semaphore_acquire_with, self._h,
                       seconds(pick(opts.timeout, self.timeout)),
                       seconds(pick(opts.check_interval, self.check_interval))))
  if not ok then return nil, slot end
  self.slot = toint(slot)
  local f, msg = core.pl_lua_stream(toint(core.pl_semaphore_fd(self._h)), "a", self)
  if not f then
    core.pl_semaphore_release(self._h)
    self.slot = nil
    raise(M.codes.NO_MEMORY, "cannot make a file handle: " .. tostring(msg))
  end
  self.fh = f
  return f
end

--- Release the held slot (a no-op when none is held).
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error the flush or the unlock failed (released anyway)
-- @usage sem:release()
function BoundedSemaphore:release()
  local f = self.fh
  self.fh, self.slot = nil, nil
  local ok, err = close_stream(f)
  local rok, rerr = try(core.pl_semaphore_release, self._h)
  if not ok then return nil, err end
  if not rok then return nil, rerr end
  return true
end

--- End this semaphore's wait in progress, or its next one (nil +
-- Interrupted; pl_semaphore_cancel), from any thread or a C signal
-- handler.
-- @usage sem:cancel()
function BoundedSemaphore:cancel()
  core.pl_semaphore_cancel(self._h)
end

--- True while this object holds a slot.
-- @treturn boolean
-- @usage if sem:is_held() then sem:release() end
function BoundedSemaphore:is_held()
  return toint(core.pl_semaphore_slot(self._h)) >= 0
end

--- The path of a slot.
-- @tparam integer number the slot, 0-based
-- @treturn string
-- @raise InvalidArgument for a number out of range or not an integer
-- @usage print(sem:get_filename(0))
function BoundedSemaphore:get_filename(number)
  if math.type(number) ~= "integer" then
    argerror("get_filename", "number: integer expected, got " .. type(number))
  end
  return core.pl_semaphore_slot_path(self._h, number)
end

--- The paths of every slot, in slot order.
-- @treturn {string,...}
-- @usage for _, path in ipairs(sem:get_filenames()) do print(path) end
function BoundedSemaphore:get_filenames()
  local t = {}
  for i = 0, self.maximum - 1 do t[#t + 1] = self:get_filename(i) end
  return t
end

function BoundedSemaphore:_close(err)
  close_with(self, err, function(s)
    if s:is_held() then return s:release() end
    return true
  end)
end

--- A BoundedSemaphore with a random name unless one is given. Has every
-- method of `BoundedSemaphore`.
-- @usage
-- local sem = portalocker.NamedBoundedSemaphore(3, {name = "crawlers"})
-- @type NamedBoundedSemaphore
local NamedBoundedSemaphore = class("NamedBoundedSemaphore", BoundedSemaphore)
M.NamedBoundedSemaphore = NamedBoundedSemaphore

--- Make a named semaphore (also `portalocker.NamedBoundedSemaphore(maximum,
-- opts)`).
-- @tparam integer maximum how many holders at most
-- @tparam[opt] table opts `BoundedSemaphore.new`'s options; `name`
-- defaults to "bounded_semaphore.<random number>"
-- @treturn NamedBoundedSemaphore
-- @raise InvalidArgument for a bad option
-- @usage local sem = portalocker.NamedBoundedSemaphore(2, {name = "db-migrations", timeout = 0})
function NamedBoundedSemaphore.new(maximum, opts)
  local name = type(opts) == "table" and opts.name or nil
  if name == nil then
    name = fmt("bounded_semaphore.%d", math.random(0, 1000000))
    local copy = {}
    for k, v in pairs(opts or {}) do copy[k] = v end
    copy.name = name
    opts = copy
  end
  return init_semaphore(NamedBoundedSemaphore, maximum, opts,
                        "NamedBoundedSemaphore", name)
end

-- open_atomic -----------------------------------------------------------

--- A write in progress of `open_atomic` without a function. `<close>`
-- abandons it unless committed.
-- @field file the Lua file handle on the temporary file
-- @field path where the file appears once committed
-- @field temp_path the temporary file's path
-- @field committed true once `commit` published the file
-- @usage
-- local w <close> = assert(portalocker.open_atomic("config.json"))
-- w:write(data)
-- assert(w:commit())
-- @type AtomicFile
local AtomicFile = class("AtomicFile")
M.AtomicFile = AtomicFile

function AtomicFile:_describe()
  return fmt("%s(%q)", getmetatable(self).__name, self.path)
end

--- Publish the written file under its path: flush, fsync, link into place
-- (never replacing an existing file). When the publication fails, the
-- finished temporary file is kept and the error names it; otherwise the
-- temporary file is removed.
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error FileExists: the path appeared meanwhile (the other
-- file is untouched; the payload is kept and named); IO for a failed
-- write or sync
-- @raise InvalidState when already committed or abandoned
-- @usage assert(w:commit())
function AtomicFile:commit()
  if self._done then
    raise(INVALID_STATE, "open_atomic: already committed or abandoned")
  end
  self._done = true
  local f = self.file
  local ok, err = close_stream(f)
  if not ok then
    core.pl_lua_dispose(self._h)
    return nil, err
  end
  local cok, cerr = try(core.pl_atomic_commit, self._h)
  core.pl_lua_dispose(self._h)
  if not cok then return nil, cerr end
  self.committed = true
  return true
end

--- Abandon: nothing is published, the temporary file is removed. Safe to
-- call more than once, and after commit.
-- @treturn boolean true
-- @usage w:abandon()
function AtomicFile:abandon()
  if self._done then return true end
  self._done = true
  close_stream(self.file)
  core.pl_lua_dispose(self._h)
  return true
end

--- Shorthand for `self.file:write(...)`.
-- @param ... strings or numbers to write
-- @treturn[1] AtomicFile self
-- @treturn[2] nil
-- @treturn[2] string the error message
-- @treturn[2] integer the errno
-- @usage w:write("a", 1, "\n"):write("more")
function AtomicFile:write(...)
  local r, msg, errno = self.file:write(...)
  if r == self.file then return self end
  return r, msg, errno
end

function AtomicFile:_close(err)
  self:abandon()
end

--- Atomic writes.
-- @section atomic

--- Write a file that appears complete or not at all: `fn(file)` gets a
-- Lua file handle on a temporary file next to `path`; when fn returns,
-- the file is published under `path` (never replacing an existing
-- file). If fn raises, nothing is published and the error propagates.
-- @tparam string path where the file appears
-- @tparam[opt] function fn writes the file; without it `open_atomic`
-- returns an `AtomicFile` to write and commit
-- @treturn[1] boolean|AtomicFile true (with fn, once published), or the
-- AtomicFile (without fn)
-- @treturn[2] nil
-- @treturn[2] Error FileExists: `path` exists or appeared meanwhile; IO
-- for a failed create, write or sync
-- @raise InvalidArgument for a non-string path or a non-function fn; the
-- error fn raised
-- @usage
-- assert(portalocker.open_atomic("config.json", function(f)
--   f:write(encode(config))
-- end))
function M.open_atomic(path, fn)
  check_string(path, "open_atomic", "path")
  if fn ~= nil and type(fn) ~= "function" then
    argerror("open_atomic", "fn: function expected, got " .. type(fn))
  end
  local ok, h = try(core.pl_atomic_open, path)
  if not ok then return nil, h end
  local self = setmetatable({path = path, _h = h,
                             temp_path = core.pl_atomic_temp_path(h)}, AtomicFile)
  local f, msg = core.pl_lua_stream(toint(core.pl_atomic_fd(h)), "w", self)
  if not f then
    core.pl_lua_dispose(h)
    raise(M.codes.NO_MEMORY, "cannot make a file handle: " .. tostring(msg))
  end
  self.file = f
  if fn == nil then return self end
  local fok, ferr = pcall(fn, f)
  if not fok then
    self:abandon()
    error(ferr, 0)
  end
  return self:commit()
end

-- RedisLock -------------------------------------------------------------

--- A distributed lock on a Redis pub/sub channel, compatible with the
-- reference's RedisLock (the two exclude each other). With
-- `fencing = true` every exclusive grant draws a token (INCR on
-- `fence_key()`, read with `fence_token()`): hand it to the resource with
-- every write, so a holder paused past its loss is refused. A Lua state
-- runs one call at a time, so no call on a lock can overlap another (a
-- coroutine cannot yield inside one); its __gc frees the C handle without
-- calling Lua.
-- @field channel the channel
-- @field timeout seconds `acquire` waits
-- @field check_interval the longest pause between tries
-- @field fail_when_locked fail at once on contention
-- @field unavailable_timeout seconds of silence after which a holder
-- counts as gone
-- @field flags `LOCK_EX` (a writer) or `LOCK_SH` (a reader)
-- @field fencing whether grants draw fencing tokens
-- @field self_check_interval seconds between self-checks of a held
-- lock, or nil
-- @usage
-- local lock <close> = portalocker.RedisLock("deploy", {port = 6379, fencing = true})
-- assert(lock:acquire())
-- deploy(lock:fence_token())
-- assert(lock:release())
-- @type RedisLock
local RedisLock = class("RedisLock")
M.RedisLock = RedisLock

local REDIS_OPTS = {
  url = "string",
  host = "string", port = "integer", db = "integer", username = "string",
  password = "string", unix_socket_path = "string",
  socket_connect_timeout = "number", socket_timeout = "number",
  timeout = "number", check_interval = "number", fail_when_locked = "boolean",
  unavailable_timeout = "number", flags = "integer", fencing = "boolean",
  self_check_interval = "number",
}

local REDIS_MODES = {
  [core.PL_REDIS_MODE_SHARED] = "shared",
  [core.PL_REDIS_MODE_PENDING] = "pending",
  [core.PL_REDIS_MODE_EXCLUSIVE] = "exclusive",
}

--- Make a Redis lock (also `portalocker.RedisLock(channel, opts)`);
-- nothing is connected until `acquire`. The defaults are the reference's.
-- @tparam string channel the pub/sub channel (binary-safe)
-- @tparam[opt] table opts options
-- @tparam[opt="127.0.0.1"] string opts.host the server's host
-- @tparam[opt=6379] integer opts.port the server's port
-- @tparam[opt=0] integer opts.db the database number
-- @tparam[opt] string opts.username the ACL user (with password)
-- @tparam[opt] string opts.password AUTH password
-- @tparam[opt] string opts.unix_socket_path connect through this Unix
-- socket instead
-- @tparam[opt] number opts.socket_connect_timeout seconds to connect
-- @tparam[opt] number opts.socket_timeout seconds per command
-- @tparam[opt=5] number opts.timeout seconds to wait
-- @tparam[opt=0.25] number opts.check_interval longest pause between tries
-- @tparam[opt=false] boolean opts.fail_when_locked fail at once on contention
-- @tparam[opt=1] number opts.unavailable_timeout seconds of silence after
-- which a holder counts as gone (the same for every participant)
-- @tparam[opt=LOCK_EX] integer opts.flags `LOCK_EX` or `LOCK_SH`
-- @tparam[opt=false] boolean opts.fencing draw fencing tokens
-- @tparam[opt] number opts.self_check_interval seconds between
-- end-to-end self-checks of a held lock
-- @treturn RedisLock
-- @raise InvalidArgument for a bad option, flags other than LOCK_EX or
-- LOCK_SH, a non-positive self_check_interval
-- @usage local lock = portalocker.RedisLock("jobs", {unix_socket_path = "/run/redis.sock"})
function RedisLock.new(channel, opts)
  check_string(channel, "RedisLock", "channel")
  opts = options(opts, REDIS_OPTS, "RedisLock")
  local flags = pick(opts.flags, M.LOCK_EX)
  if flags ~= M.LOCK_EX and flags ~= M.LOCK_SH then
    argerror("RedisLock", "flags must be exactly LOCK_EX or LOCK_SH")
  end
  local self = {
    channel = channel,
    timeout = pick(opts.timeout, M.DEFAULT_TIMEOUT),
    check_interval = pick(opts.check_interval, M.DEFAULT_CHECK_INTERVAL),
    fail_when_locked = pick(opts.fail_when_locked, false),
    unavailable_timeout = pick(opts.unavailable_timeout, 1),
    flags = flags,
    _held = false,
  }
  local h = core.pl_redis_lock_new(channel)
  self._h = h
  if opts.unix_socket_path then
    core.pl_redis_lock_set_unix_socket(h, opts.unix_socket_path)
  else
    core.pl_redis_lock_set_host(h, pick(opts.host, "127.0.0.1"), pick(opts.port, 6379))
  end
  if opts.db and opts.db ~= 0 then core.pl_redis_lock_set_db(h, opts.db) end
  if opts.password ~= nil then
    core.pl_redis_lock_set_password(h, opts.username, opts.password)
  end
  if opts.socket_connect_timeout ~= nil then
    core.pl_redis_lock_set_connect_timeout(h, opts.socket_connect_timeout + 0.0)
  end
  if opts.socket_timeout ~= nil then
    core.pl_redis_lock_set_command_timeout(h, opts.socket_timeout + 0.0)
  end
  -- url (redis://, rediss:// with ssl_* options, unix://): the whole
  -- connection, applied last so that it decides.
  if opts.url ~= nil then
    check_string(opts.url, "RedisLock", "url")
    core.pl_redis_lock_set_url(h, opts.url)
  end
  core.pl_redis_lock_set_flags(h, flags)
  core.pl_redis_lock_set_unavailable_timeout(h, self.unavailable_timeout + 0.0)
  if opts.fencing then core.pl_redis_lock_set_fencing(h, 1) end
  self.fencing = opts.fencing == true
  if opts.self_check_interval ~= nil then
    if not (opts.self_check_interval > 0) then
      argerror("RedisLock", "self_check_interval must be positive")
    end
    core.pl_redis_lock_set_self_check_interval(h, opts.self_check_interval + 0.0)
  end
  self.self_check_interval = opts.self_check_interval
  return setmetatable(self, RedisLock)
end

function RedisLock:_describe()
  return fmt("%s(%q)", getmetatable(self).__name, self.channel)
end

--- Take the lock.
-- @tparam[opt] table opts per-call overrides
-- @tparam[opt] number opts.timeout seconds to wait this time
-- @tparam[opt] number opts.check_interval longest pause this time
-- @tparam[opt] boolean opts.fail_when_locked fail at once this time
-- @treturn[1] RedisLock self
-- @treturn[2] nil
-- @treturn[2] Error AlreadyLocked on contention or timeout;
-- ConnectionError when the server cannot be reached
-- @raise InvalidState when this object already holds the lock;
-- InvalidArgument for a bad option
-- @usage local ok, err = lock:acquire({timeout = 10})
function RedisLock:acquire(opts)
  opts = options(opts, ACQUIRE_OPTS, "acquire")
  if self._held and not self:is_lost() then
    raise(INVALID_STATE, "RedisLock: this lock is already active")
  end
  local ok, err = try(core.pl_redis_lock_acquire_with, self._h,
                      seconds(pick(opts.timeout, self.timeout)),
                      seconds(pick(opts.check_interval, self.check_interval)),
                      pick(opts.fail_when_locked, self.fail_when_locked) and 1 or 0)
  if not ok then return nil, err end
  self._held = true
  return self
end

--- Release (unsubscribe). A no-op when not held.
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] Error LockLost (with `channel`): the lock had been lost
-- while held; everything is cleaned up anyway
-- @usage
-- local ok, err = lock:release()
-- if not ok then print("work may have overlapped: " .. err.message) end
function RedisLock:release()
  self._held = false
  local ok, err = try(core.pl_redis_lock_release, self._h)
  if not ok then
    err.channel = self.channel
    return nil, err
  end
  return true
end

--- Whether the lock is still held, confirmed by the holder's background
-- round trips. Call it before each step that needs the exclusion.
-- @treturn[1] boolean true while held
-- @treturn[2] nil
-- @treturn[2] Error LockLost, or NotHeld when nothing is held
-- @usage for _, step in ipairs(steps) do assert(lock:check()); step() end
function RedisLock:check()
  local ok, err = pcall(core.pl_redis_lock_check, self._h)
  if ok then return true end
  if getmetatable(err) == Error and (err.name == "LockLost" or err.name == "NotHeld") then
    return nil, err
  end
  error(err, 0)
end

--- True from the moment a held lock was lost until the next acquire, also
-- after release (no round trip).
-- @treturn boolean
-- @usage if lock:is_lost() then abort_work() end
function RedisLock:is_lost()
  if core.pl_redis_lock_is_lost(self._h) == 1 then return true end
  local ok, err = self:check()
  return not ok and err.name == "LockLost"
end

--- The token of the current or most recent fenced exclusive grant (kept
-- after release and loss until the next acquire).
-- @treturn integer|nil nil: fencing off, a reader, or no grant yet
-- @usage db:write(row, lock:fence_token())
function RedisLock:fence_token()
  local t = math.tointeger(core.pl_redis_lock_get_fence_token(self._h))
  if t == nil or t == 0 then return nil end
  return t
end

--- The key of the channel's fencing counter, "<channel>-fence" (the lock
-- never deletes it).
-- @treturn string
-- @usage print(lock:fence_key()) --> jobs-fence
function RedisLock:fence_key()
  return core.pl_redis_lock_get_fence_key(self._h)
end

--- The mode this lock advertises now.
-- @treturn string "shared", "pending" or "exclusive"
-- @usage print(lock:mode())
function RedisLock:mode()
  return REDIS_MODES[core.pl_redis_lock_get_mode(self._h)]
end

--- Who holds the channel now, changing nothing (never reaps, never
-- subscribes; this lock's own record is included while it holds).
-- @tparam[opt] table opts options
-- @tparam[opt] number opts.timeout seconds for a conclusive answer
-- (default: unavailable_timeout)
-- @treturn[1] {table,...} one table per holder: `holder_id` (string),
-- `mode` ("shared", "pending" or "exclusive"), `legacy` (boolean: a
-- reply that was no protocol record), `elected` (boolean, nil for a peer
-- older than the field); {} for a channel nobody is on
-- @treturn[2] nil
-- @treturn[2] Error no probe was conclusive in time, or ConnectionError
-- @usage for _, h in ipairs(assert(lock:probe())) do print(h.holder_id, h.mode) end
function RedisLock:probe(opts)
  opts = options(opts, {timeout = "number"}, "probe")
  local ok, list = try(core.pl_redis_lock_probe, self._h,
                       seconds(pick(opts.timeout, self.unavailable_timeout)))
  if not ok then return nil, list end
  local holders = {}
  for i = 0, math.tointeger(core.pl_redis_holders_count(list)) - 1 do
    local id, mode, elected = core.pl_redis_holders_get(list, i)
    local e = nil
    if elected >= 0 then e = elected == 1 end
    holders[#holders + 1] = {
      holder_id = id, mode = REDIS_MODES[mode],
      legacy = id:sub(1, 7) == "legacy-", elected = e,
    }
  end
  core.pl_lua_dispose(list)
  return holders
end

--- True while held (`check` succeeds).
-- @treturn boolean
-- @usage if lock:is_held() then lock:release() end
function RedisLock:is_held()
  return self:check() == true
end

--- This holder's id in the reference's wire format (fixed for the
-- object's life).
-- @treturn string
-- @usage print(lock:holder_id())
function RedisLock:holder_id()
  return core.pl_redis_lock_holder_id(self._h)
end

function RedisLock:_close(err)
  close_with(self, err, function(s)
    if not s._held then return true end
    return s:release()
  end)
end

return M
