# shellcheck shell=bash
# A two-node lifeboat cluster in network namespaces, for failover and
# switchover tests, bench/switchover.sh and the demo.  Needs common.sh,
# netns.sh, sshd.sh, sync.sh and mariadb.sh sourced, and lb_setup done.
#
#   cluster_up           namespaces primary, dr, client, each with eth0 on a
#                        bridge (namespace sw): $LB_NET.1 primary, .2 dr, .3
#                        client; VIP $LB_NET.100/24 on the primary's eth0;
#                        a mariadbd in primary and dr on port 3306 (read_only
#                        in my.cnf, the primary made writable), dr cloned
#                        from primary; an sshd in each node; app user app/apppw
#                        with table app.t; heartbeat writer in primary
#   CONF_P, CONF_D       lifeboat.conf of node oslo (primary) / dr
#   STATE_P, STATE_D     their state dirs
#   lb_p ARGS / lb_d ARGS   lifeboat run in the primary / dr namespace
#   sql_p SQL / sql_d SQL   SQL as the lifeboat admin, in that namespace
#   app_vip SQL          SQL as the app user from client through the VIP
#   vip_holder           prints primary, dr, both or none
#   CLUSTER_SYNC=1       also a [sync www] $T/oslo/www -> dr:$T/dr/www;
#                        cluster_sync_start runs 'lifeboat sync' on both
#   CLUSTER_EXTRA=(...)  extra lines for the [failover] section
#   cluster_kill_primary kill -9 the primary's mariadbd and cut its link
#   cluster_revive_primary  link back up, its mariadbd started again
#
# Every process is tracked (common.sh) and the namespaces go at exit.

CLUSTER_PORT=3306

_cluster_net() {
	local sw n i
	for n in sw primary dr client; do netns_create "$n" || return 1; done
	sw=$(netns_name sw)
	ip -n "$sw" link add br0 type bridge || return 1
	ip -n "$sw" link set br0 up
	i=0
	for n in primary dr client; do
		i=$((i + 1))
		ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$(netns_name "$n")" || return 1
		ip -n "$sw" link set "p$i" master br0 up
		ip -n "$(netns_name "$n")" addr add "$LB_NET.$i/24" dev eth0
		ip -n "$(netns_name "$n")" link set eth0 up
	done
	VIP=$LB_NET.100
	export VIP
	wait_until 10 in_ns client arping -q -c 1 -w 1 -I eth0 "$LB_NET.1" &&
		wait_until 10 in_ns client arping -q -c 1 -w 1 -I eth0 "$LB_NET.2"
}

# _cluster_db NS NAME SERVER_ID
_cluster_db() {
	local ns=$1 name=$2 dir
	mdb_new "$name" "$3" "bind-address=0.0.0.0" || return 1
	dir=$(mdb_dir "$name")
	sed -i "s/^port=.*/port=$CLUSTER_PORT/" "$dir/my.cnf"
	echo "$CLUSTER_PORT" >"$dir/port"
	in_ns "$ns" bash "$LIFEBOAT_ROOT/tests/lib/mariadb.sh" start "$dir" || return 1
	lb_track_pid "$(cat "$dir/mariadbd.pid")"
}

sql_p() { in_ns primary mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P$CLUSTER_PORT -ulifeboat -p"$MDB_PASS" -N -B -e "$*"; }
sql_d() { in_ns dr mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P$CLUSTER_PORT -ulifeboat -p"$MDB_PASS" -N -B -e "$*"; }
app_vip() { in_ns client mariadb --no-defaults --protocol=tcp -h"$VIP" -P$CLUSTER_PORT -uapp -papppw --connect-timeout=3 -N -B -e "$*"; }
lb_p() { in_ns primary "$LIFEBOAT" -c "$CONF_P" "$@"; }
lb_d() { in_ns dr "$LIFEBOAT" -c "$CONF_D" "$@"; }

vip_holder() {
	local p=0 d=0
	in_ns primary ip -o addr show dev eth0 | grep -q " $VIP/" && p=1
	in_ns dr ip -o addr show dev eth0 | grep -q " $VIP/" && d=1
	case $p$d in 10) echo primary ;; 01) echo dr ;; 11) echo both ;; *) echo none ;; esac
}

