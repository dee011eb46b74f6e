#!/usr/bin/env bash
# The peer's key restricted to `lifeboat serve` (restrict,command= in
# authorized_keys, as docs/serve.md says): every kind of change still
# replicates over it (rsync, the tar stream, renames, directory times,
# hostile names), and nothing else gets through: no shell, no rsync to or
# from a path outside the synced tree, no read of /etc/shadow, no history
# deleted, and remote targets need no perl.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh tar
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

# -v (a wrapper that execs): the log says which way each batch went.
printf '#!/bin/sh\nexec "%s" -v "$@"\n' "$LIFEBOAT" >"$T/lifeboat-v"
chmod +x "$T/lifeboat-v"
LIFEBOAT=$T/lifeboat-v
SRC=$T/src DST=$T/remote/dst
mkdir -p "$SRC/sub" "$DST" "$T/outside"
echo hello >"$SRC/sub/a"
# power_safe: the path batches' rsync asks for --fsync, which serve allows.
sync_conf "$T/lb.conf" www "$SRC" "$SSH_TARGET:$DST" delay=0 power_safe=yes \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle www 30 || fail "startup pass through serve did not reach idle: $(tail -5 "$SYNC_LOG")"
assert_trees_equal "$SRC" "$DST" 5

# Every kind of change, hostile names included.
rm -f /tmp/PWNED "$T/pwned"
echo new >"$SRC/new"
chmod 640 "$SRC/sub/a"
make_weird_names "$SRC/weird"
ln -s "weird/with space" "$SRC/link"
assert_trees_equal "$SRC" "$DST" 20
mkdir "$T/aside"
for i in $(seq 1 150); do echo "$i" >"$T/aside/f$i"; done
mv "$T/aside" "$SRC/burst" # a whole new tree at once: the tar stream
assert_trees_equal "$SRC" "$DST" 20
mv "$SRC/burst" "$SRC/burst-2026"   # a directory rename
mv "$SRC/new" "$SRC/sub/a"          # a rename over an existing file
rm -rf "$SRC/weird/dir with space"  # a delete of a tree
echo appended >>"$SRC/sub/a"
assert_trees_equal "$SRC" "$DST" 20
[ ! -e "$T/pwned" ] && [ ! -e /tmp/PWNED ] && [ ! -e "$HOME/pwned" ] ||
	fail "a file name was run by a shell"
grep -q "tar stream: 15[0-9] files" "$SYNC_LOG" ||
	fail "the burst did not go through serve's tar stream: $(grep -i "tar stream" "$SYNC_LOG" | tail -3)"
# What the sync replaced or deleted is in the target's history.
ls "$DST/.lifeboat-history" >/dev/null 2>&1 || fail "no history on the target"
find "$DST/.lifeboat-history" -path '*/sub/a' -type f | grep -q . ||
	fail "the file renamed over sub/a was not kept"
find "$DST/.lifeboat-history" -path '*/dir with space/-sub/file' -type f | grep -q . ||
	fail "the deleted tree was not kept"

# Through the restricted key, nothing but serve's requests.
rssh() { ssh -i "$SSH_SYNC_KEY" -p "$SSHD_PORT" $SSH_OPTS "$SSH_TARGET" "$@"; }
out=$(rssh 'touch /tmp/PWNED; echo shell' 2>&1) && fail "a shell command ran: $out"
[ ! -e /tmp/PWNED ] || fail "a shell command ran through the restricted key"
echo "$out" | grep -q "refused" || fail "no one-line refusal for a shell command: $out"
out=$(rssh cat /etc/shadow 2>&1) && fail "cat /etc/shadow ran: $out"
echo "$out" | grep -q "root:" && fail "/etc/shadow was read: $out"
out=$(printf '/etc/shadow' | rssh lifeboat serve read 2>&1) && fail "serve read gave /etc/shadow"
echo "$out" | grep -q "root:" && fail "/etc/shadow was read through serve read"
RSH="ssh -i $SSH_SYNC_KEY -p $SSHD_PORT $SSH_OPTS"
rsync -a -e "$RSH" "$SSH_TARGET:/etc/shadow" "$T/shadow" 2>"$T/r1.err" &&
	fail "rsync read /etc/shadow"
[ ! -s "$T/shadow" ] || fail "/etc/shadow arrived"
echo x >"$T/x"
rsync -a -e "$RSH" "$T/x" "$SSH_TARGET:$T/outside/" 2>"$T/r2.err" &&
	fail "rsync wrote outside the synced tree"
[ ! -e "$T/outside/x" ] || fail "a file was written outside the tree"
rsync -a -e "$RSH" --rsync-path="lifeboat serve rsync" "$T/x" "$SSH_TARGET:$DST/../../outside/" \
	2>"$T/r3.err" && fail "rsync wrote outside the tree through .."
