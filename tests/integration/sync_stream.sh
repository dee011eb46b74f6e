#!/usr/bin/env bash
# New trees and bursts of new files go as one tar stream (tar -c | tar -x,
# over ssh behind a guard): everything arrives exactly as rsync would copy
# it (hostile names, symlinks, hard links, modes, nanosecond times), the
# stream honours simple excludes, a tree that already exists at the target
# falls back to rsync (which deletes what the source lacks), and small
# changes still go through rsync.  The daemon runs with -v so its log says
# which way each batch went.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh tar perl
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

# A name below is "$(touch /tmp/PWNED)": a leftover from an earlier run
# would look like a shell having run it now.
rm -f /tmp/PWNED

# start_sync runs "$LIFEBOAT -c CONF sync"; -v is a global option, before
# the command: a wrapper that execs (so SYNC_PID is still the daemon).
LIFEBOAT_REAL=$LIFEBOAT
printf '#!/bin/sh\nexec "%s" -v "$@"\n' "$LIFEBOAT_REAL" >"$T/lifeboat-v"
chmod +x "$T/lifeboat-v"
LIFEBOAT=$T/lifeboat-v

# With delay = 0 a batch starts at the first change, so how a burst made
# in place splits into batches (and which of them are big enough to
# stream) depends on timing.  Steps that must see the stream used take
# the timing out: a tree built aside and moved in appears whole, and the
# syncs exc and new wait 1 s (delay = 1) so a burst is one batch.
SRC=$T/src DST=$T/dst           # sync loc: local target, delay 0
XSRC=$T/xsrc XDST=$T/xdst       # sync exc: local target with excludes
NSRC=$T/nsrc NDST=$T/ndst       # sync new: local target, new files in old dirs
OSRC=$T/osrc ODST=$T/odst       # sync off: an include rule: no stream
ZSRC=$T/zsrc ZDST=$T/zdst       # sync offz: compress: no stream
RSRC=$T/rsrc RDST=$T/remote/dst # sync rem: over ssh, delay 0
mkdir -p "$SRC/old" "$NSRC/old" "$NSRC/old-2" "$XSRC" "$RSRC" "$OSRC" "$ZSRC"
for i in 1 2 3 4 5; do
	echo "old $i" >"$SRC/old/o$i"
	echo "old $i" >"$NSRC/old/o$i"
	echo "old $i" >"$NSRC/old-2/o$i"
done
echo seed >"$XSRC/seed"
echo seed >"$RSRC/seed"
# delete is left at its default (yes: live syncs delete too).
sync_conf "$T/lb.conf" loc "$SRC" "$DST" delay=0
sync_conf_add "$T/lb.conf" exc "$XSRC" "$XDST" delay=1 'exclude=*.tmp' 'exclude=cache/'
sync_conf_add "$T/lb.conf" new "$NSRC" "$NDST" delay=1
sync_conf_add "$T/lb.conf" off "$OSRC" "$ODST" delay=0 'exclude=+ keep.tmp' 'exclude=*.tmp'
sync_conf_add "$T/lb.conf" offz "$ZSRC" "$ZDST" delay=0 compress=yes
sync_conf_add "$T/lb.conf" rem "$RSRC" "$SSH_TARGET:$RDST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
for s in loc exc new off offz rem; do wait_idle $s 20 || fail "sync $s: startup pass did not reach idle"; done
assert_trees_equal "$SRC" "$DST" 5
assert_trees_equal "$RSRC" "$RDST" 5

# ---------------------------------------------------------------- helpers

# Lines "[sync NAME] tar stream: N files, N bytes" (shipped) and
# "[sync NAME] tar stream declined: ... exists ...; rsync instead".
streamed() { grep -caF "[sync $1] tar stream: " "$SYNC_LOG" || true; }
declined_exists() { grep -a "\[sync $1\] tar stream declined: " "$SYNC_LOG" | grep -c exists || true; }
gt() { [ "$("$1" "$2")" -gt "$3" ]; }

no_pwned() {
	local f hits
	for f in /tmp/PWNED /tmp/pwned /tmp/pwned2 "${HOME:-/root}/PWNED" "${HOME:-/root}/pwned" /PWNED /pwned; do
		[ ! -e "$f" ] || fail "$1: $f exists: a file name was run by a shell"
	done
	hits=$(find "$T" \( -name PWNED -o -name pwned -o -name pwned2 \) -print 2>/dev/null)
	[ -z "$hits" ] || fail "$1: a file name was run by a shell: $hits"
}

