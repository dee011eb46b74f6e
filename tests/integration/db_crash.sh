#!/usr/bin/env bash
# Crash failover: 4 steady writers on the primary, kill -9 of the primary,
# db promote on the standby, count acknowledged commits missing there.
# Async: the loss is reported. Semi-sync (AFTER_SYNC): 0 lost is asserted.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup

# Writer W: inserts W*10^6+i, and prints i only after the commit returned,
# so every line of its output is an acknowledged transaction.
writer() {
	local w=$1 port=$2 i
	for ((i = 1; i <= 200000; i++)); do
		echo "INSERT INTO app.t VALUES ($((w * 1000000 + i))); SELECT $((w * 1000000 + i));"
	done | mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uapp -papppw \
		-n -N -B >"$MDB_WORK/acked.$w" 2>/dev/null
}

trial() {
	local mode=$1 a=$1a b=$1b conf="$MDB_WORK/$1.conf" pids=() w total lost
	mdb_new "$a" 1; mdb_new "$b" 2
	mdb_start "$a" || die "start $a"; mdb_start "$b" || die "start $b"
	mdb_sql "$a" "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY);
		CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'"
	if [ "$mode" = semi ]; then mdb_config "$a" "$b" "semi_sync = yes"; else mdb_config "$a" "$b"; fi >"$conf"
	sed -i "s|^state_dir = .*|state_dir = $MDB_WORK/state-$mode|" "$conf"
	"$LIFEBOAT" -c "$conf" db clone --method dump || die "$mode: clone"
	if [ "$mode" = semi ]; then
		mdb_wait_value "$a" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_STATUS'" ON 20 \
			|| die "semi-sync not active on the primary"
	fi
	rm -f "$MDB_WORK"/acked.*
	for w in 1 2 3 4; do writer $w "$(mdb_port "$a")" & pids+=($!); MDB_PIDS+=($!); done
	local deadline=$(( $(date +%s) + 60 ))
	until [ "$(cat "$MDB_WORK"/acked.* 2>/dev/null | wc -l)" -ge 2000 ]; do
		[ "$(date +%s)" -lt $deadline ] || die "$mode: writers too slow"
		sleep 0.05
	done
	mdb_kill9 "$a" || die "kill -9"
	for w in "${pids[@]}"; do wait "$w"; done
	"$LIFEBOAT" -c "$conf" db promote || die "$mode: promote after crash failed"
	cat "$MDB_WORK"/acked.* | sort >"$MDB_WORK/acked.all"
	mdb_sql "$b" "SELECT id FROM app.t" | sort >"$MDB_WORK/have"
	total=$(wc -l <"$MDB_WORK/acked.all")
	lost=$(comm -23 "$MDB_WORK/acked.all" "$MDB_WORK/have" | wc -l)
	echo "crash $mode: $total acknowledged commits, $lost lost after promote"
	[ "$(mdb_sql "$b" "SELECT @@read_only")" = 0 ] || die "$mode: standby not writable"
	# The drain relaxes fsyncs; durability must be back afterwards.
	[ "$(mdb_sql "$b" "SELECT CONCAT(@@innodb_flush_log_at_trx_commit, @@sync_binlog)")" = 11 ] \
		|| die "$mode: durability settings not restored after promote"
	if [ "$mode" = semi ]; then [ "$lost" = 0 ] || die "semi-sync lost $lost acknowledged commits"; fi
}

trial async
trial semi
echo PASS
