#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# Health endpoints for load balancers: a real HAProxy (option httpchk GET
# /primary on each node's metrics_listen) in front of both databases, no
# floating address used by the client. /primary answers 200 only on the
# writable lease holder, /standby only on the replicating standby. kill -9
# of the primary's mariadbd and agent: the agents fail over, HAProxy's check
# moves, and the client's writes through HAProxy follow the new primary.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/etcd.sh"
lb_setup
need_root
need_netns
command -v haproxy >/dev/null || skip "haproxy not installed"
command -v arping >/dev/null || skip "arping not installed"
CLUSTER_SYNC=1
etcd_cluster_up || fail "cluster setup"
HPORT=9180
conf_add "s/^log = stderr$/log = stderr\nmetrics_listen = 0.0.0.0:$HPORT/"
cluster_sync_start || fail "sync daemons"
agent_start p
agent_start d
wait_until 20 leader_is oslo || fail "oslo's agent did not take the leader key"

code() { in_ns client curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1:$HPORT$2"; }
wait_until 20 eval '[ "$(code $LB_NET.1 /primary)" = 200 ]' || fail "oslo /primary: $(code $LB_NET.1 /primary)"
wait_until 20 eval '[ "$(code $LB_NET.2 /standby)" = 200 ]' || fail "dr /standby: $(code $LB_NET.2 /standby)"
[ "$(code $LB_NET.2 /primary)" = 503 ] || fail "dr /primary: $(code $LB_NET.2 /primary)"
[ "$(code $LB_NET.1 /standby)" = 503 ] || fail "oslo /standby: $(code $LB_NET.1 /standby)"
[ "$(code $LB_NET.1 /metrics)" = 200 ] || fail "/metrics gone"
etcdctl_get members/oslo | grep -q '"files_rpo":[0-9]' || fail "oslo publishes no files RPO: $(etcdctl_get members/oslo)"
lb_d status 2>/dev/null | grep -q "files RPO" || fail "status shows no files RPO: $(lb_d status 2>&1 | tail -5)"

cat >"$T/haproxy.cfg" <<EOF2
global
	maxconn 200
defaults
	mode tcp
	timeout connect 1s
	timeout client 30s
	timeout server 30s
listen mariadb
	bind 127.0.0.1:3307
	option httpchk GET /primary
	http-check expect status 200
	default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
	server oslo $LB_NET.1:$CLUSTER_PORT check port $HPORT
	server dr $LB_NET.2:$CLUSTER_PORT check port $HPORT
EOF2
ip netns exec "$(netns_name client)" haproxy -db -f "$T/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
lb_track_pid $!

app_lb() { in_ns client mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P3307 -uapp -papppw --connect-timeout=2 -N -B -e "$*"; }
: >"$T/acked"
( i=0; while :; do i=$((i + 1)); app_lb "INSERT INTO app.t VALUES ($i, 'lb')" 2>/dev/null && echo "$i $(date +%s.%N)" >>"$T/acked"; sleep 0.05; done ) &
LBW=$!
lb_track_pid $LBW
wait_until 30 eval '[ "$(wc -l <"$T/acked")" -ge 10 ]' || fail "no write through HAProxy: $(tail -5 "$T/haproxy.log")"
wait_until 20 may_promote dr || fail "dr may not be promoted: $(etcdctl_get members/dr)"
split_sampler_start

t0=$(date +%s.%N)
_cluster_db_kill9 primary
agent_kill p
wait_until 60 leader_is dr || fail "dr did not take over: $(tail -20 "$T/agent-dr.log")"
wait_until 60 eval '[ "$(acked_after "$t0")" -ge 5 ]' ||
	fail "no write through HAProxy after the failover: dr /primary $(code $LB_NET.2 /primary), read_only $(read_only_of d); $(tail -5 "$T/agent-dr.log"); $(tail -3 "$T/haproxy.log"); $(cat "$STATE_D/agent.json")"
first=$(awk -v t="$t0" '$2 > t { print $2; exit }' "$T/acked")
awk -v a="$t0" -v b="$first" 'BEGIN { printf "writes through HAProxy again %.1f s after the kill\n", b - a }'
kill "$LBW"; wait "$LBW" 2>/dev/null
[ "$(code $LB_NET.2 /primary)" = 200 ] || fail "dr /primary after the failover: $(code $LB_NET.2 /primary)"
wait_until 20 eval '[ "$(code $LB_NET.1 /primary)" = 503 ]' || fail "oslo /primary after the failover: $(code $LB_NET.1 /primary)"
[ "$(code $LB_NET.2 /standby)" = 503 ] || fail "dr /standby after the failover"
[ "$(vip_holder)" = dr ] || true   # the address moved too; the client did not use it
lost=$(lost_acked d)
echo "acknowledged writes lost: $lost of $(wc -l <"$T/acked")"
[ "$lost" = 0 ] || fail "$lost acknowledged writes lost"
split_sampler_check
pass
