#!/usr/bin/env bash
# The reference portalocker 4.4.2's own test suite against cportalocker
# (tests/reference/run.sh): the sdist from PyPI, `import portalocker`
# resolved to cportalocker, a throwaway redis-server, and the outcome
# compared with tests/reference/expectations.txt. Ends with
# `reftests: N passed, N failed` and a line per module; fails on any
# difference (an unlisted failure, a listed test that passes, a skip).
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s python-binding PYTHON=python3 >&2
exec bash tests/reference/run.sh
