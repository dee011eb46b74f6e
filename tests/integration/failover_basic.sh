#!/usr/bin/env bash
# failover in network namespaces (primary, dr, client on a bridge): the
# client writes through the VIP, the primary's mariadbd is killed and its
# link cut, `lifeboat failover` on dr promotes it, takes the VIP (gratuitous
# ARP) and reports RTO/RPO; the client writes through the VIP again. Then the
# old primary comes back: it is read-only, its own failover is refused (the
# peer holds a higher epoch), its sync daemon (running all along) refuses to
# push over the new primary, and it never gets the VIP. Last, `db rejoin`
# (run on the new primary) steps the old one down with the new epoch over
# the default peer command (ssh to the node, from the [node] sections):
# files flow from the new primary back. Two machines (cluster.sh), one
# configuration file.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
command -v arping >/dev/null || skip "arping not installed"
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"
cluster_sync_start || fail "sync daemons"
echo index >"$T/oslo/www/index.html"
wait_until 20 test -e "$T/dr/www/index.html" || fail "file not replicated"

for i in $(seq 1 20); do app_vip "INSERT INTO app.t VALUES ($i, 'before')" || fail "write $i via VIP"; done
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 20 ]' || fail "not replicated"
[ "$(vip_holder)" = primary ] || fail "VIP not on primary at start"

# --dry-run: every step with SQL and commands, the lag, changes nothing.
out=$(lb_d failover --dry-run 2>&1); rc=$?
echo "$out"
[ $rc = 1 ] || fail "dry-run with a live primary: exit $rc, expected a refusal"
echo "$out" | grep -q "use 'lifeboat switchover'" || fail "no switchover hint: $out"
cluster_kill_primary
out=$(lb_d failover --dry-run 2>&1) || fail "dry-run failed: $out"
echo "$out"
for want in "SET GLOBAL read_only = OFF" "RESET SLAVE ALL" "ip addr add $VIP/24 dev eth0" \
	"arping -q -U -c 1 -I eth0 $VIP" "standby lag:" "expected database loss" "/var/lib/lifeboat/role"; do
	echo "$out" | grep -qF -- "$want" || fail "dry-run lacks '$want'"
done
[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "dry-run changed read_only"
[ ! -e "$STATE_D/failover.journal" ] || fail "dry-run wrote a journal"
[ "$(vip_holder)" = primary ] || fail "dry-run moved the VIP"

# Not a terminal and no --yes: usage error, nothing changed.
out=$(lb_d failover </dev/null 2>&1); rc=$?
[ $rc = 2 ] || fail "no --yes: exit $rc: $out"
echo "$out" | grep -q -- "--yes" || fail "no --yes hint: $out"

# On a terminal it shows the expected loss and asks; anything but "yes" stops.
if command -v script >/dev/null; then
	out=$(printf 'no\n' | in_node dr script -qec "lifeboat failover" /dev/null 2>&1); rc=$?
	[ $rc = 1 ] || fail "answered no: exit $rc: $out"
	echo "$out" | grep -q "expected database loss" && echo "$out" | grep -q "not confirmed" \
		|| fail "confirmation prompt: $out"
	[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "promoted without confirmation"
fi

t0=$(lb_now_ms)
lb_d failover --yes --json >"$T/report.json" 2>"$T/failover.err" || { cat "$T/failover.err"; fail "failover failed"; }
t1=$(lb_now_ms)
cat "$T/failover.err"; cat "$T/report.json"
python3 - "$T/report.json" <<'PY' || fail "report wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["operation"] == "failover" and r["complete"] is True, r
names = [s["name"] for s in r["steps"]]
assert names == ["precheck", "pre_hook", "fence", "promote", "epoch", "vip", "dns",
                 "reverse_sync", "old_primary", "post_hook"], names
assert all(s["started"] and s["ended"] for s in r["steps"]), r["steps"]
assert r["rto"]["from_command_s"] > 0 and r["rto"]["from_last_heartbeat_s"] >= r["rto"]["from_command_s"], r["rto"]
assert r["rpo"]["database"]["applied_gtid"], r["rpo"]
assert r["rpo"]["database"]["transactions_lost"] is None  # primary unreachable
assert r["epoch"] == 1, r
print("RTO %.3f s from the command, %.3f s from the last heartbeat" %
      (r["rto"]["from_command_s"], r["rto"]["from_last_heartbeat_s"]))
PY
echo "failover wall time: $((t1 - t0)) ms"
# The cut-off old primary still has it configured (it cannot be told):
# the client follows the gratuitous ARP; step-down removes it on return.
case $(vip_holder) in dr|both) ;; *) fail "VIP not on dr: $(vip_holder)" ;; esac
[ "$(cat "$STATE_D/role")" = primary ] || fail "role file not primary"
wait_until 20 eval '[ "$(status_field www direction "$STATE_D")" = reversed ]' || fail "dr's sync not reversed"
[ "$(cat "$STATE_D/epoch")" = 1 ] || fail "epoch file not 1"
# The client reaches the new primary through the VIP (its ARP cache was
# updated by the gratuitous ARP, not by expiry).
app_vip "INSERT INTO app.t VALUES (21, 'after')" || fail "write via VIP after failover"
[ "$(app_vip "SELECT COUNT(*) FROM app.t")" = 21 ] || fail "rows lost"
[ "$(app_vip "SELECT @@server_id")" = 2 ] || fail "VIP does not lead to dr"

