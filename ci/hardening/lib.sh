# Shared helpers for the ci/hardening/*.sh checks (sourced, not run).
# hardening_redis_start: a throwaway redis-server (127.0.0.1, a free port,
# a unix socket, no persistence, its own temp dir) exported to the Redis
# suites as PL_TEST_REDIS_PORT / PL_TEST_REDIS_SOCKET; stopped by
# hardening_redis_stop (the callers trap EXIT); see ci/lib/redis-server.sh.
# A missing redis-server is a failure, never a skip.

# shellcheck source=../lib/redis-server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/redis-server.sh"
hardening_redis_start() { redis_server_start hardening; }
hardening_redis_stop() { redis_server_stop; }

# Elapsed seconds since $1 (from `date +%s.%N`), one decimal.
hardening_elapsed() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
