#!/usr/bin/env bash
# The release's version is the same everywhere it is written
# (`make release-check`), every package names its license by SPDX id, and
# the manual pages (doc/man) render cleanly.
set -euo pipefail
cd "$(dirname "$0")/../.."
"${MAKE:-make}" -s release-check
fail=0
spdx() { # file pattern
  if grep -Eq "$2" "$1"; then echo "release: $1 names BSD-3-Clause"
  else echo "release: $1 does not name its license as BSD-3-Clause"; fail=1; fi
}
spdx bindings/python/pyproject.toml '^license = "BSD-3-Clause"'
spdx bindings/ruby/portalocker.gemspec 'spec\.license = "BSD-3-Clause"'
spdx "$(ls bindings/lua/portalocker-*.rockspec)" 'license = "BSD-3-Clause"'
[ -f LICENSE ] && grep -q "BSD 3-Clause License" LICENSE || { echo "release: LICENSE is missing"; fail=1; }
# The manual pages render without a warning.
for m in doc/man/*.[0-9]; do
  out=$(groff -man -ww -z "$m" 2>&1) || fail=1
  if [ -n "$out" ]; then echo "release: $m: $out"; fail=1; fi
done
[ $fail -eq 0 ] && echo "release: ok (version, licenses, $(ls doc/man/*.[0-9] | wc -l) manual pages)"
exit $fail
