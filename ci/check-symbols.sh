#!/usr/bin/env bash
# The shared library exports only pl_* symbols, each versioned, and has
# the SONAME libportalocker.so.1.
set -euo pipefail
lib=${1:-build/libportalocker.so.1}
bad=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | grep -v '^pl_[A-Za-z0-9_]*@@PL_1\.[0-9]*$' || true)
if [ -n "$bad" ]; then
  echo "unexpected exported symbols in $lib:"; echo "$bad"; exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libportalocker.so.1" ]; then
  echo "SONAME is '$soname', want libportalocker.so.1"; exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '$2 != "A"' | wc -l)
echo "symbols: $n exported, all pl_* with version PL_1.x; SONAME $soname"
