#!/usr/bin/env bash
# lifeboat check, [database] rules, against one real mariadbd pair on
# 127.0.0.1 shared by every case: a good pair passes; each bad setting FAILs
# its rule with the fix and exit 3; check itself changes nothing.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "SKIP: needs mariadbd"; exit 77; }
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE USER repl@'%' IDENTIFIED BY '$MDB_REPL_PASS';
 GRANT REPLICATION SLAVE ON *.* TO repl@'%'; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)"
mdb_sql b "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(mdb_port a), MASTER_USER='repl',
 MASTER_PASSWORD='$MDB_REPL_PASS', MASTER_USE_GTID=slave_pos; START SLAVE"
mdb_wait_slave_field b Slave_SQL_Running Yes 20 || die "replication does not start"
mdb_wait_value b "SELECT COUNT(*) FROM mysql.user WHERE User='repl'" 1 20 || die "repl user not replicated"

# The lifeboat account as docs/db.md tells an administrator to make it:
# the minimal GRANTs 'lifeboat db privileges' prints (made on the primary,
# replicated to the standby).
mdb_sql_root a "CREATE USER lbmin@'%' IDENTIFIED BY '$MDB_PASS'; $("$LIFEBOAT" db privileges lbmin | sed -n 2p)" \
	|| die "minimal account"
mdb_wait_value b "SELECT COUNT(*) FROM mysql.user WHERE User='lbmin'" 1 20 || die "lbmin not replicated"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b | sed 's/^user = lifeboat$/user = lbmin/' >"$CONF"
CONF_ALL=$MDB_WORK/lifeboat-all.conf
mdb_config a b >"$CONF_ALL"

# chk [CONF]: run check --json; sets OUT (stdout), ERR (stderr), RC, and
# $MDB_WORK/results: "RULE<TAB>RESULT<TAB>FIX" per item (JSON validated).
PY=/usr/bin/python3 # not a pyenv shim: it costs ~1 s a call on these machines
chk() {
	OUT=$("$LIFEBOAT" -c "${1:-$CONF}" check --json 2>"$MDB_WORK/err"); RC=$?
	ERR=$(cat "$MDB_WORK/err")
	echo "$OUT" | $PY -c 'import json,sys
for i in json.load(sys.stdin): print("%s\t%s\t%s\t%s" % (i["rule"], i["result"], i["fix"] or "", i["message"]))' \
		>"$MDB_WORK/results" || die "check --json is not JSON (rc $RC): $OUT $ERR"
}
# result RULE / fix_of RULE: from the last chk ("" if absent).
result() { awk -F'\t' -v r="$1" '$1 == r {print $2; exit}' "$MDB_WORK/results"; }
fix_of() { awk -F'\t' -v r="$1" '$1 == r {print $3; exit}' "$MDB_WORK/results"; }
message() { awk -F'\t' -v r="$1" '$1 == r {print $4; exit}' "$MDB_WORK/results"; }
# expect_fail RULE FIX-WORD: exit 3, RULE FAILs and its fix names FIX-WORD.
expect_fail() {
	chk
	[ "$RC" = 3 ] || die "$1: exit $RC, expected 3: $OUT $ERR"
	[ "$(result "$1")" = FAIL ] || die "$1 is '$(result "$1")', expected FAIL: $OUT"
	fix_of "$1" | grep -qi -- "$2" || die "$1: fix '$(fix_of "$1")' does not mention $2"
}
# Write statements any session ran on a server (check must add none).
writes() {
	mdb_sql "$1" "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN
	 ('COM_SET_OPTION','COM_INSERT','COM_UPDATE','COM_DELETE','COM_REPLACE','COM_CREATE_TABLE',
	  'COM_CREATE_DB','COM_DROP_TABLE','COM_ALTER_TABLE','COM_STOP_SLAVE','COM_START_SLAVE',
	  'COM_CHANGE_MASTER','COM_FLUSH','COM_KILL','COM_RESET','COM_PURGE','COM_GRANT','COM_CREATE_USER')"
}

