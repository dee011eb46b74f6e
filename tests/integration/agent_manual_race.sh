#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# A person and the agents: `lifeboat failover` with [cluster] takes the
# leader key first, so the two never race.
#   1. watchdog = auto: oslo's agent opens the watchdog device (here a file
#      named by LIFEBOAT_WATCHDOG_DEVICE: a test never arms a real one)
#      and feeds it after each renewal;
#   2. `failover --yes` on dr while oslo is the live primary: refused,
#      nothing changed;
#   3. `failover --yes --force` on dr: it takes the key from oslo, waits for
#      oslo's lease to run out; oslo's agent sees the key is not its own and
#      fences itself (the watchdog disarmed); dr is promoted with the next
#      epoch; never both writable;
#   4. oslo rejoined as a replica; dr's database and agent die; a person
#      runs `failover` on oslo again and again while oslo's agent fails over
#      by itself: one promotion, one new epoch.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
etcd_test_up
conf_add '$a\
watchdog = auto'
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key"
wait_until 20 may_promote dr || fail "dr may not be promoted"

echo "1. watchdog"
wait_until 10 eval '[ "$(stat -c %s "$T/watchdog-oslo")" -ge 2 ]' || fail "the watchdog is not fed: $(tail -3 "$T/agent-oslo.log")"
s1=$(stat -c %s "$T/watchdog-oslo")
wait_until 10 eval '[ "$(stat -c %s "$T/watchdog-oslo")" -gt '"$s1"' ]' || fail "the watchdog is fed only once"
grep -q "watchdog .* armed" "$T/agent-oslo.log" || fail "arming not logged"

echo "2. failover while oslo is the live primary"
epoch0=$(etcdctl_get epoch)
out=$(lb_d failover --yes 2>&1) && fail "failover with a live primary went on: $out"
echo "$out" | tail -1
leader_is oslo || fail "the refused failover moved the key"
[ "$(etcdctl_get epoch)" = "$epoch0" ] || fail "the refused failover changed the epoch"

echo "3. failover --force takes the key from oslo"
split_sampler_start
lb_d failover --yes --force >"$T/force.log" 2>&1 || fail "failover --force: $(tail -5 "$T/force.log")"
grep -q "took the leader key from oslo" "$T/force.log" || fail "no claim logged: $(cat "$T/force.log")"
leader_is dr || fail "dr does not hold the key"
[ "$(etcdctl_get epoch)" = $((epoch0 + 1)) ] || fail "epoch $(etcdctl_get epoch), expected $((epoch0 + 1))"
[ "$(read_only_of d)" = 0 ] || fail "dr not writable"
wait_until 10 eval '[ "$(read_only_of p)" = 1 ]' || fail "oslo still writable"
grep -q "fencing this node: dr holds the leader key" "$T/agent-oslo.log" || fail "oslo's agent did not fence: $(tail -5 "$T/agent-oslo.log")"
wait_until 10 grep -q "watchdog disarmed" "$T/agent-oslo.log" || fail "watchdog not disarmed"
[ "$(tail -c 1 "$T/watchdog-oslo")" = V ] || fail "no magic close on the watchdog"
[ -z "$(etcdctl_get paused)" ] || fail "a manual failover paused automatic failover"

echo "4. a person and oslo's agent fail over at once"
lb_d db rejoin >"$T/rejoin.log" 2>&1 || fail "rejoin: $(tail -5 "$T/rejoin.log")"
wait_until 30 may_promote oslo || fail "oslo may not be promoted after the rejoin: $(etcdctl_get members/oslo)"
epoch1=$(etcdctl_get epoch)
_cluster_db_kill9 dr
agent_kill d
( for i in $(seq 1 200); do lb_p failover --yes >>"$T/manual.log" 2>&1 && break; sleep 0.1; done ) &
MANUAL=$!
lb_track_pid $MANUAL
wait_until 60 eval '[ "$(read_only_of p)" = 0 ]' || fail "oslo not promoted: $(tail -5 "$T/agent-oslo.log"; tail -5 "$T/manual.log")"
wait "$MANUAL"
wait_until 30 eval '! grep -q "failover running" "$STATE_P/agent.json"' || true
leader_is oslo || fail "oslo does not hold the key"
[ "$(etcdctl_get epoch)" = $((epoch1 + 1)) ] || fail "epoch $(etcdctl_get epoch) after one failover from $epoch1"
n=$(sql_p "SELECT COUNT(*) FROM lifeboat.epoch WHERE epoch > $epoch1")
[ "$n" = 1 ] || fail "$n promotions recorded"
split_sampler_check
pass
