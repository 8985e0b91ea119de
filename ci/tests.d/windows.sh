#!/usr/bin/env bash
# The Windows port, run for real under wine: the core cross-built with
# Debian's mingw-w64 (`make windows`: libportalocker-1.dll, import and
# static libraries; cJSON and cmocka cross-built from Debian's source
# packages by ci/win/deps.sh), its exports checked against the header,
# then the cmocka suites (tests/win/test_*.c and the shared suites of
# tests/unit that apply) run under wine in a fresh WINEPREFIX under
# build/win (headless: no display, no Mono/Gecko), the Lua binding's
# Windows tests (tests/lua/test_windows.lua) with Lua 5.4 cross-built from
# Debian's source, the Python binding's Windows tests
# (tests/win/binding_python.py, with the reference portalocker in child
# processes) on python.org's CPython 3.13 for Windows from Maven Central,
# a lock holder killed from Linux (kill -9 of its wine process) shown
# to release, and the Redis lock over Winsock against a real redis-server
# on 127.0.0.1 (tests/win/test_redis_windows.c, then a Linux holder
# (pl_redis_cli) against a Windows waiter and the other way round, each
# holder killed with SIGKILL), and the conformance suite's file-lock
# scenarios played by the Windows agents (tests/conformance/run.py
# --windows: C, Python with our binding and with the reference, Lua). What
# wine cannot show is listed in the README (Windows).
# Outside CI a missing mingw-w64 or wine is a skip; with CI=true it fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS

missing=()
for tool in x86_64-w64-mingw32-gcc wine wineserver cmake dpkg-source redis-server redis-cli; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -ne 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "windows: FAIL: ${missing[*]} not installed (run ci/setup.sh)"; exit 1
  fi
  echo "windows: SKIPPED: ${missing[*]} not installed (ci/setup.sh; CI=true makes this a failure)"
  exit 0
fi

if ! bash ci/win/deps.sh; then
  # Offline (apt-get source cannot fetch) is a skip outside CI, as in
  # cross.sh; with CI=true a failure.
  if [ "${CI:-}" = true ]; then
    echo "windows: FAIL: the dependencies did not fetch or cross-build"; exit 1
  fi
  echo "windows: SKIPPED: the dependencies did not fetch or cross-build (offline? CI=true makes this a failure)"
  exit 0
fi
"${MAKE:-make}" -s windows-tests windows-lua >&2 || { echo "windows: FAIL: the cross-build failed"; exit 1; }
# The Linux side of the Redis interop: pl_redis_cli (the Linux library).
"${MAKE:-make}" -s build/tests/redis/pl_redis_cli >&2 ||
  { echo "windows: FAIL: pl_redis_cli (Linux) did not build"; exit 1; }
# CPython for Windows (Maven Central) and the reference portalocker (the
# CI venv's, pure Python) for the Python binding's run.
if ! PY_HOME=$(bash ci/win/python.sh); then
  echo "windows: FAIL: no CPython for Windows (ci/win/python.sh)"; exit 1
fi
if ! VENV_PY=$(bash ci/venv.sh); then
  echo "windows: FAIL: the reference venv could not be created (ci/venv.sh)"; exit 1
fi
REF_SRC=$("$VENV_PY" -c 'import os, portalocker; print(os.path.dirname(portalocker.__file__))')
rm -rf build/win/refpkg && mkdir -p build/win/refpkg && cp -r "$REF_SRC" build/win/refpkg/
rm -rf build/win/refpkg/portalocker/__pycache__
"${MAKE:-make}" -s windows-python WIN_PY_HOME="$PY_HOME" >&2 ||
  { echo "windows: FAIL: the Python extension did not cross-build"; exit 1; }

W=$PWD/build/win
failed=()

# ---- the DLL exports exactly the header's API --------------------------------
tr '\n' ' ' <core/include/portalocker.h | grep -oE 'PL_EXPORT[^;{(]*\(' |
  grep -oE 'pl_[A-Za-z0-9_]+ *\($' | tr -d ' (' | sort -u >"$W/api.txt"
