#!/usr/bin/env bash
# `make check-sanitize`: the core and every cmocka suite (tests/unit and,
# against a throwaway redis-server, tests/redis) built and run twice:
#   build/asan  AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
#               included), -fno-sanitize-recover=all
#   build/tsan  ThreadSanitizer (the Redis holder threads, tests/unit/
#               test_threads.c and tests/redis/test_redis_threads.c)
# Built with gcc: its sanitizer runtimes are shared libraries, so the
# -Wl,--wrap of test_faults leaves the runtime's own open/mkdir/write alone
# (clang links its runtime statically and the wraps would catch its
# start-up calls). Every report from any process (forked children too) is
# written to a log directory (log_path); a single report fails the check,
# as does any failing test.
# Exclusion: under TSan, test_redis_lock's waiting_writer_keeps_readers_out
# is filtered out (PL_TEST_TSAN=1; reason in the test's main()).
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/hardening/lib.sh

variants=${*:-asan tsan}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/pl-sanitize.XXXXXX")
trap 'hardening_redis_stop; rm -rf "$LOGS"' EXIT
trap 'exit 130' INT TERM

hardening_redis_start || { echo "sanitize: FAILED (no redis-server)"; exit 1; }
export CI=${CI:-true}

status=0
summary=()
for v in $variants; do
  t0=$(date +%s.%N)
  case $v in
    asan) flags='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' ;;
    tsan) flags='-fsanitize=thread -fno-omit-frame-pointer' ;;
    *) echo "sanitize: unknown variant $v"; exit 2 ;;
  esac
  echo "== $v: building build/$v"
  if ! "${MAKE:-make}" -s -j"$(nproc)" BUILD="build/$v" CC=gcc OPT='-O1 -g' \
       EXTRA_CFLAGS="$flags" hardening-bins; then
    echo "sanitize: $v build FAILED"; status=1; summary+=("$v: build FAILED"); continue
  fi
  mkdir -p "$LOGS/$v"
  export ASAN_OPTIONS="log_path=$LOGS/$v/asan:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=1"
  export UBSAN_OPTIONS="log_path=$LOGS/$v/ubsan:print_stacktrace=1:halt_on_error=1"
  export TSAN_OPTIONS="log_path=$LOGS/$v/tsan:halt_on_error=1:second_deadlock_stack=1"
  if [ "$v" = tsan ]; then export PL_TEST_TSAN=1; else unset PL_TEST_TSAN; fi
  failed=()
  n=0
  for t in build/$v/tests/test_* build/$v/tests/redis/test_*; do
    [ -x "$t" ] || continue
    n=$((n + 1))
    echo "-- $t"
    if ! "$t" >"$LOGS/$v/out" 2>&1; then
      cat "$LOGS/$v/out"; failed+=("$(basename "$t")")
    else
      grep -E '^\[  (PASSED|FAILED) ' "$LOGS/$v/out"
    fi
  done
  reports=$(find "$LOGS/$v" -name 'asan.*' -o -name 'ubsan.*' -o -name 'tsan.*' | sort)
  for r in $reports; do echo "---- report $r"; cat "$r"; done
  nrep=$(printf '%s' "$reports" | grep -c . || true)
  line="$v: $n binaries, ${#failed[@]} failed${failed:+ (${failed[*]})}, $nrep sanitizer report(s), $(hardening_elapsed "$t0") s"
  summary+=("$line")
  if [ ${#failed[@]} -ne 0 ] || [ "$nrep" -ne 0 ]; then status=1; fi
done

echo
echo "sanitize summary:"
printf '  %s\n' "${summary[@]}"
[ $status -eq 0 ] && echo "sanitize: ok" || echo "sanitize: FAILED"
exit $status
