#!/usr/bin/env bash
# A full pass the manifest comparison cannot do (here: an exclude rule
# anchored to a path, which lifeboat leaves to rsync, as lsyncd imports
# have) is rsync's dry run whose differences go through the usual stages,
# or, where hard links differ, a checked rsync over the whole tree into the
# target's staging and a run that deletes what the source lacks; local and
# over ssh through the restricted key: the damaged target is repaired, hard links stay hard
# links (a new name whose twin the target has, a new tree linking outside
# itself: neither a pass over the whole tree), what was replaced
# or deleted is in the history, and a file rewritten in place all through
# forced full passes never reaches the target torn (rsync's pass in place
# shipped it torn).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

seed() { # SRC: 200 files in 2 directories, a hard-linked pair, hostile names
	local d i
	for d in a b; do
		mkdir -p "$1/$d"
		for i in $(seq -w 0 99); do printf '%s %s\n' "$d" "$i" >"$1/$d/f$i"; done
	done
	ln "$1/a/f00" "$1/b/twin"
	make_weird_names "$1/weird"
}

damage() { # DST: a changed file, missing files, an extra tree
	echo damaged >"$1/a/f01"
	rm -f "$1/a/f02" "$1/weird/-rf"
	mkdir -p "$1/extra/x" && echo e >"$1/extra/x/e"
}

sync_pair_paths
seed "$LSRC"; seed "$RSRC"
sync_pair_conf delay=0 exclude=/cache/tmp/
start_sync "$T/lb.conf"
for n in loc rem; do wait_idle $n 30 || fail "$n: startup did not reach idle"; done
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20

# 1. SIGUSR1 after damage behind the watch's back: rsync's dry run says
# what differs, and that goes through the usual stages.
damage "$LDST"; damage "$RDST"
kill -USR1 "$SYNC_PID"
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
for n in loc rem; do
	wait_until 10 grep -q "\[sync $n\] full pass (SIGUSR1) by rsync's dry run (exclude rules lifeboat does not evaluate) in [0-9]* ms: 0 new trees, 2 new files, [0-9]* other paths to ship" "$SYNC_LOG" ||
		fail "$n: no dry-run full pass line: $(grep "sync $n" "$SYNC_LOG" | tail -3)"
done
for d in "$LDST" "$RDST"; do
	find "$d/.lifeboat-history" -path '*/a/f01' -type f -exec grep -l damaged {} + | grep -q . ||
		fail "$d: the overwritten file is not in the history"
	find "$d/.lifeboat-history" -path '*/extra/x/e' -type f | grep -q . ||
		fail "$d: the deleted tree is not in the history"
done
[ -e "$T/pwned" ] || [ -e "$T/pwned2" ] && fail "a hostile name ran a command"

# 2. Hard links: a link broken on the target and a new name linked to a
# file the target has, then SIGUSR1: the dry run sees hard links, and the
# pass is a checked rsync over the whole tree (--link-dest).
kill -STOP "$SYNC_PID"
for s in "$LSRC" "$RSRC"; do ln "$s/a/f03" "$s/b/newtwin"; done
for d in "$LDST" "$RDST"; do rm -f "$d/b/twin" && cp "$d/a/f00" "$d/b/twin"; done
kill -CONT "$SYNC_PID"
kill -USR1 "$SYNC_PID"
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
for n in loc rem; do
	wait_until 10 grep -q "\[sync $n\] full pass (SIGUSR1) by rsync's dry run (exclude rules lifeboat does not evaluate): hard links differ: a checked rsync over the whole tree" "$SYNC_LOG" ||
		fail "$n: no checked full pass line: $(grep "sync $n" "$SYNC_LOG" | tail -3)"
done
for d in "$LDST" "$RDST"; do
	[ "$(stat -c %i "$d/a/f03")" = "$(stat -c %i "$d/b/newtwin")" ] &&
		[ "$(stat -c %i "$d/a/f00")" = "$(stat -c %i "$d/b/twin")" ] ||
		fail "$d: hard links not restored"
	[ -z "$(find "$d/.lifeboat-history" -maxdepth 2 \( -name '.incoming-*-verified' -o -name '.received-*' \))" ] ||
		fail "$d: staging left behind: $(ls -a "$d/.lifeboat-history" "$d/.lifeboat-history/.staging")"
done

# New names of files the target has (one sorting before its twin, one
# after): rsync -H with --compare-dest left such a name out. A path batch
# ships a hard-linked file with all its names in one checked run.
for n in loc rem; do wait_idle $n 20 || fail "$n: not idle"; done
passes_before="$(status_field loc full_passes) $(status_field rem full_passes)"
for s in "$LSRC" "$RSRC"; do ln "$s/a/f05" "$s/a/0link"; ln "$s/a/f06" "$s/b/zlink"; done
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
for d in "$LDST" "$RDST"; do
	[ "$(stat -c %i "$d/a/f05")" = "$(stat -c %i "$d/a/0link")" ] &&
		[ "$(stat -c %i "$d/a/f06")" = "$(stat -c %i "$d/b/zlink")" ] ||
		fail "$d: a new name is not a hard link of its twin"
done

# A new tree holding hard links, one of them to a file outside it: rsync
# keeps links only within one transfer, so the twin outside goes with the
# tree's checked run.
for s in "$LSRC" "$RSRC"; do
	mkdir -p "$s/h/sub"
	echo pair >"$s/h/one" && ln "$s/h/one" "$s/h/sub/two"
	ln "$s/a/f04" "$s/h/outside"
done
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
for d in "$LDST" "$RDST"; do
	[ "$(stat -c %i "$d/h/one")" = "$(stat -c %i "$d/h/sub/two")" ] &&
		[ "$(stat -c %i "$d/a/f04")" = "$(stat -c %i "$d/h/outside")" ] ||
		fail "$d: the new tree's hard links were not kept"
done
# Neither took a pass over the whole tree.
for n in loc rem; do wait_idle $n 20 || fail "$n: not idle"; done
[ "$(status_field loc full_passes) $(status_field rem full_passes)" = "$passes_before" ] ||
	fail "hard links made full passes: $passes_before -> $(status_field loc full_passes) $(status_field rem full_passes)"

# 3. A file rewritten in place every 40 ms while full passes are forced
# again and again: no read of the target copy is ever torn.
for n in loc rem; do wait_idle $n 30 || fail "$n: not idle before the probe"; done
probe_full_passes "$LSRC" "$LDST" loc 5
probe_full_passes "$RSRC" "$RDST" rem 5
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
stop_sync || fail "sync did not stop cleanly"
pass
