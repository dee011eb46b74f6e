# shellcheck shell=bash
# Network namespaces for partition tests.  Needs common.sh and lb_setup
# (and sshd.sh for start_sshd_in_ns).  Only ever touches the namespaces and
# veth pairs it created; all are removed at exit.
#
#   need_netns                    skip (exit 77) unless netns + veth work here
#   netns_create NAME             namespace lb$LB_ID-NAME, lo up; sets LB_NET
#   netns_name NAME               prints the real name ("root" stays "root")
#   netns_link NS1 IP1 NS2 IP2    veth pair NS1 <-> NS2, IP/24 each end, up;
#                                 NS "root" = the root namespace
#   link_down NS1 NS2             both ends down: connects fail at once
#                                 (network unreachable), sessions stall
#   link_cut NS1 NS2              only NS2's end down: from NS1 packets just
#                                 vanish (timeouts, like a dead peer)
#   link_up NS1 NS2               both ends up again (waits for carrier)
#   in_ns NS CMD...               run CMD in NS ("root": just run it)
#   start_sshd_in_ns NS ADDR      sshd listening on ADDR:port inside NS
#                                 (same variables as start_sshd)
#
# LB_NET: "10.231.N" with N (1-250) reserved for this test while it runs, so
# parallel tests with a root-namespace end never share a subnet: use
# $LB_NET.1, $LB_NET.2 ... for addresses.  netns_subnet reserves another
# one and prints it (for a second link on the root side).

# netns_subnet: reserve and print a fresh "10.231.N".
netns_subnet() {
	local n i
	for i in $(seq 1 300); do
		n=$(( (RANDOM % 250) + 1 ))
		[ "$i" -gt 250 ] && n=$(( i - 250 ))
		if _lb_reserve "net-10.231.$n"; then
			# Also not in use on this machine (by something else).
			if ip -4 addr show 2>/dev/null | grep -q "inet 10\.231\.$n\."; then continue; fi
			echo "10.231.$n"
			return 0
		fi
	done
	echo "netns_subnet: no free 10.231.N/24" >&2
	return 1
}

# need_netns: skip the test unless network namespaces and veth pairs can
# be made here (root, and not in a restricted container).
need_netns() {
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	local probe="lb$LB_ID-probe"
	ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces here"
	if ! ip -n "$probe" link add lbprobe0 type veth peer name lbprobe1 2>/dev/null; then
		ip netns del "$probe" 2>/dev/null
		skip "cannot create veth pairs here"
	fi
	ip netns del "$probe"
}

netns_name() {
	if [ "$1" = root ]; then echo root; else echo "lb$LB_ID-$1"; fi
}

netns_create() {
	[ "$(id -u)" = 0 ] || { echo "netns_create: needs root" >&2; return 1; }
	local ns
	ns=$(netns_name "$1")
	[ "$1" != root ] || { echo "netns_create: 'root' is reserved" >&2; return 1; }
	ip netns add "$ns" || return 1
	echo "$ns" >>"$T/.lb/netns"
	ip -n "$ns" link set lo up
	if [ -z "${LB_NET:-}" ]; then
		if [ -s "$T/.lb/net" ]; then
			LB_NET=$(cat "$T/.lb/net")
		else
			LB_NET=$(netns_subnet) || return 1
			echo "$LB_NET" >"$T/.lb/net"
		fi
		export LB_NET
	fi
}

in_ns() {
	local ns=$1; shift
	if [ "$ns" = root ]; then
		"$@"
	else
		ip netns exec "$(netns_name "$ns")" "$@"
	fi
}

# ip(8) for namespace NS.
_lb_ip() {
	local ns=$1; shift
	if [ "$ns" = root ]; then ip "$@"; else ip -n "$(netns_name "$ns")" "$@"; fi
}

netns_link() {
	local ns1=$1 ip1=$2 ns2=$3 ip2=$4 n if1 if2
	n=$(( $(wc -l <"$T/.lb/links" 2>/dev/null || echo 0) + 1 ))
	if1="lbv${LB_ID}a$n"; if2="lbv${LB_ID}b$n"   # <= 15 bytes
	ip link add "$if1" type veth peer name "$if2" || return 1
	# A veth pair in the root namespace is not deleted with a namespace:
	# register its removal (harmless if already gone).
	lb_on_exit "ip link del $if1 2>/dev/null; ip link del $if2 2>/dev/null"
	[ "$ns1" = root ] || ip link set "$if1" netns "$(netns_name "$ns1")"
	[ "$ns2" = root ] || ip link set "$if2" netns "$(netns_name "$ns2")"
	# The root namespace has a default route (on some hosts to a proxy that
	# accepts any TCP connection): while the link is down, its subnet must
	# be unreachable rather than routed there.
	local side net
	for side in "$ns1 $ip1" "$ns2 $ip2"; do
		# shellcheck disable=SC2086
		set -- $side
		[ "$1" = root ] || continue
		net=${2%/*}; net=${net%.*}.0/24
		if ! ip route show table main type unreachable | grep -q "^unreachable $net "; then
			ip route add unreachable "$net" metric 4242 &&
				lb_on_exit "ip route del unreachable $net metric 4242"
		fi
	done
	_lb_ip "$ns1" addr add "${ip1%/*}/24" dev "$if1"
	_lb_ip "$ns2" addr add "${ip2%/*}/24" dev "$if2"
	echo "$ns1 $if1 $ns2 $if2" >>"$T/.lb/links"
	link_up "$ns1" "$ns2"
}

# _lb_link NS1 NS2: print "NS1 IF1 NS2 IF2" of their link (either order).
_lb_link() {
	local a b c d
	while read -r a b c d; do
		if [ "$a" = "$1" ] && [ "$c" = "$2" ]; then echo "$a $b $c $d"; return 0; fi
		if [ "$a" = "$2" ] && [ "$c" = "$1" ]; then echo "$c $d $a $b"; return 0; fi
	done <"$T/.lb/links"
	echo "no link between $1 and $2" >&2
	return 1
}

_lb_operstate() {
	_lb_ip "$1" -o link show dev "$2" 2>/dev/null | grep -q "state UP"
}

link_down() {
	local l
	l=$(_lb_link "$1" "$2") || return 1
	# shellcheck disable=SC2086
	set -- $l
	_lb_ip "$1" link set dev "$2" down
	_lb_ip "$3" link set dev "$4" down
}

link_cut() {
	local l
	l=$(_lb_link "$1" "$2") || return 1
	# shellcheck disable=SC2086
	set -- $l
	_lb_ip "$3" link set dev "$4" down
}

link_up() {
	local l
	l=$(_lb_link "$1" "$2") || return 1
	# shellcheck disable=SC2086
	set -- $l
	_lb_ip "$1" link set dev "$2" up
	_lb_ip "$3" link set dev "$4" up
	wait_until 5 _lb_operstate "$1" "$2" && wait_until 5 _lb_operstate "$3" "$4"
}

# start_sshd_in_ns NS ADDR [PORT]
start_sshd_in_ns() {
	[ "$(id -u)" = 0 ] || { echo "start_sshd_in_ns: needs root" >&2; return 1; }
	_lb_ssh_keys
	local port=${3:-}
	[ -n "$port" ] || port=$(free_port) || return 1
	_lb_sshd_launch "$(netns_name "$1")" "${2%/*}" "$port"
}
