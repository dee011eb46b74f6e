#!/usr/bin/env bash
# Any doubt means a full pass, logged, never a silent gap: kernel event
# queue overflow, the inotify watch limit, and a change queue past its
# memory bound (collapsed to directory marks) all end with equal trees.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 unshare
lb_setup
cd "$T"

mkfiles() { # DIR COUNT PREFIX
	python3 - "$@" <<'PY'
import os, sys
d, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d, exist_ok=True)
for i in range(n):
    with open(os.path.join(d, "%s%05d" % (p, i)), "w") as f:
        f.write("x" * (i % 50))
PY
}

# 1. Overflow: the daemon is stopped while 30,000 events pile up.
SRC=$T/o/src DST=$T/o/dst
mkdir -p "$SRC"
sync_conf "$T/o.conf" o "$SRC" "$DST" delay=0
start_sync "$T/o.conf"
wait_idle o 20 || fail "overflow: startup did not reach idle"
passes=$(status_field o full_passes)
kill -STOP "$SYNC_PID"
mkfiles "$SRC" 12000 f
kill -CONT "$SYNC_PID"
wait_until 20 grep -q "overflowed" "$SYNC_LOG" || fail "overflow not logged"
assert_trees_equal "$SRC" "$DST" 60
wait_field_ge o full_passes $((passes + 1)) 5 || fail "overflow: no full pass counted"
echo after >"$SRC/after-overflow"
assert_trees_equal "$SRC" "$DST" 10
stop_sync

# 2. Memory bound: 3,000 changes gathered under max_pending = 100.
SRC=$T/m/src DST=$T/m/dst
mkdir -p "$SRC"
sync_conf "$T/m.conf" m "$SRC" "$DST" delay=4 max_pending=100
start_sync "$T/m.conf"
wait_idle m 20 || fail "collapse: startup did not reach idle"
for d in $(seq 1 30); do mkfiles "$SRC/existing/d$d" 0 x; done
assert_trees_equal "$SRC" "$DST" 20
for d in $(seq 1 30); do mkfiles "$SRC/existing/d$d" 100 f; done
wait_field_ge m queue_collapses 1 10 || fail "queue did not collapse past max_pending"
# The bound is on the queue: pending also counts the batch in flight (its
# own expansion bounded by max_pending), so both are read from one status.
queued=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["syncs"]["m"]; print(s["pending"]-s["in_flight"])' "$T/state/status.json")
[ "$queued" -le 100 ] || fail "queue holds $queued changes, above max_pending"
assert_trees_equal "$SRC" "$DST" 30

stop_sync # its status writes would race the next daemon's in the same state_dir

# 3. Watch limit: a user namespace allows 6 watches for a 20-directory tree.
SRC=$T/w/src DST=$T/w/dst
mkdir -p "$SRC"
for d in $(seq 1 20); do mkdir -p "$SRC/d$d" && echo "$d" >"$SRC/d$d/f"; done
sync_conf "$T/w.conf" w "$SRC" "$DST" delay=0 rescan_interval=2
SYNC_LOG=$T/w.log
unshare -Ur /bin/sh -c 'echo 6 >/proc/sys/user/max_inotify_watches && exec "$0" -c "$1" sync' \
	"$LIFEBOAT" "$T/w.conf" >"$SYNC_LOG" 2>&1 &
SYNC_PID=$!
lb_track_pid "$SYNC_PID"
wait_until 20 grep -q "watch limit reached" "$SYNC_LOG" || fail "watch limit not logged"
assert_trees_equal "$SRC" "$DST" 20
wait_field_ge w watches_missed 1 5 || fail "status: watches_missed stays 0"
echo change >"$SRC/d20/f"   # most likely unwatched: caught by the rescan
echo new >"$SRC/d19/new"
assert_trees_equal "$SRC" "$DST" 20
pass
