#!/usr/bin/env bash
# Static typing of the Python binding as a user sees it: `mypy --strict`
# (pinned in ci/requirements-test.txt) on tests/typing/user_script.py, a
# fully annotated script written against the portalocker API with
# assert_type checks, cportalocker (build/python) as the library. The
# library's own modules are followed silently, as mypy treats an installed
# package; what it exports (inline annotations, py.typed, the extension's
# .pyi) must type the script. The script is also run once.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$(bash ci/venv.sh)
make -s python-binding PYTHON="$PY" >&2
MYPYPATH=$PWD/build/python "$PY" -m mypy --strict --follow-imports=silent \
  --no-incremental --cache-dir=/dev/null tests/typing/user_script.py
PYTHONPATH=$PWD/build/python "$PY" tests/typing/user_script.py >/dev/null
echo "typing: mypy --strict and a run of the typed user script passed"
