#!/usr/bin/env bash
# Runs the reference portalocker's own test suite (portalocker_tests/ from
# the 4.4.2 sdist on PyPI) against cportalocker: `import portalocker`
# resolves to ours through tests/reference/shim (the reference itself is
# not installed in that venv, and the sdist's own package is removed), a
# throwaway redis-server answers the Redis tests, and the results are
# compared with tests/reference/expectations.txt (compare.py).
# usage: tests/reference/run.sh [pytest args...]   (after `make bindings`)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/reftests
VERSION=4.4.2
mkdir -p "$OUT"

# The sdist and a venv with the suite's test dependencies, but no portalocker.
if [ ! -d "$OUT/src/portalocker_tests" ]; then
  rm -rf "$OUT/src" "$OUT/dl"
  python3 -m pip download -q --no-deps --no-binary portalocker \
    "portalocker==$VERSION" -d "$OUT/dl"
  mkdir -p "$OUT/src"
  tar -xzf "$OUT/dl/portalocker-$VERSION.tar.gz" -C "$OUT/src" --strip-components=1
  rm -rf "$OUT/src/portalocker" # only ours may answer `import portalocker`
fi
if [ ! -x "$OUT/venv/bin/pytest" ]; then
  python3 -m venv "$OUT/venv"
  "$OUT/venv/bin/pip" install -q --disable-pip-version-check \
    'pytest>=8' 'pytest-timeout>=2.1' 'pytest-rerunfailures>=15.1' \
    'redis>=5' 'fakeredis>=2.31' 'typing_extensions>=4.4'
fi
if "$OUT/venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("portalocker") is None)' 2>/dev/null; then
  echo "reftests: the reference portalocker is installed in $OUT/venv; it must not be" >&2
  exit 1
fi

. ci/lib/redis-server.sh
redis_server_start reftests >/dev/null
trap redis_server_stop EXIT
export REDIS_HOST=127.0.0.1 REDIS_PORT=$PL_TEST_REDIS_PORT PORTALOCKER_REDIS_TESTS_REQUIRED=1
export PYTHONPATH=$ROOT/tests/reference/shim:$ROOT/tests/reference:$ROOT/build/python

cd "$OUT/src"
rc=0
"$OUT/venv/bin/python" -m pytest portalocker_tests -p plugin -p no:cacheprovider \
  -o addopts="" --continue-on-collection-errors --timeout=120 -q --junitxml="$OUT/report.xml" "$@" > "$OUT/pytest.log" 2>&1 || rc=$?
tail -n 3 "$OUT/pytest.log"
[ "$rc" -le 1 ] || { echo "reftests: pytest could not run the suite (exit $rc), see $OUT/pytest.log"; exit 1; }
"$OUT/venv/bin/python" "$ROOT/tests/reference/compare.py" "$OUT/report.xml" \
  "$ROOT/tests/reference/expectations.txt"
