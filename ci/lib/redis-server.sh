# A throwaway redis-server for the test and bench scripts (sourced, not run).
#
#   redis_server_start TAG   127.0.0.1 on a free port plus a unix socket, no
#                            persistence, its own temp dir; exports
#                            PL_TEST_REDIS_PORT and PL_TEST_REDIS_SOCKET and
#                            sets REDIS_SERVER_PID / REDIS_SERVER_DIR.
#   redis_server_stop        stops it and removes its dir (callers trap EXIT).
#
# A missing redis-server is a failure, never a skip: start returns 1.
# Also the helpers the other topologies' starters share (redis-tls.sh,
# redis-sentinel.sh, redis-cluster.sh): pl_free_ports, pl_redis_launch.

REDIS_SERVER_PID=${REDIS_SERVER_PID:-}
REDIS_SERVER_DIR=${REDIS_SERVER_DIR:-}

# pl_free_ports N: N free ports on 127.0.0.1, space-separated (probed
# together, so they differ; another program can still take one before
# the server binds it, which is why the starters retry).
pl_free_ports() {
  python3 - "$1" <<'PYEOF'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
PYEOF
}

# pl_redis_launch READY ARGS...: redis-server ARGS in the background until
# the command READY succeeds (5 s); its pid in PL_LAUNCHED_PID. A server
# that exits (a port taken meanwhile) or never answers is stopped and
# PL_LAUNCHED_PID emptied: returns 1.
pl_redis_launch() {
  local ready=$1
  shift
  redis-server "$@" --daemonize no &
  PL_LAUNCHED_PID=$!
  for _ in $(seq 1 100); do
    "$ready" && return 0
    kill -0 "$PL_LAUNCHED_PID" 2>/dev/null || break
    sleep 0.05
  done
  kill "$PL_LAUNCHED_PID" 2>/dev/null; wait "$PL_LAUNCHED_PID" 2>/dev/null
  PL_LAUNCHED_PID=""
  return 1
}

redis_server_start() {
  local tag=${1:-redis} try port
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server/redis-cli not installed (run ci/setup.sh)"; return 1; }
  REDIS_SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$tag-redis.XXXXXX")
  # Ours answers, not another program's server that took the port first.
  redis_server_ready() {
    redis-cli -p "$port" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$PL_LAUNCHED_PID"
  }
  for try in 1 2 3 4 5; do
    port=$(pl_free_ports 1)
    if pl_redis_launch redis_server_ready --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$REDIS_SERVER_DIR" --unixsocket "$REDIS_SERVER_DIR/redis.sock" \
        --unixsocketperm 700 --logfile "$REDIS_SERVER_DIR/redis.log"; then
      REDIS_SERVER_PID=$PL_LAUNCHED_PID
      export PL_TEST_REDIS_PORT=$port
      export PL_TEST_REDIS_SOCKET=$REDIS_SERVER_DIR/redis.sock
      return 0
    fi
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