x86_64-w64-mingw32-objdump -p "$W/libportalocker-1.dll" |
  sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | grep -oE '[A-Za-z_][A-Za-z_0-9]*$' |
  grep -v '^Table$' | sort >"$W/exports.txt"
if diff -u "$W/api.txt" "$W/exports.txt" >"$W/exports.diff"; then
  echo "windows: libportalocker-1.dll exports the $(wc -l <"$W/api.txt") functions of the header, nothing else"
else
  cat "$W/exports.diff"; failed+=("exports")
fi
# Only system DLLs (the CRT, kernel32, bcrypt) are needed next to it.
deps=$(x86_64-w64-mingw32-objdump -p "$W/libportalocker-1.dll" | sed -n 's/.*DLL Name: //p' | tr '\n' ' ')
case " $(echo "$deps" | tr 'A-Z' 'a-z')" in
  *" kernel32.dll "*) echo "windows: the DLL imports $deps" ;;
  *) echo "windows: unexpected imports: $deps"; failed+=("imports") ;;
esac

# ---- wine: a fresh prefix, headless -------------------------------------------
# shellcheck source=../win/wine.sh
. ci/win/wine.sh
wine_env "$W/wineprefix"
# shellcheck source=../lib/redis-server.sh
. ci/lib/redis-server.sh
trap 'stop_wine; redis_server_stop' EXIT
trap 'exit 130' INT TERM
rm -rf "$W/tmp"
mkdir -p "$W/tmp"
wine_fresh_prefix "$W/wineboot.log" ||
  { echo "windows: FAIL: wineboot could not create $WINEPREFIX"; exit 1; }
# Temporary files of the suites: build/win/tmp (Z: is wine's view of /).
# TMPDIR stays unset for wine: the wineserver reads it as a Linux path.
WIN_TMP="Z:$(echo "$W/tmp" | tr / '\\')"
win() { env -u TMPDIR PL_TEST_TMPDIR="$WIN_TMP" timeout 600 wine "$@"; }
echo "windows: wine $(wine --version | sed 's/^wine-//'), prefix ready after $((SECONDS - start)) s"

# The redis-server of the Redis suites (the Linux one: wine's Winsock
# reaches 127.0.0.1); PL_TEST_REDIS_PORT passes through wine.
redis_server_start windows || { echo "windows: FAIL: no redis-server"; exit 1; }

# ---- the cmocka suites -----------------------------------------------------------
for t in "$W"/tests/test_*.exe; do
  name=$(basename "$t" .exe)
  echo "== $name (wine)"
  if (cd "$W/tests" && win "./$(basename "$t")"); then :; else failed+=("$name"); fi
done

# ---- the Lua binding (lua.exe and lua54.dll from Debian's source) --------------
echo "== Lua binding (wine)"
lua_test="Z:$(echo "$PWD/tests/lua/test_windows.lua" | tr / '\\')"
if (cd "$W/lua" && LUA_PATH='.\?.lua' LUA_CPATH='.\?.dll' PL_HELPER_REPORT=1 \
    PL_WIN_HELPER="Z:$(echo "$W/tests/pl_win_helper.exe" | tr / '\\')" \
    win ./lua.exe "$lua_test"); then :; else
  failed+=("lua")
fi

# ---- the Python binding (python.org's CPython 3.13 for Windows) ------------------
echo "== Python binding (wine)"
# Through a pipe: under wine, Python cannot set up its standard streams on
# a redirected regular file (WinError 6); pipefail keeps its exit status.
zpath() { echo "Z:$(echo "$1" | tr / '\\')"; }
py_test=$(zpath "$PWD/tests/win/binding_python.py")
if (cd "$W" && PYTHONPATH="$(zpath "$W/python-pkg")" PL_REF_PATH="$(zpath "$W/refpkg")" \
    PL_WIN_HELPER="$(zpath "$W/tests/pl_win_helper.exe")" \
    win "$PY_HOME/python.exe" "$py_test" </dev/null 2>&1 | cat); then :; else
  failed+=("python")
