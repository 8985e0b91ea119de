#!/usr/bin/env bash
# `make demo`: build and run the demo programs (C; the bindings add theirs
# in ci/demo.d/ when they are built).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build/examples/demo
./build/examples/demo
for extra in ci/demo.d/*.sh; do
  [ -e "$extra" ] || continue
  echo
  bash "$extra"
done
