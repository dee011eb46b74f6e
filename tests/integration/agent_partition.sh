#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# Automatic failover on etcd, the network's turn (three etcd members: primary
# site, DR site, witness; agents on both data nodes; semi-sync):
#   1. DR site cut off: nothing happens (the primary keeps its lease);
#   2. witness down: nothing happens (two of three members are a majority);
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
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
# ttl 10 (the SPEC's example), not the default 5: when the member killed in
# step 2 is etcd's leader, the other two take up to ~3 s to elect one, and
# with ttl 5 the primary's fence deadline (3.75 s after its last renewal)
# can pass meanwhile. It then fences itself: safe, but a needless outage.
# Open in issue #13 (the default ttl against etcd's election time).
ETCD_TTL=${ETCD_TTL:-10}
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
need_root
need_netns
command -v arping >/dev/null || skip "arping not installed"
etcd_cluster_up || fail "cluster setup"
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key: $(tail -5 "$T/agent-oslo.log")"
wait_until 20 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" || fail "dr's agent is not a standby"
wait_until 20 may_promote dr || fail "dr may not be promoted: $(etcdctl_get members/dr)"
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

echo "1. DR site cut off"
ip -n "$(netns_name dr)" link set eth0 down
hold_for "$settle" "DR cut off"
ip -n "$(netns_name dr)" link set eth0 up
wait_until 20 grep -q 'standby: oslo is the primary' "$STATE_D/agent.json" || fail "dr's agent did not come back"
# Every member healthy again before the next fault (not a double fault).
wait_until 30 _etcd_healthy || fail "dr's etcd member did not rejoin"

echo "2. witness down"
etcd_kill witness
hold_for "$settle" "witness down"
etcd_start witness
wait_until 30 _etcd_healthy || fail "witness did not rejoin"

echo "3. every etcd member down"
etcd_kill primary; etcd_kill dr; etcd_kill witness
hold_for $(( ETCD_TTL * 3 )) "etcd down" no-etcd
grep -q "failsafe: every other node confirmed" "$T/agent-oslo.log" || fail "the failsafe decision is not logged"
grep -q "failsafe: oslo cannot reach etcd" "$T/agent-dr.log" "$T"/*.log 2>/dev/null || true
for n in primary dr witness; do etcd_start "$n"; done
wait_until 30 _etcd_healthy || fail "etcd did not come back"
wait_until 20 leader_is oslo || fail "oslo does not hold the key after etcd came back"
[ "$(read_only_of p)" = 0 ] || fail "oslo not writable after etcd came back"

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
split_sampler_check
pass
