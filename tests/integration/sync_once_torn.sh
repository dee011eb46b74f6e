#!/usr/bin/env bash
# `lifeboat sync --once` (cron's one pass) ships whole versions only, as
# the daemon does, local and over ssh through the restricted key: run again
# and again while a file is rewritten in place, no read of the target copy
# is ever torn (rsync's pass in place shipped it torn); a run that could
# not ship a file changing all the while says so and exits 1, and once the
# file is quiet a run exits 0 with the trees equal.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

sync_pair_paths
for s in "$LSRC" "$RSRC"; do
	mkdir -p "$s/a" && for i in 1 2 3; do echo "$i" >"$s/a/f$i"; done
done
sync_pair_conf delay=0

probe() { # SRC DST NAME
	local out runs
	( while :; do "$LIFEBOAT" -c "$T/lb.conf" sync --once "$3" >>"$T/once-$3.log" 2>&1; done ) &
	runs=$!
	lb_track_pid "$runs"
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_probe.py" "$1/probe.bin" "$2/probe.bin" 6) ||
		fail "the probe failed: $out"
	lb_kill_tree "$runs" 10
	echo "$3: $out, $(grep -Ec "target matches|target still differs" "$T/once-$3.log") runs"
	set -- $out "$3"
	[ "$2" -ge 30 ] || fail "$5: only $2 reads of the target copy"
	[ "$4" -eq 0 ] || fail "$5: $4 torn reads of the target copy after --once passes"
}
probe "$LSRC" "$LDST" loc
probe "$RSRC" "$RDST" rem

# Quiet now: one run exits 0 and the trees are equal.
for n in loc rem; do
	"$LIFEBOAT" -c "$T/lb.conf" sync --once "$n" 2>"$T/last-$n.err" ||
		fail "$n: --once on a quiet tree exit $?: $(tail -3 "$T/last-$n.err")"
done
trees_equal "$LSRC" "$LDST" || fail "loc: $TREES_DIFF"
trees_equal "$RSRC" "$RDST" || fail "rem: $TREES_DIFF"
pass
