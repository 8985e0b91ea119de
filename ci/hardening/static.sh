#!/usr/bin/env bash
# `make check-static`: cppcheck and clang-tidy over core/ (sources and the
# headers they include). Any finding fails the check. Suppressions:
#  - clang-tidy: the check set and each excluded check with its reason are
#    in core/.clang-tidy; single findings are suppressed inline
#    (NOLINTNEXTLINE) next to a comment saying why.
#  - cppcheck: findings suppressed inline (cppcheck-suppress) next to a
#    comment saying why, plus, for the whole core:
#      missingIncludeSystem  cppcheck is not given the system include path
#                            (it would parse glibc); not a finding.
#      variableScope         "the scope of X can be reduced": the core
#                            declares locals at the top of a block on
#                            purpose (its style); not a defect.
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/hardening/lib.sh
. ci/lib/build-settings.sh
CORE_CFLAGS=$(pl_core_cflags)
mapfile -t CORE_SOURCES < <(pl_core_sources)
export CORE_CFLAGS

for tool in cppcheck clang-tidy; do
  command -v $tool >/dev/null || { echo "static: $tool not installed (run ci/setup.sh)"; exit 1; }
done
status=0

t0=$(date +%s.%N)
echo "== cppcheck $(cppcheck --version | awk '{print $2}')"
out=$(cppcheck --enable=warning,style,performance,portability --std=c11 \
  --inline-suppr --error-exitcode=1 -q -j"$(nproc)" \
  $(echo "$CORE_CFLAGS" | tr ' ' '\n' | grep -E '^-[DI]') \
  --suppress=missingIncludeSystem --suppress=variableScope \
  --template='{file}:{line}:{column}: {severity}: {message} [{id}]' core/src 2>&1)
rc=$?
n_cppcheck=$(printf '%s\n' "$out" | grep -cE ': (error|warning|style|performance|portability|information): ' || true)
[ -n "$out" ] && printf '%s\n' "$out"
if [ $rc -ne 0 ] || [ "$n_cppcheck" -ne 0 ]; then status=1; fi
t_cppcheck=$(hardening_elapsed "$t0")

t0=$(date +%s.%N)
echo "== $(clang-tidy --version | grep -i 'version' | head -1 | sed 's/^ *//')"
# One file per process, two at a time; the config is core/.clang-tidy.
out=$(printf '%s\n' "${CORE_SOURCES[@]}" | xargs -P "$(nproc)" -n 1 sh -c \
  'clang-tidy --quiet "$0" -- $CORE_CFLAGS 2>&1' )
rc=$?
n_tidy=$(printf '%s\n' "$out" | grep -cE ': (warning|error): ' || true)
printf '%s\n' "$out" | grep -vE '^[0-9]+ (warnings?|errors?) generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^$' || true
if [ $rc -ne 0 ] || [ "$n_tidy" -ne 0 ]; then status=1; fi
t_tidy=$(hardening_elapsed "$t0")

echo
echo "static summary: cppcheck $n_cppcheck finding(s) (${t_cppcheck} s), clang-tidy $n_tidy finding(s) (${t_tidy} s) over ${#CORE_SOURCES[@]} files"
[ $status -eq 0 ] && echo "static: ok" || echo "static: FAILED"
exit $status
