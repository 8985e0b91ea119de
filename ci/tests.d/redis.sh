#!/usr/bin/env bash
# The Redis lock suites (called by ci/run-tests.sh):
# builds the cmocka binaries and the interop helper, starts a throwaway
# redis-server (127.0.0.1, a free port, a unix socket, no persistence, its
# own temp dir), runs the cmocka suites and the interop tests against the
# reference portalocker, and stops the server on every exit path.
# A missing redis-server or reference venv is a FAILURE, never a skip
# (PL_SKIP_REDIS=1 skips explicitly, refused when CI=true).
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ "${PL_SKIP_REDIS:-}" = 1 ]; then
  if [ "${CI:-}" = true ]; then
    echo "redis: PL_SKIP_REDIS=1 is not allowed in CI"; exit 1
  fi
  echo "redis: SKIPPED on request (PL_SKIP_REDIS=1)"; exit 0
fi
. ci/lib/require-tools.sh
require_tools redis redis-server redis-cli

"${MAKE:-make}" -s test-redis-bins || { echo "redis: build failed"; exit 1; }

# shellcheck source=../lib/redis-server.sh
. ci/lib/redis-server.sh
trap redis_server_stop EXIT
trap 'exit 130' INT TERM
redis_server_start redis || { echo "redis: could not start redis-server"; exit 1; }
echo "redis: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PL_TEST_REDIS_PORT (pid $REDIS_SERVER_PID)"

export PL_REDIS_CLI=$PWD/build/tests/redis/pl_redis_cli

failed=0
for t in build/tests/redis/test_*; do
  [ -x "$t" ] || continue
  echo "== $t"
  "$t" || failed=1
done

echo "== interop with the reference portalocker"
if ! PY=$(bash ci/venv.sh); then
  echo "redis: the reference venv could not be created (ci/venv.sh failed)"
  exit 1
fi
"$PY" -c 'import portalocker, redis; print("reference portalocker", portalocker.__version__, "/ redis-py", redis.__version__)' || exit 1
"$PY" -m pytest -q -p no:cacheprovider tests/redis/interop || failed=1

exit $failed
