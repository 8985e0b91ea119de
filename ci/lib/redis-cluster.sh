# A throwaway Redis Cluster for the Cluster suite and the bench (sourced,
# not run): three masters (--cluster-enabled yes, no replicas, no
# persistence) on 127.0.0.1 at free ports, joined by
# `redis-cli --cluster create`, one temp dir. Full coverage is not
# required, so killing one master leaves the other shards serving.
#
#   redis_cluster_start TAG   starts them and waits for cluster_state:ok
#                             on every node. Exports PL_TEST_CLUSTER_NODES
#                             ("127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3")
#                             and PL_TEST_CLUSTER_PORTS ("p1 p2 p3").
#                             and PL_TEST_CLUSTER_DIR (its pid files:
#                             ci/lib/redis-cluster-kill.sh PORT kills one).
#   redis_cluster_stop        stops them and removes the dir.
#
# A missing redis-server is a failure: start returns 1.

RC_PIDS=()
RC_PORTS=()
RC_DIR=""

rc_ports() { # n: n free ports (the cluster bus is port + 10000: free too)
  python3 - "$1" <<'PYEOF'
import socket, sys
out = []
while len(out) < int(sys.argv[1]):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p + 10000 > 65535:
        continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        continue
    out.append((s, b, p))
print(" ".join(str(p) for _, _, p in out))
PYEOF
}

redis_cluster_start() {
  local tag=${1:-cluster} p i ok
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server/redis-cli not installed (run ci/setup.sh)"; return 1; }
  RC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$tag-cluster.XXXXXX")
  read -r -a RC_PORTS < <(rc_ports 3)
  for p in "${RC_PORTS[@]}"; do
    mkdir -p "$RC_DIR/$p"
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$RC_DIR/$p/nodes.conf" \
      --cluster-node-timeout 2000 --cluster-require-full-coverage no \
      --dir "$RC_DIR/$p" --logfile "$RC_DIR/$p/redis.log" --daemonize no &
    RC_PIDS+=($!)
    echo $! > "$RC_DIR/$p.pid"
  done
  for p in "${RC_PORTS[@]}"; do
    for i in $(seq 1 100); do
      redis-cli -p "$p" ping 2>/dev/null | grep -q PONG && break
      sleep 0.05
    done
  done
  redis-cli --cluster create $(for p in "${RC_PORTS[@]}"; do printf '127.0.0.1:%s ' "$p"; done) \
    --cluster-replicas 0 --cluster-yes >"$RC_DIR/create.log" 2>&1 ||
    { echo "redis-cli --cluster create failed:"; cat "$RC_DIR/create.log"; return 1; }
  for i in $(seq 1 200); do
    ok=1
    for p in "${RC_PORTS[@]}"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
      [ "$(redis-cli -p "$p" cluster nodes 2>/dev/null | grep -c master)" -eq 3 ] || ok=0
    done
    [ $ok = 1 ] && break
    sleep 0.05
  done
  [ $ok = 1 ] || { echo "the cluster did not reach cluster_state:ok"; return 1; }
  export PL_TEST_CLUSTER_NODES
  PL_TEST_CLUSTER_NODES=$(for p in "${RC_PORTS[@]}"; do printf '127.0.0.1:%s,' "$p"; done)
  PL_TEST_CLUSTER_NODES=${PL_TEST_CLUSTER_NODES%,}
  export PL_TEST_CLUSTER_PORTS="${RC_PORTS[*]}" PL_TEST_CLUSTER_DIR=$RC_DIR
  return 0
}

redis_cluster_stop() {
  local p
  for p in "${RC_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${RC_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  RC_PIDS=()
  if [ -n "$RC_DIR" ]; then
    rm -rf "$RC_DIR"
    RC_DIR=""
  fi
}
