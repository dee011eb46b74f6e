# shellcheck shell=bash
# Two machines for failover, switchover, drill, the demo and
# bench/switchover.sh: each node has its own network namespace AND its own
# mount namespace, so both see the same paths with their own contents, as
# two servers do, and read one configuration file, the same byte for byte:
#
#   /etc/lifeboat/lifeboat.conf   identical on both (no `node =`: each node
#                                 finds itself by its address)
#   /etc/lifeboat/{db.pass,repl.pass,id_ed25519,known_hosts}
#   /var/lib/lifeboat             the state directory
#   /srv/www/mysite               the web root lifeboat sync replicates
#   /etc/mysql, /var/lib/mysql, /run/mysqld   a Debian-style MariaDB
#                                 (read_only = ON in its my.cnf, as the
#                                 docs recommend; `lifeboat db writable`
#                                 turns writes on on the primary)
#   /usr/local                    lifeboat from `make install PREFIX=/usr/local`
#                                 (on PATH, also for commands run over ssh)
#   sshd on port 22 of the node's address, root with the key in
#   /etc/lifeboat/id_ed25519 (each node's own copy)
#
# Needs common.sh, netns.sh, sshd.sh, sync.sh and mariadb.sh sourced, and
# lb_setup done.
#
#   cluster_up           namespaces primary (node oslo, $LB_NET.1), dr (node
#                        dr, .2) and client (.3) on a bridge; VIP
#                        $LB_NET.100/24 on oslo's eth0; mariadbd on both,
#                        oslo made writable (`db writable`), dr cloned from it
#                        (`db clone --method dump`); app user app/apppw with
#                        table app.t; heartbeat writer on oslo
#   in_node NODE CMD...  CMD on that machine (NODE: primary or dr)
#   node_bg NODE CMD...  the same in the background; $! is CMD itself
#   lb_p ARGS / lb_d ARGS   `lifeboat ARGS` on oslo / dr (the installed one,
#                        its default configuration path)
#   sql_p SQL / sql_d SQL   SQL as the lifeboat admin on that node's server
#   app_vip SQL          SQL as the app user from client through the VIP
#   vip_holder           prints primary, dr, both or none
#   CONF_P, CONF_D       each node's copy of /etc/lifeboat/lifeboat.conf, seen
#                        from here (to edit; the nodes' commands read their own)
#   STATE_P, STATE_D     the nodes' state directories, seen from here
#   $T/oslo/www, $T/dr/www   the nodes' /srv/www/mysite, seen from here
#   CLUSTER_SYNC=1       also a [sync www] /srv/www/mysite -> dr:/srv/www/mysite
#                        (the same path on both); cluster_sync_start runs
#                        `lifeboat sync` on both nodes
#   CLUSTER_EXTRA=(...)  extra lines for the [failover] section
#   cluster_kill_primary kill -9 the primary's mariadbd and cut its link
#   cluster_crash NODE   kill -9 every process of that machine, cut its link
#   cluster_revive_primary / cluster_revive NODE   link up; sshd (after a
#                        crash) and mariadbd started again
#
# Every process a node ran is ended at exit; the namespaces go too.

CLUSTER_PORT=3306
CLUSTER_CONF=/etc/lifeboat/lifeboat.conf
CLUSTER_STATE=/var/lib/lifeboat
CLUSTER_WWW=/srv/www/mysite
# Where each node's files live on this machine, and where they appear in it.
_CLUSTER_MOUNTS="etc-mysql:/etc/mysql mysql:/var/lib/mysql run-mysqld:/run/mysqld
etc-lifeboat:/etc/lifeboat state:/var/lib/lifeboat www:/srv/www/mysite"

_CLUSTER_SSH_OPTIONS="-o UserKnownHostsFile=/etc/lifeboat/known_hosts -o StrictHostKeyChecking=yes -o LogLevel=ERROR"

_node_dir() { case $1 in primary|oslo) echo "$T/oslo" ;; *) echo "$T/dr" ;; esac; }
_node_holder() { cat "$(_node_dir "$1")/.holder"; }

