-- LuaRocks package of the Lua binding.
--   make lua-rock   build/lua-rock/portalocker-1.0.0-1.src.rock: this
--                   rockspec and the source archive portalocker-1.0.0.tar.gz
--                   (the C core, core/build.mk, bindings/lua with the
--                   SWIG-generated wrapper); `luarocks install` it anywhere,
--                   no checkout and no swig needed.
--   luarocks make bindings/lua/portalocker-1.0.0-1.rockspec
--                   from the root of a checkout (swig makes the wrapper).
-- Either way bindings/lua/rock.mk compiles the wrapper with the core's
-- sources into portalocker_c.so and installs it with portalocker.lua.
-- Needs a C compiler, libhiredis-dev and libcjson-dev.
--
-- The source URL names the archive `make lua-rock` writes beside its copy
-- of this file: libportalocker has no public download address (nor home
-- page) yet, so the source rock is the way to hand the package on.
rockspec_format = "3.0"
package = "portalocker"
version = "1.0.0-1"
source = {
  url = "file://portalocker-1.0.0.tar.gz",
  dir = "portalocker-1.0.0",
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
  OPENSSL = { header = "openssl/ssl.h", library = "ssl" },
}
build = {
  type = "make",
  makefile = "bindings/lua/rock.mk",
  build_target = "all",
  build_variables = {
    CC = "$(CC)",
    CFLAGS = "$(CFLAGS)",
    LUA_CFLAGS = "-I$(LUA_INCDIR)",
    HIREDIS_INCDIR = "$(HIREDIS_INCDIR)",
    HIREDIS_LIBDIR = "$(HIREDIS_LIBDIR)",
    CJSON_INCDIR = "$(CJSON_INCDIR)",
    CJSON_LIBDIR = "$(CJSON_LIBDIR)",
    OPENSSL_INCDIR = "$(OPENSSL_INCDIR)",
    OPENSSL_LIBDIR = "$(OPENSSL_LIBDIR)",
  },
  install_target = "install",
  install_variables = {
    LUA_LIBDIR = "$(LIBDIR)",
    LUA_SHAREDIR = "$(LUADIR)",
  },
  copy_directories = {},
}
