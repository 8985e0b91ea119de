#!/usr/bin/env bash
# Python binding (cportalocker) and the plain-ctypes C ABI test, with the
# CI venv's python (reference portalocker, redis-py, pytest). Ends with
# pytest's own summary line; non-zero exit on any failure. With CI=true a
# skipped test counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$(bash ci/venv.sh)
make -s python-binding PYTHON="$PY" >&2
args=(-q -rfEs -p no:cacheprovider tests/python tests/ctypes)
if [ "${CI:-}" = "true" ]; then
  # Nothing may skip in CI: fail the run if pytest reports any skip.
  out=$(mktemp)
  set +e
  "$PY" -m pytest "${args[@]}" | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  if grep -Eq '[0-9]+ skipped' "$out"; then
    echo "python: tests were skipped under CI=true" >&2
    rc=1
  fi
  rm -f "$out"
  exit "$rc"
fi
exec "$PY" -m pytest "${args[@]}"
