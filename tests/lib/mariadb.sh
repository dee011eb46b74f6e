# shellcheck shell=bash
# MariaDB fixture for tests/integration/db_*.sh and bench/db_*.sh: real
# mariadbd instances on 127.0.0.1, each with its own datadir, port, socket
# and my.cnf (always --defaults-file / --no-defaults: /etc/mysql is never read).
#
#   . tests/lib/mariadb.sh
#   mdb_setup                     # work dir, cleanup trap, template datadir
#   mdb_new a 1                   # instance "a", server_id 1 (copies the template)
#   mdb_start a; mdb_sql a "SELECT 1"; mdb_stop a; mdb_kill9 a
#   mdb_config > lifeboat.conf    # [database] for a (primary) and b (standby)
#
# The template datadir is made once per machine, user and MDB_FLAVOUR
# (debian, the default, or rhel) by mariadb-install-db run as that
# distribution's package runs it, then the 'lifeboat' account is created by
# plain SQL as root, as docs/db.md tells an administrator (no grant-table
# edits, no dropped accounts). It is copied sparsely per instance.
# mdb_app_setup makes a shop's application (schema objects, an application
# account and an ALL PRIVILEGES one); mdb_app_writer a steady load. Instances
# are stopped by PID only. Run as a program ("bash mariadb.sh start DIR") it
# starts one instance and returns once it answers: the start_command lifeboat
# uses for a physical clone.

MDB_PASS=lbpass
MDB_REPL_PASS=replpass
# Which kind of installation the datadirs model (tests pick one):
#   debian  as Debian's mariadb-server postinst makes it: root@localhost and
#           'mysql'@'localhost' by unix_socket (root holding PROXY ... WITH
#           GRANT OPTION), mariadb.sys, no test database; no skip-name-resolve
#           (Debian's 50-server.cnf has none).
#   rhel    normal root authentication (root@localhost, root@HOSTNAME,
#           root@127.0.0.1, root@::1 without password), the installer's test
#           database and anonymous accounts, skip-name-resolve in my.cnf.
MDB_FLAVOUR=${MDB_FLAVOUR:-debian}
# v2: a path of its own, so worktrees still on the old tuned template keep it.
MDB_TEMPLATE=${MDB_TEMPLATE:-/tmp/lifeboat-mdb-template-h9-v2-$MDB_FLAVOUR-$(id -u)}

mdb_mysqld() { command -v mariadbd || echo /usr/sbin/mariadbd; }

# The OS user the installer gives a unix_socket account (Debian: mysql).
mdb_install_user() {
	if [ "$(id -u)" = 0 ] && id mysql >/dev/null 2>&1; then echo mysql; else id -un; fi
}

# mariadb-install-db as the distribution's package runs it (postinst of
# mariadb-server 10.11 on Debian 12: --rpm --cross-bootstrap --user=mysql
# --disable-log-bin --skip-test-db; RHEL's mariadb-prepare-db-dir: --rpm
# with normal root authentication).
mdb_install_db() {
	local dir=$1
	case $MDB_FLAVOUR in
	debian)
		TMPDIR= mariadb-install-db --no-defaults --datadir="$dir" --rpm --cross-bootstrap \
			--user="$(mdb_install_user)" --disable-log-bin --skip-test-db ;;
	rhel)
		mariadb-install-db --no-defaults --datadir="$dir" --rpm \
			--user="$(mdb_install_user)" --auth-root-authentication-method=normal ;;
	*) echo "MDB_FLAVOUR=$MDB_FLAVOUR: debian or rhel" >&2; return 2 ;;
	esac
}

# As the administrator: root on the socket (unix_socket on Debian, no
# password on RHEL), the statements docs/db.md gives.
mdb_admin_sql_sock() {
	local sock=$1; shift
	local who=root
	[ "$(id -u)" = 0 ] || who=$(id -un)
	mariadb --no-defaults -S "$sock" -u"$who" -N -B -e "$*"
}

