#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# Automatic failover when the primary's agent is gone (kill -9) but its
# database lives on and answers: nothing fences it from inside, its lease
# runs out, dr's agent takes the leader key and runs the failover. etcd
# then says the old lease is gone, so the failover probes the old primary
# only briefly (300 ms): it answers, so the fence step must still fence it
# (read_only, its sessions ended) before dr is promoted. At no sampled
# moment are both databases writable, and no acknowledged write is lost.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
etcd_test_up
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key: $(tail -5 "$T/agent-oslo.log")"
wait_until 20 may_promote dr || fail "dr may not be promoted: $(etcdctl_get members/dr)"
split_sampler_start
writer_start
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 20 ]' || fail "the client cannot write through the VIP"

agent_kill p
wait_until 30 leader_is dr || fail "dr did not take the leader key: $(tail -20 "$T/agent-dr.log")"
wait_until 60 eval '[ "$(read_only_of d)" = 0 ]' || fail "dr not promoted: $(tail -20 "$T/agent-dr.log")"
[ "$(read_only_of p)" = 1 ] || fail "the old primary, whose agent was gone, is still writable"
wait_until 30 grep -q '^end ' "$STATE_D/failover.journal" || fail "the failover did not finish: $(cat "$STATE_D/failover.journal")"
grep -q '^done fence .*read_only=ON on' "$STATE_D/failover.journal" ||
	fail "the failover did not fence the old primary: $(grep fence "$STATE_D/failover.journal")"
t_cut=$(date +%s.%N)
wait_until 30 eval '[ "$(acked_after "$t_cut")" -ge 5 ]' || fail "the client does not write through the VIP after the failover"
writer_stop
split_sampler_check
lost=$(lost_acked d)
echo "acknowledged writes lost: $lost of $(wc -l <"$T/acked")"
[ "$lost" = 0 ] || fail "$lost acknowledged writes lost with semi-sync"
pass
