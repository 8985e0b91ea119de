#!/usr/bin/env bash
# `make check-fuzz`: libFuzzer targets (tests/fuzz/fuzz_*.c) for everything
# in the core that parses outside input: Redis lock pings and answers (JSON
# published by anyone on the channel), the CLIENT LIST text used for
# reaping, open-mode strings, semaphore names and filename patterns, Redis
# connection URLs.
# Built with Debian's clang: the core as a static library with
# -fsanitize=fuzzer-no-link,address,undefined (build/fuzz), each target
# with -fsanitize=fuzzer,address,undefined and -fno-sanitize-recover=all.
# Each target starts from its seed corpus, tests/fuzz/corpus/<target>/
# (kept in the repo, never written to: new inputs go to a temp dir), and
# runs for PL_FUZZ_SECONDS (default 45 s). A crash, leak, sanitizer report
# or timeout fails the check; the reproducer is kept under
# build/fuzz/artifacts/ (run `build/fuzz/<target> <file>` to replay).
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/hardening/lib.sh
. ci/lib/build-settings.sh

SECONDS_PER_TARGET=${PL_FUZZ_SECONDS:-45}
command -v clang >/dev/null || { echo "fuzz: clang not installed (run ci/setup.sh)"; exit 1; }
SAN='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer'
t0=$(date +%s.%N)
"${MAKE:-make}" -s -j"$(nproc)" BUILD=build/fuzz CC=clang OPT='-O1 -g' \
  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $SAN" build/fuzz/libportalocker.a \
  || { echo "fuzz: core build FAILED"; exit 1; }
mkdir -p build/fuzz/artifacts
targets=()
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c)
  clang -std=gnu11 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer $SAN \
    $(pl_core_cflags) -o "build/fuzz/$t" "$src" \
    build/fuzz/libportalocker.a $(pl_core_libs) \
    || { echo "fuzz: $t build FAILED"; exit 1; }
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus tests/fuzz/corpus/$t"; exit 1; }
  targets+=("$t")
done
echo "fuzz: built ${#targets[@]} targets in $(hardening_elapsed "$t0") s; ${SECONDS_PER_TARGET} s each"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pl-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t"
  echo "== $t"
  start=$(date +%s.%N)
  "build/fuzz/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t-" \
    "$WORK/$t" "tests/fuzz/corpus/$t" >"$WORK/$t.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t.log")
  cov=$(grep -oE 'cov: [0-9]+' "$WORK/$t.log" | tail -1)
  if [ $rc -ne 0 ]; then
    tail -60 "$WORK/$t.log"
    ls build/fuzz/artifacts/"$t"-* 2>/dev/null
    summary+=("$t: FAILED (exit $rc) after ${runs:-?} runs")
    status=1
  else
    summary+=("$t: ok, ${runs:-?} runs, ${cov:-cov ?}, $(hardening_elapsed "$start") s")
  fi
done
echo
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
[ $status -eq 0 ] && echo "fuzz: ok" || echo "fuzz: FAILED"
exit $status
