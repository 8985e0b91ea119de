#!/usr/bin/env bash
# The second half of ci/tests.d/packages.sh, run from a copy in its work
# directory inside a private mount namespace (unshare): hides the checkout
# ($PL_REPO) under an empty read-only tmpfs, installs each artifact from
# $PL_WORK/artifacts into a fresh place under $PL_WORK and hands a lock
# around the four languages, each side a different installed package:
#   Python wheel holds -> Ruby gem takes; Ruby holds -> Lua rock takes;
#   Lua holds -> C (pkg-config, shared) takes; C (CMake, static) holds ->
#   Python sdist takes.
# The wheel runs with the system's hiredis and cJSON hidden as well (it
# must use the copies inside it); the gem, installed where pkg-config finds
# no hiredis, must fail naming the package to install.
set -euo pipefail
: "${PL_REPO:?}" "${PL_WORK:?}"
W=$PL_WORK
A=$W/artifacts
fail() { echo "packages: $*" >&2; exit 1; }

mount -t tmpfs -o ro,size=16k,mode=0755 pl-hidden "$PL_REPO"
[ -z "$(ls -A "$PL_REPO")" ] || fail "the checkout $PL_REPO is still visible"
cd "$W"

times=()
timed() { # label command...
  local start ms
  start=$(date +%s%N)
  # In the background so that set -e holds inside the step (it is off in
  # a function called on the left of ||).
  "${@:2}" >"$W/log" 2>&1 &
  wait $! || { cat "$W/log" >&2; fail "$1 failed"; }
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  times+=("$1 $((ms / 1000)).$(( (ms % 1000) / 100 )) s")
}

# C: the DESTDIR-staged tree into its prefix; a program built through
# pkg-config against it.
c_install() {
  mkdir -p "$PL_C_PREFIX"
  tar -C "$PL_C_PREFIX" -xzf "$A/libportalocker-c.tar.gz"
  PKG_CONFIG_PATH=$PL_C_PREFIX/lib/pkgconfig
  export PKG_CONFIG_PATH
  # shellcheck disable=SC2046  # pkg-config prints several flags
  cc -std=gnu11 -O2 -o "$W/contend" "$W/contend.c" $(pkg-config --cflags --libs portalocker) \
    -Wl,-rpath,"$PL_C_PREFIX/lib"
  ldd "$W/contend" | grep "$PL_C_PREFIX/lib/libportalocker.so.1" >/dev/null ||
    fail "the C program did not link the installed library"
  # The same program through the CMake package (the static target).
  mkdir -p "$W/cmake"
  cat >"$W/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(contend C)
find_package(portalocker 1 CONFIG REQUIRED)
add_executable(contend_cmake ../contend.c)
target_link_libraries(contend_cmake PRIVATE portalocker::portalocker_static)
CMAKE
  cmake -S "$W/cmake" -B "$W/cmake/build" -DCMAKE_PREFIX_PATH="$PL_C_PREFIX"
  cmake --build "$W/cmake/build"
}
# Python: a fresh venv each; the wheel offline; the sdist built by pip in
# an isolated environment from the pinned setuptools (offline too).
py_wheel() {
  python3 -m venv "$W/venv-wheel"
  "$W/venv-wheel/bin/python" -m pip install -q --no-index --disable-pip-version-check "$A"/cportalocker-*manylinux*.whl
}
py_sdist() {
  python3 -m venv "$W/venv-sdist"
  "$W/venv-sdist/bin/python" -m pip install -q --no-index --disable-pip-version-check \
    --find-links "$A/build-requirements" "$A"/cportalocker-*.tar.gz
}
# Without hiredis's .pc the gem says what to install, before compiling.
rb_gem_without_pc() {
  local out
  if out=$(PKG_CONFIG_LIBDIR=$W/no-pc PKG_CONFIG_PATH= GEM_HOME=$W/gems-nopc GEM_PATH=$W/gems-nopc \
           gem install --local --no-document "$A"/portalocker-*.gem 2>&1); then
    fail "the gem installed although pkg-config could not find hiredis"
  fi
  grep -q "pkg-config cannot find hiredis (Debian: install libhiredis-dev" <<<"$out" ||
    { echo "$out" >&2; fail "the gem did not say that hiredis is missing"; }
}
rb_gem() {
  GEM_HOME=$W/gems GEM_PATH=$W/gems gem install --local --no-document "$A"/portalocker-*.gem
}
lua_rock() {
  luarocks --lua-version 5.4 --tree "$W/rocks" install "$A"/portalocker-*.src.rock
}
timed "C (prefix, from the staged tree)" c_install
timed "Python wheel (venv)" py_wheel
timed "Python sdist (venv)" py_sdist
rb_gem_without_pc
timed "Ruby gem (GEM_HOME)" rb_gem
timed "Lua rock (luarocks tree)" lua_rock

