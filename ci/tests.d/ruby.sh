#!/usr/bin/env bash
# Ruby binding (require "portalocker", build/ruby): builds it, checks that
# the gem builds and installs into a throwaway GEM_HOME (no network), then
# runs the minitest suite tests/ruby/test_*.rb with the CI venv's python for
# the interop holders (reference portalocker, cportalocker). Ends with
# minitest's own summary line; non-zero exit on any failure. With CI=true a
# skipped test counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUBY=${RUBY:-ruby}
PL_VENV_PYTHON=$(bash ci/venv.sh)
export PL_VENV_PYTHON
make -s ruby-binding python-binding PYTHON="$PL_VENV_PYTHON" RUBY="$RUBY" >&2

# The gem: build (staged with the core sources and the SWIG wrapper) and
# install into a throwaway GEM_HOME, then load it from there.
GEM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-rb-gem.XXXXXX")
trap 'rm -rf "$GEM_TMP"' EXIT
make -s ruby-gem RUBY="$RUBY" >"$GEM_TMP/build.log" 2>&1 || { cat "$GEM_TMP/build.log"; exit 1; }
GEM=$(tail -n 1 "$GEM_TMP/build.log")
GEM_HOME="$GEM_TMP/home" GEM_PATH="$GEM_TMP/home" gem install --local --no-document "$GEM" >"$GEM_TMP/install.log" 2>&1 ||
  { cat "$GEM_TMP/install.log"; echo "ruby: gem install failed"; exit 1; }
(cd "$GEM_TMP" && GEM_HOME="$GEM_TMP/home" GEM_PATH="$GEM_TMP/home" "$RUBY" -e '
  require "portalocker"
  native = $LOADED_FEATURES.grep(%r{portalocker/native\.so\z}).first
  abort "ruby: the gem did not load from GEM_HOME (#{native})" unless native.start_with?(ENV["GEM_HOME"])
  Portalocker::Lock.open("gem.lock", fail_when_locked: true) { |f| f.write("ok") }
  puts "ruby: gem #{Portalocker::VERSION} builds, installs and locks"')

out=$(mktemp)
trap 'rm -rf "$GEM_TMP" "$out"' EXIT
set +e
# -v under CI: a skip then shows its reason.
verbose=(); [ "${CI:-}" = "true" ] && verbose=(-v)
"$RUBY" -Itests/ruby -e 'files = ARGV.take_while { |a| a != "--" }; ARGV.replace(ARGV.drop(files.size + 1))
  files.each { |f| require File.expand_path(f) }' tests/ruby/test_*.rb -- "${verbose[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
if [ "${CI:-}" = "true" ] && grep -Eq '[1-9][0-9]* skips' "$out"; then
  echo "ruby: tests were skipped under CI=true" >&2
  rc=1
fi
exit "$rc"
