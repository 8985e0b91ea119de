#!/usr/bin/env bash
# `make release-check VERSION`: one version everywhere a release names it:
# the header (PL_VERSION_STRING and its parts), the Makefile (passed in),
# the Python package (pyproject.toml), the Ruby gem (version.rb), the Lua
# rockspec (its file name, `version` and the source archive's name and
# directory), and the newest CHANGELOG entry. The artifacts' own names
# (sdist, wheel, gem, rock) are made from these.
# Prints each and exits non-zero on any disagreement.
set -uo pipefail
cd "$(dirname "$0")/.."
want=${1:?usage: release-check.sh VERSION}
fail=0
check() { # what found
  if [ "$2" = "$want" ]; then echo "release-check: $1: $2"
  else echo "release-check: $1 says '$2', the Makefile says '$want'"; fail=1; fi
}
h=core/include/portalocker.h
check "header PL_VERSION_STRING" "$(sed -n 's/^#define PL_VERSION_STRING "\(.*\)"/\1/p' $h)"
check "header MAJOR.MINOR.PATCH" "$(sed -n 's/^#define PL_VERSION_MAJOR \([0-9]*\)/\1/p' $h).$(sed -n 's/^#define PL_VERSION_MINOR \([0-9]*\)/\1/p' $h).$(sed -n 's/^#define PL_VERSION_PATCH \([0-9]*\)/\1/p' $h)"
check "bindings/python/pyproject.toml" "$(sed -n 's/^version = "\(.*\)"/\1/p' bindings/python/pyproject.toml)"
check "bindings/ruby version.rb" "$(sed -n 's/^ *VERSION = "\(.*\)"/\1/p' bindings/ruby/lib/portalocker/version.rb)"
rocks=(bindings/lua/portalocker-*.rockspec)
[ ${#rocks[@]} -eq 1 ] || { echo "release-check: want one rockspec, found ${#rocks[@]}"; fail=1; }
rock=${rocks[0]}
name=$(basename "$rock" .rockspec); name=${name#portalocker-}
check "rockspec file name" "${name%-*}"
rv=$(sed -n 's/^version = "\(.*\)"/\1/p' "$rock")
check "rockspec version" "${rv%-*}"
[ "$rv" = "$name" ] || { echo "release-check: $rock has version '$rv'"; fail=1; }
# The source archive `make lua-rock` packs is named for the version.
check "rockspec source.url" "$(sed -n 's|^ *url = "file://portalocker-\(.*\)\.tar\.gz",|\1|p' "$rock")"
check "rockspec source.dir" "$(sed -n 's|^ *dir = "portalocker-\(.*\)",|\1|p' "$rock")"
# Artifact names the READMEs spell out (portalocker-X.Y.Z.gem, ...).
for doc in README.md bindings/README.md bindings/*/README.md; do
  for v in $(grep -ohE 'portalocker-[0-9]+\.[0-9]+\.[0-9]+' "$doc" | sort -u); do
    check "$doc names $v" "${v#*portalocker-}"
  done
done
check "CHANGELOG.md newest entry" "$(sed -n 's/^## \[\([0-9][^]]*\)\].*/\1/p' CHANGELOG.md | head -1)"
[ $fail -eq 0 ] && echo "release-check: ok ($want everywhere)"
exit $fail