# The template, made once (flock: tests run in parallel): installed as the
# package does it, then started once so an administrator can create the
# lifeboat account with plain SQL (the issue's user gave it ALL PRIVILEGES
# WITH GRANT OPTION; nothing else, no PROXY, no grant-table edits).
mdb_template() {
	[ -f "$MDB_TEMPLATE/.done" ] && return 0
	mkdir -p "$(dirname "$MDB_TEMPLATE")"
	(
		flock 9
		[ -f "$MDB_TEMPLATE/.done" ] && exit 0
		local t=$MDB_TEMPLATE.tmp log=$MDB_TEMPLATE.log pid deadline
		rm -rf "$t"; mkdir -p "$t"
		mdb_install_db "$t" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
		setsid "$(mdb_mysqld)" --no-defaults --datadir="$t" --user="$(id -un)" \
			--skip-networking --socket="$t.sock" --pid-file="$t.pid" \
			--innodb-buffer-pool-size=32M >>"$log" 2>&1 </dev/null &
		pid=$!
		deadline=$(( $(date +%s) + 60 ))
		until mdb_admin_sql_sock "$t.sock" "SELECT 1" >/dev/null 2>&1; do
			kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt $deadline ] || {
				cat "$log" >&2; kill -KILL "$pid" 2>/dev/null; exit 1; }
			sleep 0.1
		done
		mdb_admin_sql_sock "$t.sock" "CREATE USER 'lifeboat'@'%' IDENTIFIED BY '$MDB_PASS';
			GRANT ALL PRIVILEGES ON *.* TO 'lifeboat'@'%' WITH GRANT OPTION;
			SHUTDOWN" >>"$log" 2>&1 || { cat "$log" >&2; kill -KILL "$pid"; exit 1; }
		wait "$pid"
		# The instances run as this user (tests start them without root's
		# user switch); ownership is all that changes.
		chown -R "$(id -un)" "$t"
		rm -rf "$MDB_TEMPLATE"
		mv "$t" "$MDB_TEMPLATE"
		touch "$MDB_TEMPLATE/.done"
	) 9>"$MDB_TEMPLATE.lock"
}

# A free TCP port on 127.0.0.1, reserved with mkdir (atomic) under
# /tmp/lifeboat-ports so parallel tests never pick the same one; a
# reservation whose owner PID is gone is taken over.
MDB_PORT_DIR=/tmp/lifeboat-ports
MDB_PORTS=()
mdb_free_port() {
	local p tries=0 owner
	mkdir -p "$MDB_PORT_DIR"
	# 10000-19999: below the kernel's ephemeral ports (outgoing connections
	# take those) and apart from common.sh's free_port range.
	p=$(( 10000 + ($$ * 37 + RANDOM) % 10000 ))
	while :; do
		tries=$((tries + 1))
		[ $tries -gt 500 ] && return 1
		p=$(( 10000 + (p + 1 - 10000) % 10000 ))
		if ! mkdir "$MDB_PORT_DIR/$p" 2>/dev/null; then
			owner=$(cat "$MDB_PORT_DIR/$p/pid" 2>/dev/null)
			if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
				rm -rf "$MDB_PORT_DIR/$p"
			fi
			continue
		fi
		echo $$ >"$MDB_PORT_DIR/$p/pid"
		if (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; then continue; fi # in use by someone else
		MDB_PORTS+=("$p")
		echo "$p"
		return 0
	done
}

mdb_setup() {
	MDB_WORK=$(mktemp -d /tmp/lifeboat-db-test.XXXXXX)
	MDB_INSTANCES=()
	trap mdb_cleanup EXIT
	mdb_template || { echo "cannot make the template datadir" >&2; exit 1; }
}

# Background helpers a test starts (heartbeat, writers): killed at exit.
MDB_PIDS=()
mdb_cleanup() {
	local n p
	for p in "${MDB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for n in "${MDB_INSTANCES[@]}"; do mdb_kill9 "$n" 2>/dev/null; done
	for p in "${MDB_PORTS[@]}"; do rm -rf "${MDB_PORT_DIR:?}/$p"; done
	[ -n "${MDB_KEEP:-}" ] || rm -rf "$MDB_WORK"
}

mdb_dir() { echo "$MDB_WORK/$1"; }
mdb_port() { cat "$MDB_WORK/$1/port"; }

# mdb_new NAME SERVER_ID [extra my.cnf lines...]
mdb_new() {
	local name=$1 sid=$2 dir="$MDB_WORK/$1" port
	shift 2
	mkdir -p "$dir" "$dir/tmp"
	mdb_free_port >"$MDB_WORK/.port" || { echo "no free port" >&2; return 1; }
	port=$(cat "$MDB_WORK/.port"); MDB_PORTS+=("$port")
	echo "$port" >"$dir/port"
	cp -a --sparse=always "$MDB_TEMPLATE" "$dir/data"
	rm -f "$dir/data/.done"
	# read_only lives in a drop-in lifeboat may rewrite (read_only_cnf).
	printf '[mariadbd]\nread_only = ON\n' >"$dir/lifeboat.cnf"
	{
		echo "[mariadbd]"
		echo "datadir=$dir/data"
		echo "port=$port"
		echo "bind-address=127.0.0.1"
		echo "socket=$dir/sock"
		echo "pid-file=$dir/mariadbd.pid"
		echo "log-error=$dir/error.log"
		# Its own tmpdir: many servers of parallel tests share this machine's /tmp.
		echo "tmpdir=$dir/tmp"
		echo "user=$(id -un)"
		echo "server_id=$sid"
		echo "log_bin=binlog"
		echo "log_slave_updates=ON"
		echo "gtid_strict_mode=ON"
		echo "binlog_format=ROW"
		echo "sync_binlog=1"
		echo "innodb_flush_log_at_trx_commit=1"
		echo "innodb_buffer_pool_size=64M"
		[ "$MDB_FLAVOUR" = rhel ] && echo "skip-name-resolve"
		echo "skip-log-error=0"
		echo "max_connections=100"
		for l in "$@"; do echo "$l"; done
		echo "!include $dir/lifeboat.cnf"
	} >"$dir/my.cnf"
	sed -i '/^skip-log-error=0$/d' "$dir/my.cnf"
	MDB_INSTANCES+=("$name")
}

# Start DIR's mariadbd and wait (bounded) until it answers.
mdb_start_dir() {
	local dir=$1 pid deadline
	rm -f "$dir/mariadbd.pid"
	setsid "$(mdb_mysqld)" --defaults-file="$dir/my.cnf" </dev/null >>"$dir/out.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/pid"
	deadline=$(( $(date +%s) + 60 ))
	until mariadb-admin --no-defaults --protocol=tcp -h127.0.0.1 -P"$(cat "$dir/port")" \
		-ulifeboat -p"$MDB_PASS" --connect-timeout=2 ping >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "mariadbd in $dir exited; error.log:" >&2; tail -n 20 "$dir/error.log" >&2
			return 1
		fi
		[ "$(date +%s)" -ge $deadline ] && { echo "mariadbd in $dir does not answer" >&2; return 1; }
		sleep 0.05
	done
}
mdb_start() { mdb_start_dir "$MDB_WORK/$1"; }

# Alive = exists and not a zombie (anchors pitfall 2).
mdb_pid_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

mdb_pid() {
	local dir="$MDB_WORK/$1"
	if [ -s "$dir/mariadbd.pid" ]; then cat "$dir/mariadbd.pid"; else cat "$dir/pid" 2>/dev/null; fi
}

mdb_wait_gone() {
	local pid=$1 deadline=$(( $(date +%s) + ${2:-60} ))
	while mdb_pid_alive "$pid"; do
		[ "$(date +%s)" -ge $deadline ] && { echo "pid $pid does not exit" >&2; return 1; }
		sleep 0.02
	done
}

mdb_stop() {
	local pid; pid=$(mdb_pid "$1") || return 0
	[ -n "$pid" ] || return 0
	mdb_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	mdb_wait_gone "$pid" 60
}

mdb_kill9() {
	local pid; pid=$(mdb_pid "$1") || return 0
	[ -n "$pid" ] || return 0
	mdb_pid_alive "$pid" || return 0
	kill -KILL "$pid" 2>/dev/null
	mdb_wait_gone "$pid" 30
}

# mdb_sql NAME SQL... : run as the lifeboat admin user, tab-separated, no headers.
mdb_sql() {
	local name=$1; shift
	mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port "$name")" -ulifeboat \
		-p"$MDB_PASS" -N -B -e "$*"
}
# As the server's administrator: root on the socket (unix_socket on Debian,
# no password on RHEL), as a shop's admin runs the mariadb client.
mdb_sql_root() {
	local name=$1; shift
	mdb_admin_sql_sock "$(mdb_dir "$name")/sock" "$@"
}

