#!/usr/bin/env bash
# Portability proven by compiling: the core is cross-compiled with zig for
# macOS x86_64, macOS arm64 and FreeBSD x86_64, linked as a shared library
# against hiredis and cJSON built for the same target, and a small program
# calling the API is linked against that library. Nothing is run (no such
# machine here): a clean -Werror compile and a link with no undefined
# symbol but OpenSSL's are the proof, then the outputs' format,
# architecture, install name / soname and exported symbols are checked.
# OpenSSL is not built for the targets (several minutes per target): the
# TLS file compiles against Debian's OpenSSL 3 headers (the LP64
# configuration, which all three targets share), and the link leaves
# OpenSSL's functions, and only those, to the target's libssl/libcrypto
# (macOS: dynamic lookup, every such symbol checked to be OpenSSL's;
# FreeBSD: --no-undefined reporting them, each checked likewise).
#
# Fetched once and cached under build/cross/ (a second run fetches nothing):
#   zig         the ziglang wheel from PyPI, in a venv of its own
#   hiredis,    Debian's source packages (`apt-get source`, with a private
#   cJSON       apt state under build/cross/apt: the system's apt is not
#               touched), the same versions the Linux build links
# Outside CI a failed fetch (offline) skips the suite with a message; with
# CI=true it fails.
set -euo pipefail
# The steps of a target are checked one by one (build_target runs as an
# `if` condition, where -e is off); anything else failing is reported here.
trap 'echo "cross: FAIL (line $LINENO: $BASH_COMMAND)"' ERR
cd "$(dirname "$0")/../.."

ZIG_VERSION=0.17.0
# The oldest systems the core is checked for: macOS 10.12 has
# clock_gettime and mkostemps (-Wunguarded-availability errors on newer
# calls), 11.0 is the first arm64 macOS, zig links FreeBSD 14 and later.
TARGETS=(x86_64-macos.10.12 aarch64-macos.11.0 x86_64-freebsd.14.0)

ROOT=$PWD
C=$ROOT/build/cross
. ci/lib/build-settings.sh
# The core's own flags and include dirs (core/build.mk), the Makefile's
# warnings, and errors for any macOS call newer than the target.
# shellcheck disable=SC2207  # a list of words
CORE_CFLAGS=($(pl_core_cflags) -O2 -fPIC -I"$C/include"
  -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wunguarded-availability)
# shellcheck disable=SC2207
CORE_LIBS=($(pl_core_libs))
# A consumer of the public header: plain C99.
APP_CFLAGS=(-std=c99 -O2 -Icore/include -Wall -Wextra -Werror)
# Third-party code: its warnings are not ours, and hidden, so that the
# library exports pl_* alone (the Linux build's version script does that).
# hiredis 0.14's createArrayObject takes size_t where its table says int,
# an error by default in clang 16 and later.
DEP_CFLAGS=(-std=gnu99 -O2 -fPIC -fvisibility=hidden -w
  -Wno-incompatible-function-pointer-types)

export ZIG_GLOBAL_CACHE_DIR=$C/zig-cache ZIG_LOCAL_CACHE_DIR=$C/zig-cache
mkdir -p "$C"
start=$SECONDS

# Outside CI, a missing download is a skip, not a failure.
unavailable() {
  if [ "${CI:-}" = true ]; then
    echo "cross: FAIL: $*"
    exit 1
  fi
  echo "cross: SKIPPED: $* (offline? CI=true makes this a failure)"
  exit 0
}

# ---- zig, from PyPI --------------------------------------------------------
zig_venv=$C/zig-venv
if [ "$(cat "$zig_venv/.installed" 2>/dev/null)" != "ziglang==$ZIG_VERSION" ]; then
  rm -rf "$zig_venv"
  python3 -m venv "$zig_venv" &&
    "$zig_venv/bin/python" -m pip install -q --disable-pip-version-check \
      "ziglang==$ZIG_VERSION" >"$C/pip.log" 2>&1 ||
    { cat "$C/pip.log"; unavailable "could not install ziglang==$ZIG_VERSION from PyPI"; }
  echo "ziglang==$ZIG_VERSION" >"$zig_venv/.installed"
