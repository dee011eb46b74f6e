#!/usr/bin/env bash
# A path batch that holds a deletion and a small file being rewritten:
# the deletion goes to the target as before, the file only as whole
# versions (it used to be read in place with the whole batch as soon as
# one path of it was gone). The anchors' probe (a 1 MiB file rewritten
# every 40 ms, the target copy read every 50 ms) while another file of
# the tree is deleted every 20 ms: zero torn reads, locally and over ssh.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
sync_pair_paths
for d in "$LSRC" "$RSRC"; do
	mkdir -p "$d/old"
	for i in $(seq 1 400); do echo "$i" >"$d/old/f$i"; done
done
sync_pair_conf delay=0
# -v: the log tells how each path batch was split.
SYNC_LOG=$T/sync.log
"$LIFEBOAT" -v -c "$T/lb.conf" sync >>"$SYNC_LOG" 2>&1 &
SYNC_PID=$!
lb_track_pid "$SYNC_PID"
wait_idle loc 30 && wait_idle rem 30 || fail "startup did not reach idle"
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
probe() { # SRC DST NAME
	local out
	python3 - "$1/old" 6 <<'PY' &
import os, sys, time
d, stop = sys.argv[1], time.monotonic() + float(sys.argv[2])
for i in range(1, 401):
    if time.monotonic() > stop:
        break
    os.unlink(os.path.join(d, "f%d" % i))
    time.sleep(0.02)
PY
	local deleter=$!
	lb_track_pid "$deleter"
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_probe.py" "$1/probe.bin" "$2/probe.bin" 6) ||
		fail "$3: the probe failed: $out"
	wait "$deleter" || fail "$3: the deleter failed"
	echo "$3: $out"
	set -- "$1" "$2" "$3" $out
	[ "$5" -ge 30 ] || fail "$3: only $5 reads of the target copy"
	[ "$7" -eq 0 ] || fail "$3: $7 torn reads of the target copy"
	assert_trees_equal "$1" "$2" 30
}
probe "$LSRC" "$LDST" loc
probe "$RSRC" "$RDST" rem
grep -q "path batch: [0-9]* staged, [1-9][0-9]* deleted" "$SYNC_LOG" ||
	fail "no batch held both a staged file and a deletion"
stop_sync || fail "sync did not stop cleanly"
pass
