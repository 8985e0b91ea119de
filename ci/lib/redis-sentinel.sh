# A throwaway Sentinel topology for the Sentinel suite (sourced, not run):
# a master, a replica and three sentinels (redis-server --sentinel, the
# same binary Debian's redis-sentinel runs) on 127.0.0.1, each on a free
# port, no persistence, one temp dir.
#
#   redis_sentinel_start TAG   starts them and waits until every sentinel
#                              sees the master, the replica and the other
#                              sentinels. Exports PL_TEST_SENTINELS
#                              ("127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"),
#                              PL_TEST_SENTINEL_SERVICE (pltest),
#                              PL_TEST_MASTER_PORT, PL_TEST_REPLICA_PORT.
#   redis_sentinel_stop        stops them and removes the dir.
#
# A missing redis-server is a failure: start returns 1.

# shellcheck source=redis-server.sh
. "$(dirname "${BASH_SOURCE[0]}")/redis-server.sh"

RS_PIDS=()
RS_DIR=""

rs_wait() { # port pattern command...: until the reply matches (10 s)
  local port=$1 pat=$2 i
  shift 2
  for i in $(seq 1 200); do
    redis-cli -p "$port" "$@" 2>/dev/null | grep -Eq "$pat" && return 0
    sleep 0.05
  done
  return 1
}

redis_sentinel_start() {
  local tag=${1:-sentinel} m r s1 s2 s3 p
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server/redis-cli not installed (run ci/setup.sh)"; return 1; }
  RS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$tag-sentinel.XXXXXX")
  read -r m r s1 s2 s3 < <(pl_free_ports 5)
  redis-server --port "$m" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$RS_DIR" --logfile "$RS_DIR/master.log" --daemonize no &
  RS_PIDS+=($!)
  redis-server --port "$r" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$RS_DIR" --logfile "$RS_DIR/replica.log" --replicaof 127.0.0.1 "$m" \
    --daemonize no &
  RS_PIDS+=($!)
  rs_wait "$r" 'master_link_status:up' info replication ||
    { echo "the replica did not sync"; return 1; }
  for p in "$s1" "$s2" "$s3"; do
    cat > "$RS_DIR/sentinel-$p.conf" <<EOF
port $p
bind 127.0.0.1
dir $RS_DIR
logfile $RS_DIR/sentinel-$p.log
sentinel monitor pltest 127.0.0.1 $m 2
sentinel down-after-milliseconds pltest 2000
sentinel failover-timeout pltest 10000
sentinel parallel-syncs pltest 1
EOF
    redis-server "$RS_DIR/sentinel-$p.conf" --sentinel --daemonize no &
    RS_PIDS+=($!)
  done
  for p in "$s1" "$s2" "$s3"; do
    rs_wait "$p" "^$r\$" sentinel replicas pltest ||
      { echo "sentinel $p does not see the replica"; return 1; }
    for _ in $(seq 1 200); do
      [ "$(redis-cli -p "$p" sentinel sentinels pltest 2>/dev/null | grep -c '^name$')" -ge 2 ] && break
      sleep 0.05
    done
    [ "$(redis-cli -p "$p" sentinel sentinels pltest 2>/dev/null | grep -c '^name$')" -ge 2 ] ||
      { echo "sentinel $p does not see the other sentinels"; return 1; }
  done
  export PL_TEST_SENTINELS="127.0.0.1:$s1,127.0.0.1:$s2,127.0.0.1:$s3"
  export PL_TEST_SENTINEL_SERVICE=pltest PL_TEST_MASTER_PORT=$m PL_TEST_REPLICA_PORT=$r
  export PL_TEST_SENTINEL_PORT=$s1
  return 0
}

redis_sentinel_stop() {
  local p
  for p in "${RS_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${RS_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  RS_PIDS=()
  if [ -n "$RS_DIR" ]; then
    rm -rf "$RS_DIR"
    RS_DIR=""
  fi
}