# Same names, types, content, modes, owners, links and times to the
# nanosecond (rsync's default compares whole seconds).
_ns_equal() {
	NS_DIFF=$(rsync -aniH --delete --modify-window=-1 --filter='- /.lifeboat-history/' --out-format='%i %n%L' "$1/" "$2/" 2>&1) &&
		[ -z "$NS_DIFF" ]
}
assert_ns_equal() {
	wait_until 5 _ns_equal "$1" "$2" ||
		fail "$1 and $2 differ at nanosecond precision: $(printf '%s\n' "$NS_DIFF" | head -n 20)"
}

# make_big_tree DIR: a new tree created in place, all at once: 300 plain
# files in nested directories, hostile names, symlinks, two hard-linked
# files, a 0600 file, a 0700 directory, old times with nanoseconds.
make_big_tree() {
	local d=$1 i j
	mkdir "$d"
	for i in $(seq 1 10); do
		mkdir -p "$d/d$i/sub"
		for j in $(seq 1 15); do
			echo "file $i $j" >"$d/d$i/f$j"
			echo "sub $i $j" >"$d/d$i/sub/g$j"
		done
	done
	make_weird_names "$d/weird"
	# shellcheck disable=SC2016
	{
		mkdir -p "$d/"'$(touch /tmp/PWNED)'
		echo a >"$d/"'$(touch /tmp/PWNED)/x'
		echo b >"$d/"'$(touch PWNED)'
		echo c >"$d/"'`touch PWNED`'
		echo d >"$d/"';touch PWNED;'
		echo e >"$d/d1/-- --help"
		echo f >"$d/d1/"'"double" and '"'single'"
		echo g >"$d/d1/$(printf 'tab\there')"
		echo h >"$d/d1/$(printf 'two\n\nnewlines')"
		printf 'raw' >"$d/d2/$(printf '\x80\xfe\x01bytes')"
	}
	ln -s ../d1/f1 "$d/d2/link"
	ln -s "weird/with space" "$d/link to weird"
	ln -s /nonexistent/dangling "$d/dangling"
	echo "linked" >"$d/d3/hard1"
	ln "$d/d3/hard1" "$d/d4/hard2"
	echo secret >"$d/secret"
	chmod 600 "$d/secret"
	mkdir "$d/private"
	echo p >"$d/private/p"
	chmod 700 "$d/private"
	echo old >"$d/d5/old"
	touch -d '2020-01-02 03:04:05.123456789' "$d/d5/old"
	touch -h -d '2019-05-06 07:08:09.987654321' "$d/d2/link"
	mkdir "$d/olddir"
	echo in >"$d/olddir/in"
	touch -d '2018-01-01 00:00:00.5' "$d/olddir"
}

# big_tree_checks NAME SRC DST TREE: the tricky entries of make_big_tree,
# looked at one by one on the target (on top of the tree comparisons).
big_tree_checks() {
	local name=$1 src=$2/$4 t=$3/$4
	[ "$(stat -c %h "$t/d3/hard1")" = 2 ] && [ "$(stat -c %h "$t/d4/hard2")" = 2 ] ||
		fail "$name: $4: link counts $(stat -c %h "$t/d3/hard1") $(stat -c %h "$t/d4/hard2") on the target, want 2"
	[ "$(stat -c %i "$t/d3/hard1")" = "$(stat -c %i "$t/d4/hard2")" ] ||
		fail "$name: $4: the hard-linked files are two inodes on the target"
	[ "$(stat -c %a "$t/secret")" = 600 ] || fail "$name: $4: secret has mode $(stat -c %a "$t/secret")"
	[ "$(stat -c %a "$t/private")" = 700 ] || fail "$name: $4: private has mode $(stat -c %a "$t/private")"
	[ "$(stat -c %y "$t/d5/old")" = "$(stat -c %y "$src/d5/old")" ] &&
		[[ $(stat -c %y "$t/d5/old") == *.123456789* ]] ||
		fail "$name: $4: old's mtime is $(stat -c %y "$t/d5/old") on the target"
	[ "$(readlink "$t/d2/link")" = ../d1/f1 ] || fail "$name: $4: symlink points to $(readlink "$t/d2/link")"
	[ -e "$t/weird/$(printf 'new\nline')" ] && [ -e "$t/weird/$(printf 'latin1-\xe9\xff')" ] &&
		[ -e "$t/"'$(touch /tmp/PWNED)/x' ] || fail "$name: $4: hostile names missing on the target"
}

