#!/usr/bin/env bash
# Runs every test suite (`make test` builds the library, the bindings and
# the unit tests first; each suite builds whatever else it needs); exits
# non-zero if any failed. Each suite prints its runner's own summary
# (cmocka, pytest, ...) and its wall time.
#
# The suites run one after another, except those in ALONGSIDE: a second
# lane runs them, one after another too, beside the first, their output
# kept in build/test-logs and printed whole at the end. A suite belongs
# there only when it builds and writes nothing another suite does (its
# own build directory): the first lane's suites mostly wait (on timeouts,
# peers, servers), which leaves a core free. The Windows suite (build/win
# only; wine starting processes and waiting on locks), the fuzz targets
# (build/fuzz only) and the cross compiles (build/cross only) are those.
set -uo pipefail
cd "$(dirname "$0")/.."

ALONGSIDE=(windows fuzz cross)

failed=()
ran=0
report() { # name status seconds
  if [ "$2" = 0 ]; then echo "--- $1: ok ($3 s)"
  else echo "--- $1: FAILED ($3 s)"; failed+=("$1"); fi
}
run() {
  local name=$1 t0=$SECONDS rc=0
  shift
  ran=$((ran + 1))
  echo
  echo "=============== $name ==============="
  "$@" || rc=$?
  report "$name" "$rc" $((SECONDS - t0))
}

# What the suites share is made once, before anything runs alongside:
# the test venv and the Redis test programs (two suites building the same
# file at once could corrupt it).
bash ci/venv.sh >/dev/null || { echo "the test venv could not be created (ci/venv.sh)"; exit 1; }
make -s test-redis-bins || { echo "the Redis test programs did not build"; exit 1; }

logs=build/test-logs
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.rc
# The second lane: the ALONGSIDE suites one after another (so at most two
# suites run at once), each suite's output and "status seconds" in
# build/test-logs.
(
  for name in "${ALONGSIDE[@]}"; do
    t0=$SECONDS rc=0
    bash "ci/tests.d/$name.sh" </dev/null >"$logs/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - t0))" >"$logs/$name.rc"
  done
) &
lane=$!
# An interrupted run stops the second lane too.
trap 'if [ -n "$lane" ]; then pkill -TERM -P "$lane" 2>/dev/null; kill "$lane" 2>/dev/null; fi' EXIT
trap 'exit 130' INT TERM

# finish NAME: waits for a suite of the second lane and prints its output.
finish() {
  local name=$1 rc secs
  ran=$((ran + 1))
  echo
  echo "=============== $name (ran alongside) ==============="
  while [ ! -f "$logs/$name.rc" ] && kill -0 "$lane" 2>/dev/null; do sleep 1; done
  cat "$logs/$name.log" 2>/dev/null
  read -r rc secs 2>/dev/null <"$logs/$name.rc" || rc=1 secs=?
  report "$name" "$rc" "$secs"
}

run "public header (C99 and C++)" make -s test-header
run "exported symbols" make -s check-symbols
run "unit tests (cmocka)" make -s test-unit
for extra in ci/tests.d/*.sh; do
  [ -e "$extra" ] || continue
  name=$(basename "$extra" .sh)
  case " ${ALONGSIDE[*]} " in *" $name "*) continue ;; esac
  run "$name" bash "$extra"
done
for name in "${ALONGSIDE[@]}"; do
  finish "$name"
done
wait "$lane"
lane=

echo
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED suites: ${failed[*]}"
else
  echo "all test suites passed"
fi
# The plain closing line CI reads (each suite printed its own runner's).
echo "suites: $((ran - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
