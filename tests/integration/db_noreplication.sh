#!/usr/bin/env bash
# failover, switchover, db status, check and drill on a standby whose
# replication is not there in the usual way: stopped threads (STOP SLAVE),
# replication reset (RESET SLAVE: configured, positions gone), none
# configured (RESET SLAVE ALL). Every command answers with a clear message
# and an exit status (never a crash: NULL fields of SHOW SLAVE STATUS and of
# other queries); last, the primary dies while the read-only standby has no
# replication configured (the NULL crash of failover's precheck): failover
# promotes it.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
cluster_up || fail "cluster setup"

# run_all STATE: each command refuses with its exit status (status 1,
# check 3, switchover/failover/drill 1: nothing to do from a standby that
# does not replicate) and a message; no sanitizer report, no signal.
run_all() {
	local state=$1 item cmd want out rc
	for item in "1:db status" "1:db status --json" "3:check" "1:switchover --yes" "1:failover --yes" "1:drill"; do
		want=${item%%:*} cmd=${item#*:}
		# shellcheck disable=SC2086
		out=$(lb_d $cmd 2>&1); rc=$?
		echo "$out" | grep -q "AddressSanitizer\|runtime error" && fail "$state: '$cmd': $out"
		[ $rc = "$want" ] || fail "$state: '$cmd' exit $rc, want $want: $out"
		[ -n "$out" ] || fail "$state: '$cmd' said nothing"
		echo "$state: $cmd -> $rc: $(echo "$out" | grep -m1 -i "error\|fail" )"
	done
	# Nothing was promoted: the primary is still the only writable one.
	[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "$state: the standby became writable"
	[ "$(sql_p "SELECT @@read_only")" = 0 ] || fail "$state: the primary was fenced"
}

sql_d "STOP SLAVE"
run_all "stopped threads"
out=$(lb_d db status 2>&1); echo "$out" | grep -q "not running" || fail "status does not say stopped: $out"
sql_d "RESET SLAVE"
run_all "replication reset"
sql_d "RESET SLAVE ALL"
run_all "no replication configured"
out=$(lb_d switchover --yes 2>&1); echo "$out" | grep -q "does not replicate from the primary" || fail "switchover: $out"

# The primary dies; the read-only standby has no replication: failover works.
cluster_kill_primary
out=$(lb_d failover --yes 2>&1) || fail "failover with no replication configured: $out"
echo "$out" | grep -q "precheck" || fail "no precheck step: $out"
[ "$(sql_d "SELECT @@read_only")" = 0 ] || fail "not promoted"
pass
