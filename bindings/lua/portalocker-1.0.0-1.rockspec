-- LuaRocks package of the Lua binding. Build from the repository root:
--   luarocks make bindings/lua/portalocker-1.0.0-1.rockspec
-- It runs the project's Makefile (`make lua-binding`: SWIG generates the
-- wrapper from bindings/portalocker.i, which is compiled and linked against
-- the core built from core/src as a static library) and installs
-- portalocker_c.so and portalocker.lua (`make lua-install`) into the tree.
-- WERROR=0: the project's -Werror is for its developers; a user's compiler
-- may warn about more and must not fail the install for it.
-- Needs a C compiler, swig, libhiredis-dev and libcjson-dev.
rockspec_format = "3.0"
package = "portalocker"
version = "1.0.0-1"
source = {
  url = "git+file://.",
  tag = "v1.0.0",
}
description = {
  summary = "Cross-process file locks, semaphores, atomic writes and a Redis lock",
  detailed = [[
    Lua 5.4 binding of libportalocker, a C reimplementation of the Python
    portalocker package: Lock, RLock, TemporaryFileLock, PidFileLock,
    BoundedSemaphore, NamedBoundedSemaphore, RedisLock and open_atomic.
    acquire() returns a standard Lua file handle; locks work with <close>.
  ]],
  license = "BSD-3-Clause",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  HIREDIS = { header = "hiredis/hiredis.h", library = "hiredis" },
  CJSON = { header = "cjson/cJSON.h", library = "cjson" },
}
build = {
  type = "make",
  makefile = "Makefile",
  build_target = "lua-binding",
  build_variables = {
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    CFLAGS = "$(CFLAGS)",
    CC = "$(CC)",
    WERROR = "0",
  },
  install_target = "lua-install",
  install_variables = {
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_SHAREDIR = "$(LUADIR)",
    PREFIX = "$(PREFIX)",
  },
}
