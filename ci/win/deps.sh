#!/usr/bin/env bash
# The Windows dependencies, cross-built from Debian's own source packages
# (`apt-get source`, private apt state: the system's apt is not touched)
# with Debian's mingw-w64 into build/win/deps/{include,lib,bin}:
#   cJSON   (the core: the Redis lock's messages)   static archive
#   hiredis (the core: the Redis protocol's reader   static archive
#            and formatter only: read.c, sds.c,
#            alloc.c and hiredis.c's part before its
#            connection functions; its networking,
#            net.c, is POSIX sockets and is not built)
#   cmocka  (the unit suites run under wine)        static archive
#   Lua 5.4 (the Lua binding's tests under wine)    lua54.dll, lua.exe
#   lua-cjson (the Lua conformance agent's JSON)     cjson.dll (a Lua module)
#   cJSON and hiredis again for the UCRT (Python     ucrt/lib*.a
#            extensions)
# Nothing is vendored in the repository. Built once; a second run does
# nothing (the stamp names the source versions and the compiler).
# Exit status non-zero when a fetch or build fails (the caller decides
# whether that is a skip or a failure).
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/lib/debian-sources.sh

W=$PWD/build/win
DEPS=$W/deps
SRC=$W/src
CROSS=x86_64-w64-mingw32
command -v $CROSS-gcc >/dev/null || { echo "win-deps: $CROSS-gcc missing (apt-get install mingw-w64)"; exit 1; }

PACKAGES="cjson cmocka lua5.4 hiredis lua-cjson"
if [ "$(cat "$SRC/.fetched" 2>/dev/null)" != "$PACKAGES" ]; then
  rm -rf "$SRC"
  # shellcheck disable=SC2086  # a list of names
  pl_debian_sources "$W" "$SRC" $PACKAGES >/dev/null || { echo "win-deps: apt-get source $PACKAGES failed"; exit 1; }
  echo "$PACKAGES" >"$SRC/.fetched"
