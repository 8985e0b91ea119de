# A throwaway redis-server for the test and bench scripts (sourced, not run).
#
#   redis_server_start TAG   127.0.0.1 on a free port plus a unix socket, no
#                            persistence, its own temp dir; exports
#                            PL_TEST_REDIS_PORT and PL_TEST_REDIS_SOCKET and
#                            sets REDIS_SERVER_PID / REDIS_SERVER_DIR.
#   redis_server_stop        stops it and removes its dir (callers trap EXIT).
#
# A missing redis-server is a failure, never a skip: start returns 1.

REDIS_SERVER_PID=""
REDIS_SERVER_DIR=""

redis_server_start() {
  local tag=${1:-redis} try port
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server/redis-cli not installed (run ci/setup.sh)"; return 1; }
  REDIS_SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$tag-redis.XXXXXX")
  # A port can be taken between probing and binding: try a few.
  for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$REDIS_SERVER_DIR" --unixsocket "$REDIS_SERVER_DIR/redis.sock" \
      --unixsocketperm 700 --logfile "$REDIS_SERVER_DIR/redis.log" \
      --daemonize no &
    REDIS_SERVER_PID=$!
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        export PL_TEST_REDIS_PORT=$port
        export PL_TEST_REDIS_SOCKET=$REDIS_SERVER_DIR/redis.sock
        return 0
      fi
      kill -0 "$REDIS_SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$REDIS_SERVER_PID" 2>/dev/null; wait "$REDIS_SERVER_PID" 2>/dev/null
    REDIS_SERVER_PID=""
  done
  echo "could not start redis-server"; cat "$REDIS_SERVER_DIR/redis.log" 2>/dev/null
  return 1
}

redis_server_stop() {
  if [ -n "$REDIS_SERVER_PID" ]; then
    kill "$REDIS_SERVER_PID" 2>/dev/null
    wait "$REDIS_SERVER_PID" 2>/dev/null
    REDIS_SERVER_PID=""
  fi
  if [ -n "$REDIS_SERVER_DIR" ]; then
    rm -rf "$REDIS_SERVER_DIR"
    REDIS_SERVER_DIR=""
  fi
}