fi
ZIG=$("$zig_venv/bin/python" -c \
  'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
echo "cross: zig $("$ZIG" version)"

# ---- hiredis and cJSON sources, from Debian ---------------------------------
src=$C/src
# shellcheck source=../lib/debian-sources.sh
. ci/lib/debian-sources.sh
fetch_sources() {
  rm -rf "$src"
  pl_debian_sources "$C" "$src" hiredis cjson ||
    { rm -rf "$src"; unavailable "could not fetch Debian's hiredis and cjson sources"; }
  touch "$src/.fetched"
}
[ -f "$src/.fetched" ] || fetch_sources
hiredis_dir=$(ls -d "$src"/hiredis-*/ | head -n1) cjson_dir=$(ls -d "$src"/cjson-*/ | head -n1)
hiredis_dir=${hiredis_dir%/} cjson_dir=${cjson_dir%/}
[ -f "$hiredis_dir/hiredis.c" ] && [ -f "$cjson_dir/cJSON.c" ] ||
  { echo "cross: FAIL: no hiredis/cJSON sources in $src (rm -rf it to fetch again)"; exit 1; }
# The objects the hiredis library is made of, as its own Makefile says.
hiredis_srcs=$(sed -n 's/^OBJ=//p' "$hiredis_dir/Makefile" | sed 's/\.o/.c/g')
echo "cross: $(basename "$hiredis_dir"), $(basename "$cjson_dir") (Debian sources)"
# Laid out as installed: <hiredis/hiredis.h>, <cjson/cJSON.h>.
rm -rf "$C/include"
mkdir -p "$C/include/hiredis" "$C/include/cjson"
cp "$hiredis_dir"/*.h "$C/include/hiredis/"
cp "$cjson_dir/cJSON.h" "$C/include/cjson/"
# OpenSSL's headers as Debian installs them (libssl-dev): the generic ones
# and this machine's configuration, which must be the LP64 one.
ossl_conf=/usr/include/$(gcc -print-multiarch 2>/dev/null)/openssl
[ -f /usr/include/openssl/ssl.h ] && [ -f "$ossl_conf/configuration.h" ] ||
  { echo "cross: FAIL: OpenSSL headers missing (libssl-dev)"; exit 1; }
grep -q '^# *define SIXTY_FOUR_BIT_LONG' "$ossl_conf/configuration.h" ||
  { echo "cross: FAIL: $ossl_conf/configuration.h is not the LP64 configuration"; exit 1; }
mkdir -p "$C/include/openssl"
cp /usr/include/openssl/*.h "$ossl_conf"/*.h "$C/include/openssl/"
# OpenSSL's names (the API the TLS file calls), for the link checks.
ossl_names='^_?(SSL|SSL_CTX|SSL_SESSION|BIO|ERR|X509|X509_VERIFY_PARAM|TLS|OPENSSL|CRYPTO|OBJ)_[A-Za-z0-9_]+$|^_?TLS_client_method$' 

# ---- tools for the checks ---------------------------------------------------
tool() { # the newest llvm-$1 on PATH or in /usr/lib/llvm-*/bin
  local t
  for t in "llvm-$1" $(ls /usr/bin/llvm-"$1"-[0-9]* /usr/lib/llvm-*/bin/llvm-"$1" 2>/dev/null | sort -rV); do
    command -v "$t" >/dev/null && { command -v "$t"; return 0; }
  done
  return 1
}
LLVM_NM=$(tool nm) && LLVM_OBJDUMP=$(tool objdump) ||
  { echo "cross: FAIL: the checks need llvm-nm and llvm-objdump (Debian: llvm)"; exit 1; }
for t in file nm readelf; do
  command -v "$t" >/dev/null || { echo "cross: FAIL: the checks need $t"; exit 1; }
done
# What the header promises: every PL_EXPORT function.
tr '\n' ' ' <core/include/portalocker.h | grep -oE 'PL_EXPORT[^;{(]*\(' |
  grep -oE 'pl_[A-Za-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$C/api.txt"