fi
cjson_dir=$(ls -d "$SRC"/cjson-*/ | head -n1) cmocka_dir=$(ls -d "$SRC"/cmocka-*/ | head -n1)
lua_dir=$(ls -d "$SRC"/lua5.4-*/ | head -n1) hiredis_dir=$(ls -d "$SRC"/hiredis-*/ | head -n1)
luacjson_dir=$(ls -d "$SRC"/lua-cjson-*/ | head -n1)
cjson_dir=${cjson_dir%/} cmocka_dir=${cmocka_dir%/} lua_dir=${lua_dir%/} hiredis_dir=${hiredis_dir%/}
luacjson_dir=${luacjson_dir%/}
stamp="$(basename "$cjson_dir") hidden $(basename "$cmocka_dir") $(basename "$lua_dir") $(basename "$hiredis_dir") ucrt $(basename "$luacjson_dir") $($CROSS-gcc -dumpversion)"
if [ "$(cat "$DEPS/.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
rm -rf "$DEPS" "$W/deps-build"
TC=$PWD/ci/win/mingw-toolchain.cmake

# cmake_build NAME SRCDIR ARGS...: configure, build, install into $DEPS.
cmake_build() {
  local name=$1 src=$2 b=$W/deps-build/$1
  shift 2
  cmake -S "$src" -B "$b" -DCMAKE_TOOLCHAIN_FILE="$TC" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$DEPS" "$@" >"$b.log" 2>&1 &&
    cmake --build "$b" -j2 >>"$b.log" 2>&1 &&
    cmake --install "$b" >>"$b.log" 2>&1 ||
    { tail -n 30 "$b.log"; echo "win-deps: building $name failed (log: $b.log)"; return 1; }
}
mkdir -p "$W/deps-build"
# Static archives: the DLL and the test programs carry them, so wine needs
# no extra DLLs next to the executables.
# ENABLE_HIDDEN_SYMBOLS: cJSON marks its functions dllexport by default,
# so the DLL that links it in would export them too (the DLL exports the
# header's API only).
cmake_build cjson "$cjson_dir" -DBUILD_SHARED_LIBS=OFF -DENABLE_CJSON_TEST=OFF -DENABLE_HIDDEN_SYMBOLS=ON \
  -DENABLE_CJSON_UTILS=OFF -DENABLE_TARGET_EXPORT=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF
cmake_build cmocka "$cmocka_dir" -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF \
  -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF -DPICKY_DEVELOPER=OFF
# cmocka 1.1 installs its static archive as libcmocka-static.a.
if [ ! -f "$DEPS/lib/libcmocka.a" ] && [ -f "$DEPS/lib/libcmocka-static.a" ]; then
  cp "$DEPS/lib/libcmocka-static.a" "$DEPS/lib/libcmocka.a"
fi
# Lua 5.4: the interpreter as Windows builds it (lua54.dll, lua.exe),
# compiled straight from the sources' file list (Debian's patches give
# the Makefile a libtool build for Linux): LUA_BUILD_AS_DLL exports the
# C API, lua.c links against the DLL.
lua_core=$(ls "$lua_dir"/src/*.c | grep -vE '/(lua|luac)\.c$')
mkdir -p "$DEPS/lua/include" "$W/deps-build/lua"
# shellcheck disable=SC2086  # a list of files
$CROSS-gcc -O2 -std=gnu99 -DLUA_BUILD_AS_DLL -DLUA_COMPAT_5_3 -shared -static-libgcc \
  -o "$DEPS/lua/lua54.dll" -Wl,--out-implib,"$DEPS/lua/liblua54.dll.a" $lua_core \
  >"$W/deps-build/lua.log" 2>&1 &&
  $CROSS-gcc -O2 -std=gnu99 -DLUA_BUILD_AS_DLL -static-libgcc -o "$DEPS/lua/lua.exe" \
    "$lua_dir/src/lua.c" "$DEPS/lua/liblua54.dll.a" >>"$W/deps-build/lua.log" 2>&1 ||
  { tail -n 30 "$W/deps-build/lua.log"; echo "win-deps: building Lua failed"; exit 1; }
cp "$lua_dir"/src/lua.h "$lua_dir"/src/luaconf.h "$lua_dir"/src/lualib.h \
  "$lua_dir"/src/lauxlib.h "$lua_dir"/src/lua.hpp "$DEPS/lua/include/"

# lua-cjson: Debian's source (its patches applied by apt-get source), the
# files its own Makefile builds by default (lua_cjson.c, strbuf.c and
# fpconv.c: the C library's strtod/snprintf, not the bundled dtoa), as a
# Lua module next to lua.exe: cjson.dll against lua54.dll.
mkdir -p "$W/deps-build/lua-cjson"
$CROSS-gcc -O2 -std=gnu99 -shared -static-libgcc -I"$DEPS/lua/include" \
  -o "$DEPS/lua/cjson.dll" "$luacjson_dir/lua_cjson.c" "$luacjson_dir/strbuf.c" \
  "$luacjson_dir/fpconv.c" "$DEPS/lua/liblua54.dll.a" >"$W/deps-build/lua-cjson.log" 2>&1 ||
  { tail -n 30 "$W/deps-build/lua-cjson.log"; echo "win-deps: building lua-cjson failed"; exit 1; }

# The UCRT flavour for Python extensions (python.org's CPython uses the
# UCRT; an extension on msvcrt could not use Python's descriptors): a GCC
# specs file that links the UCRT instead of msvcrt, and cJSON built with
# it.
$CROSS-gcc -dumpspecs | sed -e 's/-lmsvcrt/-lucrt/g' \
  -e '/^\*cpp:$/{n;s/^/-D_UCRT -D__MSVCRT_VERSION__=0xE00 /}' >"$DEPS/ucrt.specs"
mkdir -p "$DEPS/ucrt"
$CROSS-gcc -specs="$DEPS/ucrt.specs" -O2 -DCJSON_HIDE_SYMBOLS -c "$cjson_dir/cJSON.c" -o "$W/deps-build/cJSON-ucrt.o" &&
  $CROSS-ar rcs "$DEPS/ucrt/libcjson.a" "$W/deps-build/cJSON-ucrt.o" ||
  { echo "win-deps: building cJSON for the UCRT failed"; exit 1; }

# hiredis: the protocol's reader and formatter, the files that are plain
# C (Debian's patches applied by apt-get source). hiredis.c's connection
# functions, from redisSetError on, call net.c (POSIX sockets): only the
# part before them is compiled (the reply objects, the formatter), plus
# redisReaderCreate, which the core uses. The core's own transport
# (platform.h pl__os_net_*, Winsock here) replaces the rest.
hb=$W/deps-build/hiredis
mkdir -p "$hb" "$DEPS/include/hiredis"
{ sed -n '1,/^void __redisSetError(/p' "$hiredis_dir/hiredis.c" | sed '$d'
  sed -n '/^redisReader \*redisReaderCreate(void) {/,/^}/p' "$hiredis_dir/hiredis.c"
} >"$hb/hiredis_format.c"
grep -q '^int redisFormatCommandArgv(' "$hb/hiredis_format.c" &&
  grep -q '^redisReader \*redisReaderCreate(void)' "$hb/hiredis_format.c" ||
  { echo "win-deps: hiredis.c's formatter was not found in $hiredis_dir"; exit 1; }
# hiredis_build FLAVOUR_FLAGS... OUT.a
hiredis_build() {
  local out=${*: -1} objs=() f
  for f in read sds alloc; do
    [ -f "$hiredis_dir/$f.c" ] || continue
    $CROSS-gcc "${@:1:$#-1}" -O2 -I"$hiredis_dir" -c "$hiredis_dir/$f.c" -o "$hb/$f-$(basename "$out" .a).o" &&
      objs+=("$hb/$f-$(basename "$out" .a).o") || return 1
  done
  $CROSS-gcc "${@:1:$#-1}" -O2 -I"$hiredis_dir" -Wno-incompatible-pointer-types \
    -c "$hb/hiredis_format.c" -o "$hb/format-$(basename "$out" .a).o" &&
    $CROSS-ar rcs "$out" "${objs[@]}" "$hb/format-$(basename "$out" .a).o"
}
hiredis_build "$DEPS/lib/libhiredis.a" >"$hb.log" 2>&1 &&
  hiredis_build -specs="$DEPS/ucrt.specs" "$DEPS/ucrt/libhiredis.a" >>"$hb.log" 2>&1 ||
  { tail -n 30 "$hb.log"; echo "win-deps: building hiredis's reader failed (log: $hb.log)"; exit 1; }
for f in hiredis.h read.h sds.h alloc.h; do
  [ -f "$hiredis_dir/$f" ] && cp "$hiredis_dir/$f" "$DEPS/include/hiredis/"
done

for f in include/cjson/cJSON.h lib/libcjson.a include/cmocka.h lib/libcmocka.a \
    ucrt.specs ucrt/libcjson.a include/hiredis/hiredis.h lib/libhiredis.a ucrt/libhiredis.a \
    lua/lua54.dll lua/lua.exe lua/include/lua.h lua/cjson.dll; do
  [ -f "$DEPS/$f" ] || { echo "win-deps: $DEPS/$f was not installed"; ls -R "$DEPS"; exit 1; }
done
echo "$stamp" >"$DEPS/.stamp"
echo "win-deps: $(basename "$cjson_dir"), $(basename "$cmocka_dir"), $(basename "$lua_dir"), $(basename "$hiredis_dir") (reader, formatter), $(basename "$luacjson_dir") cross-built into build/win/deps"
