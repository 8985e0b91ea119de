#!/usr/bin/env bash
# The Ruby binding on Windows, run under wine (`make test-windows-ruby`;
# optional: not part of `make test` or ci/tests.d). Steps:
#   - the Windows dependencies (ci/win/deps.sh) and the core (`make windows`),
#   - Ruby 3.1 cross-built from Debian's ruby3.1 source (ci/win/ruby.sh,
#     build/win/ruby; about 6 minutes the first time, cached afterwards),
#   - the binding for it (`make windows-ruby`: build/win/ruby-binding, the
#     SWIG extension portalocker/native.so and bindings/ruby/lib),
#   - a fresh headless wine prefix (build/win/wineprefix-ruby, its own, so
#     this can run beside ci/tests.d/windows.sh) and a redis-server on
#     127.0.0.1 (the Linux one: wine's Winsock reaches it),
#   - the binding's whole minitest suite, tests/ruby/test_*.rb, under the
#     Windows ruby.exe: what cannot apply on Windows (fork, signals, FIFOs,
#     the posix/ofd mechanisms, unix sockets, /proc, the reference Python)
#     is skipped with its reason; tests/ruby/test_windows.rb adds the
#     Windows-only checks (pl_win_helper.exe as the other process).
# Fails (non-zero) on a failed or erroring test, or when fewer than
# RB_MIN_PASSED tests passed (the suite must really have run).
# minitest is Debian's (ruby-minitest, pure Ruby), put on the load path.
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
RB_MIN_PASSED=${RB_MIN_PASSED:-100}

missing=()
for tool in x86_64-w64-mingw32-gcc wine wineserver cmake dpkg-source swig ruby redis-server redis-cli; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "windows-ruby: FAIL: ${missing[*]} not installed (run ci/setup.sh)"; exit 1
fi
MINITEST_LIB=$(ruby -e 'print File.join(Gem::Specification.find_by_name("minitest").full_gem_path, "lib")' 2>/dev/null) ||
  { echo "windows-ruby: FAIL: minitest not installed (Debian: ruby-minitest)"; exit 1; }

bash ci/win/deps.sh >&2 || { echo "windows-ruby: FAIL: the dependencies did not fetch or cross-build"; exit 1; }
RUBY_HOME=$(bash ci/win/ruby.sh) || { echo "windows-ruby: FAIL: Ruby did not cross-build (ci/win/ruby.sh)"; exit 1; }
"${MAKE:-make}" -s windows-tests windows-ruby WIN_RUBY_HOME="$RUBY_HOME" >&2 ||
  { echo "windows-ruby: FAIL: the binding or the helper did not cross-build"; exit 1; }
echo "windows-ruby: built after $((SECONDS - start)) s"

W=$PWD/build/win
zpath() { echo "Z:$(echo "$1" | tr / '\\')"; }

# ---- wine: a fresh prefix, headless (as ci/tests.d/windows.sh) ------------------
# shellcheck source=wine.sh
. ci/win/wine.sh
wine_env "$W/wineprefix-ruby"
# shellcheck source=../lib/redis-server.sh
. ci/lib/redis-server.sh
trap 'stop_wine; redis_server_stop' EXIT
trap 'exit 130' INT TERM
wine_fresh_prefix "$W/wineboot-ruby.log" ||
  { echo "windows-ruby: FAIL: wineboot could not create $WINEPREFIX"; exit 1; }
# The first program starts wine's services (services.exe, winedevice.exe,
# ...), which keep the standard streams it had: a log file here, not the
# suite's pipe below, which tee would otherwise wait on for ever.
if ! wine "$RUBY_HOME/bin/ruby.exe" -e 'puts RUBY_DESCRIPTION' </dev/null >"$W/ruby-smoke.log" 2>&1; then
  cat "$W/ruby-smoke.log"; echo "windows-ruby: FAIL: the Windows ruby.exe does not run"; exit 1
fi
echo "windows-ruby: $(tr -d '\r' <"$W/ruby-smoke.log") under wine $(wine --version | sed 's/^wine-//'), prefix ready after $((SECONDS - start)) s"
redis_server_start windows-ruby || { echo "windows-ruby: FAIL: no redis-server"; exit 1; }

# ---- the suite -------------------------------------------------------------------
# TMPDIR unset for wine (the wineserver would read it as a Linux path):
# Dir.tmpdir is then the prefix's own temporary directory. Through a pipe,
# as for the Windows Python: a redirected regular file is not a console.
echo "== tests/ruby under the Windows ruby.exe (wine)"
files=()
for f in tests/ruby/test_*.rb; do files+=("$(zpath "$PWD/$f")"); done
(cd "$W" && env -u TMPDIR PORTALOCKER_RUBY_PATH="$(zpath "$W/ruby-binding")" \
  PL_WIN_HELPER="$(zpath "$W/tests/pl_win_helper.exe")" \
  timeout 1200 wine "$RUBY_HOME/bin/ruby.exe" -I "$(zpath "$MINITEST_LIB")" -I "$(zpath "$PWD/tests/ruby")" \
  -e 'files = ARGV.take_while { |a| a != "--" }; ARGV.replace(ARGV.drop(files.size + 1))
      files.each { |f| require f }' "${files[@]}" -- -v </dev/null 2>&1) | tee "$W/ruby-tests.log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ runs, [0-9]+ assertions' "$W/ruby-tests.log" | tail -n 1)
# count WORD: the number before WORD in minitest's summary line (0 if none).
count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
passed=$(( $(count runs) - $(count failures) - $(count errors) - $(count skips) ))
echo "windows-ruby: $((SECONDS - start)) s"
if [ "$rc" != 0 ] || [ -z "$summary" ] || [ "$passed" -lt "$RB_MIN_PASSED" ]; then
  echo "windows-ruby: FAILED: exit $rc, ${summary:-no minitest summary} ($passed passed, want exit 0 and at least $RB_MIN_PASSED)"
  exit 1
fi
echo "windows-ruby: ok: $passed passed, $(count skips) skipped on Windows with their reasons ($summary)"
