#!/usr/bin/env bash
# make demo, second act: the same disaster with nobody at the keyboard.
#
# Oslo and DR as in act one, plus a witness: three etcd members, one per
# site; `lifeboat agent` on both servers, semi-sync replication, a client
# placing orders through the floating address. Then Oslo's network cable is
# cut while its mariadbd keeps running: Oslo's agent cannot renew its lease
# and makes its database read-only before the lease can expire; DR's agent
# sees the lease gone, takes it (compare-and-swap in etcd) and fails over by
# itself. We print the automatic RTO, show the cut-off Oslo read-only and
# count the orders lost. Everything started here is removed at the end.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat} LIFEBOAT_ROOT=$ROOT
[ -x "$LIFEBOAT" ] || { echo "build it first: make all" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "demo-agent needs root (network namespaces)" >&2; exit 2; }
command -v etcd >/dev/null || { echo "demo-agent: etcd not installed (scripts/install-deps.sh)" >&2; exit 2; }
. tests/lib/common.sh
. tests/lib/etcd.sh
lb_setup
T0=$(lb_now_ms)
say() { printf '\n\033[1m== [act 2, %5.1f s] %s\033[0m\n' "$(( $(lb_now_ms) - T0 ))e-3" "$*"; }
die() { echo "demo-agent: $*" >&2; exit 1; }

say "act two: Oslo, DR and a witness, each with an etcd member; lifeboat agent on both servers"
etcd_cluster_up || die "cluster setup failed"
echo "  etcd on Oslo $LB_NET.1, DR $LB_NET.2, witness $LB_NET.4; [cluster] ttl = $ETCD_TTL s; semi-sync replication"
agent_start p
agent_start d
wait_until 20 leader_is oslo || die "Oslo's agent did not take the leader lease"
wait_until 20 may_promote dr || die "DR's agent is not ready"
lb_d status 2>/dev/null | sed -n '/^cluster/,$p' | sed 's/^/  /'

say "orders through the VIP; then Oslo's cable is cut, its mariadbd still running"
writer_start
wait_until 20 eval '[ "$(wc -l <"$T/acked")" -ge 30 ]' || die "the client cannot write"
n_before=$(wc -l <"$T/acked")
t_cut=$(date +%s.%N)
ip -n "$(netns_name primary)" link set eth0 down
echo "  $n_before orders acknowledged; nobody runs any command from now on"

wait_until $(( ETCD_TTL + 5 )) eval '[ "$(read_only_of p)" = 1 ]' || die "Oslo did not demote itself"
t_ro=$(date +%s.%N)
awk -v a="$t_cut" -v b="$t_ro" 'BEGIN { printf "  Oslo made itself read-only %.1f s after the cut (it could not renew its lease)\n", b - a }'
wait_until 60 eval '[ "$(acked_after "$t_cut")" -ge 3 ]' || die "no order after the failover: $(tail -5 "$T/agent-dr.log")"
first=$(awk -v t="$t_cut" '$2 > t { print $2; exit }' "$T/acked")
writer_stop

say "after: DR took over by itself"
grep -E "took the leader key|automatic failover done" "$T/agent-dr.log" | sed 's/^lifeboat: [a-z]*: /  DR: /'
grep -E "fencing this node" "$T/agent-oslo.log" | head -1 | sed 's/^lifeboat: [a-z]*: /  Oslo: /'
awk -v a="$t_cut" -v b="$first" 'BEGIN { printf "  automatic RTO: %.1f s from the cut to the first order accepted through the VIP\n", b - a }'
echo "  Oslo, cut off: read_only = $(read_only_of p) (checked on its own console), role $(cat "$STATE_P/role")"
echo "  orders: $(wc -l <"$T/acked") acknowledged, $(lost_acked d) missing on DR (semi-sync)"
lb_d status 2>/dev/null | sed -n '/^cluster/,$p' | sed 's/^/  /'
say "act two done in $(( ($(lb_now_ms) - T0) / 1000 )) s; cleaning up"
