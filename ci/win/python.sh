#!/usr/bin/env bash
# CPython for Windows, for the Python binding's tests under wine:
# org.bytedeco:cpython (python.org's build, on the UCRT) from Maven
# Central with mvn, into a private Maven repository under build/win/m2,
# unpacked into build/win/python. A sitecustomize sets
# sys.modules['_wmi'] = None: the platform module (and what imports it)
# crashes in _wmi under wine otherwise. Fetched once; prints the
# interpreter's directory. Non-zero exit when the fetch fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=3.13.5-1.5.12
W=$PWD/build/win
PY=$W/python/org/bytedeco/cpython/windows-x86_64
if [ "$(cat "$W/python/.version" 2>/dev/null)" != "$VERSION" ]; then
  command -v mvn >/dev/null || { echo "win-python: mvn missing (apt-get install maven)" >&2; exit 1; }
  rm -rf "$W/python"
  mvn -q -B -Dmaven.repo.local="$W/m2" dependency:get -Dtransitive=false \
    -Dartifact="org.bytedeco:cpython:$VERSION:jar:windows-x86_64" >"$W/mvn.log" 2>&1 ||
    { cat "$W/mvn.log" >&2; echo "win-python: mvn could not fetch org.bytedeco:cpython:$VERSION" >&2; exit 1; }
  mkdir -p "$W/python"
  (cd "$W/python" && unzip -q -o \
    "$W/m2/org/bytedeco/cpython/$VERSION/cpython-$VERSION-windows-x86_64.jar" \
    'org/bytedeco/cpython/windows-x86_64/*')
  printf 'import sys\nsys.modules["_wmi"] = None  # crashes under wine\n' \
    >"$PY/lib/sitecustomize.py"
  echo "$VERSION" >"$W/python/.version"
fi
[ -f "$PY/python.exe" ] && [ -f "$PY/include/Python.h" ] ||
  { echo "win-python: no python.exe / Python.h in $PY" >&2; exit 1; }
echo "$PY"