in_node() {
	local n=$1; shift
	nsenter -t "$(_node_holder "$n")" -m -n -- "$@"
}
node_bg() {
	local n=$1; shift
	nsenter -t "$(_node_holder "$n")" -m -n -- "$@" &
}

# _node_up NODE NETNS: the machine's mount namespace, held by a sleep in
# its network namespace; its directories bound over the standard paths.
_node_up() {
	local dir ns m
	dir=$(_node_dir "$1") ns=$(netns_name "$2")
	mkdir -p "$dir"
	for m in $_CLUSTER_MOUNTS; do
		mkdir -p "$dir/${m%%:*}"
		# The mount point on this machine (an empty directory if the
		# package that owns it is not installed).
		[ -d "${m#*:}" ] || mkdir -p "${m#*:}"
	done
	[ -d /usr/local ] || return 1
	local home; home=$(getent passwd root | cut -d: -f6)
	# shellcheck disable=SC2016,SC2086 # $1..: the inner shell's; one word per mount
	ip netns exec "$ns" unshare -m --propagation private /bin/sh -c '
		dir=$1 inst=$2 bashrc=$3 empty=$4; shift 4
		for m in "$@"; do mount --bind "$dir/${m%%:*}" "${m#*:}" || exit 1; done
		mount --bind "$inst/usr/local" /usr/local || exit 1
		# Root logins source ~/.bashrc (slow on some hosts): not on these.
		[ -f "$bashrc" ] && mount --bind "$empty" "$bashrc"
		: >"$dir/.ready"
		exec sleep infinity' sh "$dir" "$T/inst" "$home/.bashrc" "$T/ssh/empty_bashrc" \
		$_CLUSTER_MOUNTS >>"$dir/holder.log" 2>&1 </dev/null &
	local holder=$!
	echo "$holder" >"$dir/.holder"
	_lb_starttime "$holder" >"$dir/.holder_start"
	# Not tracked: the holder ends last, in _node_kill_all, so that the
	# namespace (and the number that names it) lives until every process
	# in it is gone; a freed number may name another test's machine.
	lb_on_exit "_node_kill_all $1"
	wait_until 10 test -e "$dir/.ready" || { cat "$dir/holder.log" >&2; return 1; }
	readlink "/proc/$holder/ns/mnt" >"$dir/.mntns"
}

# _node_kill_all NODE: SIGKILL every process of the machine (mariadbd
# restarted by a clone, ssh masters lifeboat left to linger), the holder
# last. Only while the holder is ours and alive: then the namespace's
# number is still its own.
_node_kill_all() {
	local want p dir holder
	disown -a 2>/dev/null # no "Killed" line from bash for the holder job
	dir=$(_node_dir "$1")
	holder=$(cat "$dir/.holder" 2>/dev/null) || return 0
	if [ ! -s "$dir/.mntns" ]; then
		_lb_same "$holder" "$(cat "$dir/.holder_start" 2>/dev/null)" && kill -KILL "$holder"
		return 0
	fi
	want=$(cat "$dir/.mntns")
	[ "$(_lb_starttime "$holder")" = "$(cat "$dir/.holder_start")" ] || return 0
	[ "$(readlink "/proc/$holder/ns/mnt" 2>/dev/null)" = "$want" ] || return 0
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$holder" ] && continue
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$want" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	kill -KILL "$holder" 2>/dev/null
	return 0
}

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

