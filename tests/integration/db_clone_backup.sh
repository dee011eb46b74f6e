#!/usr/bin/env bash
# db clone --method backup: mariadb-backup stream into a stopped standby,
# prepare, start via start_command, GTID replication; --force over data.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200));
 USE app; INSERT INTO app.t (v) SELECT REPEAT('x', 200) FROM seq_1_to_5000; CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'"
mdb_sql b "CREATE USER localadmin@'%' IDENTIFIED BY 'x'"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "start_command = bash $ROOT/tests/lib/mariadb.sh start $(mdb_dir b)" >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }

lb db clone --method backup || die "backup clone failed"
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t")" = 5000 ] || die "rows not cloned"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port b)" -uapp -papppw -N -e "SELECT 1" >/dev/null \
	|| die "app user not cloned"
mdb_sql a "INSERT INTO app.t (v) VALUES ('after')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 5001 20 || die "replication not running"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "standby not read_only"
[ -z "$(mdb_sql b "SELECT @@gtid_binlog_pos")" ] || [ "$(mdb_sql b "SELECT @@gtid_binlog_pos")" = "$(mdb_sql a "SELECT @@gtid_binlog_pos")" ] \
	|| die "standby binlog holds local transactions: $(mdb_sql b "SELECT @@gtid_binlog_pos")"

# Over data: refused without --force, nothing changed; with --force redone.
out=$(lb db clone --method backup 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q -- --force || die "no refusal: $rc $out"
mdb_sql a "INSERT INTO app.t (v) VALUES ('again')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 5002 20 || die "refusal broke replication"
# On a terminal (script(1) gives it one) the clone shows bytes and rate.
script -qec "$LIFEBOAT -c $CONF db clone --method backup --force" "$MDB_WORK/typescript" >/dev/null 2>&1 \
	|| die "forced clone failed: $(tail -3 "$MDB_WORK/typescript")"
grep -q "lifeboat: clone: [0-9.]* MiB.*MiB/s" "$MDB_WORK/typescript" || die "no progress on a terminal: $(cat "$MDB_WORK/typescript")"
mdb_sql a "INSERT INTO app.t (v) VALUES ('third')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 5003 20 || die "replication after forced clone"

# A standby that is down: seeded from [database] datadir; data there is
# refused without --force; a datadir a running server holds is refused.
echo "datadir = $(mdb_dir b)/data" >>"$CONF"
mdb_stop b
out=$(lb db clone --method backup 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "holds data (database 'app')" || die "down standby with data not refused: $rc $out"
lb db clone --method backup --force || die "clone of a down standby failed"
mdb_sql a "INSERT INTO app.t (v) VALUES ('fourth')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 5004 20 || die "replication after clone of a down standby"
sed -i "s|^datadir = .*|datadir = $(mdb_dir a)/data|; s|^standby = .*|standby = 127.0.0.1:1|" "$CONF"
out=$(lb db clone --method backup --force 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "a mariadbd holds" || die "datadir of a running server not refused: $rc $out"
[ "$(mdb_sql a "SELECT COUNT(*) FROM app.t")" = 5004 ] || die "primary damaged"
echo PASS
