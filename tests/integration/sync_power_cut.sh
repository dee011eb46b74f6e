#!/usr/bin/env bash
# A power cut between a merge's renames and the batch's sync can leave the
# placed files short under their final names (the renames on disk, not
# the data). Here the daemon dies at that very moment (the merge-placed
# failpoint: kill -9 of itself), and the files its merge placed are cut
# short the way the power cut would leave them (same inode, fewer bytes).
# 1. Locally, the daemon's next start rolls them back before anything else
#    (never a short file served as a version, even with the source gone),
#    and the sync ships them again: the trees end equal, the log says so.
# 2. On a target reached over ssh through the restricted key, serve rolls
#    them back at its first request on that tree (here `versions`).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 tar ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

# crash_merge SRC DST NAME: DST in sync with SRC by a local daemon, then a
# new tree in SRC whose merge the daemon dies in; every file the merge
# logged is then cut to half its size.
crash_merge() {
	local src=$1 dst=$2 name=$3 logs
	mkdir -p "$src/old"
	echo kept >"$src/old/f"
	sync_conf "$T/$name.conf" "$name" "$src" "$dst" delay=0
	start_sync "$T/$name.conf"
	wait_idle "$name" 20 || fail "$name: startup did not reach idle"
	stop_sync
	# A new tree while the daemon is down: the startup pass streams it,
	# and the stream's merge is where the daemon dies.
	mkdir -p "$src/new/sub"
	for i in $(seq 1 20); do head -c $((4096 + i * 100)) /dev/urandom >"$src/new/sub/f$i"; done
	echo top >"$src/new/top"
	LIFEBOAT_FAILPOINT=merge-placed start_sync "$T/$name.conf"
	wait_until 30 sh -c '! kill -0 "$0" 2>/dev/null' "$SYNC_PID" ||
		fail "$name: the failpoint did not stop the daemon"
	logs=("$dst"/.lifeboat-history/.placing/*)
	[ -f "${logs[0]}" ] || fail "$name: no placing log left by the merge that died"
	[ -f "$dst/new/sub/f1" ] || fail "$name: the merge placed nothing before it died"
	# The power cut: every file the log names loses its second half.
	python3 - "$dst" "${logs[@]}" <<'PY' || fail "$name: cannot cut the placed files"
import os, sys
root, n = sys.argv[1], 0
for log in sys.argv[2:]:
    data = open(log, "rb").read()
    assert data.startswith(b"lifeboat placing 1\n"), log
    for rec in data.split(b"\n", 2)[2].split(b"\0"):
        if not rec:
            continue
        ino, size, rel = rec.split(b" ", 2)
        path = os.path.join(root.encode(), rel)
        assert os.stat(path).st_ino == int(ino), rel
        os.truncate(path, int(size) // 2)
        n += 1
assert n >= 21, n
PY
}

# no_short DST WHOLE: every file of DST (its history aside) is the one in
# WHOLE, byte for byte: a version the source had, never a short one.
no_short() {
	local f rel
	while IFS= read -r -d '' f; do
		rel=${f#"$1"/}
		case $rel in .lifeboat-history/*) continue ;; esac
		cmp -s "$f" "$2/$rel" ||
			fail "$rel is short on the target after the recovery ($(stat -c %s "$f") of $(stat -c %s "$2/$rel") bytes)"
	done < <(find "$1" -type f -print0)
	[ -f "$1/old/f" ] || fail "a file the target had before the crash is gone"
	[ ! -e "$1/new/sub/f1" ] || fail "a new file cut short is still there"
	! ls "$1"/.lifeboat-history/.placing/* >/dev/null 2>&1 || fail "a placing log is left after the recovery"
}

# 1. Local: the node comes back with the source gone (an empty mount
#    point): nothing can be shipped again, so what the target holds now is
#    what a failover would serve.
SRC=$T/src DST=$T/dst
crash_merge "$SRC" "$DST" pc
mv "$SRC" "$T/saved" && mkdir "$SRC"
start_sync "$T/pc.conf"
wait_until 20 grep -q "short after an unclean stop" "$SYNC_LOG" || fail "the short files were not rolled back"
no_short "$DST" "$T/saved"
stop_sync
rmdir "$SRC" && mv "$T/saved" "$SRC"
start_sync "$T/pc.conf"
assert_trees_equal "$SRC" "$DST" 30
echo more >"$SRC/new/after"
assert_trees_equal "$SRC" "$DST" 10
stop_sync

# 2. Over ssh: the same crash left on a tree that this node now reaches
#    through the restricted key; serve (reading $T/lb.conf, as on the
#    target node) recovers it before it answers.
RSRC=$T/rsrc RDST=$T/remote/rdst
crash_merge "$RSRC" "$RDST" pr
sync_conf "$T/lb.conf" pr "$RSRC" "$SSH_TARGET:$RDST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
"$LIFEBOAT" -c "$T/lb.conf" versions "$RSRC/old/f" >"$T/versions.out" 2>&1 ||
	fail "versions over ssh failed: $(cat "$T/versions.out")"
no_short "$RDST" "$RSRC"
pass