# lifeboat as a sysadmin installs it: make install, here under $T/inst,
# which each node sees as its /usr/local. The sanitizer build is the one
# installed (tests run it). A start script stands in for systemd's unit
# (start_command).
_cluster_install() {
	make -s -C "$LIFEBOAT_ROOT" install DESTDIR="$T/inst" PREFIX=/usr/local \
		INSTALL_BIN="$LIFEBOAT" >"$T/install.log" 2>&1 || { cat "$T/install.log" >&2; return 1; }
	mkdir -p "$T/inst/usr/local/sbin"
	cat >"$T/inst/usr/local/sbin/mariadb-start" <<'EOF'
#!/bin/sh
# systemctl start mariadb, for a machine without systemd: start the server
# from /etc/mysql and return once it answers.
setsid mariadbd </dev/null >>/run/mysqld/out.log 2>&1 &
i=0
until mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 1200 ] && { echo "mariadbd did not answer" >&2; exit 1; }
	kill -0 $! 2>/dev/null || { echo "mariadbd exited" >&2; tail -n 20 /run/mysqld/error.log >&2; exit 1; }
	sleep 0.05
done
EOF
	chmod 755 "$T/inst/usr/local/sbin/mariadb-start"
}

# _cluster_mysql NODE SERVER_ID: /etc/mysql as Debian lays it out, a
# datadir from the template.
_cluster_mysql() {
	local dir; dir=$(_node_dir "$1")
	mkdir -p "$dir/etc-mysql/conf.d" "$dir/etc-mysql/mariadb.conf.d"
	cat >"$dir/etc-mysql/my.cnf" <<EOF
[client-server]
socket = /run/mysqld/mysqld.sock
!includedir /etc/mysql/conf.d/
!includedir /etc/mysql/mariadb.conf.d/
EOF
	cat >"$dir/etc-mysql/mariadb.conf.d/50-server.cnf" <<EOF
[mariadbd]
user = root
pid-file = /run/mysqld/mysqld.pid
datadir = /var/lib/mysql
log-error = /run/mysqld/error.log
bind-address = 0.0.0.0
port = $CLUSTER_PORT
server_id = $2
log_bin = mysql-bin
log_slave_updates = ON
gtid_strict_mode = ON
binlog_format = ROW
sync_binlog = 1
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 64M
skip-name-resolve
max_connections = 100
# A rebooted server takes no writes until lifeboat says it holds the role.
read_only = ON
EOF
	# Into the directory the machine has bound (not a new one).
	cp -a --sparse=always "$MDB_TEMPLATE/." "$dir/mysql/"
	rm -f "$dir/mysql/.done"
}

_cluster_db_start() {
	in_node "$1" /usr/local/sbin/mariadb-start || return 1
	lb_track_pid "$(cat "$(_node_dir "$1")/run-mysqld/mysqld.pid")"
}
# cluster_db_start NODE: that machine's mariadbd started again (as its
# init system would), tracked.
cluster_db_start() { _cluster_db_start "$1"; }

# mariadb.sh's instance names p and d are the two machines' servers, so
# mdb_kill9 p / mdb_stop d / mdb_pid p reach them.
_cluster_mdb_names() {
	mkdir -p "$MDB_WORK/p" "$MDB_WORK/d"
	ln -sf "$T/oslo/run-mysqld/mysqld.pid" "$MDB_WORK/p/mariadbd.pid"
	ln -sf "$T/dr/run-mysqld/mysqld.pid" "$MDB_WORK/d/mariadbd.pid"
}

sql_p() { in_ns primary mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P$CLUSTER_PORT -ulifeboat -p"$MDB_PASS" -N -B -e "$*"; }
sql_d() { in_ns dr mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P$CLUSTER_PORT -ulifeboat -p"$MDB_PASS" -N -B -e "$*"; }
app_vip() { in_ns client mariadb --no-defaults --protocol=tcp -h"$VIP" -P$CLUSTER_PORT -uapp -papppw --connect-timeout=3 -N -B -e "$*"; }
lb_p() { in_node primary lifeboat "$@"; }
lb_d() { in_node dr lifeboat "$@"; }

vip_holder() {
	local p=0 d=0
	in_ns primary ip -o addr show dev eth0 | grep -q " $VIP/" && p=1
	in_ns dr ip -o addr show dev eth0 | grep -q " $VIP/" && d=1
	case $p$d in 10) echo primary ;; 01) echo dr ;; 11) echo both ;; *) echo none ;; esac
}

