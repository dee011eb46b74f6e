#!/usr/bin/env bash
# No torn copies in new trees either: with the tar stream off (bwlimit), a
# new directory arrives holding a file rewritten in place without pause
# while the tree is shipped; a reader polling the file's final name on the
# target never sees a mix of generations, locally and over ssh, and the
# last generation arrives whole. A directory re-created on the source
# loses on the target what the new one does not have.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
LSRC=$T/lsrc LDST=$T/ldst RSRC=$T/rsrc RDST=$T/remote/rdst
mkdir -p "$LSRC" "$RSRC"
sync_conf "$T/lb.conf" loc "$LSRC" "$LDST" delay=0 bwlimit=1000000
sync_conf_add "$T/lb.conf" rem "$RSRC" "$SSH_TARGET:$RDST" delay=0 bwlimit=1000000 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" \
	ssh_options="$SSH_OPTS"
# delay 2: a directory removed and made again is one batch, a new tree
# that exists on the target.
LRE=$T/lre RRE=$T/rre LREDST=$T/lredst RREDST=$T/remote/rredst
mkdir -p "$LRE" "$RRE"
sync_conf_add "$T/lb.conf" lre "$LRE" "$LREDST" delay=2 bwlimit=1000000
sync_conf_add "$T/lb.conf" rre "$RRE" "$SSH_TARGET:$RREDST" delay=2 bwlimit=1000000 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
for n in loc rem lre rre; do
	wait_idle $n 30 || fail "$n: startup did not reach idle"
done
probe() {
	local out name=$3
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_tree_probe.py" "$T/$3.out" "$1/new" "$2/new" 5) ||
		fail "the probe failed: $out"
	echo "$name: $out"
	set -- $out
	[ "$4" -eq 0 ] || fail "$name: $4 torn reads of the new tree's file on the target"
}
probe "$LSRC" "$LDST" local
probe "$RSRC" "$RDST" ssh
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
# Re-created: the target's old directory keeps nothing the new one lacks.
for d in "$LRE" "$RRE"; do
	mkdir -p "$d/again/sub" && echo old >"$d/again/sub/old" && echo a >"$d/again/a"
done
assert_trees_equal "$LRE" "$LREDST" 20
assert_trees_equal "$RRE" "$RREDST" 20
for d in "$LRE" "$RRE"; do
	rm -rf "$d/again" && mkdir -p "$d/again/sub" && echo new >"$d/again/a"
done
assert_trees_equal "$LRE" "$LREDST" 20
assert_trees_equal "$RRE" "$RREDST" 20
stop_sync || fail "sync did not stop cleanly"
pass