# The wheel needs no hiredis or cJSON from the system: in a nested
# namespace their libraries are hidden, which must break a plain dlopen
# of them and not the wheel.
wheel_site=$("$W/venv-wheel/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ext=$(ls "$wheel_site"/cportalocker/_portalocker_c*.so)
deps=$(ldd "$ext")
grep -Eq "libhiredis[^ ]* => $wheel_site/cportalocker/\.\./cportalocker\.libs/" <<<"$deps" ||
  { echo "$deps" >&2; fail "the wheel's extension does not use its own hiredis"; }
grep -Eq "libcjson[^ ]* => $wheel_site/cportalocker/\.\./cportalocker\.libs/" <<<"$deps" ||
  { echo "$deps" >&2; fail "the wheel's extension does not use its own cJSON"; }
system_libs=$(ldconfig -p | awk '/(libhiredis|libcjson)[^ ]*\.so/ {print $NF}' | xargs -r readlink -f | sort -u)
[ -n "$system_libs" ] || fail "ldconfig lists no system hiredis/cJSON to hide"
without_system_libs() {
  # shellcheck disable=SC2016,SC2086  # expanded by the inner shell; a list
  unshare --mount bash -c 'libs=$1; shift
    for l in $libs; do mount --bind /dev/null "$l"; done
    for l in $libs; do
      if python3 -c "import ctypes, sys; ctypes.CDLL(sys.argv[1])" "$l" 2>/dev/null; then
        echo "packages: hiding $l did not work" >&2; exit 1
      fi
    done
    exec "$@"' hide "$(echo $system_libs)" "$@"
}

# The lock ring.
handoff() { # name holder... -- taker...
  local name=$1; shift
  local holder=() taker=()
  while [ "$1" != "--" ]; do holder+=("$1"); shift; done
  shift; taker=("$@")
  local sync=$W/sync-$name lock=$W/$name.lock
  mkdir -p "$sync"
  "${holder[0]}" "${holder[@]:1}" hold "$lock" "$sync" "${PL_HOLD_INSTALLED[$name]}" &
  local pid=$!
  if ! "${taker[0]}" "${taker[@]:1}" take "$lock" "$sync" "${PL_TAKE_INSTALLED[$name]}"; then
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fail "handoff $name: the taker failed"
  fi
  wait "$pid" || fail "handoff $name: the holder failed"
}
declare -A PL_HOLD_INSTALLED PL_TAKE_INSTALLED
py_w=(without_system_libs "$W/venv-wheel/bin/python" "$W/contend.py")
py_s=("$W/venv-sdist/bin/python" "$W/contend.py")
rb=(env GEM_HOME="$W/gems" GEM_PATH="$W/gems" ruby "$W/contend.rb")
lua=(env LUA_PATH="$W/rocks/share/lua/5.4/?.lua" LUA_CPATH="$W/rocks/lib/lua/5.4/?.so" lua5.4 "$W/contend.lua")
c=("$W/contend")                      # pkg-config, shared library
c_cmake=("$W/cmake/build/contend_cmake")  # CMake, static library
PL_HOLD_INSTALLED[py-rb]=$W/venv-wheel; PL_TAKE_INSTALLED[py-rb]=$W/gems
PL_HOLD_INSTALLED[rb-lua]=$W/gems;      PL_TAKE_INSTALLED[rb-lua]=$W/rocks
PL_HOLD_INSTALLED[lua-c]=$W/rocks;      PL_TAKE_INSTALLED[lua-c]=
PL_HOLD_INSTALLED[c-py]=;               PL_TAKE_INSTALLED[c-py]=$W/venv-sdist
handoff py-rb "${py_w[@]}" -- "${rb[@]}"
handoff rb-lua "${rb[@]}" -- "${lua[@]}"
handoff lua-c "${lua[@]}" -- "${c[@]}"
handoff c-py "${c_cmake[@]}" -- "${py_s[@]}"

# The gem's RBS signatures, as installed: valid, and covering the public
# API of the classes loaded from it.
gem_dir=$W/gems/gems/$(basename "$A"/portalocker-*.gem .gem)
# rbs is one of Ruby's bundled gems: the system's gem directories follow
# the fresh GEM_HOME.
GEM_HOME=$W/gems GEM_PATH=$W/gems:$(ruby -e 'print Gem.default_path.join(":")') \
  ruby "$W/rbs_coverage.rb" "$gem_dir/sig" ||
  fail "the gem's RBS signatures do not match its API"

echo "packages: install times: $(IFS=';'; echo "${times[*]}" | sed 's/;/, /g')"
