#!/usr/bin/env bash
# Every full pass after the startup's (SIGUSR1, a kernel event queue
# overflow, a failure, a source back) compares the two trees' manifests as
# the startup pass does and ships only the differences through the usual
# stages, local and over ssh through the restricted key: its log line says
# why it ran and what it found; the target then equals the source, hostile
# names included, with deletions only as `delete` says (startup: none in a
# later pass) and what was replaced kept in the history. A file rewritten
# in place all through forced full passes never reaches the target torn
# (rsync's whole-tree pass read it in place).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

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

seed() { # SRC: 400 files in 4 directories, hostile names, an empty bulk/
	for d in a b c d; do mkfiles "$1/$d" 100 f; done
	make_weird_names "$1/weird"
	mkdir -p "$1/bulk"
}

# damage DST: what a full pass must repair, done behind the watch's back.
# Differences: a changed file, two missing files (one hostile), a missing
# tree, a file, a hostile name and a tree only the target has.
damage() {
	local d=$1
	echo damaged >"$d/a/f00001"
	rm -f "$d/a/f00002" "$d/weird/-rf"
	rm -rf "$d/weird/dir with space"
	echo extra >"$d/b/extra"
	printf x >"$d/weird/$(printf 'extra\nnl;rm -rf')"
	mkdir -p "$d/extra-dir/x" && echo e >"$d/extra-dir/x/e"
}

# last_pass NAME WHY: the log line of NAME's last full pass for WHY.
last_pass() {
	grep "\[sync $1\] full pass ($2) by comparison" "$SYNC_LOG" | tail -1
}

# shipped LINE TREES FILES MAXPATHS: the comparison found exactly TREES new
# trees and FILES new files, at most MAXPATHS other paths, over the whole
# tree (>= 400 source entries).
shipped() {
	local line=$1 trees=$2 files=$3 max=$4
	[[ $line =~ :\ ([0-9]+)\ source\ and\ ([0-9]+)\ target\ entries.*\;\ ([0-9]+)\ new\ trees,\ ([0-9]+)\ new\ files,\ ([0-9]+)\ other ]] ||
		fail "no comparison line: '$line'"
	[ "${BASH_REMATCH[1]}" -ge 400 ] || fail "the comparison did not walk the whole source: $line"
	[ "${BASH_REMATCH[3]}" = "$trees" ] && [ "${BASH_REMATCH[4]}" = "$files" ] &&
		[ "${BASH_REMATCH[5]}" -ge 1 ] && [ "${BASH_REMATCH[5]}" -le "$max" ] ||
		fail "expected $trees new trees, $files new files, 1-$max other paths: $line"
}

# extras_kept SRC DST: DST is SRC plus the extras damage() made (delete = startup).
extras_kept() {
	local out
	out=$(rsync -aniHc --filter='- /.lifeboat-history/' --out-format='%i %n%L' "$1/" "$2/" 2>&1)
	[ -z "$out" ] || { TREES_DIFF=$out; return 1; }
	[ -f "$2/b/extra" ] && [ -f "$2/extra-dir/x/e" ] && [ -f "$2/weird/$(printf 'extra\nnl;rm -rf')" ]
}

sync_pair_paths
KSRC=$T/ksrc KDST=$T/kdst
seed "$LSRC"; seed "$KSRC"; seed "$RSRC"
sync_pair_conf delay=0
sync_conf_add "$T/lb.conf" keep "$KSRC" "$KDST" delay=0 delete=startup
start_sync "$T/lb.conf"
for n in loc keep rem; do wait_idle $n 30 || fail "$n: startup did not reach idle"; done
# A remote target not there yet: serve creates it, the comparison finds all new.
grep -q "\[sync rem\] startup comparison: [0-9]* source and 1 target entries" "$SYNC_LOG" ||
	fail "rem: the first pass to a new remote tree did not compare: $(grep 'sync rem' "$SYNC_LOG")"

# 1. SIGUSR1: the target was damaged behind the watch's back.
damage "$LDST"; damage "$KDST"; damage "$RDST"
kill -USR1 "$SYNC_PID"
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
wait_until 20 extras_kept "$KSRC" "$KDST" || fail "delete = startup: $TREES_DIFF"
for n in loc rem; do
	wait_until 10 grep -q "\[sync $n\] full pass (SIGUSR1) by comparison" "$SYNC_LOG" ||
		fail "$n: no comparison line for SIGUSR1"
	shipped "$(last_pass $n SIGUSR1)" 1 2 8
done
wait_until 10 grep -q "\[sync keep\] full pass (SIGUSR1) by comparison" "$SYNC_LOG" ||
	fail "keep: no comparison line for SIGUSR1"
shipped "$(last_pass keep SIGUSR1)" 1 2 5
grep "full pass (SIGUSR1)" "$SYNC_LOG" | grep -v "by comparison: [0-9]" &&
	fail "a SIGUSR1 pass was rsync's"
[ -e "$T/pwned" ] || [ -e "$T/pwned2" ] && fail "a hostile name ran a command"
for d in "$LDST" "$RDST"; do
	find "$d/.lifeboat-history" -path '*/a/f00001' -type f -exec grep -l damaged {} + | grep -q . ||
		fail "$d: the overwritten file is not in the history"
	find "$d/.lifeboat-history" -path '*/extra-dir/x/e' -type f | grep -q . ||
		fail "$d: the deleted tree is not in the history"
done

# 2. Overflow: the daemon stopped while 12,000 files (and a hostile name)
# are created, one changed, one deleted; the target damaged too.
for n in loc rem; do wait_idle $n 20 || fail "$n: not idle before the overflow"; done
kill -STOP "$SYNC_PID"
for s in "$LSRC" "$RSRC"; do
	mkfiles "$s/bulk" 12000 n
	echo changed >"$s/c/f00003"
	rm -f "$s/d/f00004"
	# shellcheck disable=SC2016 # a name that tries to run a command
	echo evil >"$s/weird/$(printf 'new\n$(touch pwned)')"
done
damage "$LDST"; damage "$RDST"
kill -CONT "$SYNC_PID"
wait_until 20 grep -q "overflowed" "$SYNC_LOG" || fail "overflow not logged"
assert_trees_equal "$LSRC" "$LDST" 40
assert_trees_equal "$RSRC" "$RDST" 40
for n in loc rem; do
	w="the kernel event queue overflowed"
	wait_until 10 grep -q "\[sync $n\] full pass ($w) by comparison" "$SYNC_LOG" ||
		fail "$n: no comparison line for the overflow: $(grep "sync $n" "$SYNC_LOG" | tail -3)"
	# 12,000 + 3 new files (2 damaged away, 1 hostile), the missing tree.
	shipped "$(last_pass $n "$w")" 1 12003 12
done
[ -e "$T/pwned" ] || [ -e "$T/pwned2" ] && fail "a hostile name ran a command"

# 3. A file rewritten in place every 40 ms while full passes are forced
# again and again: no read of the target copy is ever torn.
for n in loc rem; do wait_idle $n 30 || fail "$n: not idle before the probe"; done
probe_full_passes "$LSRC" "$LDST" loc 10
probe_full_passes "$RSRC" "$RDST" rem 10
assert_trees_equal "$LSRC" "$LDST" 20
assert_trees_equal "$RSRC" "$RDST" 20
stop_sync || fail "sync did not stop cleanly"
pass