# step_big NAME SRC DST: (a) a big tree created in place, quickly: it
# arrives exactly.  With delay = 0 the first batch starts at the mkdir, so
# the rest comes in bursts of new files and subtrees, which the stream
# carries or not depending on timing.  (b) the same tree built aside and
# moved in: it appears whole, so one stream carries all of it.
step_big() {
	local name=$1 src=$2 dst=$3 before n
	before=$(streamed "$name")
	make_big_tree "$src/tree1"
	[ "$(find "$src/tree1" -type f | wc -l)" -ge 300 ] || fail "$name: tree1 has under 300 files"
	assert_trees_equal "$src" "$dst" 30
	assert_ns_equal "$src/tree1" "$dst/tree1"
	big_tree_checks "$name" "$src" "$dst" tree1
	# How much of it the stream carried depends on timing (a batch with a
	# tree the target already has goes to rsync whole): shown, not judged.
	wait_until 1 gt streamed "$name" "$before" || true
	echo "$name: tree created in place: $(($(streamed "$name") - before)) tar stream(s)," \
		"$(grep -aF "[sync $name] tar stream declined: " "$SYNC_LOG" | grep -c exists) 'exists' decline(s) so far"
	no_pwned "$name: big tree in place"
	wait_idle "$name" 10 || fail "$name: not idle after the big tree"

	before=$(streamed "$name")
	rm -rf "$T/staging" && mkdir "$T/staging"
	make_big_tree "$T/staging/tree1b"
	mv "$T/staging/tree1b" "$src/tree1b"
	assert_trees_equal "$src" "$dst" 30
	assert_ns_equal "$src/tree1b" "$dst/tree1b"
	big_tree_checks "$name" "$src" "$dst" tree1b
	wait_until 5 gt streamed "$name" "$before" || fail "$name: the moved-in tree did not go as a stream"
	n=$(grep -aF "[sync $name] tar stream: " "$SYNC_LOG" | tail -n +$((before + 1)) |
		sed -n 's/.*tar stream: \([0-9]*\) files.*/\1/p' | sort -n | tail -n 1)
	echo "$name: moved-in tree: largest stream $n files"
	[ "${n:-0}" -ge 300 ] || fail "$name: the moved-in tree (300+ files) was not one stream: largest had ${n:-0} files"
	no_pwned "$name: big tree moved in"
}

# exists_case NAME SRC DST TREE MAKE: the target already has TREE, with a
# file the source lacks and one that differs; MAKE DIR creates the source
# tree.  Afterwards the trees are equal: stale is gone, f1 replaced.
exists_case() {
	local name=$1 src=$2 dst=$3 tree=$4 make=$5
	mkdir -p "$dst/$tree/a"
	echo stale >"$dst/$tree/stale"
	echo wrong >"$dst/$tree/a/f1"
	"$make" "$src/$tree"
	assert_trees_equal "$src" "$dst" 30
	[ ! -e "$dst/$tree/stale" ] || fail "$name: $tree: stale survived in the existing target tree"
	[ "$(cat "$dst/$tree/a/f1")" = "a 1" ] || fail "$name: $tree: a/f1 not replaced"
	assert_ns_equal "$src/$tree" "$dst/$tree"
}
make_tree3() {
	local i
	mkdir -p "$1/a" "$1/b"
	for i in $(seq 1 60); do
		echo "a $i" >"$1/a/f$i"
		echo "b $i" >"$1/b/f$i"
	done
}
make_tree3_aside() {
	rm -rf "$T/staging" && mkdir "$T/staging"
	make_tree3 "$T/staging/t"
	mv "$T/staging/t" "$1"
}

# step_exists NAME SRC DST: (a) created in place: the first batch (the bare
# directory) already goes to rsync, locally because the tree exists, over
# ssh because it is too small to stream, so the guard may not be asked;
# (b) moved in whole: 120 files, the stream refuses it (the local check, or
# the guard's exit 3 over ssh) and rsync copies and deletes.
step_exists() {
	local name=$1 src=$2 dst=$3 before
	exists_case "$name" "$src" "$dst" tree3 make_tree3
	no_pwned "$name: existing tree in place"
	wait_idle "$name" 10 || fail "$name: not idle after the existing tree"
	before=$(declined_exists "$name")
	exists_case "$name" "$src" "$dst" tree3b make_tree3_aside
	wait_until 5 gt declined_exists "$name" "$before" ||
		fail "$name: no 'tar stream declined: ... exists' line for the moved-in tree"
	grep -a "\[sync $name\] tar stream declined: " "$SYNC_LOG" | grep exists | tail -n 1
	no_pwned "$name: existing tree moved in"
}

