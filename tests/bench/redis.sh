#!/usr/bin/env bash
# The Redis lock bench (`make bench` runs it after the file-lock bench):
# starts its own redis-server on a free port (no persistence, temp dir),
# measures our lock, redis-py's Lock and the reference RedisLock side by side
# and prints one table with the Redis lock's speed targets. Exits 0 when a target is
# missed (MISSED is printed); non-zero only when a measurement failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

OUT=build/bench
mkdir -p "$OUT"
"${MAKE:-make}" -s build/bench/bench_redis || exit 1
command -v redis-server >/dev/null || { echo "redis bench: redis-server missing"; exit 1; }

# shellcheck source=../../ci/lib/redis-server.sh
. ci/lib/redis-server.sh
trap redis_server_stop EXIT
trap 'exit 130' INT TERM
redis_server_start bench || { echo "redis bench: server did not start"; exit 1; }
PORT=$PL_TEST_REDIS_PORT

echo
echo "== libportalocker Redis lock benchmark"
echo "   redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$PORT (loopback), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"

REC=$OUT/redis.rec
: > "$REC"
status=0
build/bench/bench_redis "$PORT" cycle 2000 >> "$REC" || status=1
build/bench/bench_redis "$PORT" handoff 300 >> "$REC" || status=1
build/bench/bench_redis "$PORT" killed 20 >> "$REC" || status=1
# The same cycle and handoff over TLS (a server of its own, certificates
# made by openssl, client certificates required: ci/lib/redis-tls.sh).
# shellcheck source=../../ci/lib/redis-tls.sh
. ci/lib/redis-tls.sh
trap 'redis_server_stop; redis_tls_stop' EXIT
if redis_tls_start bench >/dev/null; then
  # Rounds alternating TLS and the plain port of the same server, so that
  # TLS is the only difference and a burst of load on a busy machine falls
  # on both sides (the report takes the median of the rounds' medians).
  for _ in 1 2 3 4; do
    PL_BENCH_TLS_DIR=$PL_TEST_TLS_DIR build/bench/bench_redis "$PL_TEST_REDIS_TLS_PORT" cycle 500 >> "$REC" || status=1
    build/bench/bench_redis "$PL_TEST_REDIS_PORT" cycle 500 | sed 's/^ours_cycle /ours_cycle_tlsserver_tcp /' >> "$REC" || status=1
  done
  PL_BENCH_TLS_DIR=$PL_TEST_TLS_DIR build/bench/bench_redis "$PL_TEST_REDIS_TLS_PORT" handoff 300 >> "$REC" || status=1
  redis_tls_stop
else
  echo "redis bench: the TLS server did not start"; status=1
fi
# The same cycle and handoff in cluster mode on a three-master cluster of
# its own (ci/lib/redis-cluster.sh), beside the standalone numbers above.
# shellcheck source=../../ci/lib/redis-cluster.sh
. ci/lib/redis-cluster.sh
trap 'redis_server_stop; redis_tls_stop; redis_cluster_stop' EXIT
if redis_cluster_start bench >/dev/null; then
  # Rounds alternating the cluster and the standalone server (still up),
  # compared with each other rather than with the first measurement above.
  for _ in 1 2 3 4; do
    PL_BENCH_CLUSTER=1 build/bench/bench_redis "${PL_TEST_CLUSTER_PORTS%% *}" cycle 500 >> "$REC" || status=1
    build/bench/bench_redis "$PORT" cycle 500 | sed 's/^ours_cycle /ours_cycle_beside_cluster /' >> "$REC" || status=1
    PL_BENCH_CLUSTER=1 build/bench/bench_redis "${PL_TEST_CLUSTER_PORTS%% *}" handoff 100 >> "$REC" || status=1
    build/bench/bench_redis "$PORT" handoff 100 | sed 's/^ours_handoff /ours_handoff_beside_cluster /' >> "$REC" || status=1
  done
  redis_cluster_stop
