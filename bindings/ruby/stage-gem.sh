#!/usr/bin/env bash
# Stages the gem into $1 (default build/ruby-gem): bindings/ruby plus the C
# core's sources and the SWIG wrapper under ext/portalocker/vendor, then runs
# `gem build` there. Prints the .gem's path last.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/ruby-gem}
rm -rf "$OUT"
mkdir -p "$OUT/ext/portalocker/vendor/core"
cp -r bindings/ruby/portalocker.gemspec bindings/ruby/lib "$OUT/"
cp bindings/ruby/ext/portalocker/extconf.rb "$OUT/ext/portalocker/"
cp -r core/src core/include "$OUT/ext/portalocker/vendor/core/"
redis=()
if grep -Eq 'pl_redis_lock_new\s*\(\s*pl_redis_lock\s*\*\*' core/src/*.c; then redis=(-DPL_HAVE_REDIS); fi
swig -ruby -w801 "${redis[@]}" -module portalocker::native -Icore/include \
  -o "$OUT/ext/portalocker/vendor/portalocker_ruby_wrap.c" bindings/portalocker.i
(cd "$OUT" && gem build --quiet portalocker.gemspec >&2)
ls "$PWD/$OUT"/portalocker-*.gem