# The one configuration file, written as the docs describe it.
_cluster_conf() {
	cat <<EOF
# One file, the same on both nodes: each finds itself by its address.
[lifeboat]
state_dir = $CLUSTER_STATE
log = stderr

[node oslo]
address = $LB_NET.1
ssh = root@$LB_NET.1
role = primary
ssh_identity = /etc/lifeboat/id_ed25519
ssh_options = $_CLUSTER_SSH_OPTIONS

[node dr]
address = $LB_NET.2
ssh = root@$LB_NET.2
role = standby
ssh_identity = /etc/lifeboat/id_ed25519
ssh_options = $_CLUSTER_SSH_OPTIONS

[database]
primary = oslo
standby = dr
port = $CLUSTER_PORT
user = lifeboat
password_file = /etc/lifeboat/db.pass
replication_user = repl
replication_password_file = /etc/lifeboat/repl.pass
promote_timeout = 20
read_only_cnf = /etc/mysql/mariadb.conf.d/99-lifeboat-read-only.cnf
datadir = /var/lib/mysql
start_command = /usr/local/sbin/mariadb-start

[failover]
vip = $VIP/24
vip_dev = eth0
EOF
	local l
	for l in "${CLUSTER_EXTRA[@]}"; do echo "$l"; done
	[ -z "${CLUSTER_SYNC:-}" ] || cat <<EOF

[sync www]
source = $CLUSTER_WWW
target = dr:$CLUSTER_WWW
delay = 0
EOF
}

# /etc/lifeboat of one node: the configuration, secrets and ssh files.
_cluster_etc() {
	local e; e=$(_node_dir "$1")/etc-lifeboat
	cp "$T/lifeboat.conf" "$e/lifeboat.conf"
	printf '%s\n' "$MDB_PASS" >"$e/db.pass"
	printf '%s\n' "$MDB_REPL_PASS" >"$e/repl.pass"
	cp "$T/ssh/id_ed25519" "$e/id_ed25519"
	cp "$T/ssh/cluster_known_hosts" "$e/known_hosts"
	chmod 600 "$e/db.pass" "$e/repl.pass" "$e/id_ed25519"
}

# sshd on port 22 of the node's address, inside the machine.
_cluster_sshd() {
	local n=$1 addr=$2 conf=$T/ssh/sshd_$1.conf
	mkdir -p /run/sshd && chmod 755 /run/sshd
	_lb_sshd_common_config "$addr:22" >"$conf"
	node_bg "$n" /usr/sbin/sshd -D -e -f "$conf" >>"$T/ssh/sshd_$n.log" 2>&1 </dev/null
	lb_track_pid $!
	wait_until 10 _lb_listening ip netns exec "$(netns_name "$n")" -- "$addr" 22 ||
		{ cat "$T/ssh/sshd_$n.log" >&2; return 1; }
}

# File sync daemons (CLUSTER_SYNC=1 before cluster_up): `lifeboat sync` on
# both nodes from the same file; the roles decide who pushes.
cluster_sync_start() {
	cluster_sync_start_on primary && cluster_sync_start_on dr &&
		wait_until 30 eval '[ "$(status_field www state "$STATE_P")" = idle ]' &&
		wait_until 30 eval '[ "$(status_field www direction "$STATE_D")" = receiving ]'
}
cluster_sync_start_on() {
	local log=$T/sync-oslo.log
	[ "$1" = dr ] && log=$T/sync-dr.log
	node_bg "$1" lifeboat sync >>"$log" 2>&1 </dev/null
	lb_track_pid $!
	echo $! >"$(_node_dir "$1")/.sync_pid"
}

