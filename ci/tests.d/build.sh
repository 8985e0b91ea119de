#!/usr/bin/env bash
# The library builds the ways users and packagers build it, each from
# scratch into its own directory under build/ci-build/:
#   clang     make CC=clang lib         (warnings are still errors)
#   O0        make OPT='-O0 -g' lib
#   nowerror  make WERROR=0 lib         (and no -Werror reaches the compiler)
#   noswig    make (the default goal) on a machine without swig: PATH is a
#             temp dir of symlinks to only what a C build runs (make, cc,
#             as, ld, ar, sed, ln, mkdir, rm); the script first proves that
#             swig, python3(-config), ruby, lua and pkg-config cannot be
#             found there, and fails if the log shows a command not found.
# Each build's shared library must pass ci/check-symbols.sh, and a tiny C
# program must link and run against its shared library and, with what the
# .pc file says a static link needs, its static library.
set -uo pipefail
cd "$(dirname "$0")/../.."
# Each configuration is exactly what it says, whatever `make test` or the
# caller's environment set.
unset MAKEFLAGS MFLAGS MAKELEVEL CC CXX OPT WERROR EXTRA_CFLAGS BUILD PL_PLATFORM
MAKE_BIN=$(command -v "${MAKE:-make}") || { echo "build: make not found"; exit 1; }
OUT=build/ci-build
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

cat > "$TMP/app.c" <<'C'
#include <portalocker.h>
#include <stdio.h>
/* Keeps the Redis lock (hiredis, cJSON, ceil from libm) in a static link. */
void (*volatile pl_keep_redis)(void) = (void (*)(void))pl_redis_lock_new;
int main(int argc, char **argv)
{
    pl_lock *lock = NULL;
    int rc = pl_lock_new(&lock, argv[argc - 1]);
    if (rc == PL_OK)
        rc = pl_lock_acquire(lock, NULL);
    if (rc == PL_OK)
        rc = pl_lock_release(lock);
    printf("libportalocker %s: %s\n", pl_version_string(), pl_error_name(rc));
    pl_lock_free(lock);
    return rc == PL_OK ? 0 : 1;
}
C

# The machine without swig: only the tools a C build of the library runs.
NOSWIG_PATH=$TMP/bin
mkdir -p "$NOSWIG_PATH"
for tool in make cc as ld ar sed ln mkdir rm; do
  src=$(command -v "$tool") || { echo "build: $tool not found"; exit 1; }
  ln -s "$src" "$NOSWIG_PATH/$tool"
done
for tool in swig python3 python3-config python ruby gem lua lua5.4 luarocks pkg-config; do
  if found=$(env -i PATH="$NOSWIG_PATH" /bin/sh -c "command -v $tool"); then
    echo "build: $tool is reachable on the no-swig PATH ($found)"; exit 1
  fi
done

status=0
summary=()
fail() { summary+=("$name: FAILED ($1)"); status=1; }

# build NAME CC [make arguments...]: builds into $OUT/NAME, checks, links.
build() {
  local name=$1 cc=$2; shift 2
  local dir=$OUT/$name log=$TMP/$name.log
  rm -rf "$dir"
  echo "== $name: make BUILD=$dir $*"
  local t0=$SECONDS
  if [ "$name" = noswig ]; then
    env -i PATH="$NOSWIG_PATH" HOME="$HOME" TMPDIR="$TMP" \
      make -j2 BUILD="$dir" "$@" >"$log" 2>&1
  else
    "$MAKE_BIN" -j2 BUILD="$dir" "$@" lib >"$log" 2>&1
  fi || { cat "$log"; fail "make"; return; }
  if grep -Ei 'not found|No such file' "$log"; then fail "a command was missing"; return; fi
  case $name in
    clang) grep -q '^clang .*-Werror' "$log" || { fail "not compiled by clang with -Werror"; return; } ;;
    O0) grep -q -- ' -O0 -g ' "$log" || { fail "OPT not used"; return; } ;;
    nowerror) if grep -- '-Werror' "$log"; then fail "-Werror reached the compiler"; return; fi ;;
    noswig)
      # The default goal built the library: nothing left to do for lib.
      env -i PATH="$NOSWIG_PATH" make -q BUILD="$dir" lib || { fail "make did not build lib"; return; } ;;
  esac
  for f in libportalocker.so.1 libportalocker.so libportalocker.a portalocker.pc; do
    [ -e "$dir/$f" ] || { fail "$f missing"; return; }
  done
  bash ci/check-symbols.sh "$dir/libportalocker.so.1" >"$TMP/sym.log" 2>&1 ||
    { cat "$TMP/sym.log"; fail "check-symbols"; return; }
  "$cc" -std=c99 -Wall -Wextra -Werror -Icore/include -o "$TMP/app-$name" "$TMP/app.c" \
    -L"$dir" -lportalocker -Wl,-rpath,"$PWD/$dir" ||
    { fail "a program does not link the shared library"; return; }
  # (ldd's output taken whole: grep -q closing the pipe early would fail
  # the pipeline under pipefail)
  local deps
  deps=$(ldd "$TMP/app-$name")
  grep -q "$PWD/$dir/libportalocker.so.1" <<<"$deps" ||
    { fail "the program did not load $dir/libportalocker.so.1"; return; }
  "$TMP/app-$name" "$TMP/$name.lock" || { fail "the shared-library program failed"; return; }
  local private
  # What the .pc says a static link needs: Requires.private's packages
  # (hiredis, libcjson) and Libs.private.
  private=$(PKG_CONFIG_PATH=$dir pkg-config --static --libs-only-l portalocker |
            sed 's/-lportalocker//')
  # shellcheck disable=SC2086  # a list of flags
  "$cc" -std=c99 -Wall -Wextra -Werror -Icore/include -o "$TMP/app-$name-static" "$TMP/app.c" \
    "$dir/libportalocker.a" $private ||
    { fail "a program does not link the static library with the .pc's static flags ($private)"; return; }
  "$TMP/app-$name-static" "$TMP/$name.lock" || { fail "the static-library program failed"; return; }
  summary+=("$name: ok ($((SECONDS - t0)) s)")
}

build clang clang CC=clang
build O0 cc OPT='-O0 -g'
build nowerror cc WERROR=0
build noswig cc

echo
echo "build summary:"
printf '  %s\n' "${summary[@]}"
[ $status -eq 0 ] && echo "build: ok" || echo "build: FAILED"
exit $status
