#!/usr/bin/env bash
# Rejoin after the primary's cable was cut before its processes died: the
# heartbeat it kept writing (lifeboat.heartbeat, every second) never reached
# the standby and is errant on the old primary. Rejoin reads those errant
# transactions from its binlog, sees they only write lifeboat's heartbeat,
# saves and discards them, and rejoins without --force (killed half-way
# through resetting the old primary's binlog, a re-run finishes). Then the other way
# round: an errant application row among heartbeats is refused as before.
# Last, the heartbeat in a statement-format binlog is discarded too.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/mariadb.sh"
lb_setup
mdb_setup
trap 'rc=$?; mdb_cleanup; (exit $rc); _lb_cleanup' EXIT
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql_root a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO app.t VALUES (1,'base')"
mdb_config a b >"$MDB_WORK/ab.conf"
mdb_config b a >"$MDB_WORK/ba.conf"
# moved NAME POS: NAME's binlog has gone past POS.
moved() { [ "$(mdb_sql "$1" "SELECT @@gtid_binlog_pos")" != "$2" ]; }
ab() { "$LIFEBOAT" -c "$MDB_WORK/ab.conf" "$@"; }
ba() { "$LIFEBOAT" -c "$MDB_WORK/ba.conf" "$@"; }
ab db clone --method dump || die "clone"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 30 || die "replication"

# The heartbeat, as the sync daemon writes it, on whichever server is writable.
"$LIFEBOAT" -c "$MDB_WORK/ab.conf" db heartbeat 2>"$MDB_WORK/hb.log" &
HB=$!
lb_track_pid $HB
mdb_wait_value b "SELECT COUNT(*) FROM lifeboat.heartbeat" 1 30 || die "heartbeat not replicated"

# Cable cut: the standby hears nothing more while the primary keeps beating.
mdb_sql b "STOP SLAVE"
pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
wait_until 30 moved a "$pos" || die "no heartbeat on a"
pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
wait_until 30 moved a "$pos" || die "no second heartbeat on a"
ab db fence || die "fence a"
ab db promote || die "promote b"
mdb_sql b "INSERT INTO app.t VALUES (10,'new-primary')"

# Killed between RESET MASTER and restoring the GTID state (its binlog empty),
# then run again: the re-run finishes the reset from STATE_DIR's record.
LIFEBOAT_FAILPOINT=rejoin-reset "$LIFEBOAT" -c "$MDB_WORK/ab.conf" db rejoin >"$MDB_WORK/rejoin1.out" 2>&1; rc=$?
cat "$MDB_WORK/rejoin1.out"
[ $rc = 137 ] || die "rejoin with the failpoint: exit $rc"
grep -q "only write lifeboat.heartbeat.*discarding them" "$MDB_WORK/rejoin1.out" || die "discard not logged"
[ -z "$(mdb_sql a "SELECT @@gtid_binlog_pos")" ] || die "failpoint not after RESET MASTER"
[ -s "$MDB_WORK/state/rejoin-reset" ] || die "no record of the unfinished reset"
out=$(ab db rejoin 2>&1); rc=$?
echo "$out"
[ $rc = 0 ] || die "rejoin with errant heartbeats only: exit $rc"
echo "$out" | grep -q "finishing the binlog reset to 0-1-[0-9]* an interrupted rejoin began" || die "reset not finished"
[ -e "$MDB_WORK/state/rejoin-reset" ] && die "record of the reset left behind"
file=$(ls "$MDB_WORK"/state/errant-*.sql | head -1)
[ -s "$file" ] || die "errant heartbeats not saved"
grep -q "heartbeat" "$file" || die "saved file lacks the heartbeat writes"
mdb_wait_value a "SELECT GROUP_CONCAT(id ORDER BY id) FROM app.t" "1,10" 30 || die "old primary does not follow"
mdb_sql b "INSERT INTO app.t VALUES (11,'after')"
mdb_wait_value a "SELECT COUNT(*) FROM app.t" 3 30 || die "old primary stopped following"
# Still following after the new primary's heartbeats (same sequence numbers
# as the discarded ones: gtid_strict_mode would stop it with 1950).
target=$(mdb_sql b "SELECT @@gtid_binlog_pos")
mdb_wait_value a "SELECT MASTER_GTID_WAIT('$target', 20) = 0 AND @@read_only" 1 30 || die "a behind b"
[ "$(mdb_slave_field a Last_SQL_Errno)" = 0 ] || die "a's SQL thread: $(mdb_slave_field a Last_SQL_Error)"
[ "$(mdb_slave_field a Slave_SQL_Running)" = Yes ] || die "a's SQL thread stopped"

# The other way round (b primary, a standby): an application row among
# the errant heartbeats. Refused, nothing discarded.
mdb_sql a "STOP SLAVE"
pos=$(mdb_sql b "SELECT @@gtid_binlog_pos")
wait_until 30 moved b "$pos" || die "no heartbeat on b"
mdb_sql b "INSERT INTO app.t VALUES (20,'errant-app')"
pos=$(mdb_sql b "SELECT @@gtid_binlog_pos")
wait_until 30 moved b "$pos" || die "no heartbeat on b after the row"
ba db fence || die "fence b"
ba db promote || die "promote a"
out=$(ba db rejoin 2>&1); rc=$?
echo "$out"
[ $rc = 1 ] || die "rejoin with an errant application row: exit $rc"
echo "$out" | grep -q "errant transactions the new primary lacks.*saved to" || die "refusal not explained"
echo "$out" | grep -q "app.t" || die "the application write is not named"
echo "$out" | grep -q "discarding" && die "application row discarded"
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t WHERE id = 20")" = 1 ] || die "refused rejoin changed b"
[ -z "$(mdb_sql b "SHOW SLAVE STATUS")" ] || die "refused rejoin configured replication"

# Statement format (binlog_format=STATEMENT on a, now the primary): the
# heartbeat arrives as its SQL text, which is lifeboat's own too.
ba db rejoin --force || die "rejoin --force"
mdb_wait_value b "SELECT COUNT(*) FROM app.t WHERE id = 20" 0 30 || die "b not re-cloned"
kill "$HB"
mdb_sql a "SET GLOBAL binlog_format=STATEMENT"
"$LIFEBOAT" -c "$MDB_WORK/ab.conf" db heartbeat 2>>"$MDB_WORK/hb.log" &
HB=$!
lb_track_pid $HB
wait_until 30 moved a "$(mdb_sql a "SELECT @@gtid_binlog_pos")" || die "no heartbeat on a (statement format)"
mdb_sql b "STOP SLAVE"
pos=$(mdb_sql a "SELECT @@gtid_binlog_pos")
wait_until 30 moved a "$pos" || die "no errant heartbeat on a (statement format)"
ab db fence || die "fence a"
ab db promote || die "promote b"
out=$(ab db rejoin 2>&1); rc=$?
echo "$out"
[ $rc = 0 ] || die "rejoin with statement-format errant heartbeats: exit $rc"
echo "$out" | grep -q "only write lifeboat.heartbeat.*discarding them" || die "statement-format discard not logged"
file=$(echo "$out" | grep -o "$MDB_WORK/state/errant-[0-9TZ]*\.sql" | head -1)
grep -q "^INSERT INTO lifeboat.heartbeat" "$file" || die "the errant heartbeat was not in statement format: $(cat "$file")"
mdb_sql b "INSERT INTO app.t VALUES (30,'statement')"
mdb_wait_value a "SELECT COUNT(*) FROM app.t WHERE id = 30" 1 30 || die "a does not follow after the statement-format rejoin"
echo PASS
