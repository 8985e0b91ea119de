#!/usr/bin/env bash
# Stages the gem into $1 (default build/ruby-gem): bindings/ruby (lib, sig,
# README) with LICENSE and CHANGELOG.md plus, under
# ext/portalocker/vendor, the C core's sources (core/src with its platform
# subdirectories), its headers, core/build.mk (read by extconf.rb) and the
# SWIG wrapper, then runs `gem build` there. Prints the .gem's path last.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/ruby-gem}
VENDOR=$OUT/ext/portalocker/vendor
# shellcheck source=../../ci/lib/build-settings.sh
. ci/lib/build-settings.sh

rm -rf "$OUT"
mkdir -p "$VENDOR"
cp -r bindings/ruby/portalocker.gemspec bindings/ruby/lib bindings/ruby/sig \
  bindings/ruby/README.md LICENSE CHANGELOG.md "$OUT/"
cp bindings/ruby/ext/portalocker/extconf.rb "$OUT/ext/portalocker/"
pl_stage_core "$VENDOR"
pl_swig ruby -o "$VENDOR/portalocker_ruby_wrap.c"
(cd "$OUT" && gem build --quiet portalocker.gemspec >&2)
gem=$(ls "$(cd "$OUT" && pwd)"/portalocker-*.gem)
# Everything extconf.rb needs is in the gem.
contents=$(tar -xOf "$gem" data.tar.gz | tar -tzf -)
for f in README.md LICENSE CHANGELOG.md sig/portalocker.rbs \
         ext/portalocker/extconf.rb ext/portalocker/vendor/core/build.mk \
         ext/portalocker/vendor/core/include/portalocker.h \
         ext/portalocker/vendor/portalocker_ruby_wrap.c; do
  grep -qx "$f" <<<"$contents" || { echo "stage-gem: $f is not in $gem" >&2; exit 1; }
done
for d in $(pl_setting PL_SRC_DIRS_unix); do
  for c in "$d"/*.c; do
    grep -qx "ext/portalocker/vendor/$c" <<<"$contents" ||
      { echo "stage-gem: $c is not in $gem" >&2; exit 1; }
  done
done
echo "$gem"
