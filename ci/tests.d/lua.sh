#!/usr/bin/env bash
# Lua binding (require "portalocker"): builds build/lua, starts a throwaway
# redis-server (127.0.0.1 on a free port plus a unix socket, no persistence,
# its own temp dir, stopped on every exit path) and runs the plain-Lua test
# script tests/lua/test_portalocker.lua, which ends with "N passed, N
# failed". Interop tests use the CI venv's python (reference portalocker);
# one test installs the rockspec with luarocks into a throwaway tree.
# Nothing is skipped: a missing lua5.4, redis-server or venv is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

. ci/lib/require-tools.sh
require_tools lua lua5.4 luarocks redis-server redis-cli
"${MAKE:-make}" -s lua-binding >&2 || { echo "lua: build failed"; exit 1; }
if ! PY=$(bash ci/venv.sh); then
  echo "lua: the reference venv could not be created (ci/venv.sh failed)"; exit 1
fi

# shellcheck source=../lib/redis-server.sh
. ci/lib/redis-server.sh
trap redis_server_stop EXIT
trap 'exit 130' INT TERM
redis_server_start lua || { echo "lua: could not start redis-server"; exit 1; }

export PL_TEST_PYTHON=$PY
export LUA_PATH="$PWD/build/lua/?.lua;;"
export LUA_CPATH="$PWD/build/lua/?.so;;"
rc=0
lua5.4 tests/lua/test_portalocker.lua || rc=1
# The Redis lock under the collector, coroutines and exit; fencing, probe.
lua5.4 tests/lua/test_redis.lua || rc=1
exit "$rc"
