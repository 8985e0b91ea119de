#!/usr/bin/env bash
# portalock(1) against util-linux flock(1): the same cases run with both
# programs and must give the same exit codes and the same lock owner; then
# interop with the bindings and the reference portalocker, the Redis,
# semaphore and PID-file modes, signals and cleanup. Ends with
# `cli: N passed, N failed`. Timing bounds are loose (busy CI machines).
#
#   PORTALOCK=build/portalock  FLOCK=flock  PL_VENV_PYTHON=<python>  CI=true
set -uo pipefail
cd "$(dirname "$0")/../.."
PORTALOCK=$(realpath "${PORTALOCK:-build/portalock}")
FLOCK=${FLOCK:-flock}
W=$(mktemp -d "${TMPDIR:-/tmp}/pl-cli.XXXXXX")
pass=0; fail=0
. ci/lib/redis-server.sh
cleanup() { redis_server_stop; jobs -p | xargs -r kill 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect() { # name want got
  if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: want $2, got $3"; fi
}
skip_or_fail() { # why
  if [ "${CI:-}" = "true" ]; then bad "$1 (nothing may skip in CI)"; else echo "skip $1"; fi
}
# wait_for FILE: until it exists (10 s at most).
wait_for() { local i; for i in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
# gate FILE: sh code that waits until FILE exists (20 s at most): a
# command that must keep its lock until the test has looked, however slow
# the machine, rather than for a fixed time.
gate() { printf 'i=0; while [ ! -e %s ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done' "'$1'"; }
# catching PID SIG: until PID is portalock and catches SIG (10 s at most).
# A background job of a script starts with SIGINT ignored, so a signal sent
# before portalock installed its handlers would be lost, not tested.
catching() {
  local i m bit=$(($(kill -l "$2") - 1))
  for i in $(seq 1 200); do
    if [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$PORTALOCK" ]; then
      m=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status" 2>/dev/null)
      [ -n "$m" ] && [ $(((16#$m >> bit) & 1)) = 1 ] && return 0
    fi
    sleep 0.05
  done
  return 1
}
elapsed_ok() { # start max -> 0 if now-start < max
  awk -v s="$1" -v n="$(date +%s.%N)" -v m="$2" 'BEGIN{exit !(n-s < m)}'
}
# hold TOOL ARGS... : run TOOL ARGS... sh -c 'touch READY; sleep 30' in the
# background until `release`; HOLD_PID is it.
hold() {
  rm -f "$W/ready"
  "$@" sh -c "touch '$W/ready'; exec sleep 30" &
  HOLD_PID=$!
  wait_for "$W/ready" || bad "holder $* never got its lock"
}
# flock(1) does not forward signals: its command (which inherited the
# locked descriptor) is ended first, then the holder. The command is not
# our child, so `wait` cannot see it end: wait until it is gone or a
# zombie (its descriptors closed), or the next case may find it holding.
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
release() {
  local kids k i
  kids=$(pgrep -P "$HOLD_PID" 2>/dev/null)
  # shellcheck disable=SC2086  # a list of pids
  [ -n "$kids" ] && kill -TERM $kids 2>/dev/null
  kill "$HOLD_PID" 2>/dev/null
  wait "$HOLD_PID" 2>/dev/null
  for k in $kids; do
    for i in $(seq 1 250); do alive "$k" || break; sleep 0.02; done
  done
  rm -f "$W/ready" # a stale one would let the next wait_for return at once
}

# ---- 1. the same cases, flock(1) and portalock --------------------------
both() { # name expected-by-flock... : runs case_fn with each tool, compares
  local name=$1 fn=$2 a b
  a=$("$fn" "$FLOCK" 2>/dev/null); b=$("$fn" "$PORTALOCK" 2>/dev/null)
  if [ "$a" = "$b" ]; then ok "same as flock(1): $name ($b)"
  else bad "differs from flock(1): $name: flock '$a', portalock '$b'"; fi
}
F=$W/lockfile
args_case() { "$1" "${ARGS[@]}" >/dev/null 2>&1; echo $?; }
for spec in "true" "-w abc F true" "-E 300 F true" "-E x F true" "/nonexistent/dir/x true" \
            "F no-such-command-xyz" "-F -o F true" "F -c" "F -c true extra" "-c true F" \
            "9999" "abc" "-u F true" "--bogus F true" "F sh -c exit\ 7" "-x F true" \
            "-e F true" "--exclusive --nb F true" "--wait 1 F true" "--timeout 0 F true" \
            "W -c true" "-F F sh -c exit\ 3" "-o F sh -c exit\ 4" "--verbose F true" \
            "-h" 'F sh -c kill\ -9\ \$\$' 'F sh -c kill\ -TERM\ \$\$'; do
  eval "ARGS=($spec)"
  for i in "${!ARGS[@]}"; do
    [ "${ARGS[$i]}" = F ] && ARGS[$i]=$F
    [ "${ARGS[$i]}" = W ] && ARGS[$i]=$W
  done
  if [ "$spec" = true ]; then ARGS=(); fi
  both "exit code of: ${spec/true/}" args_case
done

# Contention: a holder (flock(1) or portalock), a contender (each tool).
contend() { # holder-args -- contender-args ; prints the contender's code
  local tool=$1; shift
  "$tool" "$@" "$F" true >/dev/null 2>&1; echo $?
}
for holder in "$FLOCK" "$PORTALOCK"; do
  hname=$(basename "$holder")
  hold "$holder" "$F"
  c_n() { contend "$1" -n; }; both "-n while $hname holds" c_n
  c_e() { contend "$1" -n -E 42; }; both "-n -E 42 while $hname holds" c_e
  c_e0() { contend "$1" -n -E 0; }; both "-n -E 0 while $hname holds" c_e0
  c_s() { contend "$1" -s -n; }; both "-s -n while $hname holds exclusive" c_s
  c_w() { contend "$1" -w 0.3; }; both "-w 0.3 while $hname holds" c_w
  c_w0() { contend "$1" -w 0; }; both "-w 0 while $hname holds" c_w0
  release
  hold "$holder" -s "$F"
  c_ss() { contend "$1" -s -n; }; both "-s -n while $hname holds shared" c_ss
  c_xs() { contend "$1" -x -n; }; both "-x -n while $hname holds shared" c_xs
  release
done
# -w waits for the release and then gets the lock.
waits_then_gets() {
  rm -f "$W/wready"
  ( "$FLOCK" "$F" sh -c "touch '$W/wready'; sleep 0.5" & wait ) & wait_for "$W/wready"
  "$1" -w 10 "$F" true; echo $?; wait; rm -f "$W/wready"
}
both "-w 10 gets the lock after the holder ends" waits_then_gets
# A directory is locked as flock(1) locks it.
dir_lock() { hold "$FLOCK" "$W"; "$1" -n "$W" true; echo $?; release; }
both "directory lock contended" dir_lock
# Descriptor form in a subshell; -u on the descriptor.
fd_form() {
  rm -f "$W/ready" "$W/go"
  ( "$1" -n 9 || exit 1; touch "$W/ready"; wait_for "$W/go" ) 9>"$F" & local p=$!
  wait_for "$W/ready"; "$FLOCK" -n "$F" true; local held=$?
  touch "$W/go"; wait $p; local rc=$?
  ( "$1" -n 9 && "$1" -u 9 && "$FLOCK" -n "$F" true ) 9>"$F"; echo "$held $rc $?"
  rm -f "$W/ready" "$W/go"
}
both "descriptor form: locks, and -u unlocks" fd_form
# Without -o the command's leftover child keeps the lock; with -o not.
# The leftover child runs until the test has looked (its own go file: this
# runs once per tool, and a leftover must not see the other run's); the
# -o run, not -n, waits for the first leftover to let go.
inherit() {
  local g=$W/go.$BASHPID
  "$1" "$F" sh -c "($(gate "$g.1")) >/dev/null 2>&1 &"; "$FLOCK" -n "$F" true; local a=$?
  touch "$g.1"
  "$1" -o "$F" sh -c "($(gate "$g.2")) >/dev/null 2>&1 &"; "$FLOCK" -n "$F" true; echo "$a $?"
  touch "$g.2"
}
both "-o: a leftover child holds the lock only without -o" inherit
# -c runs through $SHELL.
shell_c() { SHELL=/bin/sh "$1" "$F" -c 'echo "$0"'; }
both "-c uses \$SHELL" shell_c

# ---- 2. portalock only --------------------------------------------------
P=$PORTALOCK
# --fcntl: OFD locks exclude each other (flock(1) 2.38 has no --fcntl).
hold "$P" --fcntl "$F"
"$P" --fcntl -n "$F" true; expect "--fcntl -n while an OFD lock is held" 1 $?
"$P" --fcntl -s -n "$F" true; expect "--fcntl -s -n while an exclusive OFD lock is held" 1 $?
release
"$P" --fcntl -n "$F" true; expect "--fcntl -n once free" 0 $?

# who: the kernel's lock table.
hold "$FLOCK" "$F"
out=$("$P" who "$F"); rc=$?
case "$out" in *"PID $HOLD_PID"*|*"(flock)"*) ok "who names the holder ($rc)";; *) bad "who: $out";; esac
out=$("$P" who "$F" --json)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["held"] and d["holders"][0]["mode"]=="exclusive"' \
  && ok "who --json" || bad "who --json: $out"
release
"$P" who "$F" >/dev/null; expect "who on a free file" 1 $?
"$P" who "$W/none" 2>/dev/null; expect "who on a missing file" 66 $?

# Semaphore: two slots, PORTALOCK_SLOT, a third waits or fails.
S=(--semaphore 2 --name cli --dir "$W")
# The two holders keep their slots until sgo exists.
"$P" "${S[@]}" sh -c "echo \$PORTALOCK_SLOT > '$W/slot0'; touch '$W/s0'; $(gate "$W/sgo")" & s0=$!
wait_for "$W/s0"
"$P" "${S[@]}" sh -c "echo \$PORTALOCK_SLOT > '$W/slot1'; touch '$W/s1'; $(gate "$W/sgo")" & s1=$!
wait_for "$W/s1"
expect "semaphore slots" "0 1" "$(cat "$W/slot0") $(cat "$W/slot1")"
"$P" -n "${S[@]}" true; expect "semaphore full, -n" 1 $?
t=$(date +%s.%N); "$P" -w 20 "${S[@]}" sh -c 'exit $PORTALOCK_SLOT' & w=$!
catching $w INT; sleep 0.3
alive $w && waiting=yes || waiting=no # it got no slot while both were held
touch "$W/sgo"; wait $w; rc=$?
[ "$waiting" = yes ] && { [ "$rc" = 0 ] || [ "$rc" = 1 ]; } && elapsed_ok "$t" 15 && ok "semaphore -w waits for a slot (slot $rc)" || bad "semaphore -w: $rc, waiting: $waiting"
wait $s0 $s1
"$P" --semaphore 2 --dir "$W/missing" true 2>/dev/null; expect "semaphore in a missing directory" 66 $?

# PID file: refused with the holder's PID.
hold "$P" --pidfile "$W/d.pid"
msg=$("$P" --pidfile "$W/d.pid" true 2>&1); rc=$?
expect "pidfile held: conflict code" 1 $rc
case "$msg" in *"held by PID $HOLD_PID"*) ok "pidfile message names PID $HOLD_PID";; *) bad "pidfile message: $msg";; esac
expect "the PID file holds portalock's PID" "$HOLD_PID" "$(cat "$W/d.pid")"
"$P" who "$W/d.pid" | grep -q "PID $HOLD_PID" && ok "who on a PID file" || bad "who on a PID file"
release
"$P" --pidfile "$W/d.pid" true; expect "pidfile free again" 0 $?
"$P" -F --pidfile "$W/e.pid" sh -c "[ \"\$(cat '$W/e.pid')\" = \$\$ ]"; expect "-F --pidfile: the command's PID" 0 $?

# Signals: forwarded from other processes, with the command's status.
for sig in INT TERM HUP QUIT USR1 USR2; do
  rm -f "$W/ready"
  "$P" "$F" sh -c "trap 'exit 42' $sig; touch '$W/ready'; while :; do sleep 0.05; done" &
  p=$!; wait_for "$W/ready"; kill -"$sig" $p; wait $p
  expect "SIG$sig forwarded to the command" 42 $?
done
rm -f "$W/ready"; "$P" "$F" sh -c "touch '$W/ready'; exec sleep 30" & p=$!
wait_for "$W/ready"; kill -TERM $p; wait $p; expect "SIGTERM kills the command: 128+15" 143 $?
"$FLOCK" -n "$F" true; expect "nothing held after that" 0 $?
# SIGINT while waiting ends the wait at once, nothing held after.
hold "$FLOCK" "$F"
# (The holder keeps the lock 30 s: a wait the signal did not end would
# last that long.)
"$P" "$F" true & p=$!; catching $p INT || bad "portalock never caught SIGINT"
sleep 0.2; t=$(date +%s.%N); kill -INT $p; wait $p; rc=$?
expect "SIGINT during the wait: death by SIGINT" 130 $rc
elapsed_ok "$t" 5 && ok "... within 5 s" || bad "SIGINT took too long"
"$P" -w 30 --semaphore 1 --name busy --dir "$W" true & # a free semaphore: quick
wait $!
"$P" --semaphore 1 --name held --dir "$W" sh -c "touch '$W/held'; exec sleep 30" & sp=$!
wait_for "$W/held" || bad "the semaphore holder never got its slot"
"$P" --semaphore 1 --name held --dir "$W" true & p=$!; catching $p INT || bad "portalock never caught SIGINT"
sleep 0.2; t=$(date +%s.%N); kill -INT $p; wait $p; expect "SIGINT during a semaphore wait" 130 $?
elapsed_ok "$t" 5 && ok "... within 5 s" || bad "semaphore SIGINT took too long"
kill $sp; wait $sp 2>/dev/null
release
# Ctrl-C at a terminal: the command gets it once (not forwarded again);
# portalock dies of it when the command does, after releasing.
rm -f "$W/ready"; n=$(python3 tests/cli/tty_ctrl_c.py "$P" "$F" "$W/ready" trap)
expect "terminal ^C reaches a trapping command once" 1 "$n"
rm -f "$W/ready"; n=$(python3 tests/cli/tty_ctrl_c.py "$P" "$F" "$W/ready" notrap)
expect "terminal ^C: portalock dies of SIGINT with the command" -2 "$n"
"$FLOCK" -n "$F" true; expect "nothing held after ^C" 0 $?
# The command SIGKILLed: nothing left held.
rm -f "$W/ready"; "$P" "$F" sh -c "touch '$W/ready'; exec sleep 30" & p=$!
wait_for "$W/ready"; sleep 0.2; pkill -KILL -P $p; wait $p; expect "command SIGKILLed: 128+9" 137 $?
"$FLOCK" -n "$F" true; expect "nothing held after the command was SIGKILLed" 0 $?
"$P" who "$F" >/dev/null; expect "who agrees" 1 $?

# ---- 3. the bindings and the reference -----------------------------------
PY=${PL_VENV_PYTHON:-$(bash ci/venv.sh 2>/dev/null)}
binding_holds() { # name command... : the binding holds $F while portalock tries
  local name=$1; shift
  rm -f "$W/ready"
  "$@" & local p=$!
  if wait_for "$W/ready"; then
    "$P" -n "$F" true; expect "$name holds: portalock -n" 1 $?
  else bad "$name never took the lock"; fi
  kill $p 2>/dev/null; wait $p 2>/dev/null
  "$P" -n "$F" true; expect "$name released: portalock -n" 0 $?
}
hold_py='import sys,time; m=__import__(sys.argv[1]); l=m.Lock(sys.argv[2], timeout=0, fail_when_locked=True); l.acquire(); open(sys.argv[3],"w").close(); time.sleep(30)'
try_py='import sys; m=__import__(sys.argv[1]); l=m.Lock(sys.argv[2], timeout=0, fail_when_locked=True)
try: l.acquire()
except m.exceptions.LockException: sys.exit(1)
sys.exit(0)'
if [ -n "$PY" ] && [ -d build/python/cportalocker ]; then
  binding_holds "Python binding" env PYTHONPATH=build/python "$PY" -c "$hold_py" cportalocker "$F" "$W/ready"
  binding_holds "reference portalocker 4.4.2" "$PY" -c "$hold_py" portalocker "$F" "$W/ready"
  hold "$P" "$F"
  PYTHONPATH=build/python "$PY" -c "$try_py" cportalocker "$F"; expect "portalock holds: Python binding refused" 1 $?
  "$PY" -c "$try_py" portalocker "$F"; expect "portalock holds: reference refused" 1 $?
  release
else skip_or_fail "Python interop (make bindings; ci/venv.sh)"; fi
if [ -f build/ruby/portalocker.rb ]; then
  binding_holds "Ruby binding" ruby -I build/ruby -e 'require "portalocker"; l = Portalocker::Lock.new(ARGV[0], timeout: 0, fail_when_locked: true); l.acquire; File.write(ARGV[1], ""); sleep 30' "$F" "$W/ready"
else skip_or_fail "Ruby interop (make bindings)"; fi
if [ -f build/lua/portalocker.lua ]; then
  echo 'local pl = require "portalocker"; local l = pl.Lock.new(arg[1], {timeout = 0, fail_when_locked = true}); assert(l:acquire()); io.open(arg[2], "w"):close(); os.execute("sleep 30")' >"$W/hold.lua"
  binding_holds "Lua binding" env LUA_CPATH='build/lua/?.so;;' LUA_PATH='build/lua/?.lua;;' lua5.4 "$W/hold.lua" "$F" "$W/ready"
else skip_or_fail "Lua interop (make bindings)"; fi

# ---- 4. Redis -------------------------------------------------------------
if redis_server_start cli >/dev/null; then
  U=redis://127.0.0.1:$PL_TEST_REDIS_PORT/0
  a=$("$P" --fencing --redis "$U" ch sh -c 'echo $PORTALOCK_FENCE')
  b=$("$P" --fencing --redis "unix://$PL_TEST_REDIS_SOCKET?db=0" ch sh -c 'echo $PORTALOCK_FENCE')
  [ -n "$a" ] && [ "$b" -gt "$a" ] 2>/dev/null && ok "fencing tokens visible and increasing ($a, $b)" || bad "fencing tokens: '$a' '$b'"
  "$P" --redis "$U" ch sh -c 'exit 9'; expect "Redis: the command's status" 9 $?
  hold "$P" --redis "$U" ch
  "$P" -n --redis "$U" ch true; expect "Redis -n while held" 1 $?
  t=$(date +%s.%N); "$P" -w 0.5 --redis "$U" ch true; rc=$?
  expect "Redis -w 0.5 while held" 1 $rc; elapsed_ok "$t" 5 && ok "... bounded" || bad "Redis -w took too long"
  "$P" who --redis "$U" ch | grep -q exclusive && ok "who --redis: an exclusive holder" || bad "who --redis"
  "$P" --redis "$U" ch true & p=$!; catching $p INT || bad "portalock never caught SIGINT"
  sleep 0.3; t=$(date +%s.%N); kill -INT $p; wait $p
  expect "SIGINT during a Redis wait" 130 $?; elapsed_ok "$t" 5 && ok "... promptly" || bad "Redis SIGINT took too long"
  release
  "$P" who --redis "$U" ch >/dev/null; expect "who --redis on a free channel" 1 $?
  # The lock lost while the command runs: the command gets the signal.
  rm -f "$W/ready" "$W/got"
  "$P" --on-lost USR1 --redis "$U" lost sh -c "trap 'touch $W/got; exit 0' USR1; touch $W/ready; while :; do sleep 0.05; done" &
  p=$!; wait_for "$W/ready"
  redis-cli -p "$PL_TEST_REDIS_PORT" client kill type pubsub >/dev/null
  t=$(date +%s.%N); wait $p; rc=$?
  expect "lost Redis lock: exit 75" 75 $rc
  [ -e "$W/got" ] && ok "lost Redis lock: the command got SIGUSR1" || bad "the command was not signalled"
  elapsed_ok "$t" 15 && ok "... within 15 s" || bad "loss noticed too late"
  "$P" -n --redis "$U" lost true; expect "free after the loss" 0 $?
  "$P" --redis "redis://127.0.0.1:1" ch true 2>/dev/null; expect "Redis unreachable" 69 $?
  # TLS to a plain server: the handshake fails, a connection error
  "$P" --redis "rediss://127.0.0.1:$PL_TEST_REDIS_PORT?ssl_cert_reqs=none" ch true 2>"$W/tls.err"
  expect "rediss:// to a plain server" 69 $?
  grep -q "TLS handshake" "$W/tls.err" && ok "... says the TLS handshake failed" || bad "no TLS cause: $(cat "$W/tls.err")"
  "$P" --redis "redis://127.0.0.1?ssl_ca_certs=/x" ch true 2>/dev/null; expect "ssl_* option without rediss:// refused" 64 $?
  "$P" --redis "redis://h?nope=1" ch true 2>/dev/null; expect "unknown URL option" 64 $?
else
  bad "redis-server did not start"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
