#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# Automatic failover on etcd: three etcd members (primary site, DR site,
# witness), `lifeboat agent` on both data nodes, a client writing through
# the floating address. kill -9 of the primary's mariadbd and agent: its
# lease runs out, dr's agent takes the leader key by compare-and-swap (a new
# epoch in etcd), runs the failover, and the client writes again; automatic
# failover is then paused. At no sampled moment are both databases
# writable, and no acknowledged write is lost (semi-sync). Then the old
# primary comes back with its agent: it stays read-only, steps down (its
# sync does not push) and `agent --resume` arms automatic failover again.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
etcd_test_up
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key: $(tail -5 "$T/agent-oslo.log")"
[ -n "$(etcdctl_get epoch)" ] || fail "no epoch in etcd"
epoch0=$(etcdctl_get epoch)
wait_until 20 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" ||
	fail "dr's agent is not a standby: $(cat "$STATE_D/agent.json")"
wait_until 20 may_promote dr || fail "dr may not be promoted: $(etcdctl_get members/dr)"
lb_p status >"$T/status.txt" 2>&1
grep -q "leader     oslo" "$T/status.txt" || fail "status shows no leader: $(cat "$T/status.txt")"
grep -q "automatic  armed" "$T/status.txt" || fail "status: not armed: $(cat "$T/status.txt")"

lb_p check >"$T/check.txt" 2>&1
for rule in "cluster etcd members" "cluster etcd sites" "cluster clocks" "cluster ttl"; do
	grep -q "PASS.*$rule" "$T/check.txt" || fail "check: $rule: $(grep "$rule" "$T/check.txt")"
done
split_sampler_start
writer_start
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 20 ]' || fail "the client cannot write through the VIP"

t0=$(date +%s.%N)
_cluster_db_kill9 primary
agent_kill p
wait_until 30 leader_is dr || fail "dr did not take the leader key: $(tail -20 "$T/agent-dr.log")"
wait_until 60 eval '[ "$(read_only_of d)" = 0 ]' || fail "dr not promoted: $(tail -20 "$T/agent-dr.log")"
wait_until 30 eval '[ "$(acked_after "$t0")" -ge 5 ]' || fail "the client does not write through the VIP after the failover"
first=$(awk -v t="$t0" '$2 > t { print $2; exit }' "$T/acked")
rto=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.1f", b - a }')
echo "automatic RTO (kill -9 to the first write through the VIP): $rto s (ttl $ETCD_TTL s)"
writer_stop
[ "$(etcdctl_get epoch)" -gt "$epoch0" ] || fail "the epoch in etcd was not bumped"
[ "$(cat "$STATE_D/epoch")" = "$(etcdctl_get epoch)" ] || fail "STATE_DIR/epoch $(cat "$STATE_D/epoch") is not etcd's $(etcdctl_get epoch)"
[ "$(sql_d "SELECT MAX(epoch) FROM lifeboat.epoch")" = "$(etcdctl_get epoch)" ] || fail "the database's epoch is not etcd's"
etcdctl_get paused | grep -q automatic || fail "automatic failover not paused after one"
grep -q "automatic failover done" "$T/agent-dr.log" || fail "no decision logged"
lost=$(lost_acked d)
echo "acknowledged writes lost: $lost of $(wc -l <"$T/acked")"
[ "$lost" = 0 ] || fail "$lost acknowledged writes lost with semi-sync"

# The old primary comes back, read-only (my.cnf), with its agent.
cluster_db_start primary || fail "restart p"
agent_start p
wait_until 20 grep -q 'standby: dr is the primary' "$STATE_P/agent.json" ||
	fail "the old primary's agent does not follow dr: $(cat "$STATE_P/agent.json")"
[ "$(read_only_of p)" = 1 ] || fail "the old primary is writable"
[ "$(cat "$STATE_P/role")" = standby ] || fail "the old primary's role is $(cat "$STATE_P/role"): its sync would push"
leader_is dr || fail "the leader moved back"
sleep_check_end=$(( $(date +%s) + ETCD_TTL * 2 ))
while [ "$(date +%s)" -lt "$sleep_check_end" ]; do
	[ "$(read_only_of p)" = 1 ] || fail "the old primary became writable"
	sleep 0.2
done
split_sampler_check
lb_d status >"$T/status.txt" 2>&1
grep -q "automatic  paused" "$T/status.txt" || fail "status does not say paused: $(cat "$T/status.txt")"
lb_d agent --resume || fail "agent --resume"
[ -z "$(etcdctl_get paused)" ] || fail "still paused"
pass