# A shop's application, made by its administrator as root on NAME (the
# primary): schema shop with tables, a view, a trigger, a procedure, a
# function and an event; 'shopapp' with the usual grants on shop.* and
# 'shopadmin' with ALL PRIVILEGES on *.* (as many small shops run their
# application); ROWS orders placed through the procedure.
MDB_APP_PASS=shoppw
MDB_APPADMIN_PASS=adminpw
mdb_app_setup() {
	local name=$1 rows=${2:-100}
	mdb_sql_root "$name" "SET GLOBAL read_only = OFF;
		CREATE DATABASE shop;
		CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(40) NOT NULL,
			qty INT NOT NULL, note VARCHAR(200));
		CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT, what VARCHAR(60));
		CREATE VIEW shop.order_totals AS SELECT item, SUM(qty) AS total FROM shop.orders GROUP BY item;
		CREATE TRIGGER shop.orders_ai AFTER INSERT ON shop.orders FOR EACH ROW
			INSERT INTO shop.audit (order_id, what) VALUES (NEW.id, CONCAT('placed ', NEW.item));
		CREATE PROCEDURE shop.place_order(IN p_item VARCHAR(40), IN p_qty INT)
			INSERT INTO shop.orders (item, qty) VALUES (p_item, p_qty);
		CREATE FUNCTION shop.order_count() RETURNS INT READS SQL DATA
			RETURN (SELECT COUNT(*) FROM shop.orders);
		CREATE EVENT shop.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.audit WHERE id < 0;
		CREATE USER 'shopapp'@'%' IDENTIFIED BY '$MDB_APP_PASS';
		GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE, SHOW VIEW ON shop.* TO 'shopapp'@'%';
		CREATE USER 'shopadmin'@'%' IDENTIFIED BY '$MDB_APPADMIN_PASS';
		GRANT ALL PRIVILEGES ON *.* TO 'shopadmin'@'%';
		INSERT INTO shop.orders (item, qty, note) SELECT CONCAT('item', seq), seq % 7, REPEAT('n', 100)
			FROM shop.seq_1_to_$rows;"
}

