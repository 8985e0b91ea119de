#!/usr/bin/env bash
# The ABI baseline of build/libportalocker.so.1, kept in core/abi/:
#   symbols.txt          exported symbols with their version (nm -D)
#   libportalocker.abi   abidw dump restricted to the public header's types
# `make check-abi` (abi.sh check): abidiff the library against the baseline.
#   Fails on any change to what the baseline has (abidiff exit bits 4 or 8:
#   a removed or changed function/variable, a changed type or enum of the
#   public header) or a symbol of symbols.txt missing; added symbols are
#   compatible and pass, with a note to record them.
# `make abi-update` (abi.sh update): record the current library as the
#   baseline, on purpose (commit core/abi/ with the change that adds symbols).
# The dump is stable across rebuilds and machines' build paths: no corpus or
# compilation-directory paths, no source locations, no architecture, private
# (non-header) types and undefined symbols dropped.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-check}
LIB=${PL_ABI_LIB:-build/libportalocker.so.1}
BASE=core/abi
ABIOPTS=(--no-corpus-path --no-comp-dir-path --no-show-locs --no-architecture
         --headers-dir core/include --drop-private-types --drop-undefined-syms)

for tool in abidw abidiff nm; do
  command -v $tool >/dev/null || { echo "abi: $tool not installed (run ci/setup.sh: abigail-tools)"; exit 1; }
done
[ -f "$LIB" ] || { echo "abi: $LIB not built (make lib)"; exit 1; }

symbols() { nm -D --defined-only "$LIB" | awk '$2 != "A" {print $3}' | sort; }

case $mode in
  update)
    mkdir -p "$BASE"
    abidw "${ABIOPTS[@]}" --out-file "$BASE/libportalocker.abi" "$LIB" || exit 1
    symbols > "$BASE/symbols.txt"
    echo "abi: baseline updated ($(wc -l < "$BASE/symbols.txt") symbols); commit core/abi/"
    ;;
  check)
    [ -f "$BASE/libportalocker.abi" ] && [ -f "$BASE/symbols.txt" ] || {
      echo "abi: no baseline in $BASE (make abi-update)"; exit 1; }
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-abi.XXXXXX")
    trap 'rm -rf "$TMP"' EXIT
    status=0
    abidw "${ABIOPTS[@]}" --out-file "$TMP/current.abi" "$LIB" || { echo "abi: abidw failed"; exit 1; }
    symbols > "$TMP/symbols.txt"
    removed=$(comm -23 "$BASE/symbols.txt" "$TMP/symbols.txt")
    added=$(comm -13 "$BASE/symbols.txt" "$TMP/symbols.txt")
    if [ -n "$removed" ]; then
      echo "abi: symbols removed (or re-versioned) since the baseline:"; echo "$removed" | sed 's/^/  /'
      status=1
    fi
    abidiff --no-added-syms "$BASE/libportalocker.abi" "$TMP/current.abi" > "$TMP/diff.txt"
    rc=$?
    if [ $((rc & 3)) -ne 0 ]; then
      cat "$TMP/diff.txt"; echo "abi: abidiff failed to run (exit $rc)"; status=1
    elif [ $((rc & 12)) -ne 0 ]; then
      # With --no-added-syms, additions leave the exit at 0: bit 4 is a
      # change to something that existed (a parameter or return type, an
      # enum value, a header type), which breaks callers built against the
      # old header even when libabigail does not call it incompatible
      # (bit 8 is only set for removals).
      cat "$TMP/diff.txt"; echo "abi: INCOMPATIBLE change against core/abi/libportalocker.abi"; status=1
    fi
    if [ -n "$added" ]; then
      echo "abi: new symbols (compatible; make abi-update records them):"; echo "$added" | sed 's/^/  /'
    fi
    echo "abi summary: $(wc -l < "$TMP/symbols.txt") symbols exported, $(printf '%s' "$removed" | grep -c .) removed, $(printf '%s' "$added" | grep -c .) added, abidiff exit $rc"
    [ $status -eq 0 ] && echo "abi: ok" || echo "abi: FAILED"
    exit $status
    ;;
  *) echo "usage: abi.sh check|update"; exit 2 ;;
esac
