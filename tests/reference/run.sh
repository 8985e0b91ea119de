#!/usr/bin/env bash
# Runs the reference portalocker's own test suite (portalocker_tests/ from
# the 4.4.2 sdist on PyPI) against cportalocker and compares the outcome
# with tests/reference/expectations.txt (compare.py): every test there is
# one that cannot pass against cportalocker, with its reason; every other
# test must pass. Prints `reftests: N passed, N failed` and a summary per
# module; exits non-zero on any difference.
#
# How `import portalocker` reaches cportalocker: a .pth file in the suite's
# own venv (build/reftests/venv) puts tests/reference/shim (a `portalocker`
# package that calls cportalocker.install_as_portalocker()) and
# build/python on sys.path, so the tests and every subprocess they start,
# `python -I` ones included, import ours. The reference is never
# installed there (checked below, and plugin.py stops the session if
# `portalocker` is not cportalocker) and the sdist's own package directory
# is deleted.
#
# Redis: the suite reads REDIS_HOST/REDIS_PORT (default localhost:6379)
# for its live-server tests; they point at a throwaway redis-server on a
# free port of 127.0.0.1 started here, and
# PORTALOCKER_REDIS_TESTS_REQUIRED=1 (the suite's own switch) turns a
# missing server into an error instead of skips.
#
# usage: tests/reference/run.sh [pytest args...]   (after `make python-binding`)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/reftests
VERSION=4.4.2
REQ=$ROOT/tests/reference/requirements.txt
mkdir -p "$OUT"

# The suite's venv: its test dependencies, no portalocker. (Its pip also
# fetches the sdist: Debian's python3 has no pip of its own.)
PY=$OUT/venv/bin/python
if [ ! -x "$PY" ]; then
  python3 -m venv "$OUT/venv"
fi
if ! cmp -s "$REQ" "$OUT/venv/.installed"; then
  "$PY" -m pip install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$OUT/venv/.installed"
fi

# The sdist (its package removed: only ours may answer `import portalocker`).
if [ ! -d "$OUT/src/portalocker_tests" ]; then
  rm -rf "$OUT/src" "$OUT/dl"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps \
    --no-binary portalocker "portalocker==$VERSION" -d "$OUT/dl"
  mkdir -p "$OUT/src"
  tar -xzf "$OUT/dl/portalocker-$VERSION.tar.gz" -C "$OUT/src" --strip-components=1
  rm -rf "$OUT/src/portalocker"
fi
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$ROOT/tests/reference/shim" "$ROOT/build/python" > "$site/cportalocker-reftests.pth"

# The reference must not be importable: no distribution of it in the venv,
# no other `portalocker` on the path, and the name must give cportalocker.
"$PY" -I - "$ROOT/tests/reference/shim" <<'PYEOF'
import importlib.metadata as md, importlib.util, os, sys
try:
    md.distribution('portalocker')
except md.PackageNotFoundError:
    pass
else:
    sys.exit('reftests: the reference portalocker is installed in the venv; it must not be')
shim = os.path.realpath(sys.argv[1])
for entry in sys.path:
    candidate = os.path.join(entry or '.', 'portalocker')
    if os.path.isdir(candidate) and os.path.realpath(entry) != shim:
        sys.exit(f'reftests: another portalocker package is on the path: {candidate}')
import portalocker
if portalocker.__name__ != 'cportalocker':
    sys.exit(f'reftests: portalocker resolves to {portalocker.__file__}')
PYEOF

. ci/lib/redis-server.sh
redis_server_start reftests >/dev/null || { echo "reftests: could not start redis-server"; exit 1; }
trap redis_server_stop EXIT
export REDIS_HOST=127.0.0.1 REDIS_PORT=$PL_TEST_REDIS_PORT PORTALOCKER_REDIS_TESTS_REQUIRED=1
export PYTHONPATH=$ROOT/tests/reference

cd "$OUT/src"
rc=0
"$PY" -m pytest portalocker_tests -p plugin -p no:cacheprovider \
  -o addopts="" --continue-on-collection-errors --timeout=60 -q \
  --junitxml="$OUT/report.xml" "$@" > "$OUT/pytest.log" 2>&1 || rc=$?
# pytest's own summary line (the exit-time release of a lock a test left
# compromised may log after it).
grep -E '[0-9]+ (passed|failed)' "$OUT/pytest.log" | tail -n 1
[ "$rc" -le 1 ] || { echo "reftests: pytest could not run the suite (exit $rc), see $OUT/pytest.log"; tail -n 30 "$OUT/pytest.log"; exit 1; }
"$PY" "$ROOT/tests/reference/compare.py" "$OUT/report.xml" \
  "$ROOT/tests/reference/expectations.txt"
