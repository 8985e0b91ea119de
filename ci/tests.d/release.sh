#!/usr/bin/env bash
# The release's version is the same everywhere it is written
# (`make release-check`), and every package names its license by SPDX id.
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
exit $fail