else
  echo "redis bench: the cluster did not start"; status=1
fi
if PY=$(bash ci/venv.sh 2> "$OUT/venv.log"); then
  "$PY" tests/bench/bench_redis_py.py "$PORT" redispy 2000 >> "$REC" || status=1
  "$PY" tests/bench/bench_redis_py.py "$PORT" reference 10 >> "$REC" || status=1
else
  echo "redis bench: reference venv unavailable (see $OUT/venv.log)"; status=1
fi

# Reader/writer throughput: W writers and R readers on one channel for S
# seconds, holds of 1-3 ms (pl_redis_cli --soak and, for the reference,
# tests/redis/interop/soak_worker.py: the same loop). One record per run:
# "<name> <holds> <acquires that timed out at 2 s> <seconds>".
MIX=$OUT/redis-mixed.rec
: > "$MIX"
S=${PL_BENCH_MIXED_SECONDS:-10}
mixed() { # name impl writers readers
  local name=$1 impl=$2 nw=$3 nr=$4 ch i outs=() pids=()
  ch=bench-mixed-$name-$$
  for i in $(seq 1 $((nw + nr))); do
    local role=writer; [ "$i" -gt "$nw" ] && role=reader
    outs+=("$OUT/mixed-$name-$i.out")
    if [ "$impl" = ours ]; then
      local extra=(); [ "$role" = reader ] && extra=(--shared)
      build/tests/redis/pl_redis_cli --port "$PORT" --channel "$ch" --soak "$S" \
        --check-interval 0.05 --timeout 2 "${extra[@]}" > "${outs[-1]}" 2>/dev/null &
    else
      "$PY" tests/redis/interop/soak_worker.py "$PORT" "$ch" "$S" "$role" \
        > "${outs[-1]}" 2>/dev/null &
    fi
    pids+=($!)
  done
  wait "${pids[@]}"
  cat "${outs[@]}" | awk -v n="$name" -v s="$S" '
    /^soak /{ for (i = 2; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } }
    END { print n, t["holds"] + 0, t["timeouts"] + 0, s }' >> "$MIX"
}
"${MAKE:-make}" -s build/tests/redis/pl_redis_cli || status=1
mixed ours_w3 ours 3 0
mixed ours_w3r3 ours 3 3
if [ -n "${PY:-}" ]; then
  mixed reference_w3 reference 3 0
  mixed reference_w3r3 reference 3 3
fi

python3 - "$REC" "$MIX" <<'PYEOF' | tee "$OUT/redis-report.txt"
import sys
import statistics
rounds = {}
for line in open(sys.argv[1]):
    name, n, med, p99 = line.split()
    rounds.setdefault(name, []).append((int(n), float(med), float(p99)))
# A measurement taken in rounds: all its samples, the median of the
# rounds' medians, the worst round's p99.
rec = {name: (sum(r[0] for r in rs), statistics.median(r[1] for r in rs),
              max(r[2] for r in rs)) for name, rs in rounds.items()}

def cell(name):
    if name not in rec:
        return 'n/a', 'n/a', ''
    n, med, p99 = rec[name]
    return f'{med:,.0f}', f'{p99:,.0f}', str(n)

rows = [
    ('ours: acquire+release, uncontended', 'ours_cycle'),
    ("redis-py Lock (SET NX PX + Lua release)", 'redispy_cycle'),
    ('reference RedisLock (portalocker 4.x)', 'reference_cycle'),
    ('ours: contended handoff (release -> waiter)', 'ours_handoff'),
    ('ours: holder SIGKILLed -> default waiter', 'ours_killed'),
    ('ours over TCP (the TLS server\'s plain port)', 'ours_cycle_tlsserver_tcp'),
    ('ours over TLS: acquire+release, uncontended', 'ours_cycle_tls'),
    ('ours over TLS: contended handoff', 'ours_handoff_tls'),
    ('ours on Redis Cluster: acquire+release', 'ours_cycle_cluster'),
    ('ours on Redis Cluster: contended handoff', 'ours_handoff_cluster'),
    ('standalone, rounds paired with cluster: cycle', 'ours_cycle_beside_cluster'),
    ('standalone, paired with cluster: handoff', 'ours_handoff_beside_cluster'),
]
print(f"   {'measurement':46} {'median us':>11} {'p99 us':>11} {'n':>6}")
for label, key in rows:
    med, p99, n = cell(key)
    print(f'   {label:46} {med:>11} {p99:>11} {n:>6}')
