#!/usr/bin/env bash
# What lifeboat's processes tell each other goes through the sync daemon's
# control socket, never a file it may have left behind:
# - a stale status.json naming a live, unrelated process (a reused pid)
#   gets nothing signalled by status, check, switchover --step-down or
#   failover, and is not taken for a running daemon;
# - a role change reaches the running daemon (reload over its socket);
# - non-ASCII paths (/srv/café) round-trip through status, status --json
#   and status.json.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T" || fail "cannot cd to $T"
PY=/usr/bin/python3

SRC="$T/srv/café" DST="$T/dr/café"
mkdir -p "$SRC/répertoire" "$T/state"
echo bonjour >"$SRC/répertoire/façade.txt"
CONF=$T/lb.conf
sync_conf "$CONF" www "$SRC" "$DST" delay=0

# An unrelated process whose pid a stale status file names as the daemon.
sleep 600 &
VICTIM=$!
lb_track_pid "$VICTIM"
now=$(date +%s)
cat >"$T/state/status.json" <<EOF
{"version":1,"pid":$VICTIM,"running":true,"updated_unix":$now,"syncs":{
 "www":{"pid":$VICTIM,"running":true,"state":"idle","pending":0,"oldest_pending_age":0,"last_success_unix":$now}}}
EOF
rc=0; out=$("$LIFEBOAT" -c "$CONF" status 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "NOT RUNNING" <<<"$out" || fail "status took a stale file for a daemon: exit $rc: $out"
rc=0; out=$("$LIFEBOAT" -c "$CONF" status --json 2>&1) || rc=$?
[ "$rc" = 1 ] && $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["running"] is False and d["syncs"]["www"]["running"] is False' <<<"$out" ||
	fail "status --json took a stale file for a daemon: exit $rc: $out"
out=$("$LIFEBOAT" -c "$CONF" check --json 2>/dev/null) || true
$PY -c 'import json,sys; r={i["rule"]: i["result"] for i in json.load(sys.stdin)}; assert r["sync.daemon"] == "WARN", r' <<<"$out" ||
	fail "check took a stale file for a daemon: $out"
"$LIFEBOAT" -c "$CONF" switchover --step-down >"$T/stepdown.out" 2>&1 || fail "step-down failed: $(cat "$T/stepdown.out")"
grep -q "no sync daemon running here" "$T/stepdown.out" || fail "step-down did not say no daemon runs: $(cat "$T/stepdown.out")"
"$LIFEBOAT" -c "$CONF" failover --yes >"$T/failover.out" 2>&1 || true
kill -0 "$VICTIM" 2>/dev/null || fail "the process named by the stale status file was signalled"
rm -f "$T/state/role"

# A running daemon: the same status, live, with the non-ASCII names intact.
start_sync "$CONF"
wait_idle www 20 || fail "startup pass did not reach idle: $(cat "$SYNC_LOG")"
assert_trees_equal "$SRC" "$DST" 5
"$LIFEBOAT" -c "$CONF" status --json >"$T/status.out" || fail "status --json failed: $(cat "$T/status.out")"
$PY - "$T/status.out" "$T/state/status.json" "$SRC" "$DST" <<'PYEOF' || fail "non-ASCII paths do not round-trip: $(cat "$T/status.out")"
import json, sys
for f in sys.argv[1:3]:
    d = json.load(open(f, encoding="utf-8"))
    w = d["syncs"]["www"]
    assert w["source"] == sys.argv[3], (f, w["source"])
    assert w["target"] == sys.argv[4], (f, w["target"])
    assert "café" in open(f, encoding="utf-8").read(), f
PYEOF
out=$("$LIFEBOAT" -c "$CONF" status 2>&1) || fail "status failed with the daemon running: $out"
grep -qF "$SRC -> $DST" <<<"$out" || fail "status text mangles the non-ASCII path: $out"
grep -q "running (1 daemon)" <<<"$out" || fail "status text does not say the daemon runs: $out"

# A role change reaches the daemon through its socket: it reloads and its
# sync now only receives.
"$LIFEBOAT" -c "$CONF" switchover --step-down >"$T/stepdown.out" 2>&1 || fail "step-down failed: $(cat "$T/stepdown.out")"
grep -q "1 sync daemon(s) reloaded" "$T/stepdown.out" || fail "step-down did not reload the daemon: $(cat "$T/stepdown.out")"
wait_until 10 eval '[ "$(status_field www direction)" = receiving ]' || fail "daemon did not take the new role: $(status_field www direction)"
kill -0 "$VICTIM" 2>/dev/null || fail "an unrelated process was signalled"
# lifeboat reload (logrotate without systemd) waits for the daemon's answer.
out=$("$LIFEBOAT" -c "$CONF" reload 2>&1) || fail "reload failed: $out"
grep -q "1 sync daemon(s) reloaded" <<<"$out" || fail "reload does not say what it reloaded: $out"
# Killed outright, the daemon leaves its socket behind: nobody answers
# there, so it is not running; started again, it takes the socket over.
kill -KILL "$SYNC_PID"
wait_until 10 eval '! kill -0 "$SYNC_PID" 2>/dev/null' || fail "sync did not die"
[ -S "$T/state/sync.sock" ] || fail "no socket left behind by SIGKILL (the test needs one)"
rc=0; out=$("$LIFEBOAT" -c "$CONF" status 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "NOT RUNNING" <<<"$out" || fail "status with a dead daemon's socket: exit $rc: $out"
start_sync "$CONF"
wait_until 20 "$LIFEBOAT" -c "$CONF" status >/dev/null 2>&1 || fail "restarted daemon does not answer: $(tail -5 "$SYNC_LOG")"
stop_sync || fail "sync did not stop cleanly"
rc=0; out=$("$LIFEBOAT" -c "$CONF" reload 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no running sync daemon" <<<"$out" || fail "reload without a daemon: exit $rc: $out"
kill -0 "$VICTIM" 2>/dev/null || fail "an unrelated process was signalled"
pass
