#!/usr/bin/env bash
# promote_timeout bounds the wait for the relay log: with the standby's SQL
# thread blocked by a lock, promote gives up after ~promote_timeout, says so,
# and leaves the standby read-only with the backlog intact; once the lock is
# gone a second promote applies everything.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); INSERT INTO app.t VALUES (1,0)"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "promote_timeout = 1" >"$CONF"
"$LIFEBOAT" -c "$CONF" db clone --method dump || die clone
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 20 || die replication

# Hold a row lock on the standby from an open transaction.
mkfifo "$MDB_WORK/in"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port b)" -ulifeboat -p"$MDB_PASS" -n -N -B \
	<"$MDB_WORK/in" >"$MDB_WORK/out" 2>&1 & LOCKER=$!; MDB_PIDS+=($LOCKER)
exec 3>"$MDB_WORK/in"
echo "BEGIN; SELECT v FROM app.t WHERE id = 1 FOR UPDATE; SELECT 'locked';" >&3
deadline=$(( $(date +%s) + 10 ))
until grep -q locked "$MDB_WORK/out"; do [ "$(date +%s)" -lt $deadline ] || die "no lock"; sleep 0.05; done
mdb_sql a "UPDATE app.t SET v = 1 WHERE id = 1; INSERT INTO app.t VALUES (2,2)"
mdb_wait_slave_field b Gtid_IO_Pos "$(mdb_sql a "SELECT @@gtid_binlog_pos")" 20 || die "standby did not receive"
"$LIFEBOAT" -c "$CONF" db fence || die fence

t0=$(date +%s%N)
out=$("$LIFEBOAT" -c "$CONF" db promote 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "$out"
[ $rc = 1 ] || die "promote with a blocked backlog exit $rc"
echo "$out" | grep -q "promote_timeout=1 s" || die "timeout not named"
[ $ms -lt 4000 ] || die "promote_timeout=1 took $ms ms"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "timed-out promote made b writable"
[ ! -e "$MDB_WORK/state/epoch" ] || die "timed-out promote wrote an epoch"
[ "$(mdb_sql b "SELECT CONCAT(@@innodb_flush_log_at_trx_commit, @@sync_binlog)")" = 11 ] \
	|| die "durability settings not restored after a failed promote"

echo "ROLLBACK;" >&3; exec 3>&-; wait $LOCKER
"$LIFEBOAT" -c "$CONF" db promote || die "second promote"
[ "$(mdb_sql b "SELECT SUM(v) FROM app.t")" = 3 ] || die "backlog not applied: $(mdb_sql b "SELECT * FROM app.t")"
echo PASS
