#!/usr/bin/env bash
# Installs every system package the project needs, only what is missing.
# Idempotent: a second run installs nothing. Needs root (or sudo) for apt-get.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  cmake                # the installed CMake package is used from a CMake project
  groff-base           # the manual pages are checked to render cleanly
  libcmocka-dev        # unit tests
  libhiredis-dev       # Redis lock client
  libcjson-dev         # Redis lock messages (JSON)
  redis-server         # a real server for the Redis tests
  python3 python3-venv # reference portalocker, redis-py, pytest (in a venv)
  swig python3-dev lua5.4 liblua5.4-dev ruby ruby-dev  # bindings (Python.h for the SWIG module)
  valgrind
  lua-cjson            # JSON for the Lua conformance agent (tests/conformance)
  luarocks             # the Lua binding's rockspec is installed by ci/tests.d/lua.sh
  # hardening checks (ci/hardening/): valgrind above, clang with its
  # libFuzzer/sanitizer runtimes, static analysis, the ABI baseline; clang
  # also builds the library in ci/tests.d/build.sh
  clang libclang-rt-14-dev cppcheck clang-tidy abigail-tools
  llvm                 # llvm-nm, llvm-objdump: the cross-compile check reads Mach-O
  mingw-w64 wine wine64  # the Windows build (make windows) and its tests under wine (ci/tests.d/windows.sh)
  maven unzip          # CPython for Windows from Maven Central (ci/win/python.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
