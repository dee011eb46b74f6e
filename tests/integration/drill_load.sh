#!/usr/bin/env bash
# lifeboat drill while the shop is open: an application with ALL PRIVILEGES
# (as many small shops run it; it writes through read_only in 10.11) writes
# through the VIP without a pause, reconnecting after every error, for the
# whole drill. The drill passes: its comparisons are made at one GTID on
# both sides (the primary's consistent snapshot, the replica stopped there)
# instead of waiting for quiet tables; its fences hold (no acknowledged
# write lands on a fenced primary, so nothing diverges); and after it every
# acknowledged order is on both servers.
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
sql_p "CREATE USER shopadmin@'%' IDENTIFIED BY 'adminpw'; GRANT ALL PRIVILEGES ON *.* TO shopadmin@'%';
	CREATE TABLE app.orders (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)" || fail "app account"
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM mysql.user WHERE User=\"shopadmin\"")" = 1 ]' || fail "not replicated"

# The writer: one order per statement through the VIP, as a pool would.
W=$T/acked
( n=0; while :; do
	if in_ns client mariadb --no-defaults --protocol=tcp -h"$VIP" -P$CLUSTER_PORT -ushopadmin -padminpw \
		--connect-timeout=2 -N -B -e "INSERT INTO app.orders (v) VALUES ($((n + 1)))" 2>/dev/null; then
		n=$((n + 1)); echo "$n" >"$W.tmp" && mv "$W.tmp" "$W"
	fi
	sleep 0.01
done ) &
WPID=$!
lb_track_pid $WPID
acked() { cat "$W" 2>/dev/null || echo 0; }
wait_until 30 eval '[ "$(acked)" -ge 30 ]' || fail "the writer does not write"

lb_d drill --json >"$T/drill.json" 2>"$T/drill.err"; rc=$?
cat "$T/drill.err"
[ $rc = 0 ] || { cat "$T/drill.json"; fail "drill under load: exit $rc"; }
start=$(acked)
wait_until 30 eval '[ "$(acked)" -ge $((start + 30)) ]' || fail "the writer stopped after the drill"
python3 - "$T/drill.json" <<'PY' || fail "drill report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], r
for c in r["checks"]:
    assert c["ok"], c
    if c["what"] == "database":
        assert "at GTID 0-" in c["detail"], c
print("drill under load: write block %.3f s / %.3f s" % (r["write_block_s"], r["write_block_back_s"]))
PY
# Every acknowledged order is on both servers.
kill $WPID; wait $WPID 2>/dev/null
last=$(acked)
wait_until 30 eval '[ "$(sql_p "SELECT COUNT(*) FROM app.orders WHERE v <= $last")" -ge "$last" ]' || fail "acknowledged orders lost on oslo"
wait_until 30 eval '[ "$(sql_p "SELECT @@gtid_binlog_pos")" = "$(sql_d "SELECT @@gtid_slave_pos")" ]' || fail "dr does not catch up"
[ "$(sql_p "SELECT COUNT(DISTINCT v) FROM app.orders")" = "$(sql_d "SELECT COUNT(DISTINCT v) FROM app.orders")" ] || fail "oslo and dr differ"
[ "$(sql_d "SELECT Last_SQL_Errno FROM information_schema.SLAVE_STATUS" 2>/dev/null || echo 0)" != 1950 ] || fail "diverged"
pass