# ---- one target ---------------------------------------------------------------
# Everything it prints goes to $out/log; the last line says what failed.
build_target() {
  local target=$1 out=$C/$1 os arch lib libfile linkflags rpath
  local files exports want_lib want_app f s failed=0
  case $target in
    x86_64-*) arch=x86_64 ;;
    aarch64-*) arch=arm64 ;;
  esac
  case $target in
    *-macos*)
      os=macos lib=libportalocker.1.dylib rpath=@loader_path
      linkflags=(-Wl,-install_name,@rpath/$lib
        -Wl,-compatibility_version,1.0.0 -Wl,-current_version,1.0.0)
      want_lib="Mach-O 64-bit $arch dynamically linked shared library"
      want_app="Mach-O 64-bit $arch executable" ;;
    *-freebsd*)
      os=freebsd lib=libportalocker.so.1 rpath='$ORIGIN'
      # What the Linux build passes: the version script hides all but
      # pl_*, and no symbol may be left for the loader to find.
      linkflags=(-Wl,-soname,$lib -Wl,--version-script=core/portalocker.map
        -Wl,--no-undefined)
      want_lib="ELF 64-bit LSB shared object, x86-64"
      want_app="ELF 64-bit LSB executable, x86-64, .*interpreter /libexec/ld-elf.so.1, for FreeBSD" ;;
  esac

  # hiredis and cJSON for the target: static archives, built once.
  local deps=$out/deps stamp="$ZIG_VERSION $(basename "$hiredis_dir") $(basename "$cjson_dir") ${DEP_CFLAGS[*]}"
  if [ "$(cat "$deps/.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$deps"
    mkdir -p "$deps/hiredis" "$deps/cjson"
    # shellcheck disable=SC2086  # a list of file names
    (cd "$hiredis_dir" && for s in $hiredis_srcs; do
       "$ZIG" cc -target "$target" "${DEP_CFLAGS[@]}" -c "$s" -o "$deps/hiredis/${s%.c}.o" || exit 1
     done) || { echo "step: compile hiredis"; return 1; }
    "$ZIG" cc -target "$target" "${DEP_CFLAGS[@]}" -c "$cjson_dir/cJSON.c" -o "$deps/cjson/cJSON.o" ||
      { echo "step: compile cJSON"; return 1; }
    "$ZIG" ar rcs "$deps/libhiredis.a" "$deps"/hiredis/*.o &&
      "$ZIG" ar rcs "$deps/libcjson.a" "$deps/cjson/cJSON.o" ||
      { echo "step: archive hiredis/cJSON"; return 1; }
    echo "$stamp" >"$deps/.stamp"
  fi

  # The core, compiled every run (zig's cache, keyed on the sources, the
  # headers they include and the flags, answers for what did not change).
  rm -rf "$out/obj" "$out/lib" "$out/app"
  mkdir -p "$out/obj" "$out/lib"
  files=$(pl_core_sources unix)
  # One object directory: two sources of one name would overwrite.
  f=$(for s in $files; do basename "$s"; done | sort | uniq -d)
  [ -z "$f" ] || { echo "step: core sources with the same name: $f"; return 1; }
  printf '%s\n' $files | xargs -P "$(nproc)" -I{} sh -c 'f=$1; shift; exec "$@" -c "$f" -o "$0/$(basename "$f" .c).o"' \
      "$out/obj" {} "$ZIG" cc -target "$target" "${CORE_CFLAGS[@]}" || failed=1
  [ "$failed" = 0 ] || { echo "step: compile the core (-Werror)"; return 1; }

  libfile=$out/lib/$lib
  # OpenSSL is the target's: not among the libraries linked here. What the
  # link leaves to the loader must be OpenSSL's functions and nothing else,
  # exactly those the objects call.
  local corelibs=() ossl_used
  for f in "${CORE_LIBS[@]}"; do
    case $f in -lssl|-lcrypto) ;; *) corelibs+=("$f") ;; esac
  done
  "$LLVM_NM" -u "$out"/obj/*.o 2>/dev/null | awk '{print $NF}' |
    grep -E "$ossl_names" | sed 's/^_//' | sort -u >"$out/ossl-used.txt"
  ossl_used=$(wc -l <"$out/ossl-used.txt")
  [ "$ossl_used" -gt 0 ] || { echo "step: the objects call no OpenSSL function (the check sees nothing)"; return 1; }
  case $os in
    macos)
      "$ZIG" cc -target "$target" -shared "${linkflags[@]}" -Wl,-undefined,dynamic_lookup \
        -o "$libfile" "$out"/obj/*.o -L"$deps" "${corelibs[@]}" ||
        { echo "step: link $lib"; return 1; }
      # looked up at load time: "(undefined) external _X" without "(from lib)"
      "$LLVM_NM" -m -u "$libfile" | grep -v '(from ' |
        sed -n 's/.*(undefined) external _\([A-Za-z0-9_]*\)$/\1/p' | sort -u >"$out/left.txt" ;;
    freebsd)
      # --no-undefined names every symbol nothing provides (the link fails
      # on OpenSSL's, as it must here); then the library without it.
      "$ZIG" cc -target "$target" -shared "${linkflags[@]}" -o "$libfile" "$out"/obj/*.o \
        -L"$deps" "${corelibs[@]}" >"$out/link.err" 2>&1 &&
        { echo "step: linked with --no-undefined although OpenSSL is missing (the check sees nothing)"; return 1; }
      sed -n 's/.*undefined symbol: \([A-Za-z0-9_]*\).*/\1/p' "$out/link.err" | sort -u >"$out/left.txt"
      local lf=()
      for f in "${linkflags[@]}"; do [ "$f" = -Wl,--no-undefined ] || lf+=("$f"); done
      "$ZIG" cc -target "$target" -shared "${lf[@]}" -o "$libfile" \
        "$out"/obj/*.o -L"$deps" "${corelibs[@]}" || { echo "step: link $lib"; return 1; } ;;
  esac
  f=$(grep -Ev "$ossl_names" "$out/left.txt" || true)
  [ -z "$f" ] || { echo "$f"; echo "step: undefined symbols that are not OpenSSL's"; return 1; }
  diff "$out/ossl-used.txt" "$out/left.txt" ||
    { echo "step: the OpenSSL functions left to the loader are not those the objects call"; return 1; }
  echo "$lib: no undefined symbol but $(wc -l <"$out/left.txt") OpenSSL functions (the target's libssl/libcrypto)"
  case $os in
    macos) ln -sf "$lib" "$out/lib/libportalocker.dylib" ;;
    freebsd) ln -sf "$lib" "$out/lib/libportalocker.so" ;;
  esac
  # (FreeBSD: the library's OpenSSL references were checked above; the
  # program's link would want the target's libssl to resolve them.)
  local applink=()
  [ "$os" = freebsd ] && applink=(-Wl,--allow-shlib-undefined)
  "$ZIG" cc -target "$target" "${APP_CFLAGS[@]}" ci/cross/app.c -o "$out/app" \
    -L"$out/lib" -lportalocker -Wl,-rpath,"$rpath" "${applink[@]}" ||
    { echo "step: link the program against $lib"; return 1; }

  # What came out.
  file -b "$libfile" | tee "$out/file-lib.txt"
  file -b "$out/app" | tee "$out/file-app.txt"
  grep -q "^$want_lib" "$out/file-lib.txt" || { echo "step: $lib is not '$want_lib'"; return 1; }
  grep -qE "^$want_app" "$out/file-app.txt" || { echo "step: the program is not '$want_app'"; return 1; }
  case $os in
    macos)
      "$LLVM_OBJDUMP" --macho --dylib-id "$libfile" | tail -n +2 | tee "$out/id.txt"
      [ "$(cat "$out/id.txt")" = "@rpath/$lib" ] || { echo "step: install name is not @rpath/$lib"; return 1; }
      "$LLVM_OBJDUMP" --macho --dylibs-used "$out/app" | tee "$out/used.txt"
      grep -q "^[[:space:]]*@rpath/$lib " "$out/used.txt" || { echo "step: the program does not load @rpath/$lib"; return 1; }
      # Besides pl_*, only the linker's own; hiredis and cJSON stay inside.
      "$LLVM_NM" --extern-only --defined-only "$libfile" | awk '{print $3}' >"$out/nm.txt"
      exports=$(grep -vE '^(_pl_[A-Za-z0-9_]+|___dso_handle|__mh_dylib_header)$' "$out/nm.txt" || true)
      [ -z "$exports" ] || { echo "$exports"; echo "step: exports beyond pl_*"; return 1; }
      sed -n 's/^_pl_/pl_/p' "$out/nm.txt" | sort -u >"$out/exports.txt" ;;
    freebsd)
      readelf -d "$libfile" | grep -E 'SONAME|NEEDED'
      [ "$(readelf -d "$libfile" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = "$lib" ] ||
        { echo "step: SONAME is not $lib"; return 1; }
      readelf -d "$out/app" | grep "(NEEDED).*\[$lib\]" >/dev/null || { echo "step: the program does not need $lib"; return 1; }
      nm -D --defined-only "$libfile" | awk '$2 != "A" {print $3}' >"$out/nm.txt"
      exports=$(grep -v '^pl_[A-Za-z0-9_]*@@PL_1\.[0-9]*$' "$out/nm.txt" || true)
      [ -z "$exports" ] || { echo "$exports"; echo "step: exports beyond versioned pl_*"; return 1; }
      sed 's/@@.*//' "$out/nm.txt" | sort -u >"$out/exports.txt" ;;
  esac
  diff "$C/api.txt" "$out/exports.txt" ||
    { echo "step: exports differ from the header's PL_EXPORT functions (< header, > library)"; return 1; }
  echo "$lib: $(wc -l <"$out/exports.txt") functions exported, as the header declares"
}

failed=()
for target in "${TARGETS[@]}"; do
  t0=$SECONDS
  mkdir -p "$C/$target"
  if build_target "$target" >"$C/$target/log" 2>&1; then
    echo "cross: $target: OK ($(head -n1 "$C/$target/file-lib.txt" | cut -d, -f1); program linked; $((SECONDS - t0)) s)"
  else
    sed 's/^/    /' "$C/$target/log"
    echo "cross: $target: FAIL ($(tail -n1 "$C/$target/log"))"
    failed+=("$target")
  fi
done
echo "cross: ${#TARGETS[@]} targets in $((SECONDS - start)) s"
echo "cross: $((${#TARGETS[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || exit 1
