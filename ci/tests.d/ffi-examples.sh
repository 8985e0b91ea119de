#!/usr/bin/env bash
# The dlopen examples of bindings/README.md (Node koffi, Go purego, Java JNA,
# Rust libloading) are run as written, so the documentation cannot drift
# from the ABI: each code block is cut out of the README, built with the
# pinned dependencies ci/ffi-agents.sh fetched for the conformance agents,
# and run from a scratch directory whose build/ is this repository's (only
# the lock file's path is moved into that directory). Each must exit 0 and
# leave the lock file it wrote. Ends with `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/conformance
"${MAKE:-make}" -s lib >&2 || exit 1
bash ci/ffi-agents.sh >&2 || exit 1
for d in /usr/local/go/bin "$HOME/.cargo/bin"; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-ffi-examples.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
ln -s "$ROOT/build" "$TMP/build"

# the first ```LANG block after the line "HEADING"
block() {
  awk -v head="$1" -v lang="$2" '
    $0 == head { found = 1; next }
    found && $0 == "```" lang { inside = 1; next }
    inside && $0 == "```" { exit }
    inside { print }' bindings/README.md | sed "s#/tmp/shared.lock#$TMP/shared.lock#"
}

passed=0 failed=0
run() {
  local name=$1; shift
  rm -f "$TMP/shared.lock"
  if (cd "$TMP" && "$@") > "$TMP/$name.out" 2>&1 && [ -f "$TMP/shared.lock" ]; then
    echo "ok   $name (printed: '$(head -1 "$TMP/$name.out")', lock file: '$(head -c 60 "$TMP/shared.lock" | tr -d '\n')')"
    passed=$((passed + 1))
  else
    echo "FAIL $name"; sed 's/^/     /' "$TMP/$name.out" | tail -20
    failed=$((failed + 1))
  fi
}
missing() { echo "FAIL $1: its code block is not in bindings/README.md"; failed=$((failed + 1)); }

if [ -n "$(block 'Node (koffi 3):' js)" ]; then
  block 'Node (koffi 3):' js > "$TMP/lock.js"
  run node env NODE_PATH="$OUT/node/node_modules" node lock.js
else missing node; fi

if [ -n "$(block 'Go (purego, no cgo):' go)" ]; then
  mkdir -p "$TMP/go"
  block 'Go (purego, no cgo):' go > "$TMP/go/main.go"
  sed 's#^module .*#module example#' tests/conformance/agents/go/go.mod > "$TMP/go/go.mod"
  cp tests/conformance/agents/go/go.sum "$TMP/go/"
  go_build() {
    (cd go && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS='-mod=readonly -modcacherw' \
       GOMODCACHE="$OUT/cache/gomod" GOCACHE="$OUT/cache/gobuild" GOPROXY=off go build -o example .) &&
      go/example
  }
  run go go_build
else missing go; fi

if [ -n "$(block 'Java 17 (JNA 5):' java)" ]; then
  mkdir -p "$TMP/java"
  block 'Java 17 (JNA 5):' java > "$TMP/java/LockExample.java"
  java_run() {
    javac -d java -cp "$OUT/java/lib/*" java/LockExample.java &&
      java -Djna.nounpack=true -Djna.boot.library.path="$OUT/java/native" \
        -cp "$OUT/java/lib/*:java" LockExample
  }
  run java java_run
else missing java; fi

if [ -n "$(block 'Rust (libloading):' rust)" ]; then
  mkdir -p "$TMP/rust/src"
  block 'Rust (libloading):' rust > "$TMP/rust/src/main.rs"
  printf '[package]\nname = "example"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nlibloading = "0.9"\n' \
    > "$TMP/rust/Cargo.toml"
  # the agent's lock file pins libloading (cargo keeps the entries it uses)
  cp tests/conformance/agents/rust/Cargo.lock "$TMP/rust/"
  rust_run() {
    CARGO_HOME="$OUT/cache/cargo" CARGO_TARGET_DIR="$OUT/examples-rust-target" \
      cargo run -q --offline --manifest-path rust/Cargo.toml
  }
  run rust rust_run
else missing rust; fi

echo "ffi examples: $passed passed, $failed failed"
[ $failed -eq 0 ]
