#!/usr/bin/env bash
# Creates (once) the throwaway virtual environment build/venv holding the
# Python test-only packages: the reference portalocker (4.x, from PyPI),
# redis-py and pytest. Prints the venv's python path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/venv
REQ=ci/requirements-test.txt
stamp=$VENV/.installed
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if [ ! -f "$stamp" ] || ! cmp -s "$REQ" "$stamp"; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
  cp "$REQ" "$stamp"
fi
echo "$PWD/$VENV/bin/python"
