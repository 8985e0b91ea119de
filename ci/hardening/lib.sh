# Shared helpers for the ci/hardening/*.sh checks (sourced, not run).
# hardening_redis_start: a throwaway redis-server (127.0.0.1, a free port,
# a unix socket, no persistence, its own temp dir) exported to the Redis
# suites as PL_TEST_REDIS_PORT / PL_TEST_REDIS_SOCKET; stopped by
# hardening_redis_stop (the callers trap EXIT). Same setup as
# ci/tests.d/redis.sh. A missing redis-server is a failure, never a skip.

HARDENING_REDIS_PID=""
HARDENING_REDIS_DIR=""

hardening_redis_start() {
  local try port
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server/redis-cli not installed (run ci/setup.sh)"; return 1; }
  HARDENING_REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-hardening-redis.XXXXXX")
  for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$HARDENING_REDIS_DIR" --unixsocket "$HARDENING_REDIS_DIR/redis.sock" \
      --unixsocketperm 700 --logfile "$HARDENING_REDIS_DIR/redis.log" \
      --daemonize no &
    HARDENING_REDIS_PID=$!
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        export PL_TEST_REDIS_PORT=$port
        export PL_TEST_REDIS_SOCKET=$HARDENING_REDIS_DIR/redis.sock
        return 0
      fi
      kill -0 "$HARDENING_REDIS_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill "$HARDENING_REDIS_PID" 2>/dev/null; wait "$HARDENING_REDIS_PID" 2>/dev/null
    HARDENING_REDIS_PID=""
  done
  echo "could not start redis-server"; cat "$HARDENING_REDIS_DIR/redis.log" 2>/dev/null
  return 1
}

hardening_redis_stop() {
  if [ -n "$HARDENING_REDIS_PID" ]; then
    kill "$HARDENING_REDIS_PID" 2>/dev/null
    wait "$HARDENING_REDIS_PID" 2>/dev/null
    HARDENING_REDIS_PID=""
  fi
  [ -n "$HARDENING_REDIS_DIR" ] && rm -rf "$HARDENING_REDIS_DIR"
  HARDENING_REDIS_DIR=""
}

# Elapsed seconds since $1 (from `date +%s.%N`), one decimal.
hardening_elapsed() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
