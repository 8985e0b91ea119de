#!/usr/bin/env bash
# `make check-valgrind`: every cmocka suite (tests/unit, and tests/redis
# against a throwaway redis-server) under
#   valgrind --leak-check=full --errors-for-leak-kinds=definite
#            --error-exitcode=1 --trace-children=no
# Each process (forked test children too) logs to its own file; any error
# in any log (invalid access, uninitialised value, bad free, definite leak
# of the test process) or any failing test fails the check.
# Forked children: they _exit() without freeing the parent's handles they
# inherited (the heap is the parent's copy). ci/hardening/vg_child_exit.c,
# preloaded, turns the leak check off in a forked child at _exit only;
# errors the child made while running still count (the child then exits
# with the error code and its test fails, and its log shows the error).
# Exec'd children (redis-server, the exec probes) are not traced.
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/hardening/lib.sh

command -v valgrind >/dev/null || { echo "valgrind: not installed (run ci/setup.sh)"; exit 1; }
"${MAKE:-make}" -s -j"$(nproc)" lib hardening-bins || { echo "valgrind: build FAILED"; exit 1; }
mkdir -p build/valgrind
gcc -O2 -g -shared -fPIC -Wall -Wextra -Werror -o build/valgrind/vg_child_exit.so \
  ci/hardening/vg_child_exit.c || { echo "valgrind: shim build FAILED"; exit 1; }

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/pl-valgrind.XXXXXX")
trap 'hardening_redis_stop; rm -rf "$LOGS"' EXIT
trap 'exit 130' INT TERM
hardening_redis_start || { echo "valgrind: FAILED (no redis-server)"; exit 1; }
export CI=${CI:-true}

t0=$(date +%s.%N)
failed=()
n=0
for t in build/tests/test_* build/tests/redis/test_*; do
  [ -x "$t" ] || continue
  n=$((n + 1))
  b=$(basename "$t")
  echo "-- $t"
  if ! LD_PRELOAD="$PWD/build/valgrind/vg_child_exit.so" valgrind \
       --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
       --trace-children=no --track-origins=yes --num-callers=30 \
       --log-file="$LOGS/$b.%p" "$t" >"$LOGS/out" 2>&1; then
    cat "$LOGS/out"; failed+=("$b")
  else
    grep -E '^\[  (PASSED|FAILED) ' "$LOGS/out"
  fi
done
bad=()
# A process that exec'd (untraced from then on) writes no ERROR SUMMARY:
# its log must then hold nothing but valgrind's banner.
banner='^==[0-9]+== ( *$|Memcheck, a memory error detector|Copyright \(C\)|Using Valgrind-|Command: |Parent PID: )'
execd=0
for log in "$LOGS"/test_*; do
  if grep -q 'ERROR SUMMARY: 0 errors' "$log"; then continue; fi
  if ! grep -q 'ERROR SUMMARY:' "$log" && ! grep -qvE "$banner" "$log"; then
    execd=$((execd + 1)); continue
  fi
  echo "---- $(basename "$log")"; grep -v '^==[0-9]*== *$' "$log"; bad+=("$(basename "$log")")
done
nlogs=$(ls "$LOGS" | grep -c '^test_')
echo
echo "valgrind summary: $n binaries, ${#failed[@]} failed${failed:+ (${failed[*]})}, $nlogs processes checked ($execd exec'd), ${#bad[@]} with errors, $(hardening_elapsed "$t0") s"
if [ ${#failed[@]} -ne 0 ] || [ ${#bad[@]} -ne 0 ]; then echo "valgrind: FAILED"; exit 1; fi
echo "valgrind: ok"
