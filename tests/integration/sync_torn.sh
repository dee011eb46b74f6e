#!/usr/bin/env bash
# No torn copies: the anchors' continuous-rewrite probe (a 1 MiB file
# rewritten in place every 40 ms for 10 s, the target copy read every
# 50 ms) finds no read holding two generations, for a local target and
# over ssh through the restricted key.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
sync_pair_up delay=0
probe() {
	local out
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_probe.py" "$1/probe.bin" "$2/probe.bin" 10) ||
		fail "the probe failed: $out"
	echo "$3: $out"
	set -- $out
	[ "$2" -ge 50 ] || fail "$3: only $2 reads of the target copy"
	[ "$4" -eq 0 ] || fail "$3: $4 torn reads of the target copy"
}
probe "$LSRC" "$LDST" local
probe "$RSRC" "$RDST" ssh
# A large new file in a new tree goes through the tar stream over ssh: a
# watcher polling its final name on the target never sees it short.
mkdir "$T/bigtree"
for i in $(seq 1 100); do echo "$i" >"$T/bigtree/s$i"; done
head -c 150000000 /dev/zero | tr '\0' 'z' >"$T/bigtree/big.bin"
python3 - "$RDST/bigtree/big.bin" 150000000 90 >"$T/watch.out" <<'PY' &
import os, sys, time
path, want, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
seen = short = 0
end = time.time() + limit
while time.time() < end:
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        time.sleep(0.0005)
        continue
    seen += 1
    if size < want:
        short += 1
    elif seen > 50:
        break
print(seen, short)
PY
WATCHER=$!
lb_track_pid "$WATCHER"
mv "$T/bigtree" "$RSRC/bigtree"
wait "$WATCHER" || fail "the watcher failed"
read -r seen short <"$T/watch.out"
echo "big.bin on the target: $seen looks, $short short"
[ "$seen" -gt 0 ] || fail "big.bin never arrived on the target"
[ "$short" -eq 0 ] || fail "big.bin had its final name on the target before it was whole ($short looks)"
# Once the writer stops, the last generation arrives whole.
assert_trees_equal "$LSRC" "$LDST" 15
assert_trees_equal "$RSRC" "$RDST" 15
stop_sync || fail "sync did not stop cleanly"
pass