cluster_up() {
	need_root
	command -v nsenter >/dev/null || { echo "cluster_up: nsenter missing" >&2; return 1; }
	MDB_WORK=$T/mdb
	mkdir -p "$MDB_WORK"
	MDB_INSTANCES=()
	mdb_template || return 1
	_lb_ssh_keys
	_cluster_install || { echo "cluster_up: make install" >&2; return 1; }
	_cluster_net || { echo "cluster_up: network" >&2; return 1; }
	local hk; hk=$(cut -d' ' -f1,2 "$T/ssh/host_ed25519.pub")
	printf '%s %s\n%s %s\n' "$LB_NET.1" "$hk" "$LB_NET.2" "$hk" >"$T/ssh/cluster_known_hosts"
	_cluster_conf >"$T/lifeboat.conf"
	_node_up primary primary && _node_up dr dr || { echo "cluster_up: machines" >&2; return 1; }
	_cluster_etc primary && _cluster_etc dr || return 1
	STATE_P=$T/oslo/state STATE_D=$T/dr/state
	CONF_P=$T/oslo/etc-lifeboat/lifeboat.conf CONF_D=$T/dr/etc-lifeboat/lifeboat.conf
	export STATE_P STATE_D CONF_P CONF_D
	_cluster_mysql primary 1 && _cluster_mysql dr 2 || return 1
	_cluster_mdb_names
	_cluster_db_start primary && _cluster_db_start dr || { echo "cluster_up: mariadbd" >&2; return 1; }
	_cluster_sshd primary "$LB_NET.1" && _cluster_sshd dr "$LB_NET.2" || return 1
	lb_p db writable >"$T/writable.log" 2>&1 || { cat "$T/writable.log" >&2; return 1; }
	sql_p "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40));
		CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'" || return 1
	lb_p db clone --method dump >"$T/clone.log" 2>&1 || { cat "$T/clone.log" >&2; return 1; }
	in_node primary ip addr add "$VIP/24" dev eth0
	in_node primary arping -q -U -c 1 -I eth0 "$VIP" || true
	cluster_heartbeat
}

# The heartbeat writer (lifeboat db heartbeat) on the primary.
cluster_heartbeat() {
	node_bg primary lifeboat db heartbeat >>"$T/heartbeat.log" 2>&1 </dev/null
	HB_PID=$!
	lb_track_pid "$HB_PID"
	wait_until 20 _cluster_hb_seen
}
_cluster_hb_seen() { [ "$(sql_d "SELECT COUNT(*) FROM lifeboat.heartbeat" 2>/dev/null)" = 1 ]; }

_cluster_db_kill9() {
	local pid
	pid=$(cat "$(_node_dir "$1")/run-mysqld/mysqld.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null
	mdb_wait_gone "$pid" 30
}

cluster_kill_primary() {
	_cluster_db_kill9 primary
	ip -n "$(netns_name primary)" link set eth0 down
}

# The machine dies: every process on it, at once, and its cable.
cluster_crash() {
	local holder; holder=$(_node_holder "$1")
	# Jobs of this shell die too: no "Killed" lines from bash.
	disown -a 2>/dev/null
	local want p
	want=$(cat "$(_node_dir "$1")/.mntns")
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$holder" ] && continue
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$want" ] && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	_cluster_db_kill9 "$1"
	ip -n "$(netns_name "$1")" link set eth0 down
	rm -f "$(_node_dir "$1")/run-mysqld/mysqld.pid"
}

# The node's cable is pulled at the switch: its eth0 stays up without a
# carrier, so what runs on it still reaches its own addresses and carries on
# (the primary's heartbeat writer keeps writing) while nothing gets out.
_cluster_port() { case $1 in primary|oslo) echo p1 ;; *) echo p2 ;; esac; }
cluster_cut_cable() { ip -n "$(netns_name sw)" link set "$(_cluster_port "$1")" down; }

cluster_revive() {
	ip -n "$(netns_name sw)" link set "$(_cluster_port "$1")" up
	ip -n "$(netns_name "$1")" link set eth0 up
	local addr=$LB_NET.1
	[ "$1" = dr ] && addr=$LB_NET.2
	_lb_listening ip netns exec "$(netns_name "$1")" -- "$addr" 22 || _cluster_sshd "$1" "$addr" || return 1
	_cluster_db_start "$1"
}
cluster_revive_primary() { cluster_revive primary; }
