#!/usr/bin/env bash
# The whole story on two machines, as a sysadmin runs it: each node its own
# network and mount namespace (the same paths, their own contents), one
# configuration file byte for byte the same on both (no `node =`: each node
# finds itself by its address), lifeboat from `make install`, MariaDB laid
# out as Debian does with read_only = ON in its my.cnf.
#   check on both; sync on both (oslo pushes, dr receives and says so);
#   a clone from either node (dump from dr, backup refused off dr, then run
#   there); writes; oslo dies (kill -9 of everything on it, cable cut);
#   failover on dr; a file and a row written on dr; oslo back: it stays
#   read-only, db status says it needs rejoining, db rejoin; the file and
#   the row reach it; its status says it receives; failback by switchover;
#   a drill.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
need_netns
command -v arping >/dev/null || skip "arping not installed"
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"

# One file, the same bytes on both machines, and each knows who it is.
cmp "$T/oslo/etc-lifeboat/lifeboat.conf" "$T/dr/etc-lifeboat/lifeboat.conf" || fail "configurations differ"
grep -q '^node *=' "$T/oslo/etc-lifeboat/lifeboat.conf" && fail "the file names the node"
[ "$(in_node primary sh -c "command -v lifeboat")" = /usr/local/bin/lifeboat ] || fail "lifeboat not installed on PATH"

# check passes the sync rules on both nodes (the databases' rules are not
# this test's business).
for n in primary dr; do
	in_node $n lifeboat check --json >"$T/check-$n.json" 2>&1
	python3 - "$T/check-$n.json" <<'PY' || fail "check on $n: $(cat "$T/check-$n.json")"
import json, sys
r = json.load(open(sys.argv[1]))
res = {x["rule"]: x["result"] for x in r}
assert res.get("sync.start") == "PASS", res
for k, v in res.items():
    if k.startswith("node.") and k.endswith(".ssh"):
        assert v == "PASS", (k, v)
PY
done

# sync on both nodes from the one file: oslo pushes, dr receives.
cluster_sync_start || { cat "$T/sync-dr.log"; fail "sync daemons"; }
echo index >"$T/oslo/www/index.html"
wait_until 20 test -e "$T/dr/www/index.html" || fail "file not replicated"
[ "$(status_field www from "$STATE_D")" = oslo ] || fail "dr does not say where its files come from"
wait_until 10 eval 'python3 -c "import json,sys,time; a=json.load(open(sys.argv[1]))[\"syncs\"][\"www\"][\"last_received_unix\"]; sys.exit(0 if 0 <= time.time() - a < 60 else 1)" "$STATE_D/status.json"' \
	|| fail "dr's status has no age of the last change received"
out=$(lb_d status 2>&1)
echo "$out" | grep -q "receiving.*from oslo" || fail "dr's status: $out"

# db status on day one: oslo writable (db writable at setup), dr replicates.
lb_d db status >"$T/dbstatus.out" 2>&1 || { cat "$T/dbstatus.out"; fail "db status at start"; }

# A physical clone run where the standby is not: refused before anything
# changes, naming the node to run it on.
out=$(lb_p db clone --method backup --force 2>&1); rc=$?
[ $rc = 1 ] || fail "backup clone on the primary's machine: exit $rc: $out"
echo "$out" | grep -q "on dr" || fail "backup clone refusal does not name dr: $out"
[ "$(sql_d "SELECT @@read_only")" = 1 ] && sql_d "SELECT 1" >/dev/null || fail "dr touched by a refused clone"
# Run on dr, it works (stops dr's server, copies, starts it again).
for i in $(seq 1 10); do app_vip "INSERT INTO app.t VALUES ($i, 'before')" || fail "write $i"; done
lb_d db clone --method backup --force >"$T/clone-backup.log" 2>&1 || { cat "$T/clone-backup.log"; fail "backup clone on dr"; }
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 10 ]' || fail "not replicated after the backup clone"

# oslo dies: every process on it, and its cable.
for i in $(seq 11 20); do app_vip "INSERT INTO app.t VALUES ($i, 'before')" || fail "write $i"; done
echo upload >"$T/oslo/www/upload.jpg"
wait_until 20 test -e "$T/dr/www/upload.jpg" || fail "upload not replicated"
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 20 ]' || fail "rows not replicated"
cluster_crash primary

lb_d failover --yes >"$T/failover.out" 2>&1 || { cat "$T/failover.out"; fail "failover"; }
cat "$T/failover.out"
wait_until 20 eval '[ "$(status_field www direction "$STATE_D")" = reversed ]' || fail "dr's sync not reversed"
app_vip "INSERT INTO app.t VALUES (21, 'after')" || fail "write via VIP after failover"
echo after >"$T/dr/www/after.html"

# oslo comes back (a reboot: its servers start, read-only by my.cnf).
cluster_revive primary || fail "revive"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "old primary came back writable"
cluster_sync_start_on primary
out=$(lb_d db status 2>&1); rc=$?
[ $rc = 1 ] || fail "db status with the old primary not rejoined: exit $rc: $out"
echo "$out" | grep -q "db rejoin" || fail "db status gives no rejoin hint: $out"
lb_d db rejoin >"$T/rejoin.out" 2>&1 || { cat "$T/rejoin.out"; fail "db rejoin"; }
# The rejoined node's drop-in: read-only, at the epoch it follows.
dropin=$T/oslo/etc-mysql/mariadb.conf.d/99-lifeboat-read-only.cnf
grep -q "role epoch 1, read-only" "$dropin" && grep -q "^read_only = ON" "$dropin" ||
	fail "drop-in on the rejoined node: $(cat "$dropin" 2>&1)"
wait_until 20 eval '[ "$(sql_p "SELECT COUNT(*) FROM app.t")" = 21 ]' || fail "row does not reach the old primary"
wait_until 30 test -e "$T/oslo/www/after.html" || fail "file does not reach the old primary"
wait_until 20 eval '[ "$(status_field www direction "$STATE_P")" = receiving ]' || fail "oslo's sync does not receive"
out=$(lb_p status 2>&1)
echo "$out" | grep -q "receiving.*from dr" || fail "oslo's status after rejoin: $out"
lb_d db status >"$T/dbstatus2.out" 2>&1 || { cat "$T/dbstatus2.out"; fail "db status after rejoin"; }

# Failback by switchover, run on oslo.
lb_p switchover --yes >"$T/switchover.out" 2>&1 || { cat "$T/switchover.out"; fail "switchover back"; }
[ "$(vip_holder)" = primary ] || fail "VIP after failback: $(vip_holder)"
wait_until 20 eval '[ "$(status_field www direction "$STATE_D")" = receiving ]' || fail "dr's sync after failback"
echo back >"$T/oslo/www/back.html"
wait_until 30 test -e "$T/dr/www/back.html" || fail "files do not flow oslo -> dr after failback"
app_vip "INSERT INTO app.t VALUES (22, 'back')" || fail "write after failback"
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 22 ]' || fail "row after failback"

# A drill, on the DR node.
lb_d drill >"$T/drill.out" 2>&1 || { cat "$T/drill.out"; fail "drill"; }
tail -n 5 "$T/drill.out"
pass
