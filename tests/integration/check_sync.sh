#!/usr/bin/env bash
# lifeboat check, [sync] rules: a local and an ssh target (private sshd) that
# are fine pass; the running daemon (asked on its control socket, never a
# file it left) decides freshness; an unreachable
# target, an unknown host key and a refused key each FAIL with their fix and
# exit 3; a target without room FAILs; no [database] is a SKIP, not a FAIL.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync ssh
need_root
lb_setup
cd "$T"
start_sshd || fail "cannot start sshd"
PY=/usr/bin/python3 # not a pyenv shim: it costs ~1 s a call on these machines

SRC=$T/src
mkdir -p "$SRC/a/b" "$SRC/c" "$T/local-dst"
echo hello >"$SRC/a/b/f"
CONF=$T/lb.conf
sync_conf "$CONF" near "$SRC" "$T/local-dst" delay=0
sync_conf_add "$CONF" far "$SRC" "$SSH_TARGET:$T/remote/dst" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"

# chk [CONF]: check --json; sets OUT, RC and $T/results ("RULE\tRESULT\tFIX").
chk() {
	OUT=$("$LIFEBOAT" -c "${1:-$CONF}" check --json 2>"$T/err"); RC=$?
	echo "$OUT" | $PY -c 'import json,sys
for i in json.load(sys.stdin): print("%s\t%s\t%s" % (i["rule"], i["result"], i["fix"] or ""))' \
		>"$T/results" || fail "check --json is not JSON (rc $RC): $OUT $(cat "$T/err")"
}
result() { awk -F'\t' -v r="$1" '$1 == r {print $2; exit}' "$T/results"; }
fix_of() { awk -F'\t' -v r="$1" '$1 == r {print $3; exit}' "$T/results"; }
expect() { # RULE RESULT
	[ "$(result "$1")" = "$2" ] || fail "$1 is '$(result "$1")', expected $2: $OUT"
}
expect_fail() { # CONF RULE FIX-WORD
	chk "$1"
	[ "$RC" = 3 ] || fail "$2: exit $RC, expected 3: $OUT"
	expect "$2" FAIL
	fix_of "$2" | grep -qi -- "$3" || fail "$2: fix '$(fix_of "$2")' does not mention $3"
}

# Both targets fine, no daemon yet: warnings only (exit 0).
chk
[ "$RC" = 0 ] || fail "good config: exit $RC: $OUT"
for r in sync.inotify sync.rsync sync.far.ssh sync.far.rsync sync.far.clock sync.far.disk sync.near.disk; do
	expect $r PASS
done
expect db SKIP
expect sync.daemon WARN
expect sync.start PASS

# What `lifeboat sync` would refuse on this node, check fails too.
sync_conf "$T/inside.conf" inside "$SRC" "$SRC/a/copy" delay=0
expect_fail "$T/inside.conf" sync.start "configuration"
grep -q "overlaps its source" <<<"$OUT" || fail "sync.start does not say why: $OUT"
[ ! -e "$T/remote/dst" ] || fail "check created the remote target"

# With the daemon running and idle, the DR side is fresh.
start_sync "$CONF"
wait_idle near 20 && wait_idle far 20 || fail "sync did not reach idle"
chk
[ "$RC" = 0 ] || fail "with the daemon: exit $RC: $OUT"
expect sync.daemon PASS
expect sync.near.freshness PASS
expect sync.far.freshness PASS
stop_sync || fail "sync did not stop cleanly"

# A sync in state error FAILs: its source vanished under the running
# daemon (a careless mv).
start_sync "$CONF"
wait_idle near 20 || fail "sync did not reach idle again"
mv "$SRC" "$T/src-away"
wait_until 20 eval '[ "$(sync_state near)" = error ]' || fail "vanished source not reported"
expect_fail "$CONF" sync.near.freshness "lifeboat status"
stop_sync || fail "sync did not stop cleanly"
mv "$T/src-away" "$SRC"

# A file a daemon left behind decides nothing: a status.json naming a live
# pid (this shell) as running, with its syncs in error, is no daemon.
now=$(date +%s)
cat >"$T/state/status.json" <<EOF
{"version":1,"pid":$$,"running":true,"updated_unix":$now,"syncs":{
 "near":{"pid":$$,"running":true,"state":"error","pending":3,"oldest_pending_age":400,"last_success_unix":$((now - 500)),"last_error":"rsync exit 23"},
 "far":{"pid":$$,"running":true,"state":"retrying","pending":1,"oldest_pending_age":90,"last_success_unix":$((now - 100)),"last_error":"unreachable"}}}
