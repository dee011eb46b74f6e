# shellcheck shell=bash
# A real three-member etcd cluster and the lifeboat agents, on top of the
# two-machine fixture (cluster.sh): one etcd member in the primary's
# network namespace, one in dr's, one in a witness namespace on the same
# bridge. The agents run on the machines (node_bg) from the installed
# lifeboat and the one configuration file, to which [cluster] is added.
# Needs common.sh (it loads the two-machine fixture's libraries itself).
#
#   etcd_test_up             a test's start: root, namespaces and arping
#                            there (else skip), then etcd_cluster_up
#   etcd_cluster_up          cluster_up, then the witness, three etcd members,
#                            [cluster] (ETCD_TTL, default 5 as in production)
#                            in the configuration (both copies, identical),
#                            semi_sync = yes (as a user who wants no loss)
#   conf_add SED-SCRIPT      edit the configuration on both machines alike
#   etcd_kill NAME           kill -9 the member in primary|dr|witness
#   etcd_start NAME          start it again (same data directory)
#   etcdctl_get KEY          the value of /lifeboat/test/KEY (witness side)
#   agent_start p|d          `lifeboat agent` on that machine; its watchdog
#                            device is the file $T/watchdog-NODE (a test
#                            never arms a real one)
#   agent_kill p|d           kill -9 it
#   leader_is NODE           etcd says NODE (oslo|dr|none) holds the leader key
#   may_promote NODE         NODE's agent says it may be promoted
#   read_only_of p|d         @@global.read_only of that node's database (local)
#   split_sampler_start      samples both databases' read_only every 100 ms
#                            into $T/samples ("P D" per line, 0 = writable)
#   split_sampler_check      fails when any sample had both writable
#   writer_start             the app writes id 1, 2, ... through the VIP,
#                            acknowledged ids in $T/acked
#   writer_stop; lost_acked  count acknowledged ids the new primary lacks
#
# Every process is tracked (common.sh); the witness namespace goes at exit.

for _lib in netns sshd sync mariadb cluster; do
	# shellcheck source=/dev/null
	. "$LIFEBOAT_ROOT/tests/lib/$_lib.sh"
done
unset _lib

ETCD_TTL=${ETCD_TTL:-5}
ETCD_SCOPE=test

_etcd_ns() { case $1 in p | primary) echo primary ;; d | dr) echo dr ;; *) echo "$1" ;; esac; }
_etcd_ip() { case $1 in primary) echo "$LB_NET.1" ;; dr) echo "$LB_NET.2" ;; witness) echo "$LB_NET.4" ;; esac; }

etcd_test_up() {
	need_root
	need_netns
	command -v arping >/dev/null || skip "arping not installed"
	etcd_cluster_up || fail "cluster setup"
}

need_etcd() {
	command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "etcd not installed (etcd-server, etcd-client)"
}

_etcd_witness_net() {
	netns_create witness || return 1
	local sw
	sw=$(netns_name sw)
	ip -n "$sw" link add p4 type veth peer name eth0 netns "$(netns_name witness)" || return 1
	ip -n "$sw" link set p4 master br0 up
	ip -n "$(netns_name witness)" addr add "$LB_NET.4/24" dev eth0
	ip -n "$(netns_name witness)" link set eth0 up
	wait_until 10 in_ns witness arping -q -c 1 -w 1 -I eth0 "$LB_NET.1"
}

ETCD_INITIAL=
etcd_start() {
	local name ip state=new
	name=$(_etcd_ns "$1")
	ip=$(_etcd_ip "$name")
	[ -d "$T/etcd-$name/member" ] && state=existing
	mkdir -p "$T/etcd-$name"
	ip netns exec "$(netns_name "$name")" etcd --name "$name" --data-dir "$T/etcd-$name" \
		--listen-client-urls "http://$ip:2379" --advertise-client-urls "http://$ip:2379" \
		--listen-peer-urls "http://$ip:2380" --initial-advertise-peer-urls "http://$ip:2380" \
		--initial-cluster "$ETCD_INITIAL" --initial-cluster-state "$state" \
		--initial-cluster-token "lb$LB_ID" --log-level warn >>"$T/etcd-$name.log" 2>&1 &
	echo $! >"$T/etcd-$name.pid"
	lb_track_pid_kill $!
}

etcd_kill() {
	local name pid
	name=$(_etcd_ns "$1")
	pid=$(cat "$T/etcd-$name.pid")
	kill -9 "$pid" 2>/dev/null
	wait_until 10 eval "! _lb_alive $pid"
}

ETCDCTL_ENDPOINTS=
etcdctl_w() { in_ns witness env ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="$ETCDCTL_ENDPOINTS" "$@"; }
etcdctl_get() { etcdctl_w get --print-value-only "/lifeboat/$ETCD_SCOPE/$1"; }
_etcd_healthy() { etcdctl_w endpoint health >/dev/null 2>&1; }

# may_promote NODE: NODE's agent published that it may be promoted (it saw
# the primary alive, replicating, within max_lag_on_failover).
may_promote() { etcdctl_get "members/$1" 2>/dev/null | grep -q '"may_promote":true'; }

leader_is() {
	local v
	v=$(etcdctl_get leader 2>/dev/null) || return 1
	[ "${v:-none}" = "$1" ]
}

