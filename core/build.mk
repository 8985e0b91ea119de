# How the C core is compiled and how SWIG is run: the one copy of these
# settings. Read by the Makefile (include), bindings/python/setup.py,
# bindings/ruby/ext/portalocker/extconf.rb, bindings/lua/rock.mk (include)
# and the scripts that stage the packages, bindings/*/stage-*.sh (which
# also ship this file in the sdist, the gem and the rock).
#
# Format, kept simple so that those readers parse it in a few lines:
# `NAME = value` lines, the value a list of words separated by blanks; `#`
# starts a comment; no make syntax (no $(...), no continuation lines).
# Paths are relative to the repository root.

# Directories whose *.c files make up the core, per platform. No two files
# in them share a basename (the Ruby extension compiles them by basename).
PL_SRC_DIRS_unix = core/src core/src/unix
PL_SRC_DIRS_win = core/src core/src/win
# Files of those directories a platform leaves out (shell globs). Windows:
# the TLS transport, which needs OpenSSL (none for mingw-w64 in Debian);
# core/src/win/tls_unavailable.c answers PL_ERR_UNSUPPORTED instead.
PL_SRC_EXCLUDE_win = core/src/tls_openssl.c

# Include directories: the public header and the core's private headers.
PL_INCLUDE_DIRS = core/include core/src

# Flags every compilation of the core needs (optimisation and warnings are
# the builder's choice and not here).
PL_CORE_CFLAGS = -std=gnu11 -fvisibility=hidden -D_FILE_OFFSET_BITS=64 -DPL_BUILDING_LIBRARY

# Libraries the core links against (-l names).
PL_LIBS = hiredis cjson ssl crypto pthread m
# The same for the Windows DLL (cJSON and hiredis's protocol reader and
# formatter cross-built by ci/win/deps.sh; ws2_32: Winsock; bcrypt:
# BCryptGenRandom).
PL_LIBS_win = hiredis cjson ws2_32 bcrypt ntdll

# SWIG on bindings/portalocker.i: the arguments per language, and the
# include directories (-I) every language passes.
PL_SWIG_python = -python -builtin
PL_SWIG_ruby = -ruby -w801 -module portalocker::native
PL_SWIG_lua = -lua -nomoduleglobal
PL_SWIG_INCLUDE_DIRS = core/include

# The pkg-config names of the dependencies that ship a .pc file, and, word
# for word, the Debian package that provides each (the Ruby gem's extconf.rb
# finds them with pkg-config and names the package of a missing one).
PL_PKGCONFIG = hiredis libcjson libssl libcrypto
PL_PKGCONFIG_DEBIAN = libhiredis-dev libcjson-dev libssl-dev libssl-dev