# Run again: complete, nothing to do, same report.
out=$(lb_d failover --yes 2>&1) || fail "second run failed: $out"
echo "$out" | grep -q "nothing to do" || fail "second run did something: $out"

# The old primary comes back: read-only, fenced by its epoch.
cluster_revive_primary || fail "revive"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "old primary came back writable"
out=$(lb_p failover --yes --force 2>&1); rc=$?
echo "$out"
[ $rc = 1 ] || fail "failover on the stale old primary: exit $rc"
echo "$out" | grep -q "higher than this node" || fail "no epoch refusal: $out"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "old primary made writable"
# The heartbeat writer (still running there) never writes on it.
wait_until 10 eval '[ "$(sql_d "SELECT server_id FROM lifeboat.heartbeat")" = 2 ]' \
	|| fail "heartbeat not on the new primary"
# Its sync daemon ran all along: it still thinks it is the primary, but
# the peer's higher epoch stops it from pushing over the new primary.
echo stale >"$T/oslo/www/stale.html"
wait_until 30 eval 'status_field www last_error "$STATE_P" | grep -q "epoch"' \
	|| fail "old primary's sync does not report the epoch refusal: $(status_field www last_error "$STATE_P")"
[ ! -e "$T/dr/www/stale.html" ] || fail "old primary pushed over the new primary"
# The step-down tells it it is a standby.
lb_p switchover --step-down || fail "step-down"
[ "$(cat "$STATE_P/role")" = standby ] || fail "old primary role not standby"
[ "$(vip_holder)" = dr ] || fail "VIP not only on dr after step-down: $(vip_holder)"
app_vip "INSERT INTO app.t VALUES (22, 'after return')" || fail "write via VIP after the return"
[ "$(sql_p "SELECT COUNT(*) FROM app.t")" = 20 ] || fail "old primary got writes"
[ ! -e "$T/dr/www/stale.html" ] || fail "old primary pushed after the step-down"

# Rejoin: the old primary follows the new one, its files too (db rejoin
# steps it down with the new epoch); with that epoch there, the new
# primary's sync pushes back (keeping a copy of what it replaces).
lb_d db rejoin || fail "db rejoin"
[ "$(cat "$STATE_P/epoch")" = 1 ] || fail "db rejoin did not give the old primary the new epoch"
[ "$(cat "$STATE_P/role")" = standby ] || fail "old primary's role after db rejoin: $(cat "$STATE_P/role")"
wait_until 20 eval '[ "$(sql_p "SELECT COUNT(*) FROM app.t")" = 22 ]' || fail "old primary does not follow"
echo new >"$T/dr/www/new.html"
wait_until 30 test -e "$T/oslo/www/new.html" || fail "new primary's files do not reach the old one"
pass
