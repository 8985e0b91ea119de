#!/usr/bin/env bash
# Hardening checks, run by ci/run-tests.sh (so by `make test` and .ci/run)
# and by `make check-hardening`:
#   static    cppcheck + clang-tidy over core/            (ci/hardening/static.sh)
#   abi       abidiff against core/abi/                   (ci/hardening/abi.sh)
#   sanitize  ASan+UBSan and TSan builds of every suite   (ci/hardening/sanitize.sh)
#   valgrind  every suite under memcheck                  (ci/hardening/valgrind.sh)
# The libFuzzer targets (ci/hardening/fuzz.sh) are a suite of their own,
# ci/tests.d/fuzz.sh: CPU-bound in their own build directory, they run in
# the test runner's second lane; `make check-hardening` runs both.
# Every check runs even when an earlier one failed; the summary gives each
# one's result and time, and the script fails if any failed. Nothing is
# skipped: a missing tool is a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/hardening/lib.sh

checks=(static abi sanitize valgrind)
results=()
status=0
for c in "${checks[@]}"; do
  echo
  echo "----- hardening: $c"
  t0=$(date +%s.%N)
  if [ "$c" = abi ]; then
    "${MAKE:-make}" -s lib >/dev/null && bash ci/hardening/abi.sh check
  else
    bash "ci/hardening/$c.sh"
  fi
  rc=$?
  t=$(hardening_elapsed "$t0")
  if [ $rc -eq 0 ]; then results+=("$c: ok ($t s)"); else results+=("$c: FAILED ($t s)"); status=1; fi
done
echo
echo "hardening summary:"
printf '  %s\n' "${results[@]}"
exit $status