# A good pair: exit 0; the only warnings allowed are the ones this machine
# explains (a datadir on a virtual or overlay disk has no knowable scheduler).
wa=$(writes a); wb=$(writes b)
pa=$(mdb_sql a "SELECT @@gtid_binlog_pos"); pb=$(mdb_sql b "SELECT @@gtid_current_pos")
chk
[ "$RC" = 0 ] || die "good pair: exit $RC: $OUT $ERR"
for r in db.server_id db.primary.log_bin db.primary.sync_binlog db.primary.innodb_flush_log_at_trx_commit \
	db.standby.read_only db.standby.replication db.standby.lag db.standby.gtid db.primary.replication_user \
	db.standby.read_only_cnf db.primary.account db.primary.clock db.standby.clock db.primary.gtid_strict_mode db.standby.clone_space; do
	[ "$(result $r)" = PASS ] || die "good pair: $r is '$(result $r)': $OUT"
done
[ "$(result sync)" = SKIP ] || die "no [sync]: not skipped: $OUT"
# root holds READ_ONLY ADMIN on every installation: listed, with what it means.
bad=$(awk -F'\t' '$2 == "WARN" && $1 !~ /\.(io_scheduler|read_only_writers)$/ {printf "%s ", $1}' "$MDB_WORK/results")
[ -z "$bad" ] || die "good pair has unexpected warnings: $bad: $OUT"
# Text output: aligned PASS lines and the summary; nothing on stderr.
text=$("$LIFEBOAT" -c "$CONF" check 2>"$MDB_WORK/err") || die "text check failed: $text"
echo "$text" | grep -q '^PASS  db.standby.read_only ' || die "no aligned PASS line: $text"
echo "$text" | tail -n 1 | grep -q ' failed, ' || die "no summary line: $text"
[ ! -s "$MDB_WORK/err" ] || die "stderr on a good check: $(cat "$MDB_WORK/err")"
# Read-only: no statement that changes anything, positions unchanged.
[ "$(writes a)" = "$wa" ] && [ "$(writes b)" = "$wb" ] || die "check ran write/SET statements"
[ "$(mdb_sql a "SELECT @@gtid_binlog_pos")" = "$pa" ] || die "check wrote to the primary"
[ "$(mdb_sql b "SELECT @@gtid_current_pos")" = "$pb" ] || die "check wrote to the standby"

message db.primary.read_only_writers | grep -q "'root'@'localhost'.*fence revokes" \
	|| die "read_only writers not listed: $(message db.primary.read_only_writers)"

# The issue's user's account (ALL PRIVILEGES WITH GRANT OPTION): works,
# but more than needed is a warning naming the minimal GRANT.
chk "$CONF_ALL"
[ "$(result db.primary.account)" = WARN ] && message db.primary.account | grep -q "ALL PRIVILEGES" \
	&& fix_of db.primary.account | grep -q "GRANT .*READ_ONLY ADMIN.* TO 'lifeboat'@'%'" \
	|| die "ALL PRIVILEGES not warned: $(result db.primary.account) $(message db.primary.account) / $(fix_of db.primary.account)"
# Less than needed fails, naming the GRANT.
mdb_sql a "REVOKE BINLOG ADMIN ON *.* FROM lbmin@'%'"
expect_fail db.primary.account "GRANT .*BINLOG ADMIN.*'lbmin'@'%'"
message db.primary.account | grep -q "lacks BINLOG ADMIN ON \*\.\*" || die "missing privilege not named: $(message db.primary.account)"
mdb_sql a "GRANT BINLOG ADMIN ON *.* TO lbmin@'%'"
# The replication account: one prefix, one GRANT.
mdb_sql a "REVOKE REPLICATION SLAVE ON *.* FROM repl@'%'"
expect_fail db.primary.replication_user "GRANT REPLICATION SLAVE ON \*\.\* TO 'repl'@'%'"
[ "$(fix_of db.primary.replication_user | grep -o GRANT | wc -l)" = 1 ] || die "two GRANTs: $(fix_of db.primary.replication_user)"
[ "$(message db.primary.replication_user | grep -o '127.0.0.1' | wc -l)" = 1 ] || die "prefix twice: $(message db.primary.replication_user)"
mdb_sql a "GRANT REPLICATION SLAVE ON *.* TO repl@'%'"