# ---------------------------------------------------------------- 1. local, big tree
echo "== 1. local: a big new tree"
step_big loc "$SRC" "$DST"
wait_idle loc 10 || fail "loc: not idle after step 1"
# The whole target, its top directory included.
assert_ns_equal "$SRC" "$DST"

# ---------------------------------------------------------------- 2. excludes
# A tree with 101 files to copy and *.tmp files, *.tmp and cache/
# directories to leave out (sync exc: delay 1, so it is one batch and the
# stream's own walk applies the excludes).
echo "== 2. local: excludes"
before=$(streamed exc)
mkdir -p "$XSRC/tree2/deep/er" "$XSRC/tree2/cache/inner" "$XSRC/tree2/deep/cache"
for i in $(seq 1 40); do echo "$i" >"$XSRC/tree2/f$i"; echo "$i" >"$XSRC/tree2/deep/g$i"; done
for i in $(seq 1 20); do echo "$i" >"$XSRC/tree2/deep/er/h$i"; done
for i in 1 2 3; do
	echo tmp >"$XSRC/tree2/x$i.tmp"
	echo tmp >"$XSRC/tree2/deep/er/y$i.tmp"
	echo c >"$XSRC/tree2/cache/c$i"
	echo c >"$XSRC/tree2/cache/inner/c$i"
	echo c >"$XSRC/tree2/deep/cache/c$i"
done
mkdir "$XSRC/tree2/dir.tmp" && echo z >"$XSRC/tree2/dir.tmp/z"   # *.tmp matches directories too
echo "a file named cache" >"$XSRC/tree2/deep/er/cache"              # cache/ matches directories only
_x_equal() {
	X_DIFF=$(rsync -aniHc --delete --modify-window=-1 --filter='- /.lifeboat-history/' --exclude='*.tmp' --exclude='cache/' \
		--out-format='%i %n%L' "$XSRC/" "$XDST/" 2>&1) && [ -z "$X_DIFF" ]
}
wait_until 20 _x_equal || fail "exc: target differs from the source minus excludes: $(printf '%s\n' "$X_DIFF" | head -n 20)"
[ "$(find "$XDST/tree2" -type f | wc -l)" = 101 ] ||
	fail "exc: $(find "$XDST/tree2" -type f | wc -l) files on the target, want 101"
leaked=$(find "$XDST" \( -name '*.tmp' -o \( -name cache -type d \) \) -print)
[ -z "$leaked" ] || fail "exc: excluded entries reached the target: $leaked"
[ -f "$XDST/tree2/deep/er/cache" ] || fail "exc: the regular file 'cache' is missing (cache/ is for directories)"
wait_until 5 gt streamed exc "$before" || fail "exc: the tree with excludes did not go as a stream"
grep -aF "[sync exc] tar stream: " "$SYNC_LOG" | tail -n 1
no_pwned "excludes"

# ---------------------------------------------------------------- 3. local, existing tree
echo "== 3. local: the tree exists on the target"
step_exists loc "$SRC" "$DST"
wait_idle loc 10 || fail "loc: not idle after step 3"

# ---------------------------------------------------------------- 4. new files, old dirs
# Two directories synced long ago get 100 new files each, created in turn
# (a/1, b/1, a/2, ...): both arrive with their directories' times exact
# ("old" and "old-2": '-' sorts before '/', so a name-sorted member list
# would still interleave them).
echo "== 4. local: new files in directories already synced"
before=$(streamed new)
for i in $(seq 1 100); do echo "new $i" >"$NSRC/old/n$i"; echo "new $i" >"$NSRC/old-2/m$i"; done
assert_trees_equal "$NSRC" "$NDST" 15
assert_ns_equal "$NSRC" "$NDST"
wait_until 5 gt streamed new "$before" || fail "new: the 200 new files did not go as a stream"
grep -aF "[sync new] tar stream: " "$SYNC_LOG" | tail -n +$((before + 1))
n=$(grep -aF "[sync new] tar stream: " "$SYNC_LOG" | tail -n +$((before + 1)) |
	sed -n 's/.*tar stream: \([0-9]*\) files.*/\1/p' | sort -n | tail -n 1)
