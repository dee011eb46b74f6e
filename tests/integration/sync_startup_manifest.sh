#!/usr/bin/env bash
# The startup pass compares manifests (the source walked here, the target
# walked beside it: a thread for a local target, `lifeboat serve manifest`
# through the restricted key over ssh) and ships only what differs. Seeded
# with every kind of difference, the target must end as a full rsync pass
# leaves it (rsync -aniHc --delete finds nothing), what was replaced or
# deleted must be in the history, excluded paths and the history untouched.
# Hard links make it a full pass; a malformed manifest from the peer is a
# one-line error, not a crash.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"

# seed SRC DST: a target that differs from the source in every way.
seed() {
	local s=$1 d=$2
	rm -rf "$s" "$d"
	mkdir -p "$s/same/deep" "$s/modes" "$d"
	for i in 1 2 3 4 5; do echo "same $i" >"$s/same/deep/f$i"; done
	echo unchanged >"$s/same/u"
	ln -s u "$s/same/ulink"
	echo "content A" >"$s/changed"         # same size, other content and mtime
	echo grow >"$s/grown"
	echo mode >"$s/modes/m"
	chmod 600 "$s/modes/m"
	mkdir "$s/modes/dir"
	chmod 750 "$s/modes/dir"
	echo f >"$s/was-dir"                   # a directory on the target
	mkdir -p "$s/was-file/in"              # a file on the target
	echo x >"$s/was-file/in/x"
	ln -s same/u "$s/was-link"             # a regular file on the target
	echo y >"$s/link-now"                  # a symlink on the target
	ln -s same/u "$s/relinked"             # points elsewhere on the target
	mkdir -p "$s/newtree/a/b"
	echo n >"$s/newtree/a/b/n"
	echo newfile >"$s/newfile"
	make_weird_names "$s/weird"
	mkdir "$s/cache.tmp"; echo skip >"$s/cache.tmp/x"   # excluded
	echo skip >"$s/skip.log"                             # excluded
	chown -R 1234:1234 "$s/same/deep/f3"
	# The target: an earlier copy, then changed.
	rsync -aH "$s/" "$d/"
	chown 0:0 "$d/same/deep/f3"                          # owner differs
	touch -h -d '2020-01-01' "$d/same/ulink"             # a symlink's own time
	echo "content B" >"$d/changed"
	touch -d '2020-01-01 00:00:00' "$d/changed"
	echo gro >"$d/grown"
	chmod 644 "$d/modes/m"
	chmod 755 "$d/modes/dir"
	rm -f "$d/was-dir"; mkdir -p "$d/was-dir/sub"; echo old >"$d/was-dir/sub/o"
	rm -rf "$d/was-file"; echo old >"$d/was-file"
	rm -f "$d/was-link"; echo old >"$d/was-link"
	rm -f "$d/link-now"; ln -s nowhere "$d/link-now"
	rm -f "$d/relinked"; ln -s same/deep "$d/relinked"
	rm -rf "$d/newtree" "$d/newfile" "$d/weird/-rf"
	echo extra >"$d/extra-file"
	mkdir -p "$d/extra-dir/x"; echo e >"$d/extra-dir/x/e"
	printf 'x' >"$d/weird/$(printf 'extra\nnewline')"
	rm -rf "$d/cache.tmp" "$d/skip.log"
	echo target-only >"$d/kept.tmp"                      # excluded: never deleted
	mkdir -p "$d/.lifeboat-history/19700101T000000Z"
	echo old-history >"$d/.lifeboat-history/19700101T000000Z/keepme"
	touch -d '2021-05-05' "$d/same" "$d/weird"           # directory times
	# The source's directory times differ from the target's where entries differ.
	touch -d '2022-02-02 02:02:02.123456789' "$s/same/deep"
}

# same_trees SRC DST: rsync -aniHc --delete finds nothing (trees_equal,
# with the sync's excludes, which take no part in the comparison).
same_trees() {
	TREES_DIFF=$(rsync -aniHc --delete --filter='- /.lifeboat-history/' --filter='- *.tmp' \
		--filter='- *.log' --out-format='%i %n%L' "$1/" "$2/" 2>&1)
	[ -z "$TREES_DIFF" ]
}

# check SRC DST: the target is what a full pass leaves, history kept.
check() {
	local s=$1 d=$2
	same_trees "$s" "$d" || fail "the target differs after startup:
$TREES_DIFF"
	[ "$(cat "$d/kept.tmp")" = target-only ] || fail "an excluded target file was touched"
	[ ! -e "$d/cache.tmp" ] && [ ! -e "$d/skip.log" ] || fail "an excluded path was shipped"
	[ "$(cat "$d/.lifeboat-history/19700101T000000Z/keepme")" = old-history ] ||
		fail "the history was touched"
	local h=$d/.lifeboat-history
	find "$h" -path '*/extra-dir/x/e' -type f | grep -q . || fail "the deleted tree is not in history"
	find "$h" -name extra-file -type f | grep -q . || fail "the deleted file is not in history"
	find "$h" -name changed -type f -exec grep -l "content B" {} + | grep -q . ||
		fail "the overwritten file is not in history"
	find "$h" -path '*/was-dir/sub/o' -type f | grep -q . ||
		fail "the directory replaced by a file is not in history"
}

