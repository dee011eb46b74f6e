#!/usr/bin/env bash
# A file still being written: shipped once closed, or after a quiet moment
# if its writer keeps it open (a log); the final content always arrives.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"
SRC=$T/src DST=$T/dst
mkdir -p "$SRC"
sync_conf "$T/lb.conf" www "$SRC" "$DST" delay=0
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup did not reach idle"

# A log held open by its writer (fd 7 stays open for the whole test).
exec 7>"$SRC/app.log"
echo "line 1" >&7
wait_until 10 cmp -s "$SRC/app.log" "$DST/app.log" || fail "open log not shipped while open"
echo "line 2" >&7
wait_until 10 cmp -s "$SRC/app.log" "$DST/app.log" || fail "open log: second write not shipped"
# It keeps growing without a pause: still shipped within the hold time,
# and meanwhile status names the file that waits.
seen=
for i in $(seq 1 40); do
	echo "busy $i" >&7; wait_until 0.15 false
	[ -n "$seen" ] || { "$LIFEBOAT" -c "$T/lb.conf" status 2>/dev/null | grep -q "waiting for app.log to hold still" && seen=1; }
done
[ -n "$seen" ] || fail "status never named the file that waits"
wait_until 10 cmp -s "$SRC/app.log" "$DST/app.log" || fail "busy open log not converged"
exec 7>&-

# Many rewrites of one file, some of the same size in the same tick.
for i in $(seq 1 30); do printf 'v%02d' "$i" >"$SRC/counter"; done
assert_trees_equal "$SRC" "$DST" 10
[ "$(cat "$DST/counter")" = v30 ] || fail "final content lost: $(cat "$DST/counter")"

# Written in pieces with pauses, closed at the end.
python3 - "$SRC/slow.bin" <<'PY'
import sys, time
with open(sys.argv[1], "wb") as f:
    for i in range(5):
        f.write(bytes([65 + i]) * 100000); f.flush(); time.sleep(0.3)
PY
assert_trees_equal "$SRC" "$DST" 10
pass
