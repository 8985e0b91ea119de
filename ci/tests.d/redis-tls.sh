#!/usr/bin/env bash
# The Redis lock over TLS (called by ci/run-tests.sh): one redis-server
# with --tls-port and certificates made by openssl (ci/lib/redis-tls.sh:
# a CA, a server certificate for localhost/127.0.0.1, a client
# certificate, which the server requires), started once for the suite.
# Runs the C suite (also under valgrind: nothing leaked on the failure
# paths), the Python binding against redis-py and the reference
# portalocker on the same TLS server, and the Ruby and Lua bindings over
# rediss:// urls (contention with and a SIGKILLed holder in a second
# process, a connection killed by the server as a lost lock, a wrong CA,
# a wrong host name and a missing client certificate as connection
# errors). A missing tool is a FAILURE, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."

. ci/lib/require-tools.sh
require_tools redis-tls redis-server redis-cli openssl valgrind ruby lua5.4
# Debian 12's redis-server is built with TLS; say so if a build is not.
ldd "$(command -v redis-server)" 2>/dev/null | grep libssl >/dev/null ||
  { echo "redis-tls: this redis-server is not linked with OpenSSL (no --tls-port)"; exit 1; }

"${MAKE:-make}" -s test-redis-tls-bins || { echo "redis-tls: build failed"; exit 1; }

# shellcheck source=../lib/redis-tls.sh
. ci/lib/redis-tls.sh
trap redis_tls_stop EXIT
trap 'exit 130' INT TERM
redis_tls_start redis-tls || { echo "redis-tls: could not start redis-server with TLS"; exit 1; }
echo "redis-tls: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') TLS on 127.0.0.1:$PL_TEST_REDIS_TLS_PORT (plain $PL_TEST_REDIS_PORT)"

failed=0
echo "== build/tests/redis/tls/test_redis_tls"
build/tests/redis/tls/test_redis_tls || failed=1
echo "== the same under valgrind"
PL_TEST_TIME_SCALE=10 valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=9 build/tests/redis/tls/test_redis_tls > build/tests/redis/tls/valgrind.log 2>&1 ||
  { tail -50 build/tests/redis/tls/valgrind.log; echo "redis-tls: valgrind found errors or leaks"; failed=1; }

PY=$(bash ci/venv.sh) || { echo "redis-tls: the venv could not be created"; exit 1; }
"${MAKE:-make}" -s python-binding PYTHON="$PY" >&2 || { echo "redis-tls: python binding build failed"; exit 1; }
echo "== Python binding, redis-py and the reference over TLS"
"$PY" -m pytest -q -p no:cacheprovider tests/redis/tls || failed=1

echo "== Ruby binding over TLS"
"${MAKE:-make}" -s ruby-binding >&2 || { echo "redis-tls: ruby binding build failed"; exit 1; }
ruby tests/redis/tls/tls_ruby.rb || failed=1

echo "== Lua binding over TLS"
"${MAKE:-make}" -s lua-binding >&2 || { echo "redis-tls: lua binding build failed"; exit 1; }
LUA_PATH="$PWD/build/lua/?.lua;;" LUA_CPATH="$PWD/build/lua/?.so;;" \
  lua5.4 tests/redis/tls/tls_lua.lua || failed=1

exit $failed