# Standby writable.
mdb_sql b "SET GLOBAL read_only=OFF"
expect_fail db.standby.read_only read_only
mdb_sql b "SET GLOBAL read_only=ON"

# Durability off on the primary.
mdb_sql a "SET GLOBAL sync_binlog=0"
expect_fail db.primary.sync_binlog sync_binlog=1
mdb_sql a "SET GLOBAL sync_binlog=1; SET GLOBAL innodb_flush_log_at_trx_commit=2"
expect_fail db.primary.innodb_flush_log_at_trx_commit innodb_flush_log_at_trx_commit=1
mdb_sql a "SET GLOBAL innodb_flush_log_at_trx_commit=1"

# Replication stopped, then a duplicate server_id.
mdb_sql b "STOP SLAVE"
expect_fail db.standby.replication "START SLAVE"
mdb_sql b "SET GLOBAL server_id=1"
expect_fail db.server_id server_id
mdb_sql b "SET GLOBAL server_id=2"

# Replication by file position, not GTID.
mdb_sql b "CHANGE MASTER TO MASTER_USE_GTID=no; START SLAVE"
mdb_wait_slave_field b Slave_SQL_Running Yes 20 || die "file-position replication does not start"
expect_fail db.standby.gtid MASTER_USE_GTID
mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_USE_GTID=slave_pos; START SLAVE"
mdb_wait_slave_field b Slave_SQL_Running Yes 20 || die "GTID replication does not restart"

# Lag above max_lag: the standby applies events an hour late.
mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=3600; START SLAVE"
mdb_sql a "INSERT INTO app.t VALUES (1)"
lagging() { local s; s=$(mdb_slave_field b Seconds_Behind_Master); [ -n "$s" ] && [ "$s" != NULL ] && [ "$s" -ge 2 ]; }
deadline=$(( $(date +%s) + 20 ))
until lagging; do [ "$(date +%s)" -lt $deadline ] || die "no lag appears"; sleep 0.1; done
mdb_config a b "max_lag = 1" >"$MDB_WORK/lag.conf"
OLD=$CONF; CONF=$MDB_WORK/lag.conf
expect_fail db.standby.lag max_lag
CONF=$OLD
mdb_sql b "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=0; START SLAVE"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 20 || die "delayed replication does not catch up"

# The heartbeat measures the lag while its writer runs; once the writer
# stops, an old heartbeat row on a caught-up standby is not lag.
"$LIFEBOAT" -c "$CONF" db heartbeat 2>/dev/null & HB=$!; MDB_PIDS+=("$HB")
mdb_wait_value b "SELECT COUNT(*) FROM lifeboat.heartbeat" 1 20 || die "no heartbeat row"
chk
[ "$(result db.standby.lag)" = PASS ] || die "heartbeat lag: $OUT"
message db.standby.lag | grep -q "by the heartbeat" || die "lag not from the heartbeat: $(message db.standby.lag)"
kill -TERM $HB; wait $HB
aged() { [ "$(mdb_sql b "SELECT TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) > 1500000 FROM lifeboat.heartbeat")" = 1 ]; }
deadline=$(( $(date +%s) + 10 ))
until aged; do [ "$(date +%s)" -lt $deadline ] || die "heartbeat row does not age"; sleep 0.1; done
chk "$MDB_WORK/lag.conf"
[ "$RC" = 0 ] || die "stale heartbeat on a caught-up standby: exit $RC: $OUT"
message db.standby.lag | grep -q "heartbeat row is stale" || die "stale heartbeat not explained: $(message db.standby.lag)"

