#!/usr/bin/env bash
# `make install PREFIX=...` gives a usable library: header, shared and
# static libraries and a pkg-config file for THAT prefix; a program built
# with `pkg-config --cflags --libs portalocker` against the install takes
# and releases a lock.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=$(mktemp -d "${TMPDIR:-/tmp}/pl-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
"${MAKE:-make}" -s install PREFIX="$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
for f in include/portalocker.h lib/libportalocker.so.1 lib/libportalocker.so \
         lib/libportalocker.a lib/pkgconfig/portalocker.pc; do
  [ -e "$prefix/$f" ] || { echo "install: $f is missing"; exit 1; }
done
cat > "$prefix/app.c" <<'C'
#include <portalocker.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    pl_lock *lock = NULL;
    int rc = pl_lock_new(&lock, argv[argc - 1]);
    if (rc == PL_OK)
        rc = pl_lock_acquire(lock, NULL);
    if (rc == PL_OK)
        rc = pl_lock_release(lock);
    printf("libportalocker %s: %s\n", pl_version_string(), pl_error_name(rc));
    pl_lock_free(lock);
    return rc == PL_OK ? 0 : 1;
}
C
# shellcheck disable=SC2046  # pkg-config prints several flags
cc "$prefix/app.c" $(pkg-config --cflags --libs portalocker) \
  -Wl,-rpath,"$prefix/lib" -o "$prefix/app"
# ldd's output taken whole: grep -q closing the pipe early would fail the
# pipeline under pipefail.
deps=$(ldd "$prefix/app")
grep -q "$prefix/lib/libportalocker.so.1" <<<"$deps" ||
  { echo "install: the app did not link the installed library"; exit 1; }
"$prefix/app" "$prefix/app.lock"
echo "install: ok (header, libraries and pkg-config file under a fresh prefix)"
