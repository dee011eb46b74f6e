#!/usr/bin/env bash
# Automatic failover on etcd (issue 13): the fixture of tests/lib/etcd.sh
# (Oslo, DR, witness, three etcd members, lifeboat agent on both servers,
# semi-sync, a client inserting through the VIP every 50 ms), default ttl
# (5 s). The primary's cable is cut while its mariadbd keeps running. Per
# run:
#
#   RTO          first insert acknowledged through the VIP after the cut - the cut
#                (inserts in fresh clients every 100 ms, beside the app's writer,
#                one connection after the other, whose first is printed too)
#   self-demote  first moment Oslo's read_only = 1 (sampled every 100 ms
#                on its own console) - the cut
#   lost         acknowledged inserts missing on DR
#
# and where the RTO went, from DR's failover journal: detect (the cut to
# the agent starting `lifeboat failover`: the lease running out, etcd
# deleting the key, seen by an etcdctl watch on the witness, then DR's
# watch, its tick and claim), failover (to the start of the
# vip step: probe, fence, promote, epoch), address and first write (the
# address, its gratuitous ARP, the first insert acknowledged), and which
# etcd member was the raft leader at the cut (when it is the primary's
# own, an election comes first and etcd refreshes every lease).
#
# BENCH_RUNS runs (default 5), each on a fresh fixture; medians at the end.
# Target: RTO median <= 10 s.
#
#   bench/agent_rto.sh             (root; LIFEBOAT default ./lifeboat)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat}
[ -x "$LIFEBOAT" ] || { echo "build it first: make all" >&2; exit 2; }
export LIFEBOAT LIFEBOAT_ROOT=$ROOT

one_run() {
	. "$ROOT/tests/lib/common.sh"
	. "$ROOT/tests/lib/etcd.sh"
	lb_setup
	need_root
	etcd_cluster_up >"$T/setup.log" 2>&1 || fail "cluster setup: $(tail -3 "$T/setup.log")"
	agent_start p
	agent_start d
	wait_until 20 leader_is oslo || fail "no leader"
	wait_until 20 may_promote dr || fail "dr not ready"
	writer_start
	prober_start
	leader_watch_start
	wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 20 ]' || fail "no writes"
	local cut ro first raft app
	raft=$(raft_leader)
	cut=$EPOCHREALTIME
	ip -n "$(netns_name primary)" link set eth0 down
	while [ "$(read_only_of p)" != 1 ]; do
		[ "${EPOCHREALTIME%.*}" -gt $(( ${cut%.*} + 30 )) ] && fail "no self-demote"
		sleep 0.1
	done
	ro=$EPOCHREALTIME
	# Oslo is read-only from ro on: an insert acknowledged later is DR's.
	wait_until 60 eval '[ "$(awk -v t="$ro" '"'"'$2 > t'"'"' "$T/probe-acked" | wc -l)" -ge 1 ]' ||
		fail "no write after the failover"
	first=$(sort -k2 -n "$T/probe-acked" | awk -v t="$ro" '$2 > t { print $2; exit }')
	kill "$PROBER_PID" 2>/dev/null
	wait_until 30 eval '[ "$(awk -v t="$ro" '"'"'$2 > t'"'"' "$T/acked" | wc -l)" -ge 1 ]'
	app=$(awk -v t="$ro" '$2 > t { print $2; exit }' "$T/acked")
	writer_stop
	local j=$T/dr/state/failover.journal invoked vip deleted
	# The client may get through while the vip step still waits on arping.
	wait_until 30 grep -q '^end ' "$j" || echo "the failover did not finish" >&2
	invoked=$(awk '$1 == "fact" && $2 == "invoked" { print $3 }' "$j")
	deleted=$(awk '$2 == "DELETE" { print $1; exit }' "$T/leader-watch")
	vip=$(awk '$1 == "start" && $2 == "vip" { print $3 }' "$j")
	awk -v c="$cut" -v r="$ro" -v f="$first" -v l="$(lost_acked d)" -v i="${invoked:-0}" \
		-v v="${vip:-0}" -v raft="$raft" -v a="${app:-0}" -v d="${deleted:-0}" \
		'BEGIN { printf "RESULT %.2f %.2f %d %.2f %.2f %.2f %s %.2f %.2f %.3f\n", f - c, r - c, l, i - c, v - i, f - v, raft, a - c, d - c, i - d }'
}