# gtid_strict_mode off: a warning, not a failure.
mdb_sql a "SET GLOBAL gtid_strict_mode=OFF"
chk
[ "$RC" = 0 ] || die "strict mode off: exit $RC: $OUT"
[ "$(result db.primary.gtid_strict_mode)" = WARN ] || die "strict mode off not warned: $OUT"
mdb_sql a "SET GLOBAL gtid_strict_mode=ON"

# The standby's my.cnf drop-in says read_only = OFF: it would come back
# writable after a restart (a warning: it is read-only now).
printf '[mariadbd]\nread_only = OFF\n' >"$(mdb_dir b)/lifeboat.cnf"
chk
[ "$RC" = 0 ] || die "read_only off in my.cnf: exit $RC: $OUT"
[ "$(result db.standby.read_only_cnf)" = WARN ] || die "read_only off in my.cnf not warned: $OUT"
printf '[mariadbd]\nread_only = ON\n' >"$(mdb_dir b)/lifeboat.cnf"

# semi_sync = yes in the configuration: FAIL until both servers have it,
# PASS once the primary waits for the standby.
mdb_config a b "semi_sync = yes" >"$MDB_WORK/semi.conf"
OLD=$CONF; CONF=$MDB_WORK/semi.conf
expect_fail db.primary.semi_sync rpl_semi_sync_master_enabled
mdb_sql a "SET GLOBAL rpl_semi_sync_master_enabled=ON"
mdb_sql b "SET GLOBAL rpl_semi_sync_slave_enabled=ON; STOP SLAVE IO_THREAD; START SLAVE IO_THREAD"
mdb_wait_value a "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_STATUS'" ON 20 \
	|| die "semi-sync does not become active"
mdb_wait_slave_field b Slave_IO_Running Yes 20 || die "IO thread does not come back"
chk
[ "$RC" = 0 ] || die "semi-sync on: exit $RC: $OUT"
[ "$(result db.primary.semi_sync)" = PASS ] && [ "$(result db.standby.semi_sync)" = PASS ] || die "semi-sync on, not PASS: $OUT"
CONF=$OLD
mdb_sql a "SET GLOBAL rpl_semi_sync_master_enabled=OFF"
mdb_sql b "SET GLOBAL rpl_semi_sync_slave_enabled=OFF"

# After a switchover the configuration still names the old roles: check
# follows the roles as they are (b writable, a replicating from b).
mdb_sql b "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF"
mdb_sql a "SET GLOBAL read_only=ON; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(mdb_port b),
 MASTER_USER='repl', MASTER_PASSWORD='$MDB_REPL_PASS', MASTER_USE_GTID=current_pos; START SLAVE"
mdb_wait_slave_field a Slave_SQL_Running Yes 20 || die "a does not replicate from b"
chk
[ "$RC" = 0 ] || die "swapped roles: exit $RC: $OUT"
[ "$(result db.roles)" = PASS ] || die "swapped roles not noticed: $OUT"
[ "$(result db.standby.read_only)" = PASS ] && [ "$(result db.standby.replication)" = PASS ] \
	|| die "swapped roles not checked as they are: $OUT"
mdb_sql a "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF"
mdb_sql b "SET GLOBAL read_only=ON; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(mdb_port a),
 MASTER_USER='repl', MASTER_PASSWORD='$MDB_REPL_PASS', MASTER_USE_GTID=slave_pos; START SLAVE"
mdb_wait_slave_field b Slave_SQL_Running Yes 20 || die "b does not replicate from a again"

# A primary without a binlog (a third server; only the log_bin rule matters).
mdb_new c 3 "skip-log-bin"
mdb_start c || die "start c"
mdb_config c b >"$MDB_WORK/nobin.conf"
OLD=$CONF; CONF=$MDB_WORK/nobin.conf
expect_fail db.primary.log_bin log_bin
CONF=$OLD
mdb_stop c

# A server that is down: FAIL to connect, exit 3, still valid JSON.
mdb_stop a
expect_fail db.primary.connect "start the server"
echo PASS
