#!/usr/bin/env bash
# The shared library exports only public pl_* symbols (never the core's
# internal pl__* names), each versioned, and has the SONAME
# libportalocker.so.1.
set -euo pipefail
lib=${1:-build/libportalocker.so.1}
syms=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}')
internal=$(printf '%s\n' "$syms" | grep '^pl__' || true)
if [ -n "$internal" ]; then
  echo "internal pl__ symbols exported from $lib:"; echo "$internal"; exit 1
fi
bad=$(printf '%s\n' "$syms" | grep -v '^pl_[a-z][A-Za-z0-9_]*@@PL_1\.[0-9]*$' || true)
if [ -n "$bad" ]; then
  echo "unexpected exported symbols in $lib:"; echo "$bad"; exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libportalocker.so.1" ]; then
  echo "SONAME is '$soname', want libportalocker.so.1"; exit 1
fi
n=$(printf '%s\n' "$syms" | grep -c .)
echo "symbols: $n exported, all public pl_* with version PL_1.x, no pl__; SONAME $soname"
