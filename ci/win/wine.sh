# A fresh headless wine prefix with one wineserver for a whole run, for
# ci/tests.d/windows.sh and ci/win/test-ruby.sh (sourced, not run).
#
#   wine_env PREFIX        exports WINEPREFIX and the headless settings
#                          (no debug output, no Mono/Gecko, no display)
#   stop_wine              stops this prefix's wineserver (callers trap EXIT)
#   wine_fresh_prefix LOG  removes the prefix, makes it anew with
#                          wineboot (its output in LOG, printed on failure)
#                          and starts its wineserver persistent (-p): a
#                          server that exits when idle races with the next
#                          program connecting ("wine client error ...
#                          recvmsg"). Returns non-zero on failure.

wine_env() {
  export WINEPREFIX=$1 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree=;mshtml="
  unset DISPLAY WAYLAND_DISPLAY
}

stop_wine() { wineserver -k >/dev/null 2>&1 || true; }

wine_fresh_prefix() {
  stop_wine
  rm -rf "$WINEPREFIX"
  if ! wineboot -i >"$1" 2>&1 || [ ! -d "$WINEPREFIX/drive_c/windows" ]; then
    cat "$1"
    return 1
  fi
  stop_wine
  wineserver -p
}
