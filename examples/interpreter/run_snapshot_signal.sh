#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# interp.profile_snapshot_signal: SIGUSR1 makes `uheap-scheme --profile out.json` write a snapshot
# mid-run (out.json.1) that uheap-report reads, and the program runs on to write out.json at exit.
#
#   run_snapshot_signal.sh UHEAP_SCHEME UHEAP_REPORT programs/snapshot-signal.scm WORKDIR
#
# The program writes the file "ready" once it runs (its handler is installed before that), then
# allocates until the file "stop" appears. Signals go every 50 ms until out.json.1 exists, then
# "stop" is written and the interpreter must exit 0. Nothing depends on how fast either side is:
# the program waits for "stop" (capped at about 10 s in Debug), and every wait here gives up after
# 20 s, so a broken build fails rather than hangs.
set -u
scheme=$1 report=$2 program=$3 workdir=$4

rm -rf "$workdir" && mkdir -p "$workdir" && cd "$workdir" || exit 1
cp "$program" snapshot-signal.scm || exit 1
"$scheme" --profile out.json snapshot-signal.scm >stdout.txt 2>stderr.txt &
child=$!

fail() {
  echo "FAIL: $*"
  kill -KILL "$child" 2>/dev/null
  wait "$child" 2>/dev/null
  echo "--- stdout:"; cat stdout.txt
  echo "--- stderr:"; cat stderr.txt
  exit 1
}

deadline=$((SECONDS + 20))
until [ -e ready ]; do
  kill -0 "$child" 2>/dev/null || fail "uheap-scheme ended before the program started"
  [ "$SECONDS" -lt "$deadline" ] || fail "no \"ready\" file after 20 s"
  sleep 0.01
done

sent=0
deadline=$((SECONDS + 20))
until [ -e out.json.1 ]; do
  # A signal that came before the handler, or no handler at all, ends the process (the default).
  kill -0 "$child" 2>/dev/null || fail "uheap-scheme ended before writing out.json.1 ($sent SIGUSR1 sent)"
  [ "$SECONDS" -lt "$deadline" ] || fail "no out.json.1 after 20 s ($sent SIGUSR1 sent)"
  kill -USR1 "$child" 2>/dev/null && sent=$((sent + 1))
  sleep 0.05
done
: >stop

# The program sees "stop" within a round; 20 s covers the cap too.
for _ in $(seq 200); do
  kill -0 "$child" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$child" 2>/dev/null && fail "uheap-scheme still running 20 s after \"stop\""
wait "$child"
status=$?
[ "$status" -eq 0 ] || fail "uheap-scheme exited with status $status"

grep -qx 'stopped: #t' stdout.txt || fail "the program ran to its cap: no snapshot until its loop had ended"
grep -qx 'uheap-scheme: wrote profile snapshot out.json.1' stderr.txt || fail "no line for out.json.1 on stderr"
[ -s out.json ] || fail "no out.json at exit"
"$report" out.json.1 --out report.1 >report.1.txt 2>&1 || { cat report.1.txt; fail "uheap-report rejects out.json.1"; }
"$report" out.json --out report >report.txt 2>&1 || { cat report.txt; fail "uheap-report rejects out.json"; }
echo "ok: $sent SIGUSR1 sent, $(grep -c 'wrote profile snapshot' stderr.txt) snapshot(s) written"