# A fresh insert through the VIP every 100 ms, each its own client, bounded
# to 2 s: the first acknowledged after the cut is when writes work again,
# whatever request an earlier client still waits on (a request sent to the
# old primary waits for a TCP retransmission to reach the new holder of
# the address and be refused: seconds, which the app's writer pays).
_prober() {
	local i=1000000 ns
	ns=$(netns_name client)
	while :; do
		i=$((i + 1))
		(timeout 2 ip netns exec "$ns" mariadb --no-defaults --protocol=tcp -h"$VIP" \
			-P$CLUSTER_PORT -uapp -papppw --connect-timeout=1 -N -B \
			-e "INSERT INTO app.t VALUES ($i, 'probe')" 2>/dev/null &&
			echo "$i $(date +%s.%N)" >>"$T/probe-acked") &
		sleep 0.1
	done
}

prober_start() {
	: >"$T/probe-acked"
	_prober &
	PROBER_PID=$!
	lb_track_pid "$PROBER_PID"
}

# When etcd deletes the leader key (the lease ran out), seen from the
# witness (its own member: a stream to the cut site would stall): "TIME
# DELETE" lines in $T/leader-watch.
leader_watch_start() {
	mkfifo "$T/leader-fifo"
	in_ns witness env ETCDCTL_API=3 etcdctl --endpoints="http://$LB_NET.4:2379" \
		watch "/lifeboat/$ETCD_SCOPE/leader" >"$T/leader-fifo" 2>/dev/null &
	lb_track_pid $!
	while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done <"$T/leader-fifo" >"$T/leader-watch" &
	lb_track_pid $!
}

# Which member leads etcd's raft: primary, dr or witness.
raft_leader() {
	etcdctl_w endpoint status 2>/dev/null | awk -F', ' -v n="$LB_NET" '$5 == "true" {
		sub("^http://", "", $1); sub(":2379$", "", $1)
		print ($1 == n ".1" ? "primary" : $1 == n ".2" ? "dr" : "witness") }'
}

if [ "${1:-}" = --one ]; then one_run; exit; fi
N=${BENCH_RUNS:-5}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
: >/tmp/lifeboat-bench-h13-agent.txt
for i in $(seq 1 "$N"); do
	line=$(bash "$0" --one 2>&1 | grep '^RESULT') || { echo "run $i failed" >&2; continue; }
	set -- $line
	printf 'run %d: RTO %s s, self-demote %s s, acknowledged lost %s (detect %s s: key deleted at %s s, failover started %s s later; failover %s s, address and first write %s s; etcd raft leader: %s; the app'"'"'s writer: %s s)\n' \
		"$i" "$2" "$3" "$4" "$5" "${10:-?}" "${11:-?}" "$6" "$7" "${8:-?}" "${9:-?}"
	echo "$2 $3 $4" >>/tmp/lifeboat-bench-h13-agent.txt
done
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "median RTO: $(awk '{ print $1 }' /tmp/lifeboat-bench-h13-agent.txt | median) s (target <= 10 s, ttl 5 s)"
echo "median self-demote: $(awk '{ print $2 }' /tmp/lifeboat-bench-h13-agent.txt | median) s"
echo "acknowledged writes lost, all runs: $(awk '{ s += $3 } END { print s + 0 }' /tmp/lifeboat-bench-h13-agent.txt)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f /tmp/lifeboat-bench-h13-agent.txt
