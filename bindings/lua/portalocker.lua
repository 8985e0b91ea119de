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

M.__version = core.pl_version_string()
M._VERSION = "portalocker " .. M.__version

--------------------------------------------------------------------------
-- Errors
--------------------------------------------------------------------------

--- The metatable of every error object (shared with the C module).
local Error = core.pl_lua_error_metatable()
M.Error = Error

--- Error codes by name, from the C table: codes.ALREADY_LOCKED == -1, ...
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

--- An error object for `code` (a C error code) with `message`.
function M.error(code, message)
  return new_error(code, message or core.pl_strerror(code))
end

--- True if `v` is a portalocker error object (optionally with that name).
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

--------------------------------------------------------------------------
-- Flags, options
--------------------------------------------------------------------------

M.LOCK_SH = toint(core.pl_flag_shared())
M.LOCK_EX = toint(core.pl_flag_exclusive())
M.LOCK_NB = toint(core.pl_flag_non_blocking())
M.LOCK_UN = toint(core.pl_flag_unblock())

--- The reference's LockFlags enum (combine with `|`).
M.LockFlags = {
  SHARED = M.LOCK_SH,
  EXCLUSIVE = M.LOCK_EX,
  NON_BLOCKING = M.LOCK_NB,
  UNBLOCK = M.LOCK_UN,
}

--- The lock mechanisms (the OS primitive a lock uses), for the `mechanism`
-- option of every class and of lock()/unlock(): "flock" (flock(2), the
-- default, what the Python portalocker uses), "posix" (fcntl record locks:
-- per process, dropped when the process closes ANY descriptor of the file),
-- "ofd" (Linux open-file-description record locks). Name -> C value.
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

--- True if the mechanism ("flock", "posix", "ofd") works on this system;
--- an unknown name raises InvalidArgument.
function M.mechanism_supported(name)
  local good, err = pcall(core.pl_mechanism_supported,
                          mechanism_code(name, "mechanism_supported"))
  if good then return true end
  if getmetatable(err) == Error and err.name == "Unsupported" then return false end
  error(err, 0)
end

M.DEFAULT_TIMEOUT = 5
M.DEFAULT_CHECK_INTERVAL = 0.25
M.DEFAULT_FAIL_WHEN_LOCKED = false
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

--------------------------------------------------------------------------
-- lock() / unlock() on descriptors and file handles
--------------------------------------------------------------------------

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

--- Lock a file handle or descriptor: lock(file, flags[, {mechanism =
-- "flock", on_wait = fn}]). true, or nil + err (AlreadyLocked on
-- contention, Interrupted when on_wait ended the wait, LockException
-- otherwise). Without LOCK_NB it waits. Buffered data is not flushed (as
-- in the reference).
function M.lock(file, flags, opts)
  check_lock_flags(flags, "lock")
  opts = options(opts, FD_LOCK_OPTS, "lock")
  local mech = mechanism_code(pick(opts.mechanism, "flock"), "lock")
  local ok, err = check(waiting(opts.on_wait, core.pl_lock_fd_mechanism,
                                fd_of(file, "lock"), flags, mech))
  if not ok then return nil, err end
  return true
end

--- Unlock a file handle or descriptor: unlock(file[, {mechanism =
-- "flock"}]) (the mechanism it was locked with). true, or nil + err.
function M.unlock(file, opts)
  opts = options(opts, FD_OPTS, "unlock")
  local mech = mechanism_code(pick(opts.mechanism, "flock"), "unlock")
  local ok, err = try(core.pl_unlock_fd_mechanism, fd_of(file, "unlock"), mech)
  if not ok then return nil, err end
  return true
end

--------------------------------------------------------------------------
-- File locks: Lock, RLock, TemporaryFileLock, PidFileLock
--------------------------------------------------------------------------

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

--- Lock(filename, {mode = "a", timeout = 5, check_interval = 0.25,
--- fail_when_locked = false, flags = LOCK_EX | LOCK_NB,
--- raise_on_release_error = false, mechanism = "flock"}); mechanism:
--- "flock", "posix" or "ofd" (see M.MECHANISMS).
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

--- Acquire: the Lua file handle (the same one while held), or nil + err
--- (AlreadyLocked on contention or timeout, Interrupted when on_wait or
--- :cancel() ended the wait). Options override the object's timeout /
--- check_interval / fail_when_locked / on_wait for this call. The file
--- handle keeps this object (and so the lock and its descriptor) alive.
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
--- nothing is held (RLock: releasing more often than acquired raises
--- NotHeld). true, or nil + err (the flush or, with raise_on_release_error,
--- the unlock failed; the lock is released anyway).
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

