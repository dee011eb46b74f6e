#!/usr/bin/env bash
# The whole story on two machines, as a sysadmin runs it: each node its own
# network and mount namespace (the same paths, their own contents), one
# configuration file byte for byte the same on both (no `node =`: each node
# finds itself by its address), lifeboat from `make install`, MariaDB laid
# out as Debian does with read_only = ON in its my.cnf.
#   check on both; sync on both (oslo pushes, dr receives and says so);
#   a clone from either node (dump from dr, backup refused off dr, then run
#   there); writes; oslo dies (its cable cut, then kill -9 of everything on
#   it: its last heartbeats become errant, which rejoin discards);
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

# The clone ran on oslo; dr's own sync daemon wrote dr's read_only drop-in.
wait_until 10 in_node dr grep -q "^read_only = ON" /etc/mysql/mariadb.conf.d/99-lifeboat-read-only.cnf \
	|| fail "dr has no read_only drop-in"

# db status on day one: oslo writable (db writable at setup), dr replicates.
lb_d db status >"$T/dbstatus.out" 2>&1 || { cat "$T/dbstatus.out"; fail "db status at start"; }

# Commands that belong to the other node refuse up front, naming it.
for cmd in failover switchover; do
	out=$(lb_p $cmd --yes 2>&1); rc=$?
	[ $rc = 1 ] && echo "$out" | grep -q "run 'lifeboat $cmd' there" && echo "$out" | grep -q " dr" ||
		fail "$cmd on the primary's node: exit $rc: $out"
done
out=$(lb_p drill 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "standby (dr)" || fail "drill on the primary's node: exit $rc: $out"
[ "$(sql_p "SELECT @@read_only")" = 0 ] && [ "$(vip_holder)" = primary ] || fail "a refusal changed something"

# Writes go on only on the primary's node.
out=$(lb_d db writable 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "standby role" || fail "db writable on dr: exit $rc: $out"

# A logical clone from the standby's side works as from the primary's.
lb_d db clone --method dump --force >"$T/clone-dump-dr.log" 2>&1 || { cat "$T/clone-dump-dr.log"; fail "dump clone from dr"; }

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
# As in a data-centre outage the cable goes first: oslo's heartbeat writer
# keeps writing where dr cannot see it (errant transactions, which rejoin
# recognises as lifeboat's own and discards without --force).
hb_pos=$(sql_p "SELECT @@gtid_binlog_pos")
cluster_cut_cable primary
wait_until 20 eval '[ "$(sql_p "SELECT @@gtid_binlog_pos")" != "$hb_pos" ]' || fail "no heartbeat on oslo after the cable cut"
hb_pos=$(sql_p "SELECT @@gtid_binlog_pos")
wait_until 20 eval '[ "$(sql_p "SELECT @@gtid_binlog_pos")" != "$hb_pos" ]' || fail "no second heartbeat on oslo after the cable cut"
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
# Its role file still says primary, but dr holds a newer epoch: no writes.
out=$(lb_p db writable 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "newer than this node's" || fail "db writable on the old primary: exit $rc: $out"
wait_until 20 grep -q "database left read-only here" "$T/sync-oslo.log" || fail "oslo's daemon does not say it stays read-only"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "old primary made writable"
out=$(lb_d db status 2>&1); rc=$?
[ $rc = 1 ] || fail "db status with the old primary not rejoined: exit $rc: $out"
echo "$out" | grep -q "db rejoin" || fail "db status gives no rejoin hint: $out"
lb_d db rejoin >"$T/rejoin.out" 2>&1 || { cat "$T/rejoin.out"; fail "db rejoin"; }
grep -q "only write lifeboat.heartbeat.*discarding them" "$T/rejoin.out" || { cat "$T/rejoin.out"; fail "rejoin did not meet the errant heartbeats"; }
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

# The primary's server restarts (its sync daemon down meanwhile): read-only,
# by its my.cnf and lifeboat's drop-in. db status says why nothing writes,
# not that a heartbeat is missing; the sync daemon, started again, turns
# writes on (this node holds the primary role and the highest epoch).
kill -TERM "$(cat "$T/oslo/.sync_pid")"
pid=$(cat "$T/oslo/run-mysqld/mysqld.pid")
kill -TERM "$pid"; mdb_wait_gone "$pid" 60 || fail "oslo's mariadbd does not stop"
in_node primary /usr/local/sbin/mariadb-start || fail "oslo's mariadbd does not start"
lb_track_pid "$(cat "$T/oslo/run-mysqld/mysqld.pid")"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "the primary's server came back writable by itself"
out=$(lb_d db status 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "no server takes writes" || fail "db status, nothing writable: exit $rc: $out"
echo "$out" | grep -q "heartbeat' running" && fail "db status blames the heartbeat: $out"
cluster_sync_start_on primary
wait_until 30 eval '[ "$(sql_p "SELECT @@read_only")" = 0 ]' || fail "the sync daemon did not make oslo writable"
wait_until 10 grep -q "made primary oslo .* writable" "$T/sync-oslo.log" || fail "the daemon does not say so: $(tail -n 5 "$T/sync-oslo.log")"
app_vip "INSERT INTO app.t VALUES (23, 'after restart')" || fail "write after the primary's restart"
pass
