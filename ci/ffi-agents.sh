#!/usr/bin/env bash
# Builds the conformance agents that load libportalocker.so.1 at run time
# through an FFI library (tests/conformance/agents/{node,go,java,rust}):
# their dependencies come from the registries, pinned by the lock files
# next to them (package-lock.json, go.sum, the pom's fixed versions checked
# against jars.sha256, Cargo.lock), into build/conformance/ with every cache
# under build/conformance/cache (nothing kept outside the run). Each agent
# is rebuilt only when its sources changed (a stamp per agent), so a run
# builds them once. Prints what it built and how long it took, on stderr.
#
#   bash ci/ffi-agents.sh            # all four
#   bash ci/ffi-agents.sh node go    # some
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SRC=tests/conformance/agents
OUT=$ROOT/build/conformance
CACHE=$OUT/cache
# the toolchains' usual homes, when a login shell did not put them on PATH
for d in /usr/local/go/bin "$HOME/.cargo/bin"; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
done
export PATH

say() { echo "ffi-agents: $*" >&2; }
# A missing toolchain fails with CI=true; elsewhere its agent is left out
# (the runner shows its runs as n/b, never as passed).
need() {
  command -v "$1" >/dev/null && return 0
  say "$1 is not installed (see ci/setup.sh): cannot build the $2 agent"
  [ "${CI:-}" = true ] && exit 1
  skipped=1
  return 1
}

# up to date: the stamp holds the checksum of the agent's sources
fresh() {
  local stamp=$1; shift
  local sum
  sum=$(cat "$@" | sha256sum | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
  echo "$sum" > "$stamp.new"
  return 1
}
done_stamp() { mv "$1.new" "$1"; }

build_node() {
  need node Node && need npm Node || return 0
  local dir=$OUT/node stamp=$OUT/node.stamp
  mkdir -p "$dir"
  fresh "$stamp" $SRC/node/package.json $SRC/node/package-lock.json && return 0
  cp $SRC/node/package.json $SRC/node/package-lock.json "$dir/"
  # npm ci: exactly the lock file, integrity hashes checked; koffi's
  # prebuilt binary comes in its per-platform package, so no install
  # script runs
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
     --cache "$CACHE/npm" >&2)
  done_stamp "$stamp"
}

build_go() {
  need go Go || return 0
  local stamp=$OUT/agent_go.stamp
  fresh "$stamp" $SRC/go/go.mod $SRC/go/go.sum $SRC/go/main.go && [ -x "$OUT/agent_go" ] && return 0
  # purego: dlopen without cgo, so the binary has no C code at all;
  # -mod=readonly: go.sum must already pin every module
  (cd $SRC/go && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS='-mod=readonly -modcacherw' \
     GOMODCACHE="$CACHE/gomod" GOCACHE="$CACHE/gobuild" \
     go build -trimpath -o "$OUT/agent_go" . >&2)
  done_stamp "$stamp"
}

build_java() {
  need java Java && need javac Java && need jar Java && need mvn Java || return 0
  local dir=$OUT/java stamp=$OUT/java.stamp
  fresh "$stamp" $SRC/java/pom.xml $SRC/java/jars.sha256 $SRC/java/Agent.java \
    && [ -f "$dir/classes/Agent.class" ] && return 0
  rm -rf "$dir"
  mkdir -p "$dir/lib" "$dir/classes"
  mvn -q -B -f $SRC/java/pom.xml -Dmaven.repo.local="$CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$dir/lib" > "$dir/mvn.log" 2>&1 ||
    { cat "$dir/mvn.log" >&2; say "mvn could not fetch the Java agent's jars"; exit 1; }
  # the jars must be exactly the pinned ones (Maven has no lock file)
  (cd "$dir/lib" && ls *.jar | sort > ../jars.list &&
     diff <(cut -d' ' -f3 "$ROOT/$SRC/java/jars.sha256" | sort) ../jars.list >&2 &&
     sha256sum --quiet -c "$ROOT/$SRC/java/jars.sha256" >&2) ||
    { say "the Java agent's jars differ from $SRC/java/jars.sha256"; exit 1; }
  javac -Xlint:all,-serial -Werror --release 17 -d "$dir/classes" -cp "$dir/lib/*" $SRC/java/Agent.java >&2
  # JNA's native part, unpacked once here: the agents run with
  # jna.nounpack (a killed JVM would leave its unpacked copy behind)
  local prefix
  case $(uname -m) in
    x86_64) prefix=linux-x86-64 ;; aarch64) prefix=linux-aarch64 ;;
    *) say "no JNA platform name known for $(uname -m)"; exit 1 ;;
  esac
  mkdir -p "$dir/native"
  (cd "$dir/native" && jar xf "$dir"/lib/jna-*.jar "com/sun/jna/$prefix/libjnidispatch.so" &&
     mv "com/sun/jna/$prefix/libjnidispatch.so" . && rm -rf com)
  done_stamp "$stamp"
}

build_rust() {
  need cargo Rust || return 0
  local stamp=$OUT/agent_rust.stamp
  fresh "$stamp" $SRC/rust/Cargo.toml $SRC/rust/Cargo.lock $SRC/rust/src/main.rs \
    && [ -x "$OUT/agent_rust" ] && return 0
  # release once per run (the lost-update check runs it hot); --locked:
  # Cargo.lock must already pin every crate
  CARGO_HOME="$CACHE/cargo" CARGO_TARGET_DIR="$OUT/rust-target" \
    cargo build -q --release --locked --manifest-path $SRC/rust/Cargo.toml >&2
  cp "$OUT/rust-target/release/agent_rust" "$OUT/agent_rust"
  done_stamp "$stamp"
}

# one agent, timed; its output goes to its log
build_one() {
  local l=$1 t0=${EPOCHREALTIME/./} ms
  skipped=0
  case $l in
    node) build_node ;; go) build_go ;; java) build_java ;; rust) build_rust ;;
  esac
  ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
  [ $skipped -eq 1 ] || say "$l agent ready ($((ms / 1000)).$((ms % 1000 / 100)) s)"
}

mkdir -p "$OUT" "$CACHE"
langs=(${*:-node go java rust})
for l in "${langs[@]}"; do
  case $l in node|go|java|rust) ;; *) say "unknown agent $l"; exit 2 ;; esac
done
# The four builds at once: they wait on downloads and a single-threaded
# compiler much of the time.
pids=()
for l in "${langs[@]}"; do
  build_one "$l" > "$OUT/build-$l.log" 2>&1 &
  pids+=($!)
done
failed=0
for i in "${!langs[@]}"; do
  if ! wait "${pids[$i]}"; then
    failed=1
    say "building the ${langs[$i]} agent failed:"
  fi
  cat "$OUT/build-${langs[$i]}.log" >&2
done
exit $failed
