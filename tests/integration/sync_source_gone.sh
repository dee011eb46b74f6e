#!/usr/bin/env bash
# The source directory itself vanishes (moved away, volume unmounted): the
# target is not emptied, the state says error, and when the source is back
# the sync watches it again and converges.  The same when the source
# becomes empty while the target is not, and when the source's file system
# (a loop-mounted ext4 the test makes) is unmounted while files change:
# the empty mount point left behind is not a deletion.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"
SRC=$T/src DST=$T/dst
mkdir -p "$SRC/sub" && echo keep >"$SRC/sub/file"
sync_conf "$T/lb.conf" www "$SRC" "$DST" delay=0
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup did not reach idle"
mv "$SRC" "$T/away"
wait_until 10 eval '[ "$(status_field www state)" = error ]' || fail "vanished source not reported"
[ -f "$DST/sub/file" ] || fail "the target was emptied when the source vanished"
echo changed >"$T/away/sub/new"
mv "$T/away" "$SRC"
assert_trees_equal "$SRC" "$DST" 20
echo live >"$SRC/live-again"
assert_trees_equal "$SRC" "$DST" 10
grep -q "is back" "$SYNC_LOG" || fail "return of the source not logged"

# The source is replaced by an empty directory (a botched deploy, a volume
# not mounted at boot): nothing is deleted on the target.
mv "$SRC" "$T/old" && mkdir "$SRC"
wait_until 15 eval '[ "$(status_field www state)" = error ]' || fail "an emptied source not reported"
wait_until 10 eval 'status_field www last_error | grep -q "is empty while the target is not"' ||
	fail "the error does not say why: $(status_field www last_error)"
[ -f "$DST/sub/file" ] && [ -f "$DST/live-again" ] || fail "the target was emptied"
grep -q "findmnt" "$SYNC_LOG" || fail "the log does not say what to do"
echo fresh >"$SRC/fresh"   # not empty any more: the sync goes on, deletions included
assert_trees_equal "$SRC" "$DST" 30
stop_sync || fail "sync did not stop cleanly"

# An unmounted disk while files change on it.
need mkfs.ext4 losetup
[ "$(id -u)" = 0 ] || { pass; exit 0; }
truncate -s 64M "$T/disk.img" && mkfs.ext4 -q -F "$T/disk.img" || skip "cannot make an ext4 image"
MNT=$T/mnt
mkdir -p "$MNT"
mount -o loop "$T/disk.img" "$MNT" || skip "cannot loop-mount here"
lb_on_exit "umount -l '$MNT' 2>/dev/null"
mkdir -p "$MNT/site" && for i in $(seq 1 50); do echo "$i" >"$MNT/site/p$i"; done
MDST=$T/mdst
sync_conf "$T/mnt.conf" disk "$MNT" "$MDST" delay=0
start_sync "$T/mnt.conf"
wait_until 30 eval '[ "$(status_field disk state)" = idle ]' || fail "disk sync did not reach idle"
assert_trees_equal "$MNT" "$MDST" 10
for i in $(seq 51 600); do echo "$i" >"$MNT/site/p$i"; done
assert_trees_equal "$MNT" "$MDST" 20
# Unmounted while a writer keeps rewriting files: transfers are in flight
# as the disk goes.
(
	while :; do
		for i in $(seq 41 600); do echo "$i $RANDOM" >"$MNT/site/p$i" 2>/dev/null; done
	done
) &
WRITER=$!
lb_track_pid "$WRITER"
wait_until 10 eval 'find "$MDST/.lifeboat-history" -path "*/site/p*" 2>/dev/null | grep -q .' ||
	fail "no rewrite reached the target"
umount -l "$MNT" || fail "cannot unmount"
wait_until 3 false || true # the writer goes on a moment, onto the empty mount point
kill "$WRITER" && wait "$WRITER" 2>/dev/null
wait_until 15 eval '[ "$(status_field disk state)" = error ]' || fail "the unmount was not reported"
wait_until 10 eval 'status_field disk last_error | grep -Eq "another file system|is gone|is empty"' ||
	fail "the error does not say why: $(status_field disk last_error)"
# No deletion reaches the target at all: not from a transfer racing the
# unmount (the guard looks again once a batch's files are read, and each
# rsync reads the source through the directory the guard looked at), and
# not later while the guard holds.
for i in $(seq 1 600); do [ -f "$MDST/site/p$i" ] || fail "site/p$i was deleted on the target by the unmount"; done
wait_until 3 false || true # a few more checks of the guard while it stays unmounted
[ "$(find "$MDST/site" -type f | wc -l)" -eq 600 ] || fail "files were deleted on the target after the guard held"
mount -o loop "$T/disk.img" "$MNT" || fail "cannot mount again"
assert_trees_equal "$MNT" "$MDST" 40
stop_sync || fail "disk sync did not stop cleanly"
pass
