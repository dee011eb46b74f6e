#!/usr/bin/env bash
# No torn copies in a new tree too big to be listed file by file (over
# 10,000 entries) with the tar stream off (bwlimit): rsync -r reads it in
# place, into a staging directory, and a file that changed while it was
# read is not merged but shipped once it holds still. The tree holds
# 10,050 small files and a 1 MiB file rewritten again and again (2 ms apart) while the
# tree is shipped; a reader polling that file's final name on the target
# never sees two versions in it, locally and over ssh, and the whole tree
# arrives.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
sync_pair_up delay=0 bwlimit=1000000
staging_of() { find "$1/.lifeboat-history" -maxdepth 2 \( -name '.incoming-*-verified' \
	-o -name '.incoming-*-merge' -o -name '.received-*' \) 2>/dev/null; }
probe() { # SRC DST NAME
	local out
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_tree_probe.py" "$T/$3.out" "$1/new" "$2/new" 8 10050) ||
		fail "$3: the probe failed: $out"
	echo "$3: $out"
	set -- "$1" "$2" "$3" $out
	[ "$5" -ge 20 ] || fail "$3: only $5 reads of the new tree's file on the target"
	[ "$7" -eq 0 ] || fail "$3: $7 torn reads of the new tree's file on the target"
	assert_trees_equal "$1" "$2" 60
	wait_idle "$3" 30 || fail "$3: not idle"
	[ -z "$(staging_of "$2")" ] || fail "$3: staging left in the history: $(staging_of "$2")"
}
probe "$LSRC" "$LDST" loc
probe "$RSRC" "$RDST" rem
grep -Eq "new/f.bin (changed while it was read|is open for writing)" "$SYNC_LOG" ||
	fail "the tree's rewritten file was never caught changing while it was read"
stop_sync || fail "sync did not stop cleanly"
pass
