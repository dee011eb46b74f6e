#!/usr/bin/env bash
# History on the target, and restore from it, for a local target and over
# ssh through the restricted key: an `rm -rf` of a tree, an overwrite and a
# "ransomware" pass rewriting every file twice each come back with
# `restore --at`, into the source (from where they replicate again) or
# into --to DIR; `versions` lists what the history keeps.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh tar
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

sync_pair_paths
for d in "$LSRC" "$RSRC"; do
	mkdir -p "$d/uploads/2026" "$d/css"
	for i in $(seq 1 30); do echo "upload $i" >"$d/uploads/2026/u$i.jpg"; done
	echo "body {}" >"$d/css/site.css"
	echo "<h1>home</h1>" >"$d/index.html"
	printf 'name with\nnewline' >"$d/$(printf 'odd\nname')"
done
# Both targets were written by an older lifeboat that crashed: its
# staging directories sit directly in the history (a dead receiver's
# partial files, a received staging never merged). The first transfer
# with the staging area (.lifeboat-history/.staging) removes them, once.
dead=$(sh -c 'echo $$')
for d in "$LDST" "$RDST"; do
	mkdir -p "$d/.lifeboat-history/.incoming-$dead-verified/uploads" \
		"$d/.lifeboat-history/.received-0123456789abcdef/css" "$d/.lifeboat-history/.incoming-$dead"
	echo partial >"$d/.lifeboat-history/.incoming-$dead-verified/uploads/u1.jpg"
	echo unchecked >"$d/.lifeboat-history/.received-0123456789abcdef/css/site.css"
	echo partial >"$d/.lifeboat-history/.incoming-$dead/.index.html.x1Yz"
done
old_layout() { find "$1/.lifeboat-history" -maxdepth 1 -name '.incoming-*' -o -maxdepth 1 -name '.received-*'; }
sync_pair_up delay=0
assert_trees_equal "$LSRC" "$LDST" 10
assert_trees_equal "$RSRC" "$RDST" 10
for d in "$LDST" "$RDST"; do
	[ -z "$(old_layout "$d")" ] || fail "an older lifeboat's staging stayed: $(old_layout "$d")"
	[ -d "$d/.lifeboat-history/.staging" ] && [ ! -L "$d/.lifeboat-history/.staging" ] ||
		fail "no staging area in $d/.lifeboat-history"
done

