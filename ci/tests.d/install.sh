#!/usr/bin/env bash
# `make install` gives a usable library wherever it is put: header, shared
# and static libraries, a pkg-config file and a CMake package for THOSE
# directories. Checked in a fresh prefix with a non-default LIBDIR
# (Debian's multiarch lib/<triplet>, which CMake searches), staged through
# DESTDIR, then used from a program built with pkg-config (shared, and
# static through Requires.private/Libs.private) and from a small CMake
# project (find_package, both imported targets); each takes a lock that
# another process holds and then gets it. `make uninstall` leaves nothing
# behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d "${TMPDIR:-/tmp}/pl-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
stage=$work/stage
arch=$(cc -print-multiarch 2>/dev/null || true)
libsub=lib/${arch:-x86_64-linux-gnu}
vars=(PREFIX="$prefix" LIBDIR="$prefix/$libsub")
"${MAKE:-make}" -s install "${vars[@]}" DESTDIR="$stage" >/dev/null
# The staged tree holds the files under the final paths; move it there.
mkdir -p "$prefix"
cp -a "$stage$prefix/." "$prefix/"
for f in include/portalocker.h $libsub/libportalocker.so.1 $libsub/libportalocker.so \
         $libsub/libportalocker.a $libsub/pkgconfig/portalocker.pc \
         $libsub/cmake/portalocker/portalockerConfig.cmake \
         $libsub/cmake/portalocker/portalockerConfigVersion.cmake \
         share/man/man3/pl_lock.3 share/man/man7/portalocker.7 \
         bin/portalock share/man/man1/portalock.1; do
  [ -e "$prefix/$f" ] || { echo "install: $f is missing"; exit 1; }
done
if grep -rq "$stage" "$prefix"; then
  echo "install: the staging directory leaked into an installed file"; exit 1
fi

cat > "$work/app.c" <<'C'
/* Takes the lock named on the command line within 5 s (another process
   holds it at first) and reports the library's version. */
#include <portalocker.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    pl_lock *lock = NULL;
    pl_status rc = pl_lock_new(&lock, argv[argc - 1]);
    if (rc == PL_OK)
        rc = pl_lock_set_timeout(lock, 5.0);
    if (rc == PL_OK)
        rc = pl_lock_acquire(lock, NULL);
    if (rc == PL_OK)
        rc = pl_lock_release(lock);
    printf("libportalocker %s: %s\n", pl_version_string(), pl_error_name(rc));
    pl_lock_free(lock);
    return rc == PL_OK ? 0 : 1;
}
C
# Runs $1 on a lock held for 0.3 s by flock(1) first: the program must
# wait for it, then get it. The program starts once the holder's command
# runs (a ready file), not after a fixed sleep a slow start could outlast.
contend() {
  local app=$1 lock=$work/contended.lock i
  rm -f "$work/ready"
  flock "$lock" sh -c "touch '$work/ready'; sleep 0.3" & local holder=$!
  for i in $(seq 1 200); do [ -e "$work/ready" ] && break; sleep 0.05; done
  [ -e "$work/ready" ] || { echo "install: the flock(1) holder never started"; exit 1; }
  "$app" "$lock"
  wait "$holder"
}

export PKG_CONFIG_PATH=$prefix/$libsub/pkgconfig
# shellcheck disable=SC2046  # pkg-config prints several flags
cc "$work/app.c" $(pkg-config --cflags --libs portalocker) \
  -Wl,-rpath,"$prefix/$libsub" -o "$work/app_pc"
# ldd's output taken whole: grep -q closing the pipe early would fail the
# pipeline under pipefail.
deps=$(ldd "$work/app_pc")
grep -q "$prefix/$libsub/libportalocker.so.1" <<<"$deps" ||
  { echo "install: the app did not link the installed library"; exit 1; }
contend "$work/app_pc"
# shellcheck disable=SC2046
cc "$work/app.c" $(pkg-config --cflags portalocker) "$prefix/$libsub/libportalocker.a" \
  $(pkg-config --static --libs-only-l portalocker | sed 's/-lportalocker//') -o "$work/app_static"
contend "$work/app_static"

mkdir -p "$work/cmake"
cat > "$work/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(uses_portalocker C)
find_package(portalocker 1.0 CONFIG REQUIRED)
add_executable(app_cmake ../app.c)
target_link_libraries(app_cmake PRIVATE portalocker::portalocker)
add_executable(app_cmake_static ../app.c)
target_link_libraries(app_cmake_static PRIVATE portalocker::portalocker_static)
CMAKE
cmake -S "$work/cmake" -B "$work/cmake/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake/build" >/dev/null
contend "$work/cmake/build/app_cmake"
contend "$work/cmake/build/app_cmake_static"
# A version the package cannot satisfy is refused.
sed -i 's/find_package(portalocker 1.0 CONFIG REQUIRED)/find_package(portalocker 2 CONFIG REQUIRED)/' \
  "$work/cmake/CMakeLists.txt"
if cmake -S "$work/cmake" -B "$work/cmake/build2" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  echo "install: find_package(portalocker 2) accepted version 1"; exit 1
fi

"${MAKE:-make}" -s uninstall "${vars[@]}" >/dev/null
left=$(find "$prefix" -type f)
if [ -n "$left" ]; then echo "install: make uninstall left:"; echo "$left"; exit 1; fi
echo "install: ok (DESTDIR-staged install to a fresh prefix with LIBDIR=$libsub: pkg-config shared and static, CMake find_package both targets, each waited for a held lock and took it; uninstall removed everything)"
