#!/usr/bin/env bash
# portalock(1): the CLI suite (tests/cli/run.sh) against util-linux
# flock(1), the bindings, the reference and a throwaway redis-server.
set -uo pipefail
cd "$(dirname "$0")/../.."
. ci/lib/require-tools.sh
require_tools cli flock redis-server redis-cli
"${MAKE:-make}" -s lib tool >&2 || { echo "cli: build failed"; exit 1; }
PL_VENV_PYTHON=$(bash ci/venv.sh) || { echo "cli: ci/venv.sh failed"; exit 1; }
export PL_VENV_PYTHON
"${MAKE:-make}" -s bindings PYTHON="$PL_VENV_PYTHON" >&2 || { echo "cli: bindings failed"; exit 1; }
exec bash tests/cli/run.sh
