#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# Automatic failover on etcd, the network's turn (three etcd members: primary
# site, DR site, witness; agents on both data nodes; semi-sync):
#   1. DR site cut off: nothing happens (the primary keeps its lease);
#   2. witness down, then whichever member is etcd's leader: nothing
#      happens (two of three members are a majority, and the primary renews
#      through their election);
#   3. every etcd member down: nothing fails over; the primary stays
#      writable because dr confirms (agent --failsafe-probe over
#      peer_command) that it cannot reach etcd either and is not promoting;
#      etcd back: oslo still holds the leader key;
#   4. the primary's site cut off (link down) while its mariadbd runs and a
#      client on its side keeps writing: oslo fences itself before its lease
#      can expire, dr takes over by itself, the client through the floating
#      address writes again;
#   5. the link back: oslo stays read-only, its role standby.
# Throughout, a sampler checks both databases' read_only: never both
# writable; no write acknowledged on either side is missing on dr.
set -u
. "$(dirname "$0")/../lib/common.sh"
# The default ttl 5: the primary's fence deadline is 3.75 s after its last
# renewal, and etcd's leader is killed in step 2b (the other two elect one
# within two election timeouts): the primary must renew through that.
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
etcd_test_up
# No [sync] section here (a database-only pair): no sync daemon runs, and
# the agent answers the health checks on metrics_listen.
HPORT=9180
conf_add "s/^log = stderr$/log = stderr\nmetrics_listen = 0.0.0.0:$HPORT/"
code() { in_ns client curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$1:$HPORT$2"; }
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key: $(tail -5 "$T/agent-oslo.log")"
wait_until 20 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" || fail "dr's agent is not a standby"
wait_until 20 may_promote dr || fail "dr may not be promoted: $(etcdctl_get members/dr)"
wait_until 20 eval '[ "$(code $LB_NET.1 /primary)" = 200 ]' || fail "oslo /primary (agent): $(code $LB_NET.1 /primary)"
[ "$(code $LB_NET.2 /primary)" = 503 ] || fail "dr /primary (agent): $(code $LB_NET.2 /primary)"
wait_until 20 eval '[ "$(code $LB_NET.2 /standby)" = 200 ]' || fail "dr /standby (agent): $(code $LB_NET.2 /standby)"
split_sampler_start

# hold_for SECS: for that long, oslo holds the key and is writable, dr not.
hold_for() {
	local end=$(( $(date +%s) + $1 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ "$(read_only_of p)" = 0 ] || fail "$2: oslo is not writable any more: $(tail -5 "$T/agent-oslo.log")"
		[ "$(read_only_of d)" = 1 ] || fail "$2: dr became writable"
		sleep 0.3
	done
	[ "${3:-}" = no-etcd ] || wait_until 10 leader_is oslo || fail "$2: oslo lost the leader key"
}
settle=$(( ETCD_TTL * 2 + 2 ))

# not_fenced CASE: oslo's agent never fenced its node (a needless outage).
not_fenced() {
	! grep -q "fencing this node" "$T/agent-oslo.log" || fail "$1: oslo fenced itself: $(grep -B3 "fencing this node" "$T/agent-oslo.log" | head -8)"
}

# etcd_leader: which member leads now (primary|dr|witness).
etcd_leader() {
	local n
	for n in primary dr witness; do
		etcdctl_w endpoint status -w simple 2>/dev/null |
			awk -F', ' -v ip="http://$(_etcd_ip $n):" '$5 == "true" && index($1, ip) == 1' | grep -q . && { echo $n; return 0; }
	done
	return 1
}

echo "1. DR site cut off"
ip -n "$(netns_name dr)" link set eth0 down
hold_for "$settle" "DR cut off"
not_fenced "DR cut off"
ip -n "$(netns_name dr)" link set eth0 up
wait_until 20 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" || fail "dr's agent did not come back"
# Every member healthy again before the next fault (not a double fault).
wait_until 30 _etcd_healthy || fail "dr's etcd member did not rejoin"

echo "2. witness down"
etcd_kill witness
hold_for "$settle" "witness down"
not_fenced "witness down"
etcd_start witness
wait_until 30 _etcd_healthy || fail "witness did not rejoin"
# Whichever member leads now (after the DR cut and the witness's return,
# any of the three can): the two others elect a new leader meanwhile.
wait_until 10 etcd_leader >/dev/null || fail "etcd has no leader"
leader=$(etcd_leader)
echo "2b. etcd's leader ($leader's member) down"
etcd_kill "$leader"
hold_for "$settle" "etcd's leader ($leader) down"
not_fenced "etcd's leader ($leader) down"
etcd_start "$leader"
wait_until 30 _etcd_healthy || fail "$leader's member did not rejoin"

echo "3. every etcd member down"
etcd_kill primary; etcd_kill dr; etcd_kill witness
hold_for $(( ETCD_TTL * 3 )) "etcd down" no-etcd
grep -q "failsafe: every other node confirmed" "$T/agent-oslo.log" || fail "the failsafe decision is not logged"
not_fenced "etcd down"
grep -o "failsafe: every other node confirmed.*asked in [0-9.]* s" "$T/agent-oslo.log" | sed 's/.*asked in/failsafe probe took/' | sort -t' ' -k4 -n | tail -1
grep -q "failsafe: oslo cannot reach etcd" "$T/agent-dr.log" "$T"/*.log 2>/dev/null || true
for n in primary dr witness; do etcd_start "$n"; done
wait_until 30 _etcd_healthy || fail "etcd did not come back"
wait_until 20 leader_is oslo || fail "oslo does not hold the key after etcd came back"
[ "$(read_only_of p)" = 0 ] || fail "oslo not writable after etcd came back"

echo "3b. every etcd member down and dr cut off (no failsafe): oslo fences itself"
roots=$(sql_p "SHOW GRANTS FOR root@localhost")
ip -n "$(netns_name dr)" link set eth0 down
etcd_kill primary; etcd_kill dr; etcd_kill witness
wait_until $(( ETCD_TTL + 5 )) eval '[ "$(read_only_of p)" = 1 ]' || fail "oslo did not fence itself without etcd and dr: $(tail -5 "$T/agent-oslo.log")"
# read_only comes first, the revoke right after it: wait for the record.
wait_until 10 eval '[ "$(sql_p "SELECT COUNT(*) FROM lifeboat.fence_revoked" 2>/dev/null)" -gt 0 ]' \
	|| fail "oslo's fence revoked nothing (root holds READ_ONLY ADMIN)"
echo "   etcd and dr back: the key outlived the outage (etcd extends leases on a new leader): writes back on"
for n in primary dr witness; do etcd_start "$n"; done
ip -n "$(netns_name dr)" link set eth0 up
wait_until 30 _etcd_healthy || fail "etcd did not come back"
wait_until 30 eval '[ "$(read_only_of p)" = 0 ]' || fail "oslo did not take its writes back: $(tail -5 "$T/agent-oslo.log")"
wait_until 10 grep -q "primary again" "$T/agent-oslo.log" || fail "oslo's resume is not logged"
leader_is oslo || fail "oslo does not hold the key"
[ "$(sql_p "SHOW GRANTS FOR root@localhost")" = "$roots" ] || fail "root@localhost did not get READ_ONLY ADMIN back: $(sql_p "SHOW GRANTS FOR root@localhost")"
[ "$(sql_p "SELECT COUNT(*) FROM lifeboat.fence_revoked")" = 0 ] || fail "oslo's fence record not cleared"
[ "$(sql_p "SELECT @@global.rpl_semi_sync_master_enabled")" = 1 ] || fail "semi-sync not back on on oslo"
wait_until 10 eval '[ "$(vip_holder)" = primary ]' || fail "VIP holder after oslo's resume: $(vip_holder)"
wait_until 30 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" || fail "dr's agent did not come back"
wait_until 20 may_promote dr || fail "dr may not be promoted after 3b: $(etcdctl_get members/dr)"

echo "4. the primary's site cut off, a client on its side writing"
writer_start
: >"$T/acked-local"
(
	i=100000
	while :; do
		i=$((i + 1))
		in_ns primary mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P$CLUSTER_PORT -uapp -papppw \
			--connect-timeout=2 -N -B -e "INSERT INTO app.t VALUES ($i, 'local')" 2>/dev/null &&
			echo "$i $(date +%s.%N)" >>"$T/acked-local"
		sleep 0.05
	done
) &
LOCAL_WRITER=$!
lb_track_pid $LOCAL_WRITER
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 10 ] && [ "$(wc -l <"$T/acked-local")" -ge 10 ]' || fail "clients cannot write"
t0=$(date +%s.%N)
ip -n "$(netns_name primary)" link set eth0 down
wait_until $(( ETCD_TTL + 5 )) eval '[ "$(read_only_of p)" = 1 ]' || fail "oslo did not fence itself: $(tail -10 "$T/agent-oslo.log")"
t_fenced=$(date +%s.%N)
wait_until 60 leader_is dr || fail "dr did not take over: $(tail -20 "$T/agent-dr.log")"
wait_until 60 eval '[ "$(read_only_of d)" = 0 ]' || fail "dr not promoted: $(tail -20 "$T/agent-dr.log")"
wait_until 30 eval '[ "$(acked_after "$t0")" -ge 5 ]' || fail "the client does not write through the VIP after the failover"
wait_until 10 eval '[ "$(code $LB_NET.2 /primary)" = 200 ]' || fail "dr /primary (agent) after the failover: $(code $LB_NET.2 /primary)"
kill "$LOCAL_WRITER"; wait "$LOCAL_WRITER" 2>/dev/null
writer_stop
awk -v a="$t0" -v b="$t_fenced" 'BEGIN { printf "oslo read-only %.1f s after its cable was cut (ttl %d s)\n", b - a, '"$ETCD_TTL"' }'
grep -q "fencing this node" "$T/agent-oslo.log" || fail "oslo's fence decision is not logged"
cat "$T/acked-local" >>"$T/acked"
lost=$(lost_acked d)
echo "acknowledged writes lost: $lost of $(wc -l <"$T/acked") (both clients)"
[ "$lost" = 0 ] || fail "$lost acknowledged writes lost"

echo "5. the link back"
ip -n "$(netns_name primary)" link set eth0 up
wait_until 30 grep -q 'standby: dr is the primary' "$STATE_P/agent.json" || fail "oslo does not follow dr: $(cat "$STATE_P/agent.json")"
[ "$(read_only_of p)" = 1 ] || fail "oslo writable after the link came back"
[ "$(cat "$STATE_P/role")" = standby ] || fail "oslo's role is not standby: its sync would push"
[ "$(vip_holder)" = dr ] || fail "VIP holder: $(vip_holder)"
# oslo's member coming back made etcd elect again: dr renews through it.
! grep -q "fencing this node" "$T/agent-dr.log" || fail "dr fenced itself: $(grep -B3 "fencing this node" "$T/agent-dr.log" | head -8)"
[ "$(read_only_of d)" = 0 ] || fail "dr not writable after the link came back"
split_sampler_check
pass
