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

for tool in lua5.4 luarocks redis-server redis-cli; do
  if ! command -v "$tool" >/dev/null; then
    echo "lua: $tool is not installed (run ci/setup.sh)"; exit 1
  fi
done
"${MAKE:-make}" -s lua-binding >&2 || { echo "lua: build failed"; exit 1; }
if ! PY=$(bash ci/venv.sh); then
  echo "lua: the reference venv could not be created (ci/venv.sh failed)"; exit 1
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-lua-redis.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A port can be taken between probing and binding: try a few.
for try in 1 2 3 4 5; do
  PORT=$(free_port)
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$DIR" --unixsocket "$DIR/redis.sock" --unixsocketperm 700 \
    --logfile "$DIR/redis.log" --daemonize no &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; then break 2; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
done
if [ -z "$SERVER_PID" ]; then
  echo "lua: could not start redis-server"; cat "$DIR/redis.log" 2>/dev/null
  exit 1
fi

export PL_TEST_REDIS_PORT=$PORT
export PL_TEST_REDIS_SOCKET=$DIR/redis.sock
export PL_TEST_PYTHON=$PY
export LUA_PATH="$PWD/build/lua/?.lua;;"
export LUA_CPATH="$PWD/build/lua/?.so;;"
lua5.4 tests/lua/test_portalocker.lua