[ "${n:-0}" -ge 200 ] || fail "new: the 200 new files (one batch) were not one stream: largest had ${n:-0} files"
no_pwned "new files"
wait_idle new 10 || fail "new: not idle after step 4"

# ---------------------------------------------------------------- 6. one new file
echo "== 6. local: one new file (rsync)"
before=$(streamed loc)
echo single >"$SRC/old/single"
assert_trees_equal "$SRC" "$DST" 15
wait_idle loc 10 || fail "loc: not idle after one new file"
[ "$(streamed loc)" = "$before" ] || fail "loc: a single new file went as a tar stream"
no_pwned "one file"

# ---------------------------------------------------------------- 7. stream off
# An include rule (our exclude answer might not be rsync's) or compress
# (an rsync option shaping the copy): rsync ships everything, the stream
# is not even tried.
echo "== 7. local: no stream with an include rule or with compress"
make_tree7() {
	local i
	rm -rf "$T/staging" && mkdir -p "$T/staging/t/sub"
	for i in $(seq 1 100); do echo "$i" >"$T/staging/t/sub/f$i"; done
	echo keep >"$T/staging/t/keep.tmp"
	echo drop >"$T/staging/t/drop.tmp"
	mv "$T/staging/t" "$1"
}
make_tree7 "$OSRC/tree7"
make_tree7 "$ZSRC/tree7"
_o_equal() {
	O_DIFF=$(rsync -aniHc --delete --modify-window=-1 --filter='- /.lifeboat-history/' --filter='+ keep.tmp' --filter='- *.tmp' \
		--out-format='%i %n%L' "$OSRC/" "$ODST/" 2>&1) && [ -z "$O_DIFF" ]
}
wait_until 15 _o_equal || fail "off: target differs from the source minus excludes: $(printf '%s\n' "$O_DIFF" | head -n 20)"
[ -f "$ODST/tree7/keep.tmp" ] && [ ! -e "$ODST/tree7/drop.tmp" ] || fail "off: the include rule was not applied"
assert_trees_equal "$ZSRC" "$ZDST" 15
assert_ns_equal "$ZSRC/tree7" "$ZDST/tree7"
for s in off offz; do
	wait_idle $s 10 || fail "$s: not idle after step 7"
	! grep -aF "[sync $s] tar stream" "$SYNC_LOG" || fail "$s: the tar stream was tried"
done
no_pwned "stream off"

# ---------------------------------------------------------------- 5. ssh
echo "== 5. ssh: a big new tree"
step_big rem "$RSRC" "$RDST"
wait_idle rem 10 || fail "rem: not idle after the big trees"
echo "== 5. ssh: the tree exists on the target"
step_exists rem "$RSRC" "$RDST"
wait_idle rem 10 || fail "rem: not idle after the existing tree"
echo "single" >"$RSRC/tree1/single"
assert_trees_equal "$RSRC" "$RDST" 15
# Over ssh too the top directory's times arrive to the nanosecond.
assert_ns_equal "$RSRC" "$RDST"

# The target goes away while a burst waits: the stream fails as
# unreachable, the batch is kept (its new files now as plain paths for
# rsync), and everything converges once sshd is back.
echo "== 5. ssh: the target is down during a burst"
stop_sshd || fail "cannot stop sshd"
make_big_tree "$T/aside5"
mv "$T/aside5" "$RSRC/tree5"
for i in $(seq 1 80); do echo "$i" >"$RSRC/tree1/late$i"; done
wait_until 30 eval '[ "$(status_field rem state)" = retrying ]' ||
	fail "rem: not retrying with sshd down: $(status_field rem state) $(status_field rem last_error)"
restart_sshd || fail "cannot restart sshd"
assert_trees_equal "$RSRC" "$RDST" 90
assert_ns_equal "$RSRC" "$RDST"
wait_idle rem 30 || fail "rem: not idle after the target came back"
no_pwned "rem: burst while the target was down"

# Nothing went wrong on the way.
if grep -a "new trees go through rsync from now on" "$SYNC_LOG"; then
	fail "the stream was switched off after failures"
fi
for s in loc exc new off offz rem; do
	wait_idle $s 10 || fail "$s: not idle at the end"
	[ "$(status_field $s state)" = idle ] || fail "$s: state $(status_field $s state)"
done
no_pwned "end"
stop_sync || fail "sync did not stop cleanly"
pass