EOF
chk
expect sync.daemon WARN
[ "$(result sync.near.freshness)" = "" ] || fail "freshness judged from a file no daemon answers for: $OUT"

# Unreachable target: nothing listens on the port.
DEAD_PORT=$(free_port)
sync_conf "$T/dead.conf" gone "$SRC" "$SSH_TARGET:$T/x" ssh_port="$DEAD_PORT" \
	ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"
expect_fail "$T/dead.conf" sync.gone.ssh sshd
[ "$(result sync.gone.disk)" = "" ] || fail "disk probed on an unreachable target: $OUT"

# Host key not known (an empty known_hosts, strict checking).
: >"$T/empty_known_hosts"
sync_conf "$T/hostkey.conf" hk "$SRC" "$SSH_TARGET:$T/x" ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" \
	ssh_options="-o UserKnownHostsFile=$T/empty_known_hosts -o StrictHostKeyChecking=yes"
expect_fail "$T/hostkey.conf" sync.hk.ssh ssh-keyscan
# ... even when ssh_options would accept a new key: check writes nothing.
sync_conf "$T/accept.conf" hk "$SRC" "$SSH_TARGET:$T/x" ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" \
	ssh_options="-o UserKnownHostsFile=$T/empty_known_hosts -o StrictHostKeyChecking=accept-new"
expect_fail "$T/accept.conf" sync.hk.ssh ssh-keyscan
[ ! -s "$T/empty_known_hosts" ] || fail "check added a host key to known_hosts"

# A key the target does not accept.
ssh-keygen -q -t ed25519 -N '' -f "$T/other_key" </dev/null >/dev/null
sync_conf "$T/key.conf" key "$SRC" "$SSH_TARGET:$T/x" ssh_port="$SSHD_PORT" ssh_identity="$T/other_key" \
	ssh_options="$SSH_OPTS"
expect_fail "$T/key.conf" sync.key.ssh ssh-copy-id

# No room on the DR side: a 1 MiB file system for a 3 MiB tree.
mkdir -p "$T/small"
if mount -t tmpfs -o size=1m lbcheck "$T/small" 2>/dev/null; then
	lb_on_exit "umount '$T/small'"
	head -c 3000000 /dev/zero >"$SRC/c/big"
	sync_conf "$T/small.conf" tiny "$SRC" "$T/small/dst"
	expect_fail "$T/small.conf" sync.tiny.disk "free space"
else
	echo "note: cannot mount a tmpfs here; the full-disk case is not run"
fi

# [node]s: the other node is reached as its ssh = with [database]
# ssh_options (the databases here are down: only the node rules matter).
echo secret >"$T/db.pass"; chmod 600 "$T/db.pass"
DB_PORT=$(free_port)
cat >"$T/nodes.conf" <<EOF
[lifeboat]
state_dir = $T/state
log = stderr
node = here

[node here]
address = 127.0.0.1

[node dr]
address = 127.0.0.2
ssh = $SSH_TARGET

[database]
primary = here
standby = dr
port = $DB_PORT
user = lifeboat
password_file = $T/db.pass
ssh_options = -p $SSHD_PORT -i $SSH_KEY $SSH_OPTS
EOF
chk "$T/nodes.conf"
[ "$RC" = 3 ] || fail "nodes with the databases down: exit $RC: $OUT"
expect db.primary.connect FAIL
expect node.dr.ssh PASS
expect node.dr.rsync PASS
expect node.dr.clock PASS
[ "$(result node.here.ssh)" = "" ] || fail "this node probed itself: $OUT"

# Text output: the FAIL line and its fix line; usage errors exit 2.
text=$("$LIFEBOAT" -c "$T/dead.conf" check 2>/dev/null); rc=$?
[ $rc = 3 ] || fail "text check exit $rc"
echo "$text" | grep -q '^FAIL  sync.gone.ssh ' || fail "no FAIL line: $text"
echo "$text" | grep -q '^ *fix: start sshd' || fail "no fix line: $text"
"$LIFEBOAT" -c "$CONF" check --bogus 2>/dev/null; rc=$?
[ $rc = 2 ] || fail "unknown argument: exit $rc"
pass