[ ! -e "$T/outside/x" ] || fail "a file was written outside the tree through .."
# A symlink in the tree pointing out of it is not a way out.
ln -s "$T/outside" "$SRC/escape"
assert_trees_equal "$SRC" "$DST" 15
rsync -a -e "$RSH" "$T/x" "$SSH_TARGET:$DST/escape/" 2>"$T/r4.err" &&
	[ -e "$T/outside/x" ] && fail "rsync followed a symlink out of the tree"
# History cannot be deleted, overwritten or renamed away on request.
before=$(find "$DST/.lifeboat-history" -type f | wc -l)
mkdir -p "$T/empty"
rsync -a --delete -e "$RSH" "$T/empty/" "$SSH_TARGET:$DST/.lifeboat-history/" 2>"$T/r5.err" &&
	fail "rsync into the history was allowed"
rsync -a --delete -e "$RSH" "$T/empty/" "$SSH_TARGET:$DST/" 2>"$T/r6.err" ||
	fail "a delete-everything rsync into the tree failed outright: $(cat "$T/r6.err")"
after=$(find "$DST/.lifeboat-history" -type f | wc -l)
[ "$after" -ge "$before" ] || fail "history lost files to an rsync --delete: $before -> $after"
printf '%s\0%s\0%s\0' "$DST" ".lifeboat-history" "gone" | rssh lifeboat serve rename >"$T/ren.out"
grep -q '^ok' "$T/ren.out" && fail "the history was renamed away"
[ -d "$DST/.lifeboat-history" ] || fail "the history directory is gone"
# The tar stream's receiving end moves nothing into place that its sender
# did not vouch for (tar -c exited 0: no file changed while it was read, no
# sender killed mid-way): the same archive without the trailer leaves no
# final name; with it, the tree arrives.
python3 - "$DST" "$T/stream" <<'PY'
import io, sys, tarfile
root, out = sys.argv[1], sys.argv[2]
names = (root + "\0" + "vouched\0").encode()
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
    d = tarfile.TarInfo("vouched"); d.type = tarfile.DIRTYPE; d.mode = 0o755
    tar.addfile(d)
    data = b"x" * 300000
    f = tarfile.TarInfo("vouched/big"); f.size = len(data); f.mode = 0o644
    tar.addfile(f, io.BytesIO(data))
stream = b"%010d" % len(names) + names + buf.getvalue()
open(out + ".torn", "wb").write(stream)
open(out + ".whole", "wb").write(stream + b"\nlifeboat tar-x: archive whole\n")
PY
rssh lifeboat serve tar-x <"$T/stream.torn" >/dev/null 2>"$T/tx1.err" &&
	fail "serve tar-x accepted an archive its sender did not vouch for"
[ ! -e "$DST/vouched" ] || fail "an archive not vouched for was moved into place"
grep -q "did not vouch" "$T/tx1.err" || fail "no reason given: $(cat "$T/tx1.err")"
rssh lifeboat serve tar-x <"$T/stream.whole" 2>"$T/tx2.err" ||
	fail "serve tar-x refused a whole archive: $(cat "$T/tx2.err")"
[ "$(stat -c %s "$DST/vouched/big" 2>/dev/null)" = 300000 ] || fail "the vouched archive did not arrive whole"
[ -z "$(find "$DST/.lifeboat-history" -path '*/.incoming-*/vouched*')" ] ||
	fail "serve tar-x left what it staged behind"
# The sync puts back what that rsync deleted (a full pass: SIGUSR1).
kill -USR1 "$SYNC_PID"
assert_trees_equal "$SRC" "$DST" 20

# check: the key is restricted (PASS), and an unrestricted one is a WARN;
# the clock, the disk and the history's room are still measured through serve.
rule() { python3 -c 'import json,sys
for i in json.load(sys.stdin):
    if i["rule"] == sys.argv[1]: print(i["result"])' "$1"; }
"$LIFEBOAT" -c "$T/lb.conf" check --json >"$T/check.json" 2>"$T/check.err" || true
for r in key clock disk history; do
	[ "$(rule sync.www.$r <"$T/check.json")" = PASS ] ||
		fail "check sync.www.$r is not PASS through serve: $(grep "www.$r" "$T/check.json")"
done
sed "s|ssh_identity = .*|ssh_identity = $SSH_KEY|" "$T/lb.conf" >"$T/open.conf"
"$LIFEBOAT" -c "$T/open.conf" check --json >"$T/check2.json" 2>/dev/null || true
[ "$(rule sync.www.key <"$T/check2.json")" = WARN ] || fail "an unrestricted key is not a WARN"

# No perl on the target's side of anything: every request is serve's.
grep -q perl "$T/ssh/sshd_$SSHD_PORT.log" && fail "perl ran on the target"
stop_sync || fail "sync did not stop cleanly"
pass
