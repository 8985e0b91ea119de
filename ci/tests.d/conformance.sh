#!/usr/bin/env bash
# Cross-language conformance suite (tests/conformance): builds the library,
# every binding, the C agent and the FFI agents (Node, Go, Java, Rust;
# ci/ffi-agents.sh), then plays each scenario with every
# language alone and mixed (reference portalocker included) against real
# processes and a throwaway redis-server the runner starts and stops. Ends with
# `N passed, N failed`; non-zero exit on any failure. With CI=true a binding
# that is not built is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$(bash ci/venv.sh)
"${MAKE:-make}" -s lib bindings conformance-agent PYTHON="$PY" >&2
bash ci/ffi-agents.sh
exec "$PY" tests/conformance/run.py "$@"
