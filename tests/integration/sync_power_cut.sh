#!/usr/bin/env bash
# A power cut between a merge's renames and the batch's sync can leave the
# placed files short under their final names (the renames on disk, not
# the data). Here the daemon dies at that very moment (the merge-placed
# failpoint: kill -9 of itself), and the files its merge placed are cut
# short the way the power cut would leave them (same inode, fewer bytes).
# The next start rolls them back before anything else (never a short file
# served as a version, even with the source gone) and the sync ships them
# again: the trees end equal, the log says what happened.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 tar
lb_setup
cd "$T" || fail "cannot cd to $T"
SRC=$T/src DST=$T/dst
mkdir -p "$SRC/old"
echo kept >"$SRC/old/f"
sync_conf "$T/lb.conf" pc "$SRC" "$DST" delay=0
start_sync "$T/lb.conf"
wait_idle pc 20 || fail "startup did not reach idle"
stop_sync

# A new tree while the daemon is down: the startup pass streams it, and
# the stream's merge is where the daemon dies.
mkdir -p "$SRC/new/sub"
for i in $(seq 1 20); do head -c $((4096 + i * 100)) /dev/urandom >"$SRC/new/sub/f$i"; done
echo top >"$SRC/new/top"
LIFEBOAT_FAILPOINT=merge-placed start_sync "$T/lb.conf"
wait_until 30 sh -c '! kill -0 "$0" 2>/dev/null' "$SYNC_PID" || fail "the failpoint did not stop the daemon"
logs=("$DST"/.lifeboat-history/.placing/*)
[ -f "${logs[0]}" ] || fail "no placing log left by the merge that died"
[ -f "$DST/new/sub/f1" ] || fail "the merge placed nothing before it died"

# The power cut: every file the log names loses its second half.
python3 - "$DST" "${logs[@]}" <<'PY' || fail "cannot cut the placed files"
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

# The node comes back with the source gone (an empty mount point): nothing
# can be shipped again, so what the target holds now is what a failover
# would serve. Every file must be whole: a version the source had.
mv "$SRC" "$T/saved" && mkdir "$SRC"
start_sync "$T/lb.conf"
wait_until 20 grep -q "short after an unclean stop" "$SYNC_LOG" || fail "the short files were not rolled back"
while IFS= read -r -d '' f; do
	rel=${f#"$DST"/}
	case $rel in .lifeboat-history/*) continue ;; esac
	cmp -s "$f" "$T/saved/$rel" || fail "$rel is short on the target after the recovery ($(stat -c %s "$f") of $(stat -c %s "$T/saved/$rel") bytes)"
done < <(find "$DST" -type f -print0)
[ -f "$DST/old/f" ] || fail "the empty source deleted on the target"
stop_sync
rmdir "$SRC" && mv "$T/saved" "$SRC"

start_sync "$T/lb.conf"
assert_trees_equal "$SRC" "$DST" 30
ls "$DST"/.lifeboat-history/.placing/* >/dev/null 2>&1 && fail "a placing log is left after the recovery"
echo more >"$SRC/new/after"
assert_trees_equal "$SRC" "$DST" 10
pass
