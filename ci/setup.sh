#!/usr/bin/env bash
# Installs every system package the project needs, only what is missing,
# and checks the toolchains of the FFI conformance agents (Node, Go, Java,
# Maven, Rust). Idempotent: a second run installs nothing. Needs root (or sudo) for apt-get.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  cmake                # the installed CMake package is used from a CMake project
  groff-base           # the manual pages are checked to render cleanly
  libcmocka-dev        # unit tests
  libhiredis-dev       # Redis lock client
  libcjson-dev         # Redis lock messages (JSON)
  libssl-dev           # TLS for the Redis lock (OpenSSL)
  openssl              # the TLS tests make their certificates
  redis-server         # a real server for the Redis tests
  python3 python3-venv # reference portalocker, redis-py, pytest (in a venv)
  swig python3-dev lua5.4 liblua5.4-dev ruby ruby-dev  # bindings (Python.h for the SWIG module)
  valgrind
  lua-cjson            # JSON for the Lua conformance agent (tests/conformance)
  luarocks             # the Lua binding's rockspec is installed by ci/tests.d/lua.sh
  yard lua-ldoc        # the Ruby and Lua API references (ci/tests.d/docs.sh, make docs)
  # hardening checks (ci/hardening/): valgrind above, clang with its
  # libFuzzer/sanitizer runtimes, static analysis, the ABI baseline; clang
  # also builds the library in ci/tests.d/build.sh
  clang libclang-rt-14-dev cppcheck clang-tidy abigail-tools
  llvm                 # llvm-nm, llvm-objdump: the cross-compile check reads Mach-O
  # the FFI conformance agents (tests/conformance/agents/java): JNA on JDK 17,
  # its jars fetched by Maven; Node, Go and Rust are checked below
  openjdk-17-jdk-headless maven
  mingw-w64 wine wine64  # the Windows build (make windows) and its tests under wine (ci/tests.d/windows.sh)
  unzip                # CPython for Windows from Maven Central (ci/win/python.sh; Maven above)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_install() {
  [ $updated -eq 1 ] || { $SUDO apt-get update -qq; updated=1; }
  $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all system packages present"
else
  echo "setup: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# Toolchains of the FFI conformance agents (ci/ffi-agents.sh). Node may
# come from Debian (nodejs, npm; a machine's own Node.js, such as one
# that bundles npm, is kept); Go and Rust must be newer than Debian 12's
# (purego needs Go 1.25, libloading Rust 1.88): the machine image has them
# (/usr/local/go, rustup's ~/.cargo). With CI=true a missing one fails
# setup; elsewhere it is reported and its agent is not built.
for d in /usr/local/go/bin "$HOME/.cargo/bin"; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
done
command -v node >/dev/null || { echo "setup: installing nodejs npm"; apt_install nodejs npm; }
command -v npm >/dev/null || { echo "setup: installing npm"; apt_install npm; }

# version_at_least HAVE WANT: dotted versions
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }
problems=()
check_tool() {  # name, version command's output, minimum, what to do
  local name=$1 have=$2 want=$3 fix=$4
  if [ -z "$have" ]; then
    problems+=("$name is not installed ($fix)")
  elif ! version_at_least "$have" "$want"; then
    problems+=("$name $have is older than $want ($fix)")
  else
    echo "setup: $name $have"
  fi
}
check_tool node "$(node --version 2>/dev/null | tr -d v)" 18 "apt-get install nodejs npm"
check_tool npm "$(npm --version 2>/dev/null)" 7 "apt-get install npm"
check_tool java "$(java -version 2>&1 | sed -n 's/.*version "\([0-9.]*\).*/\1/p' | head -1)" 17 \
  "apt-get install openjdk-17-jdk-headless"
check_tool javac "$(javac -version 2>&1 | sed -n 's/^javac \([0-9.]*\).*/\1/p')" 17 \
  "apt-get install openjdk-17-jdk-headless"
check_tool mvn "$(mvn -B -v 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/^Apache Maven \([0-9.]*\).*/\1/p')" 3.6 "apt-get install maven"
check_tool go "$(go env GOVERSION 2>/dev/null | sed 's/^go//')" 1.25 \
  "Go from the machine image, /usr/local/go; Debian 12's golang is too old"
check_tool cargo "$(cargo --version 2>/dev/null | cut -d' ' -f2)" 1.88 \
  "Rust from rustup, ~/.cargo/bin; Debian 12's cargo is too old"
if [ ${#problems[@]} -ne 0 ]; then
  for p in "${problems[@]}"; do echo "setup: $p"; done
  if [ "${CI:-}" = true ]; then
    echo "setup: FAILED: the FFI conformance agents need these toolchains (CI=true never skips them)"
    exit 1
  fi
  echo "setup: their conformance agents will not be built (shown as n/b outside CI)"
fi
