#!/usr/bin/env bash
# Each failure is one line saying what to do, exit 1 or 2, nothing half-done:
# wrong password, password file readable by others, server down, missing
# privileges, duplicate server_id, broken replication (duplicate key, missing
# row) refusing promote.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2; mdb_new c 1
mdb_start a || die "start a"; mdb_start b || die "start b"; mdb_start c || die "start c"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1,1),(2,2)"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b >"$CONF"

# expect RC PATTERN CMD...: exit status, one line on stderr matching PATTERN.
expect() {
	local want=$1 pat=$2 out rc; shift 2
	out=$("$LIFEBOAT" "$@" 2>&1 >/dev/null); rc=$?
	[ "$rc" = "$want" ] || die "'$*' exit $rc, want $want: $out"
	echo "$out" | grep -v '^lifeboat: info' | grep -q -- "$pat" || die "'$*': no '$pat' in: $out"
	# One line per failure: status may report each of the two servers.
	local n; n=$(echo "$out" | grep -c '^lifeboat: error')
	case "$*" in *"db status"*) [ "$n" -ge 1 ] && [ "$n" -le 2 ] ;; *) [ "$n" = 1 ] ;; esac \
		|| die "'$*': $n error lines: $out"
	echo "ok ($rc): $(echo "$out" | grep '^lifeboat: error')"
}

# Password file readable by others: usage error, names the fix.
chmod 644 "$MDB_WORK/db.pass"
expect 2 "chmod 600" -c "$CONF" db status
chmod 600 "$MDB_WORK/db.pass"

# Wrong password.
printf 'wrong\n' >"$MDB_WORK/bad.pass"; chmod 600 "$MDB_WORK/bad.pass"
sed "s|^password_file = .*|password_file = $MDB_WORK/bad.pass|" "$CONF" >"$MDB_WORK/bad.conf"
expect 2 "access denied" -c "$MDB_WORK/bad.conf" db status

# Duplicate server_id: clone refuses before touching anything.
mdb_config a c >"$MDB_WORK/dup.conf"
expect 1 "both have server_id 1" -c "$MDB_WORK/dup.conf" db clone --method dump
[ -z "$(mdb_sql c "SHOW SLAVE STATUS")" ] || die "dup clone changed c"

# Missing privileges: an account with SELECT only cannot fence.
mdb_sql a "CREATE USER weak@'%' IDENTIFIED BY 'weakpw'; GRANT SELECT, PROCESS ON *.* TO weak@'%'"
printf 'weakpw\n' >"$MDB_WORK/weak.pass"; chmod 600 "$MDB_WORK/weak.pass"
sed "s|^password_file = .*|password_file = $MDB_WORK/weak.pass|; s|^user = .*|user = weak|" "$CONF" >"$MDB_WORK/weak.conf"
expect 1 "missing privilege.*GRANT" -c "$MDB_WORK/weak.conf" db fence
[ "$(mdb_sql a "SELECT @@read_only")" = 0 ] || die "failed fence changed read_only"

# Set up replication, then break it with a duplicate key.
"$LIFEBOAT" -c "$CONF" db clone --method dump 2>"$MDB_WORK/err" || die "clone: $(cat "$MDB_WORK/err")"
mdb_sql b "SET sql_log_bin=0; INSERT INTO app.t VALUES (3,3)"
mdb_sql a "INSERT INTO app.t VALUES (3,30)"
mdb_wait_slave_field b Last_SQL_Errno 1062 20 || die "duplicate key did not stop replication"
expect 1 "broken.*1062" -c "$CONF" db status
"$LIFEBOAT" -c "$CONF" db fence 2>/dev/null || die "fence before promote"
expect 1 "cannot promote.*1062.*at GTID 0-1-[0-9].*nothing changed" -c "$CONF" db promote
mdb_sql a "SET GLOBAL read_only=OFF"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "refused promote made b writable"
[ ! -e "$MDB_WORK/state/epoch" ] || die "refused promote wrote an epoch"

# Missing row: re-clone, delete a row on the standby, update it on the primary.
"$LIFEBOAT" -c "$CONF" db clone --method dump --force 2>"$MDB_WORK/err" || die "re-clone: $(cat "$MDB_WORK/err")"
mdb_sql b "SET sql_log_bin=0; DELETE FROM app.t WHERE id = 1"
mdb_sql a "UPDATE app.t SET v = 11 WHERE id = 1"
mdb_wait_slave_field b Last_SQL_Errno 1032 20 || die "missing row did not stop replication"
expect 1 "broken.*1032" -c "$CONF" db status

# Server down (the primary fenced first, or promote refuses a live primary).
"$LIFEBOAT" -c "$CONF" db fence 2>"$MDB_WORK/err" || die "fence: $(cat "$MDB_WORK/err")"
mdb_stop b
expect 1 "not reachable.*start the server" -c "$CONF" db promote
echo PASS