# _cluster_conf NODE STATE PEER_ADDR PEER_SSH_PORT PEER_CONF
_cluster_conf() {
	cat <<EOF2
[lifeboat]
node = $1
state_dir = $2
log = stderr

[node oslo]
address = $LB_NET.1
ssh = root@$LB_NET.1
role = primary
state_dir = $T/state-oslo

[node dr]
address = $LB_NET.2
ssh = root@$LB_NET.2
role = standby
state_dir = $T/state-dr

[database]
primary = oslo
standby = dr
port = $CLUSTER_PORT
user = lifeboat
password_file = $T/db.pass
replication_user = repl
replication_password_file = $T/repl.pass
promote_timeout = 20

[failover]
vip = $VIP/24
vip_dev = eth0
peer_command = ssh -i $SSH_KEY -p $4 $SSH_OPTS -o ConnectTimeout=3 root@$3 $LIFEBOAT -c $5
EOF2
	local l
	for l in "${CLUSTER_EXTRA[@]}"; do echo "$l"; done
	[ -z "${CLUSTER_SYNC:-}" ] || cat <<EOF2

[sync www]
source = $T/oslo/www
target = dr:$T/dr/www
delay = 0
ssh_port = $SSHD_PORT_P
ssh_identity = $SSH_KEY
ssh_options = $SSH_OPTS
EOF2
}

# File sync daemons (CLUSTER_SYNC=1 before cluster_up): oslo's www
# replicated to dr's; each node runs 'lifeboat sync', the roles decide who
# pushes.
cluster_sync_start() {
	mkdir -p "$T/oslo/www" "$T/dr/www"
	ip netns exec "$(netns_name primary)" "$LIFEBOAT" -c "$CONF_P" sync >>"$T/sync-oslo.log" 2>&1 &
	lb_track_pid $!
	ip netns exec "$(netns_name dr)" "$LIFEBOAT" -c "$CONF_D" sync >>"$T/sync-dr.log" 2>&1 &
	lb_track_pid $!
	wait_until 30 eval '[ "$(status_field www state "$STATE_P")" = idle ]' &&
		wait_until 30 eval '[ "$(status_field www direction "$STATE_D")" = receiving ]'
}

cluster_up() {
	need_root
	MDB_WORK=$T/mdb
	mkdir -p "$MDB_WORK"
	MDB_INSTANCES=()
	mdb_template || return 1
	lb_on_exit 'for n in "${MDB_INSTANCES[@]}"; do mdb_kill9 "$n"; done'
	_cluster_net || { echo "cluster_up: network" >&2; return 1; }
	_cluster_db primary p 1 || return 1
	_cluster_db dr d 2 || return 1
	printf '%s\n' "$MDB_PASS" >"$T/db.pass"
	printf '%s\n' "$MDB_REPL_PASS" >"$T/repl.pass"
	chmod 600 "$T/db.pass" "$T/repl.pass"
	# Each node's sshd gives sessions that node's configuration (serve reads it).
	SSHD_LIFEBOAT_CONFIG=$T/oslo.conf start_sshd_in_ns primary "$LB_NET.1" || return 1
	SSHD_PORT_P=$SSHD_PORT
	# The same port in both: a [sync] has one ssh_port, used both ways.
	SSHD_LIFEBOAT_CONFIG=$T/dr.conf start_sshd_in_ns dr "$LB_NET.2" "$SSHD_PORT_P" || return 1
	SSHD_PORT_D=$SSHD_PORT
	STATE_P=$T/state-oslo STATE_D=$T/state-dr
	CONF_P=$T/oslo.conf CONF_D=$T/dr.conf
	mkdir -p "$STATE_P" "$STATE_D"
	_cluster_conf oslo "$STATE_P" "$LB_NET.2" "$SSHD_PORT_D" "$CONF_D" >"$CONF_P"
	_cluster_conf dr "$STATE_D" "$LB_NET.1" "$SSHD_PORT_P" "$CONF_P" >"$CONF_D"
	export CONF_P CONF_D STATE_P STATE_D
	sql_p "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40));
		CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'" || return 1
	lb_p db clone --method dump >"$T/clone.log" 2>&1 || { cat "$T/clone.log" >&2; return 1; }
	in_ns primary ip addr add "$VIP/24" dev eth0
	in_ns primary arping -q -U -c 1 -I eth0 "$VIP" || true
	cluster_heartbeat
}

# The heartbeat writer (lifeboat db heartbeat) in the primary namespace.
cluster_heartbeat() {
	# ip netns exec execs: $! is lifeboat itself, so cleanup can end it
	# (a backgrounded shell function would leave it orphaned).
	ip netns exec "$(netns_name primary)" "$LIFEBOAT" -c "$CONF_P" db heartbeat >>"$T/heartbeat.log" 2>&1 &
	HB_PID=$!
	lb_track_pid "$HB_PID"
	wait_until 20 _cluster_hb_seen
}
_cluster_hb_seen() { [ "$(sql_d "SELECT COUNT(*) FROM lifeboat.heartbeat" 2>/dev/null)" = 1 ]; }

cluster_kill_primary() {
	mdb_kill9 p
	ip -n "$(netns_name primary)" link set eth0 down
}

cluster_revive_primary() {
	ip -n "$(netns_name primary)" link set eth0 up
	in_ns primary bash "$LIFEBOAT_ROOT/tests/lib/mariadb.sh" start "$(mdb_dir p)" || return 1
	lb_track_pid "$(cat "$(mdb_dir p)/mariadbd.pid")"
}