etcd_cluster_up() {
	need_etcd
	cluster_up || return 1
	_etcd_witness_net || { echo "etcd_cluster_up: witness network" >&2; return 1; }
	ETCD_INITIAL="primary=http://$LB_NET.1:2380,dr=http://$LB_NET.2:2380,witness=http://$LB_NET.4:2380"
	ETCDCTL_ENDPOINTS="http://$LB_NET.1:2379,http://$LB_NET.2:2379,http://$LB_NET.4:2379"
	local n
	for n in primary dr witness; do etcd_start "$n"; done
	wait_until 30 _etcd_healthy || { tail -5 "$T"/etcd-*.log >&2; return 1; }
	conf_add 's/^promote_timeout = 20$/promote_timeout = 20\nsemi_sync = yes/' || return 1
	local c
	for c in "$T/oslo/etc-lifeboat/lifeboat.conf" "$T/dr/etc-lifeboat/lifeboat.conf"; do
		printf '\n[cluster]\netcd = http://%s.1:2379 http://%s.2:2379 http://%s.4:2379\nscope = %s\nttl = %s\nmax_lag_on_failover = 5\n' \
			"$LB_NET" "$LB_NET" "$LB_NET" "$ETCD_SCOPE" "$ETCD_TTL" >>"$c"
	done
	# What 'db clone' does with semi_sync = yes (the fixture cloned first).
	sql_p "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC; SET GLOBAL rpl_semi_sync_master_enabled = ON" || return 1
	sql_d "SET GLOBAL rpl_semi_sync_slave_enabled = ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD" || return 1
}

# The one file, edited alike on both machines.
conf_add() {
	local c
	for c in "$T/oslo/etc-lifeboat/lifeboat.conf" "$T/dr/etc-lifeboat/lifeboat.conf"; do
		sed -i "$1" "$c" || return 1
	done
}

agent_start() {
	local ns name
	ns=$(_etcd_ns "$1")
	if [ "$ns" = primary ]; then name=oslo; else name=dr; fi
	[ -e "$T/watchdog-$name" ] || : >"$T/watchdog-$name"
	# shellcheck disable=SC2086
	node_bg "$ns" env LIFEBOAT_WATCHDOG_DEVICE="$T/watchdog-$name" ${AGENT_ENV:-} \
		lifeboat ${AGENT_OPTS:-} agent >>"$T/agent-$name.log" 2>&1 </dev/null
	echo $! >"$T/agent-$name.pid"
	lb_track_pid $!
}

agent_kill() {
	local name pid
	if [ "$(_etcd_ns "$1")" = primary ]; then name=oslo; else name=dr; fi
	pid=$(cat "$T/agent-$name.pid")
	kill -9 "$pid" 2>/dev/null
	wait_until 10 eval "! _lb_alive $pid"
}

read_only_of() {
	if [ "$(_etcd_ns "$1")" = primary ]; then sql_p "SELECT @@global.read_only" 2>/dev/null; else sql_d "SELECT @@global.read_only" 2>/dev/null; fi
}

# A sample is "P D": 0 writable, 1 read-only, x no answer.
_split_sampler() {
	local p d
	while :; do
		p=$(read_only_of p); d=$(read_only_of d)
		echo "$(date +%s.%N) ${p:-x} ${d:-x}" >>"$T/samples"
		sleep 0.1
	done
}

split_sampler_start() {
	: >"$T/samples"
	_split_sampler &
	SAMPLER_PID=$!
	lb_track_pid "$SAMPLER_PID"
}

split_sampler_check() {
	local n bad
	n=$(wc -l <"$T/samples")
	[ "$n" -gt 10 ] || fail "only $n read_only samples: the sampler did not run"
	bad=$(awk '$2 == 0 && $3 == 0' "$T/samples" | head -3)
	[ -z "$bad" ] || fail "both databases writable at once (split brain): $bad"
	echo "split-brain sampler: $n samples, never both writable"
}

# The application: one INSERT per connection through the VIP (a client
# that reconnects), every acknowledged id recorded.
_writer() {
	local i=0
	while :; do
		i=$((i + 1))
		# connect timeout 1 s: the moment writes work again is seen to 1 s
		if in_ns client mariadb --no-defaults --protocol=tcp -h"$VIP" -P$CLUSTER_PORT -uapp -papppw \
			--connect-timeout=1 -N -B -e "INSERT INTO app.t VALUES ($i, 'w')" 2>/dev/null; then
			echo "$i $(date +%s.%N)" >>"$T/acked"
		fi
		sleep 0.05
	done
}

writer_start() {
	: >"$T/acked"
	_writer &
	WRITER_PID=$!
	lb_track_pid "$WRITER_PID"
}

writer_stop() { kill "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null || true; }

# lost_acked p|d: acknowledged ids missing on that node's database.
lost_acked() {
	local have
	if [ "$(_etcd_ns "$1")" = primary ]; then have=$(sql_p "SELECT id FROM app.t"); else have=$(sql_d "SELECT id FROM app.t"); fi
	awk 'NR == FNR { h[$1] = 1; next } !($1 in h)' <(echo "$have") "$T/acked" | wc -l
}

# acked_after TIME: acknowledged writes after that time (epoch seconds).
acked_after() { awk -v t="$1" '$2 > t' "$T/acked" | wc -l; }