# mdb_app NAME USER PASS SQL: as an application account over TCP.
mdb_app() {
	local name=$1 user=$2 pass=$3; shift 3
	mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port "$name")" -u"$user" \
		-p"$pass" -N -B -e "$*"
}

# A steady application write load on NAME by an account (default the ALL
# PRIVILEGES one): one order every ~20 ms, reconnecting after any error, as
# an application's connection pool does. Writes the count of acknowledged
# orders to FILE. Its PID is the last of MDB_PIDS (killed at exit).
mdb_app_writer() {
	local name=$1 file=$2 user=${3:-shopadmin} pass=${4:-$MDB_APPADMIN_PASS}
	local port; port=$(mdb_port "$name")
	(
		n=0 tries=0
		while :; do
			tries=$((tries + 1))
			if mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -u"$user" -p"$pass" \
				--connect-timeout=2 -e "CALL shop.place_order('load', 1)" 2>/dev/null; then
				n=$((n + 1))
			fi
			echo "$n $tries" >"$file.tmp" && mv "$file.tmp" "$file"
			sleep 0.02
		done
	) &
	MDB_PIDS+=("$!")
}

# One column of SHOW SLAVE STATUS on NAME (empty when not a replica).
mdb_slave_field() {
	mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port "$1")" -ulifeboat \
		-p"$MDB_PASS" -E -e "SHOW SLAVE STATUS" | awk -F': ' -v f="$2" '$1 ~ "^ *"f"$" {print $2}'
}

# Poll until "mdb_slave_field NAME FIELD" prints EXPECTED, at most SECONDS.
mdb_wait_slave_field() {
	local deadline=$(( $(date +%s) + ${4:-30} ))
	until [ "$(mdb_slave_field "$1" "$2")" = "$3" ]; do
		[ "$(date +%s)" -lt $deadline ] || { echo "timeout: $2 on $1 is '$(mdb_slave_field "$1" "$2")', expected '$3'" >&2; return 1; }
		sleep 0.05
	done
}

# Poll until "mdb_sql NAME SQL" prints EXPECTED, at most SECONDS.
mdb_wait_value() {
	local name=$1 sql=$2 expected=$3 secs=${4:-30} got deadline
	deadline=$(( $(date +%s) + secs ))
	while :; do
		got=$(mdb_sql "$name" "$sql" 2>/dev/null)
		[ "$got" = "$expected" ] && return 0
		if [ "$(date +%s)" -ge $deadline ]; then
			echo "timeout: '$sql' on $name gave '$got', expected '$expected'" >&2
			return 1
		fi
		sleep 0.05
	done
}

# A lifeboat.conf for primary a and standby b (extra [database] lines as args).
mdb_config() {
	local a=$1 b=$2; shift 2
	mkdir -p "$MDB_WORK/state"
	printf '%s\n' "$MDB_PASS" >"$MDB_WORK/db.pass"
	printf '%s\n' "$MDB_REPL_PASS" >"$MDB_WORK/repl.pass"
	chmod 600 "$MDB_WORK/db.pass" "$MDB_WORK/repl.pass"
	cat <<CONF
[lifeboat]
state_dir = $MDB_WORK/state
log = stderr

[database]
primary = 127.0.0.1:$(mdb_port "$a")
standby = 127.0.0.1:$(mdb_port "$b")
user = lifeboat
password_file = $MDB_WORK/db.pass
replication_user = repl
replication_password_file = $MDB_WORK/repl.pass
CONF
	local l
	for l in "$@"; do echo "$l"; done
}

# Fail the test with a message. A server that crashed says why in its log:
# show that too (the work directory is gone after the test).
die() {
	local log
	for log in "${MDB_WORK:-/nonexistent}"/*/out.log; do
		[ -f "$log" ] && grep -q 'got signal\|Assertion' "$log" || continue
		echo "--- $log (the server crashed):" >&2
		grep -A 30 'got signal\|Assertion' "$log" | head -n 40 >&2
	done
	echo "FAIL: $*" >&2
	exit 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	start)
		MDB_WORK=$(dirname "$2")
		mdb_start_dir "$2"
		;;
	*) echo "usage: mariadb.sh start DIR" >&2; exit 2 ;;
	esac
fi
