#!/usr/bin/env bash
# db promote killed at each awkward point (durability relaxed, relay log
# draining, drained but not yet restored, replication detached), then run
# again: the new primary ends with its own durability settings
# (sync_binlog=1, innodb_flush_log_at_trx_commit=1, not the relaxed 0/2),
# every transaction the primary wrote, and writable. The backlog is made by
# an administrator's STOP SLAVE SQL_THREAD: promote starts it and drains.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
i=0
for point in promote-relaxed promote-draining promote-drained promote-detached; do
	i=$((i + 1)); a=a$i b=b$i
	mdb_new $a $((i * 10 + 1)); mdb_new $b $((i * 10 + 2))
	mdb_start $a || die "start $a"; mdb_start $b || die "start $b"
	mdb_app_setup $a 10 || die "app"
	CONF=$MDB_WORK/lifeboat-$i.conf
	mdb_config $a $b | sed "s#state_dir = .*#state_dir = $MDB_WORK/state-$i#" >"$CONF"
	"$LIFEBOAT" -c "$CONF" db clone --method dump 2>"$MDB_WORK/clone.err" || die "$point: clone: $(cat "$MDB_WORK/clone.err")"
	mdb_sql $b "STOP SLAVE SQL_THREAD"
	# 1500 single-row transactions the standby has received, not applied.
	for n in $(seq 1 1500); do echo "CALL shop.place_order('backlog', $n);"; done \
		| mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port $a)" -ushopapp -p"$MDB_APP_PASS" \
		|| die "$point: backlog"
	want=$(mdb_sql $a "SELECT COUNT(*) FROM shop.orders")
	wait_received() { [ "$(mdb_slave_field $b Gtid_IO_Pos)" = "$(mdb_sql $a "SELECT @@gtid_binlog_pos")" ]; }
	deadline=$(( $(date +%s) + 30 ))
	until wait_received; do [ "$(date +%s)" -lt $deadline ] || die "$point: backlog not received"; sleep 0.05; done
	"$LIFEBOAT" -c "$CONF" db fence 2>/dev/null || die "$point: fence"
	LIFEBOAT_FAILPOINT=$point "$LIFEBOAT" -c "$CONF" db promote 2>"$MDB_WORK/killed.err"; rc=$?
	[ $rc = 137 ] || die "$point: promote was not killed at the failpoint (exit $rc): $(cat "$MDB_WORK/killed.err")"
	case $point in
	promote-relaxed|promote-draining|promote-drained)
		[ "$(mdb_sql $b "SELECT @@global.sync_binlog")" = 0 ] || die "$point: durability was not relaxed at the kill"
		[ -s "$MDB_WORK/state-$i/promote-durability" ] || die "$point: no durability record";;
	esac
	out=$("$LIFEBOAT" -c "$CONF" db promote 2>&1) || die "$point: re-run failed: $out"
	[ "$(mdb_sql $b "SELECT @@global.sync_binlog, @@global.innodb_flush_log_at_trx_commit")" = "$(printf '1\t1')" ] \
		|| die "$point: durability not restored: $(mdb_sql $b "SELECT @@global.sync_binlog, @@global.innodb_flush_log_at_trx_commit")"
	[ ! -e "$MDB_WORK/state-$i/promote-durability" ] || die "$point: record left behind"
	[ "$(mdb_sql $b "SELECT COUNT(*) FROM shop.orders")" = "$want" ] || die "$point: rows $(mdb_sql $b "SELECT COUNT(*) FROM shop.orders"), want $want"
	[ "$(mdb_sql $b "SELECT @@read_only")" = 0 ] || die "$point: not writable after the re-run"
	mdb_app $b shopapp "$MDB_APP_PASS" "CALL shop.place_order('after', 1)" || die "$point: app write on the new primary"
	echo "$point: killed, re-run restored durability, $want rows"
	mdb_kill9 $a; mdb_kill9 $b
done

# A SQL thread stopped on an error: refused with the error and GTID.
mdb_new e1 91; mdb_new e2 92
mdb_start e1 || die "start e1"; mdb_start e2 || die "start e2"
mdb_app_setup e1 10 || die "app"
CONF=$MDB_WORK/lifeboat-e.conf
mdb_config e1 e2 | sed "s#state_dir = .*#state_dir = $MDB_WORK/state-e#" >"$CONF"
"$LIFEBOAT" -c "$CONF" db clone --method dump 2>/dev/null || die "clone e"
mdb_sql e2 "SET sql_log_bin=0; INSERT INTO shop.orders (id, item, qty) VALUES (500, 'x', 1)"
mdb_sql e1 "INSERT INTO shop.orders (id, item, qty) VALUES (500, 'y', 1)"
mdb_wait_slave_field e2 Last_SQL_Errno 1062 20 || die "no 1062"
"$LIFEBOAT" -c "$CONF" db fence 2>/dev/null || die "fence e"
out=$("$LIFEBOAT" -c "$CONF" db promote 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "error 1062.*at GTID 0-91-[0-9]*.*nothing changed" || die "error stop not refused ($rc): $out"
[ "$(mdb_sql e2 "SELECT @@read_only")" = 1 ] || die "refused promote changed read_only"
[ "$(mdb_sql e2 "SELECT @@global.sync_binlog")" = 1 ] || die "refused promote changed durability"
"$LIFEBOAT" -c "$CONF" db promote --force 2>/dev/null || die "promote --force"
[ "$(mdb_sql e2 "SELECT @@read_only")" = 0 ] || die "forced promote not writable"
echo PASS
