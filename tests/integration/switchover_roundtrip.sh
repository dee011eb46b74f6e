#!/usr/bin/env bash
# switchover and back, both nodes up, in network namespaces, with the file
# sync daemons running on both nodes and a client writing through the VIP
# the whole time: zero acknowledged transactions lost, every file on both
# sides, roles, epochs and the VIP swapped each time. The way back is killed
# once between fence and promotion and resumed.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
need arping rsync python3
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"
cluster_sync_start || fail "sync daemons did not start"

# The client writes through the VIP until told to stop; a line in acked is
# a committed (acknowledged) insert.
writer() {
	local i=1
	while [ ! -e "$T/stop" ]; do
		# IGNORE: a commit whose answer the fence cut off may be there already.
		if app_vip "INSERT IGNORE INTO app.t VALUES ($i, 'w')" 2>/dev/null; then
			echo "$i" >>"$T/acked"
			i=$((i + 1))
		fi
	done
}
: >"$T/acked"
writer &
WRITER=$!
lb_track_pid "$WRITER"
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 20 ]' || fail "writer does not write"

# switchover DIR NEW_CONF_FN NEW_NAME: files made on the current primary
# reach the other side first; then the roles swap.
files_on() { # DIR FROM TO
	for i in $(seq "$2" "$3"); do echo "file $i" >"$1/f$i"; done
}
files_on "$T/oslo/www" 1 50
wait_until 30 eval '[ "$(find "$T/dr/www" -path "*/.lifeboat-history" -prune -o -type f -print | wc -l)" = 50 ]' || fail "files not replicated to dr"

lb_d switchover --dry-run >"$T/dry.out" 2>&1 || { cat "$T/dry.out"; fail "dry-run"; }
grep -q "MASTER_GTID_WAIT" "$T/dry.out" && grep -q "expected loss: none" "$T/dry.out" || fail "dry-run output: $(cat "$T/dry.out")"
[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "dry-run changed something"

# A standby that does not replicate is refused before the primary is fenced.
sql_d "STOP SLAVE"
out=$(lb_d switchover --yes 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "replication on this node is not healthy" || fail "unhealthy standby not refused (exit $rc): $out"
[ "$(sql_p "SELECT @@read_only")" = 0 ] || fail "primary fenced by a refused switchover"
sql_d "START SLAVE"
rm -f "$STATE_D/failover.journal"

lb_d switchover --yes --json >"$T/sw1.json" 2>"$T/sw1.err" || { cat "$T/sw1.err"; fail "switchover to dr"; }
cat "$T/sw1.err"
python3 - "$T/sw1.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["operation"] == "switchover" and r["complete"] and r["epoch"] == 1, r
assert r["rpo"]["database"]["transactions_lost"] == 0, r["rpo"]
st = {s["name"]: s for s in r["steps"]}
import datetime
print("write block (fence start -> promote end): %.3f s" % sum(st[n]["seconds"] for n in ("fence", "catch_up", "files", "promote")))
PY
[ "$(sql_d "SELECT @@read_only")" = 0 ] && [ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "read_only after switchover"
[ "$(sql_p "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Slave_IO'")" = 1 ] || fail "oslo does not replicate"
[ "$(vip_holder)" = dr ] || fail "VIP: $(vip_holder)"
[ "$(cat "$STATE_D/role")" = primary ] && [ "$(cat "$STATE_P/role")" = standby ] || fail "role files"
[ "$(cat "$STATE_D/epoch")" = 1 ] && [ "$(cat "$STATE_P/epoch")" = 1 ] || fail "epoch files"
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge $(( $(wc -l <"$T/acked") )) ]'
# Files now flow dr -> oslo.
wait_until 30 eval '[ "$(status_field www direction "$STATE_D")" = reversed ]' || fail "dr sync not reversed"
files_on "$T/dr/www" 51 80
wait_until 30 eval '[ "$(find "$T/oslo/www" -path "*/.lifeboat-history" -prune -o -type f -print | wc -l)" = 80 ]' || fail "files not replicated back to oslo"

# And back.
n_before=$(wc -l <"$T/acked")
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge $((n_before + 10)) ]' || fail "writer stalled after the switchover"
# Killed between the fence and the promotion (writes blocked), then resumed.
LIFEBOAT_TEST_KILL_AT=promote:start lb_p switchover --yes >"$T/sw2.killed" 2>&1; rc=$?
[ $rc = 137 ] || { cat "$T/sw2.killed"; fail "switchover killed at promote: exit $rc"; }
[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "old primary not fenced by the killed switchover"
lb_p switchover --yes --json >"$T/sw2.json" 2>"$T/sw2.err" || { cat "$T/sw2.err"; fail "switchover back"; }
grep -q "resuming the interrupted switchover" "$T/sw2.err" || fail "switchover did not resume"
cat "$T/sw2.err"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["complete"] and r["epoch"]==2 and r["rpo"]["database"]["transactions_lost"]==0, r' "$T/sw2.json" || fail "report 2"
[ "$(sql_p "SELECT @@read_only")" = 0 ] && [ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "read_only after switchback"
[ "$(vip_holder)" = primary ] || fail "VIP: $(vip_holder)"
[ "$(cat "$STATE_P/role")" = primary ] && [ "$(cat "$STATE_D/role")" = standby ] || fail "role files back"
files_on "$T/oslo/www" 81 100
n_before=$(wc -l <"$T/acked")
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge $((n_before + 10)) ]' || fail "writer stalled after the switchback"
touch "$T/stop"; wait "$WRITER"

# Zero loss: every acknowledged row on both, every file on both.
sort -n "$T/acked" >"$T/acked.s"
sql_p "SELECT id FROM app.t" | sort -n >"$T/have.p"
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = "$(wc -l <"$T/have.p")" ]' || fail "dr behind"
lost=$(comm -23 "$T/acked.s" "$T/have.p" | wc -l)
echo "acknowledged $(wc -l <"$T/acked.s"), lost $lost"
[ "$lost" = 0 ] || fail "$lost acknowledged transactions lost"
wait_until 30 eval '[ "$(find "$T/dr/www" -path "*/.lifeboat-history" -prune -o -type f -print | wc -l)" = 100 ]' || fail "files 81-100 not on dr"
assert_trees_equal -O "$T/oslo/www" "$T/dr/www" 30
pass
