#!/usr/bin/env bash
# The point of the project in one screen: a C, a Python, a Ruby and a Lua
# process contend for ONE lock and ONE 2-slot semaphore. Each line is
# stamped with the time since the start; a release is followed by the next
# holder within a fraction of a millisecond.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build/examples/polyglot-worker

dir=$(mktemp -d /tmp/portalocker-polyglot.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export DEMO_T0
DEMO_T0=$(python3 -c 'import time; print(repr(time.time()))')
export PYTHONPATH=$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}
export LUA_CPATH="$PWD/build/lua/?.so;;" LUA_PATH="$PWD/build/lua/?.lua;;"

echo "polyglot demo: C, Python, Ruby and Lua share $dir/demo.lock and a 2-slot semaphore"
pids=()
./build/examples/polyglot-worker "$dir" & pids+=($!); sleep 0.05
python3 examples/polyglot/worker.py "$dir" & pids+=($!); sleep 0.05
ruby -I build/ruby examples/polyglot/worker.rb "$dir" & pids+=($!); sleep 0.05
lua5.4 examples/polyglot/worker.lua "$dir" & pids+=($!)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ $failed -ne 0 ]; then echo "polyglot demo FAILED"; exit 1; fi
echo "polyglot demo done"