run_case() { # NAME TARGET [KEY=VALUE...]
	local name=$1 target=$2; shift 2
	sync_conf "$T/lb.conf" www "$SRC" "$target" delay=0 "exclude=*.tmp" "exclude=*.log" "$@"
	: >"$T/sync.log"
	start_sync "$T/lb.conf"
	wait_until 60 grep -q "every sync is live" "$SYNC_LOG" ||
		fail "$name: startup did not finish: $(tail -5 "$SYNC_LOG")"
	grep -q "startup comparison: .* entries" "$SYNC_LOG" ||
		fail "$name: the startup pass did not compare manifests: $(grep -i startup "$SYNC_LOG")"
	wait_idle www 30 || fail "$name: not idle: $(tail -5 "$SYNC_LOG")"
	check "$SRC" "$DST"
	stop_sync
}

SRC=$T/src
# ---- local target
DST=$T/dst
seed "$SRC" "$DST"
run_case local "$DST"
grep -q "full pass" "$SYNC_LOG" && fail "local: a full pass ran: $(grep 'full pass' "$SYNC_LOG")"

# Already in sync: nothing at all is shipped.
: >"$T/sync.log"
start_sync "$T/lb.conf"
wait_until 60 grep -q "every sync is live" "$SYNC_LOG" || fail "restart: startup did not finish"
grep "startup comparison" "$SYNC_LOG" | tail -1 | grep -q "0 new trees, 0 new files, 0 other paths" ||
	fail "in sync, yet the comparison found differences: $(grep 'startup comparison' "$SYNC_LOG" | tail -1)"
stop_sync

# Hard links: the whole pass is rsync's, which keeps them.
ln "$SRC/newfile" "$SRC/same/hardlink"
: >"$T/sync.log"
start_sync "$T/lb.conf"
wait_until 60 grep -q "every sync is live" "$SYNC_LOG" || fail "hard links: startup did not finish"
grep -q "hard-linked file differs.*: full pass" "$SYNC_LOG" || fail "hard links: no full pass"
wait_idle www 30 || fail "hard links: not idle"
same_trees "$SRC" "$DST" || fail "hard links: trees differ: $TREES_DIFF"
[ "$(stat -c %i "$DST/newfile")" = "$(stat -c %i "$DST/same/hardlink")" ] ||
	fail "the hard link was not kept"
stop_sync
rm -f "$SRC/same/hardlink"

# ---- over ssh, through the restricted key
start_sshd || fail "cannot start sshd"
DST=$T/remote/dst
seed "$SRC" "$DST"
run_case ssh "$SSH_TARGET:$DST" ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" \
	ssh_options="$SSH_OPTS"
grep -q "full pass" "$SYNC_LOG" && fail "ssh: a full pass ran: $(grep 'full pass' "$SYNC_LOG")"

rssh() { ssh -i "$SSH_SYNC_KEY" -p "$SSHD_PORT" $SSH_OPTS "$SSH_TARGET" "$@"; }
# serve lists only a synced tree, never the history.
out=$(printf '%s\0' "$DST" | rssh manifest | tr '\0' '\n')
printf '%s\n' "$out" | head -1 | grep -q '^lifeboat-manifest 1 1$' || fail "no manifest header: $out"
printf '%s\n' "$out" | grep -q 'lifeboat-history' && fail "serve listed the history"
printf '%s\n' "$out" | grep -q '^end [0-9]' || fail "no end record"
out=$(printf '%s\0' /etc | rssh manifest 2>&1) && fail "serve listed /etc: $out"
printf '%s\n' "$out" | grep -q "refused: not a synced tree" || fail "no refusal for /etc: $out"

# A peer that answers garbage: one line, then the full pass does the work.
real=$(readlink -f "$T/ssh/bin/lifeboat")
rm -f "$T/ssh/bin/lifeboat"
cat >"$T/ssh/bin/lifeboat" <<EOF
#!/bin/sh
case "\$SSH_ORIGINAL_COMMAND" in
*"serve manifest"*) cat >/dev/null; printf 'lifeboat-manifest 1 1\nd 755 0 0 0 1 2 0\n\0f 999 x\n'; exit 0 ;;
esac
exec "$real" "\$@"
EOF
chmod +x "$T/ssh/bin/lifeboat"
echo more >"$SRC/after-fake"
: >"$T/sync.log"
sync_conf "$T/lb.conf" www "$SRC" "$SSH_TARGET:$DST" delay=0 "exclude=*.tmp" "exclude=*.log" \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_until 60 grep -q "every sync is live" "$SYNC_LOG" || fail "garbage: startup did not finish: $(tail -5 "$SYNC_LOG")"
line=$(grep "startup comparison failed" "$SYNC_LOG") || fail "no error for a malformed manifest: $(tail -5 "$SYNC_LOG")"
[ "$(printf '%s\n' "$line" | wc -l)" = 1 ] || fail "the error is not one line: $line"
printf '%s\n' "$line" | grep -q "manifest record 2: malformed entry header" || fail "the error does not name the record: $line"
[ "$(cat "$DST/after-fake")" = more ] || fail "the full pass after the error did not ship"
stop_sync
pass
