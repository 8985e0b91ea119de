-- lua5.4 lua_doc_coverage.lua ITEMS: every public name of the loaded
-- portalocker module is in the LDoc reference, and everything there
-- exists. ITEMS is what `ldoc --filter ldoc_items.list` printed. Public:
-- every key of the module and every own function of its classes whose
-- name does not start with "_". A class (a table the module exports whose
-- __index is itself) needs its @type section with a @usage example; a
-- function needs a @usage example; a constant or table a comment.
-- Run with the built binding on LUA_PATH/LUA_CPATH.
local items_file = assert(arg[1], "usage: lua_doc_coverage.lua ITEMS")
local portalocker = require "portalocker"

local documented = {} -- name -> {kind = ..., usage = bool}
for line in io.lines(items_file) do
  local kind, name, usage = line:match("^(%S+)\t(%S+)\t(%S+)$")
  if kind then documented[name] = {kind = kind, usage = usage == "usage"} end
end

local problems = {}
local function problem(fmt, ...) problems[#problems + 1] = string.format(fmt, ...) end
local public = {} -- every name the reference must have (and its aliases)
local checked = 0

local function need(name, what, wants_usage)
  public[name] = true
  checked = checked + 1
  local d = documented[name]
  if d == nil then
    problem("%s %s has no doc comment", what, name)
  elseif wants_usage and not d.usage then
    problem("%s %s has no @usage example", what, name)
  end
end

local function is_class(v)
  return type(v) == "table" and rawget(v, "__index") == v
end

for key, value in pairs(portalocker) do
  if type(key) == "string" and key:sub(1, 1) ~= "_" then
    if is_class(value) then
      need(key, "class", true)
      for mkey, mvalue in pairs(value) do
        if type(mkey) == "string" and mkey:sub(1, 1) ~= "_" and type(mvalue) == "function" then
          -- LDoc names a method Class:name and a class function Class.name.
          local name = documented[key .. ":" .. mkey] and key .. ":" .. mkey or key .. "." .. mkey
          need(name, "function", true)
          public[key .. ":" .. mkey], public[key .. "." .. mkey] = true, true
        end
      end
    elseif type(value) == "function" then
      need(key, "function", true)
    else
      need(key, type(value) == "table" and "table" or "constant", false)
    end
  end
end

for name in pairs(documented) do
  if not public[name] and name:sub(1, 1) ~= "_" then
    problem("%s is documented but the module has no such public name", name)
  end
end

table.sort(problems)
if #problems > 0 then
  io.stderr:write("lua docs: the LDoc reference and the module differ:\n  ",
                  table.concat(problems, "\n  "), "\n")
  os.exit(1)
end
print(string.format("lua docs: every public name of portalocker is documented (%d checked)", checked))
