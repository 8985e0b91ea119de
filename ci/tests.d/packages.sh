#!/usr/bin/env bash
# The release artifacts install and work with no checkout in sight. Builds
# each one from this checkout:
#   C       `make install` staged with DESTDIR for a prefix under the work
#           directory (what a packager ships), as a tarball;
#   Python  `make python-dist`: the sdist and the auditwheel-repaired wheel
#           (plus the pinned setuptools wheel, for an offline sdist build);
#   Ruby    `make ruby-gem`: the .gem;
#   Lua     `make lua-rock`: the .src.rock;
# copies them and the small lock programs (ci/packages/) to a temporary
# directory, then runs ci/packages/installed.sh in a private mount
# namespace (unshare; as root, or with a user namespace otherwise) where
# the checkout is hidden under an empty tmpfs: every artifact is installed
# into a fresh prefix, venv, GEM_HOME or luarocks tree (the C program built
# through pkg-config and through the CMake package) and a lock goes round
# the four languages, each waiting for another one's installed package to
# let go. Prints each artifact's size and install time.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
MAKE=${MAKE:-make}
work=$(mktemp -d "${TMPDIR:-/tmp}/pl-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT
case $work/ in "$REPO"/*) echo "packages: the work directory $work is inside the checkout"; exit 1 ;; esac
A=$work/artifacts
mkdir -p "$A"

ns=(unshare --mount)
[ "$(id -u)" -eq 0 ] || ns=(unshare --mount --map-root-user)
if ! "${ns[@]}" true 2>/dev/null; then
  echo "packages: cannot make a private mount namespace with ${ns[*]} (needed to hide the checkout)"; exit 1
fi

PY=$(bash ci/venv.sh packaging)
start=$(date +%s)
c_prefix=$work/c
"$MAKE" -s install PREFIX="$c_prefix" DESTDIR="$work/c-stage" >/dev/null
tar -C "$work/c-stage$c_prefix" -czf "$A/libportalocker-c.tar.gz" .
py_out=$("$MAKE" -s python-dist PACKAGING_PYTHON="$PY") || { echo "$py_out"; exit 1; }
cp $(tail -n 2 <<<"$py_out") "$A/"
"$PY" -m pip download -q --disable-pip-version-check --only-binary=:all: --no-deps \
  -d "$A/build-requirements" "$(grep '^setuptools==' ci/requirements-packaging.txt)"
gem_out=$("$MAKE" -s ruby-gem 2>&1) || { echo "$gem_out"; exit 1; }
cp "$(tail -n 1 <<<"$gem_out")" "$A/"
rock_out=$("$MAKE" -s lua-rock 2>/dev/null) || { "$MAKE" -s lua-rock; exit 1; }
cp "$(tail -n 1 <<<"$rock_out")" "$A/"
echo "packages: artifacts built in $(( $(date +%s) - start )) s:"
(cd "$A" && for f in *.tar.gz *.whl *.gem *.rock; do
  printf '  %-60s %6d KiB\n' "$f" $(( $(stat -c %s "$f") / 1024 ))
done)

cp ci/packages/installed.sh ci/packages/contend.* ci/packages/rbs_coverage.rb "$work/"
# PL_TRACE=1: trace the installs (bash -x).
PL_REPO=$REPO PL_WORK=$work PL_C_PREFIX=$c_prefix "${ns[@]}" bash ${PL_TRACE:+-x} "$work/installed.sh" ||
  { echo "packages: FAILED with the checkout hidden (see above)"; exit 1; }
echo "packages: ok (C, Python wheel and sdist, Ruby gem, Lua rock installed with the checkout hidden; each waited for another language's held lock and took it)"