--- End this lock's wait in progress, or its next one (nil + Interrupted):
--- the C core's pl_lock_cancel, safe from any thread (another Lua state's)
--- and from a C signal handler.
function Lock:cancel()
  core.pl_lock_cancel(self._h)
end

--- True while this object holds its lock.
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

--- RLock: a Lock the same object may acquire repeatedly (counted).
local RLock = class("RLock", Lock)
M.RLock = RLock

function RLock.new(filename, opts)
  return init_file_lock(RLock, core.pl_rlock_new, filename, opts, "RLock",
                        {mode = "a", fail_when_locked = false, mode_settable = true})
end

--- How many times this object holds the lock.
function RLock:count()
  return toint(core.pl_lock_count(self._h))
end

--- TemporaryFileLock(filename = ".lock", {...}): the file exists only while
--- the lock is held. fail_when_locked defaults to true.
local TemporaryFileLock = class("TemporaryFileLock", Lock)
M.TemporaryFileLock = TemporaryFileLock

function TemporaryFileLock.new(filename, opts)
  return init_file_lock(TemporaryFileLock, core.pl_temporary_lock_new,
                        pick(filename, ".lock"), opts, "TemporaryFileLock",
                        {mode = "w", fail_when_locked = true})
end

--- PidFileLock(filename = ".pid", {...}): locks "<filename>.lock" and writes
--- this process's PID to filename. On contention acquire gives nil, err
--- with err.holder_pid (the holder's PID when it could be read).
local PidFileLock = class("PidFileLock", Lock)
M.PidFileLock = PidFileLock

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

--- The PID in the PID file, or nil (missing, empty, not a number).
function PidFileLock:read_pid()
  local pid = toint(core.pl_lock_read_pid(self._h))
  if pid and pid > 0 then return pid end
  return nil
end

--------------------------------------------------------------------------
-- Bounded semaphores
--------------------------------------------------------------------------

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

--- BoundedSemaphore(maximum, {name = "bounded_semaphore", filename_pattern =
--- "{name}.{number:02d}.lock", directory = $TMPDIR or "/tmp", timeout = 5,
--- check_interval = 0.25, fail_when_locked = true, mechanism = "flock"}).
--- At most `maximum`
--- holders across processes. Without a name it is deprecated (a warning):
--- use NamedBoundedSemaphore.
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

--- Take a free slot: a Lua file handle on the slot's file (self.slot is
--- the slot number, 0-based), or nil + err (AlreadyLocked when no slot
--- frees up in time). Acquiring while holding raises InvalidState.
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

--- Release the held slot (a no-op when none is held). true, or nil + err.
function BoundedSemaphore:release()
  local f = self.fh
  self.fh, self.slot = nil, nil
  local ok, err = close_stream(f)
  local rok, rerr = try(core.pl_semaphore_release, self._h)
  if not ok then return nil, err end
  if not rok then return nil, rerr end
  return true
end

--- End this semaphore's wait in progress, or its next one
--- (pl_semaphore_cancel).
function BoundedSemaphore:cancel()
  core.pl_semaphore_cancel(self._h)
end

function BoundedSemaphore:is_held()
  return toint(core.pl_semaphore_slot(self._h)) >= 0
end

--- The path of slot `number` (0-based).
function BoundedSemaphore:get_filename(number)
  if math.type(number) ~= "integer" then
    argerror("get_filename", "number: integer expected, got " .. type(number))
  end
  return core.pl_semaphore_slot_path(self._h, number)
end

--- The paths of every slot.
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

--- NamedBoundedSemaphore(maximum, {name = "bounded_semaphore.<random>",
--- ...}): a BoundedSemaphore with a random name unless one is given.
local NamedBoundedSemaphore = class("NamedBoundedSemaphore", BoundedSemaphore)
M.NamedBoundedSemaphore = NamedBoundedSemaphore

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

--------------------------------------------------------------------------
-- open_atomic
--------------------------------------------------------------------------

local AtomicFile = class("AtomicFile")
M.AtomicFile = AtomicFile

function AtomicFile:_describe()
  return fmt("%s(%q)", getmetatable(self).__name, self.path)
end

