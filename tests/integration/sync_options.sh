#!/usr/bin/env bash
# The [sync] options do what lsyncd users expect: delete = yes|no|startup|
# running, exclude and exclude_from, bwlimit, compress, rsync_args, and
# `sync --once` exits 0 only when the target matches.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"

# run_mode MODE: target starts with an extra file; live delete of a file.
# Prints "<extra kept after startup> <deleted file kept live>" as 0/1.
run_mode() {
	local mode=$1 src=$T/$1/src dst=$T/$1/dst
	mkdir -p "$src" "$dst"
	echo a >"$src/a"; echo b >"$src/b"; echo stale >"$dst/stale"
	sync_conf "$T/$mode.conf" m "$src" "$dst" delay=0 delete="$mode"
	start_sync "$T/$mode.conf"
	wait_idle m 20 || fail "[$mode] startup did not reach idle"
	local extra=0 kept=0
	[ -e "$dst/stale" ] && extra=1
	rm "$src/a"
	echo c >"$src/c"
	wait_until 10 test -f "$dst/c" || fail "[$mode] live change not shipped"
	wait_idle m 10
	[ -e "$dst/a" ] && kept=1
	stop_sync || fail "[$mode] did not stop"
	echo "$extra $kept"
}
[ "$(run_mode yes)" = "0 0" ] || fail "delete=yes: $(run_mode yes)"
[ "$(run_mode no)" = "1 1" ] || fail "delete=no must keep both"
[ "$(run_mode startup)" = "0 1" ] || fail "delete=startup: delete at startup only"
[ "$(run_mode running)" = "1 0" ] || fail "delete=running: delete live only"

# Excludes: a pattern, a directory pattern, and exclude_from.
SRC=$T/ex/src DST=$T/ex/dst
mkdir -p "$SRC/cache" "$SRC/keep"
printf 'secret*\n' >"$T/ex.exclude"
echo x >"$SRC/cache/c1"; echo x >"$SRC/keep/k1"; echo x >"$SRC/a.tmp"; echo x >"$SRC/secret.key"
sync_conf "$T/ex.conf" ex "$SRC" "$DST" delay=0 "exclude=*.tmp" "exclude=cache/" \
	exclude_from="$T/ex.exclude" bwlimit=100000 compress=yes "rsync_args=--omit-link-times"
"$LIFEBOAT" -c "$T/ex.conf" sync --once || fail "--once failed with options"
[ -f "$DST/keep/k1" ] || fail "normal file missing"
[ ! -e "$DST/a.tmp" ] && [ ! -e "$DST/cache" ] && [ ! -e "$DST/secret.key" ] || fail "an excluded file was shipped"
start_sync "$T/ex.conf"
wait_idle ex 20 || fail "excludes: startup did not reach idle"
echo y >"$SRC/cache/c2"; echo y >"$SRC/b.tmp"; echo y >"$SRC/keep/k2"; echo y >"$SRC/secret2"
wait_until 10 test -f "$DST/keep/k2" || fail "live change with excludes not shipped"
wait_idle ex 10
[ ! -e "$DST/b.tmp" ] && [ ! -e "$DST/cache" ] && [ ! -e "$DST/secret2" ] || fail "an excluded live file was shipped"
stop_sync

# --once: 0 when the target matches; 1 when it cannot (target not writable).
SRC=$T/once/src
mkdir -p "$SRC" && echo o >"$SRC/o"
sync_conf "$T/once.conf" o "$SRC" "$T/once/dst" delay=0
"$LIFEBOAT" -c "$T/once.conf" sync --once || fail "--once did not exit 0"
trees_equal "$SRC" "$T/once/dst" || fail "--once: trees differ: $TREES_DIFF"
mkdir -p "$T/once/file-parent" && echo f >"$T/once/file-parent/dst"
sync_conf "$T/once2.conf" o "$SRC" "$T/once/file-parent/dst" delay=0
rc=0; "$LIFEBOAT" -c "$T/once2.conf" sync --once 2>"$T/once2.err" || rc=$?
[ "$rc" = 1 ] || fail "--once onto a file: exit $rc, expected 1 ($(cat "$T/once2.err"))"
pass