print()

def verdict(ok):
    return 'met' if ok else 'MISSED'

checks = []
if 'ours_cycle' in rec and 'redispy_cycle' in rec:
    r = rec['ours_cycle'][1] / rec['redispy_cycle'][1]
    checks.append((f'uncontended cycle / redis-py Lock = {r:.2f}x', 'target <= 3x', r <= 3))
if 'ours_cycle' in rec and 'reference_cycle' in rec:
    r = rec['reference_cycle'][1] / rec['ours_cycle'][1]
    checks.append((f'reference RedisLock / ours = {r:,.0f}x faster', 'target >= 100x', r >= 100))
if 'ours_handoff' in rec:
    m = rec['ours_handoff'][1] / 1000
    checks.append((f'contended handoff median = {m:.2f} ms', 'target < 5 ms', m < 5))
if 'ours_cycle_tls' in rec and 'ours_cycle_tlsserver_tcp' in rec:
    r = rec['ours_cycle_tls'][1] / rec['ours_cycle_tlsserver_tcp'][1]
    checks.append((f'uncontended cycle TLS / TCP = {r:.2f}x', 'target <= 2x', r <= 2))
if 'ours_cycle_cluster' in rec and 'ours_cycle_beside_cluster' in rec:
    r = rec['ours_cycle_cluster'][1] / rec['ours_cycle_beside_cluster'][1]
    checks.append((f'uncontended cycle cluster / standalone = {r:.2f}x', 'target <= 1.5x', r <= 1.5))
if 'ours_handoff_cluster' in rec and 'ours_handoff_beside_cluster' in rec:
    r = rec['ours_handoff_cluster'][1] / rec['ours_handoff_beside_cluster'][1]
    checks.append((f'contended handoff cluster / standalone = {r:.2f}x', 'target <= 1.5x', r <= 1.5))
if 'ours_killed' in rec:
    m = rec['ours_killed'][1] / 1000
    checks.append((f'SIGKILLed holder -> waiter median = {m:.1f} ms', 'target < 50 ms', m < 50))
mix = {}
for line in open(sys.argv[2]):
    name, holds, timeouts, secs = line.split()
    mix[name] = (int(holds), int(timeouts), float(secs))
if mix:
    print(f"   {'readers/writers (holds 1-3 ms)':46} {'holds/s':>11} {'timeouts':>11}")
    for label, key in [('ours: 3 writers', 'ours_w3'),
                       ('ours: 3 writers + 3 readers', 'ours_w3r3'),
                       ('reference: 3 writers', 'reference_w3'),
                       ('reference: 3 writers + 3 readers', 'reference_w3r3')]:
        if key in mix:
            h, t, s = mix[key]
            print(f'   {label:46} {h / s:>11,.1f} {t:>11}')
    print()
if 'ours_w3' in mix and 'ours_w3r3' in mix:
    w, m = mix['ours_w3'], mix['ours_w3r3']
    r = (m[0] / m[2]) / max(w[0] / w[2], 1e-9)
    checks.append((f'3W+3R holds/s / 3W holds/s = {r:.2f}', 'target >= 0.5', r >= 0.5))
    checks.append((f'3W+3R acquires timed out at 2 s = {m[1]}', 'target 0', m[1] == 0))
for text, target, ok in checks:
    print(f'   {text:52} {target:16} {verdict(ok)}')
PYEOF
echo "(raw records: $REC)"
exit $status