--- Publish the written file under its path: flush, fsync, link into place
--- (never replacing an existing file). true, or nil + err (FileExists:
--- the path appeared meanwhile; the other file is untouched). A failed
--- publication keeps the finished temporary file (err names it).
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
--- call more than once, and after commit.
function AtomicFile:abandon()
  if self._done then return true end
  self._done = true
  close_stream(self.file)
  core.pl_lua_dispose(self._h)
  return true
end

--- Shorthand for self.file:write(...).
function AtomicFile:write(...)
  local r, msg, errno = self.file:write(...)
  if r == self.file then return self end
  return r, msg, errno
end

function AtomicFile:_close(err)
  self:abandon()
end

--- open_atomic(path, fn): call fn(file) with a Lua file handle on a
--- temporary file next to `path`; when fn returns, publish the file under
--- `path` (never replacing an existing file) and return true, or nil + err
--- (FileExists). If fn raises, nothing is published and the error
--- propagates. Without fn: an AtomicFile (fields `file`, `path`,
--- `temp_path`; methods write, commit, abandon; `<close>` abandons unless
--- committed). nil + err when it cannot start (FileExists: `path` exists).
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

--------------------------------------------------------------------------
-- RedisLock
--------------------------------------------------------------------------

local RedisLock = class("RedisLock")
M.RedisLock = RedisLock

local REDIS_OPTS = {
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

--- RedisLock(channel, {host = "127.0.0.1", port = 6379, db = 0, username,
--- password, unix_socket_path, socket_connect_timeout, socket_timeout,
--- timeout = 5, check_interval = 0.25, fail_when_locked = false,
--- unavailable_timeout = 1, flags = LOCK_EX, fencing = false,
--- self_check_interval}): a distributed lock on a Redis pub/sub channel,
--- compatible with the reference's RedisLock. With fencing = true every
--- exclusive grant draws a token (INCR on fence_key(), read with
--- fence_token()): hand it to the resource with every write, so a holder
--- paused past its loss is refused. A Lua state runs one call at a time,
--- so no call on a lock can overlap another (a coroutine cannot yield
--- inside one); its __gc frees the C handle without calling Lua.
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

--- Acquire: self, or nil + err (AlreadyLocked; ConnectionError when the
--- server cannot be reached). Acquiring a held lock raises InvalidState.
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

--- Release. true, or nil + err (LockLost: the lock had been lost while
--- held; everything is cleaned up anyway). A no-op when not held.
function RedisLock:release()
  self._held = false
  local ok, err = try(core.pl_redis_lock_release, self._h)
  if not ok then
    err.channel = self.channel
    return nil, err
  end
  return true
end

--- true while held; nil + err (LockLost, or NotHeld when nothing is held).
--- Call it before each step that needs the exclusion.
function RedisLock:check()
  local ok, err = pcall(core.pl_redis_lock_check, self._h)
  if ok then return true end
  if getmetatable(err) == Error and (err.name == "LockLost" or err.name == "NotHeld") then
    return nil, err
  end
  error(err, 0)
end

--- True from the moment a held lock was lost until the next acquire, also
--- after release (no round trip).
function RedisLock:is_lost()
  if core.pl_redis_lock_is_lost(self._h) == 1 then return true end
  local ok, err = self:check()
  return not ok and err.name == "LockLost"
end

--- The token of the current or most recent fenced exclusive grant (kept
--- after release and loss until the next acquire), or nil: fencing off, a
--- reader, or no grant yet.
function RedisLock:fence_token()
  local t = math.tointeger(core.pl_redis_lock_get_fence_token(self._h))
  if t == nil or t == 0 then return nil end
  return t
end

--- "<channel>-fence": the key of the channel's fencing counter (the lock
--- never deletes it).
function RedisLock:fence_key()
  return core.pl_redis_lock_get_fence_key(self._h)
end

--- The mode this lock advertises now: "shared", "pending" or "exclusive".
function RedisLock:mode()
  return REDIS_MODES[core.pl_redis_lock_get_mode(self._h)]
end

--- Who holds the channel now, changing nothing (never reaps, never
--- subscribes; this lock's own record is included while it holds): a list
--- of {holder_id, mode, legacy, elected} (elected nil for a peer older than
--- the field), {} for a channel nobody is on; nil + err when no probe was
--- conclusive within opts.timeout seconds (default unavailable_timeout).
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

function RedisLock:is_held()
  return self:check() == true
end

--- This holder's id in the reference's wire format.
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