fi

# ---- the Python binding's pytest suite (tests/python) under the Windows Python -----
# pytest and redis-py as Windows wheels (pip download --platform
# win_amd64, ci/win/requirements-pytest.txt), installed offline into that
# interpreter. Tests that cannot apply on Windows (fork, signals, FIFOs,
# fcntl's mechanisms, unix sockets) are skipped with their reason; the
# suite itself must run: fewer than PY_MIN_PASSED passing tests fail.
echo "== Python binding: tests/python with pytest (wine)"
PY_MIN_PASSED=150
wheels=$W/wheels
if "$VENV_PY" -m pip download -q -d "$wheels" --platform win_amd64 --python-version 3.13 \
    --implementation cp --only-binary :all: -r ci/win/requirements-pytest.txt >"$W/wheels.log" 2>&1 &&
  win "$PY_HOME/python.exe" -m pip install -q --no-index --find-links "$(zpath "$wheels")" \
    -r "$(zpath "$PWD/ci/win/requirements-pytest.txt")" </dev/null 2>&1 | cat >>"$W/wheels.log"; then
  py_tests=$(zpath "$PWD/tests/python")
  (cd "$W" && PYTHONPATH="$(zpath "$W/refpkg")" CPORTALOCKER_PATH="$(zpath "$W/python-pkg")" \
    win "$PY_HOME/python.exe" -m pytest -p no:cacheprovider -q -rs "$py_tests" \
    </dev/null 2>&1) | tee "$W/pytest.log"
  rc=${PIPESTATUS[0]}
  npassed=$(tail -n 3 "$W/pytest.log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
  if [ "$rc" != 0 ] || [ "${npassed:-0}" -lt "$PY_MIN_PASSED" ]; then
    echo "windows: pytest under wine: exit $rc, ${npassed:-0} passed (want 0 and at least $PY_MIN_PASSED)"
    failed+=("pytest")
  fi
else
  cat "$W/wheels.log"; echo "windows: pytest could not be fetched or installed for the Windows Python"
  failed+=("pytest")
fi

# ---- a holder killed from Linux releases -----------------------------------------
lock="$WIN_TMP\\killed.lock" ready="$WIN_TMP\\killed.ready"
# exec all the way: $! is the process wine runs the helper in.
(cd "$W/tests" && unset TMPDIR && exec wine ./pl_win_helper.exe hold "$lock" ex "$ready") &
holder=$!
for _ in $(seq 1 600); do [ -e "$W/tmp/killed.ready" ] && break; sleep 0.05; done
probe() { (cd "$W/tests" && win ./pl_win_helper.exe probe "$lock"); }
if [ ! -e "$W/tmp/killed.ready" ]; then
  echo "windows: the holder never became ready"; failed+=("kill -9")
else
  probe; held=$?
  kill -KILL "$holder" 2>/dev/null
  wait "$holder" 2>/dev/null
  free=1
  for _ in $(seq 1 50); do probe && { free=0; break; }; sleep 0.1; done
  if [ "$held" = 1 ] && [ "$free" = 0 ]; then
    echo "windows: a holder killed with SIGKILL from Linux released its lock"
  else
    echo "windows: kill -9: held=$held (want 1), released=$free (want 0)"; failed+=("kill -9")
  fi
fi

# ---- the Redis lock between Linux and Windows ------------------------------------
# wait_line FILE TEXT: TEXT appears in FILE within 30 s.
wait_line() { for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
cli=build/tests/redis/pl_redis_cli
chan="pl-win-interop-$$"
rtry() { (cd "$W/tests" && win ./pl_win_helper.exe redis-try "$PL_TEST_REDIS_PORT" "$@"); }
# A Linux holder: the Windows side is refused, then gets it once the
# holder is killed with SIGKILL. It holds while its stdin stays open: a
# FIFO opened read-write here, closed afterwards.
rm -f "$W/cli-a.in" && mkfifo "$W/cli-a.in" && exec 9<>"$W/cli-a.in"
"$cli" --port "$PL_TEST_REDIS_PORT" --channel "$chan-a" --fail-when-locked \
  <&9 >"$W/cli-a.out" 2>&1 &
lin=$!
if wait_line "$W/cli-a.out" '^acquired'; then
  rtry "$chan-a" 0; refused=$?
  kill -KILL "$lin" 2>/dev/null; wait "$lin" 2>/dev/null
  rtry "$chan-a" 20; got=$?
  if [ "$refused" = 1 ] && [ "$got" = 0 ]; then
    echo "windows: Redis: a Linux holder excludes the Windows side; killed, the Windows side gets the lock"
  else
    echo "windows: Redis, Linux holder: refused=$refused (want 1), acquired after its kill=$got (want 0)"
    failed+=("redis linux holder")
  fi
else
  cat "$W/cli-a.out"; kill -KILL "$lin" 2>/dev/null; failed+=("redis linux holder")
fi
exec 9>&-
rm -f "$W/cli-a.in"
# A Windows holder: the Linux side is refused, then gets it once the
# holder's wine process is killed with SIGKILL.
rm -f "$W/tmp/redis.ready"
(cd "$W/tests" && unset TMPDIR &&
  exec wine ./pl_win_helper.exe redis-hold "$PL_TEST_REDIS_PORT" "$chan-b" "$WIN_TMP\\redis.ready") &
wholder=$!
for _ in $(seq 1 600); do [ -e "$W/tmp/redis.ready" ] && break; sleep 0.05; done
if [ -e "$W/tmp/redis.ready" ]; then
  "$cli" --port "$PL_TEST_REDIS_PORT" --channel "$chan-b" --fail-when-locked --hold 0 \
    </dev/null >"$W/cli-b1.out" 2>&1; refused=$?
  kill -KILL "$wholder" 2>/dev/null; wait "$wholder" 2>/dev/null
  "$cli" --port "$PL_TEST_REDIS_PORT" --channel "$chan-b" --timeout 20 --hold 0 \
    </dev/null >"$W/cli-b2.out" 2>&1; got=$?
  if [ "$refused" = 2 ] && [ "$got" = 0 ]; then
    echo "windows: Redis: a Windows holder excludes the Linux side; killed, the Linux side gets the lock"
  else
    cat "$W/cli-b1.out" "$W/cli-b2.out"
    echo "windows: Redis, Windows holder: refused=$refused (want 2), acquired after its kill=$got (want 0)"
    failed+=("redis windows holder")
  fi
else
  echo "windows: Redis: the Windows holder never became ready"
  kill -KILL "$wholder" 2>/dev/null; failed+=("redis windows holder")
fi

# ---- the conformance scenarios with the Windows agents ---------------------------
# tests/conformance/run.py --windows: the file-lock scenarios played by
# agent_c.exe, the Python agent on the Windows CPython (our binding, and
# the reference with its default MsvcrtLocker) and the Lua agent on
# lua.exe, each alone and mixed, in this prefix with the persistent
# wineserver above (the runner leaves a running one alone). Its matrix
# goes to build/win/conformance.log; the summary is printed (the whole
# log on a failure).
echo "== conformance scenarios, Windows agents (wine)"
conf_start=$SECONDS
if "${MAKE:-make}" -s windows-conformance-agents >&2; then
  "$VENV_PY" tests/conformance/run.py --windows -j 4 </dev/null >"$W/conformance.log" 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then
    sed -n '/^== summary per scenario/,$p' "$W/conformance.log"
  else
    cat "$W/conformance.log"; failed+=("conformance")
  fi
else
  echo "windows: the Windows conformance agents did not build"; failed+=("conformance")
fi
echo "windows: conformance under wine: $((SECONDS - conf_start)) s"

echo "windows: $((SECONDS - start)) s"
if [ ${#failed[@]} -ne 0 ]; then
  echo "windows: FAILED: ${failed[*]}"; exit 1
fi
echo "windows: ok"
