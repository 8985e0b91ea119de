#!/usr/bin/env bash
# Runs every test suite (`make test` builds the library, the bindings and
# the unit tests first; each suite builds whatever else it needs); exits
# non-zero if any failed. Each suite prints its runner's own summary
# (cmocka, pytest, ...).
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
ran=0
run() {
  local name=$1; shift
  ran=$((ran + 1))
  echo
  echo "=============== $name ==============="
  local t0=$SECONDS
  if "$@"; then echo "--- $name: ok ($((SECONDS - t0)) s)"
  else echo "--- $name: FAILED ($((SECONDS - t0)) s)"; failed+=("$name"); fi
}

run "public header (C99 and C++)" make -s test-header
run "exported symbols" make -s check-symbols
run "unit tests (cmocka)" make -s test-unit
for extra in ci/tests.d/*.sh; do
  [ -e "$extra" ] || continue
  run "$(basename "$extra" .sh)" bash "$extra"
done

echo
if [ ${#failed[@]} -ne 0 ]; then
  echo "FAILED suites: ${failed[*]}"
else
  echo "all test suites passed"
fi
# The plain closing line CI reads (each suite printed its own runner's).
echo "suites: $((ran - ${#failed[@]})) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
