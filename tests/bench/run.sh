#!/usr/bin/env bash
# `make bench` (after `make all`): measures the file locks against the
# syscall floor and the reference Python portalocker, prints one table per
# section with each target, then runs the Redis lock's bench if present.
# Exits 0 when targets are missed (it is a benchmark; MISSED is printed),
# non-zero only when a measurement could not be made at all.
set -uo pipefail
cd "$(dirname "$0")/../.."

OUT=build/bench
mkdir -p "$OUT"
status=0

"${MAKE:-make}" -s "$OUT/bench_file" || exit 1

# Lock files live where users put them: the system temp dir.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pl-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== libportalocker file-lock benchmark"
echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   lock files in $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}'))"
echo "   (measuring takes about 50 s: C side ~35 s, reference ~15 s)"

rm -f "$OUT"/*.rec
if ! "$OUT/bench_file" "$WORK" > "$OUT/c.rec"; then
  echo "bench_file failed; partial records in $OUT/c.rec" >&2
  status=1
fi

# The reference: Python portalocker 4.x in the throwaway venv.
if PY=$(bash ci/venv.sh 2> "$OUT/venv.log"); then
  if ! "$PY" tests/bench/bench_reference.py "$WORK" > "$OUT/reference.rec"; then
    echo "reference bench failed (see above); its columns stay empty" >&2
  fi
  # Our Python binding, measured with the same code, once built.
  if [ -d build/python ] &&
     PYTHONPATH=build/python "$PY" -c 'import cportalocker' 2>/dev/null; then
    PYTHONPATH=build/python "$PY" tests/bench/bench_reference.py "$WORK" \
      --module cportalocker --only-lock --versus portalocker cycle \
      > "$OUT/binding.rec" ||
      echo "binding bench failed; its line stays empty" >&2
  fi
else
  echo "reference venv unavailable (see $OUT/venv.log): no reference columns" >&2
fi

python3 tests/bench/report.py "$OUT"/*.rec | tee "$OUT/report.txt"
echo "(raw records: $OUT/*.rec; this report: $OUT/report.txt)"

if [ -f tests/bench/redis.sh ]; then
  echo
  bash tests/bench/redis.sh || status=1
fi
exit $status