lb() { "$LIFEBOAT" -c "$T/lb.conf" "$@"; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# A moment strictly before the next change (history times are seconds;
# the target stamps renames and ctimes with the kernel's coarse clock, a
# few ms behind `date`: the change comes 50 ms into the next second).
mark() {
	local t
	t=$(date +%s)
	wait_until 3 eval '[ "$(date +%s%3N)" -ge '"$(((t + 1) * 1000 + 50))"' ]' ||
		fail "the clock does not move"
	echo "$t"
}

scenario() {
	local name=$1 src=$2 dst=$3 t1 t2 t3
	cp -a "$src" "$T/$name-orig"

	# rm -rf of a tree: gone on the target, kept in its history.
	t1=$(mark)
	rm -rf "$src/uploads"
	wait_until 15 eval '[ ! -e "$dst/uploads" ]' || fail "$name: the delete did not replicate"
	lb restore --at "$(iso "$t1")" "$src/uploads" || fail "$name: restore of the deleted tree failed"
	trees_equal -O "$T/$name-orig/uploads" "$src/uploads" ||
		fail "$name: the deleted tree did not come back as it was: $TREES_DIFF"
	assert_trees_equal "$src" "$dst" 20

	# An overwrite of one file.
	t2=$(mark)
	echo "defaced" >"$src/index.html"
	wait_until 15 grep -q defaced "$dst/index.html" || fail "$name: the overwrite did not replicate"
	lb versions "$src/index.html" >"$T/$name-versions.txt" || fail "$name: versions failed"
	[ "$(grep -c index.html "$T/$name-versions.txt")" -ge 2 ] ||
		fail "$name: versions lists fewer than 2 versions: $(cat "$T/$name-versions.txt")"
	lb versions --json "$src/index.html" | python3 -c '
import json, sys
v = json.load(sys.stdin)
assert v[0]["live"] and not v[1]["live"] and v[1]["replaced"] >= '"$t2"', v' ||
		fail "$name: versions --json is not newest first with times"
	lb restore --at "-0m" --to "$T/$name-out" "$src/index.html" ||
		fail "$name: restore --to failed"
	grep -q defaced "$T/$name-out/index.html" || fail "$name: restore at now is not the live copy"
	lb restore --at "$(iso "$t2")" "$src/index.html" || fail "$name: restore of the file failed"
	grep -q "<h1>home</h1>" "$src/index.html" || fail "$name: the overwritten file did not come back"

	# Ransomware: every file rewritten, twice; the whole root comes back.
	assert_trees_equal "$src" "$dst" 20
	rm -rf "$T/$name-orig" && cp -a "$src" "$T/$name-orig"
	t3=$(mark)
	local pass f
	for pass in 1 2; do
		find "$src" -type f -print0 | while IFS= read -r -d '' f; do
			printf 'ENCRYPTED %s %s' "$pass" "$RANDOM" >"$f"
		done
		assert_trees_equal "$src" "$dst" 30
	done
	lb restore --at "$(iso "$t3")" --to "$T/$name-restored" "$src" ||
		fail "$name: restore of the whole root into --to failed"
	trees_equal -O "$T/$name-orig" "$T/$name-restored/$(basename "$src")" ||
		fail "$name: the root restored into --to differs: $TREES_DIFF"
	lb restore --at "$(iso "$t3")" "$src" || fail "$name: restore of the whole root failed"
	trees_equal -O "$T/$name-orig" "$src" || fail "$name: the root did not come back: $TREES_DIFF"
	assert_trees_equal "$src" "$dst" 30

	# A bad deploy (or ransomware) renames files and drops new ones: the
	# root restored as of before it is exactly as it was then, renamed
	# files under their old names, the new files and directories removed;
	# those are not lost: the sync replicates the removal and the target
	# keeps them in its history.
	rm -rf "$T/$name-orig" && cp -a "$src" "$T/$name-orig"
	local t4
	t4=$(mark)
	mv "$src/css/site.css" "$src/css/site.css.locked"
	mv "$src/uploads/2026" "$src/uploads/2026-enc"
	for f in "$src" "$src/css" "$src/uploads/2026-enc"; do echo "pay us" >"$f/README-DECRYPT.txt"; done
	mkdir -p "$src/pwned/deep" && echo x >"$src/pwned/deep/x"
	assert_trees_equal "$src" "$dst" 30
	grep -qa "site.css.locked" "$dst/.lifeboat-history/.renames" ||
		fail "$name: the target did not log the rename it carried out"
	lb restore --at "$(iso "$t4")" --to "$T/$name-before" "$src/uploads" ||
		fail "$name: restore of a renamed tree into --to failed"
	trees_equal -O "$T/$name-orig/uploads" "$T/$name-before/uploads" ||
		fail "$name: the renamed tree did not come back under its old names: $TREES_DIFF"
	lb restore --at "$(iso "$t4")" "$src" 2>"$T/$name-restore.err" ||
		fail "$name: restore after the bad deploy failed: $(cat "$T/$name-restore.err")"
	trees_equal -O "$T/$name-orig" "$src" ||
		fail "$name: the root is not as it was before the bad deploy: $TREES_DIFF"
	grep -q "removed" "$T/$name-restore.err" || fail "$name: restore does not say what it removed"
	assert_trees_equal "$src" "$dst" 30
	for f in README-DECRYPT.txt css/README-DECRYPT.txt pwned/deep/x css/site.css.locked; do
		find "$dst/.lifeboat-history" -path "*/$f" -type f | grep -q . ||
			fail "$name: $f, removed by the restore, is not in the target's history"
	done
}

scenario loc "$LSRC" "$LDST"
scenario rem "$RSRC" "$RDST"

# Bad input: one line, exit 2.
out=$(lb restore --at yesterday-ish "$LSRC/index.html" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "bad --at: exit $rc: $out"
out=$(lb versions /etc/passwd 2>&1); rc=$?
[ $rc -eq 2 ] || fail "a path outside every source: exit $rc: $out"
stop_sync || fail "sync did not stop cleanly"
pass
