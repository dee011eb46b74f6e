#!/usr/bin/env bash
# db clone, both methods, on a standby installed as a distribution does it
# (MDB_FLAVOUR=debian, the default, or rhel: db_clone_app_rhel.sh), with a
# shop's application made by its administrator as root: tables, a view, a
# trigger, a procedure, a function, an event, an application account and an
# ALL PRIVILEGES one. The standby's own system accounts stay as they were;
# after promote the application logs in there and works (CALL included).
# Also: refusals before any change, and a clone killed half-way that a
# plain re-run finishes.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2; mdb_new c 3
mdb_start a || die "start a"; mdb_start b || die "start b"; mdb_start c || die "start c"
mdb_app_setup a 20000 || die "app setup"
mdb_app a shopapp "$MDB_APP_PASS" "CALL shop.place_order('widget', 3)" || die "app cannot CALL on a"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "read_only_cnf = $(mdb_dir b)/lifeboat.cnf" >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }
sys_accounts() { mdb_sql "$1" "SELECT CONCAT(user,'@',host,' ',priv) FROM mysql.global_priv
	WHERE user IN ('root','mariadb.sys','mysql','PUBLIC','') ORDER BY 1"; }
before_b=$(sys_accounts b)
root_grants_b=$(mdb_sql_root b "SHOW GRANTS FOR root@localhost")

# Not empty: refused, nothing changed. The installer's empty `test` schema
# (RHEL) is no data.
mdb_sql b "CREATE DATABASE keepme; CREATE TABLE keepme.t (i INT)"
out=$(lb db clone --method dump 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "keepme.*--force" || die "data not refused ($rc): $out"
[ "$(mdb_sql b "SHOW DATABASES LIKE 'keepme'")" = keepme ] || die "refusal changed the standby"
[ -z "$(mdb_slave_field b Slave_IO_Running)" ] || die "refusal configured replication"
mdb_sql b "DROP DATABASE keepme"

# The lifeboat account with only the day-to-day privileges: a dump clone
# cannot re-create the accounts; refused before anything changes, with the
# GRANT that fixes it.
for n in a b; do
	mdb_sql_root $n "CREATE USER lbday@'%' IDENTIFIED BY '$MDB_PASS'; $("$LIFEBOAT" db privileges lbday | sed -n 2p)" \
		|| die "lbday on $n"
done
sed 's/^user = lifeboat$/user = lbday/' "$CONF" >"$MDB_WORK/day.conf"
pos_b=$(mdb_sql b "SELECT @@gtid_binlog_pos")
out=$("$LIFEBOAT" -c "$MDB_WORK/day.conf" db clone --method dump 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "lacks .* for 'clone-dump'; nothing changed: run GRANT .* TO 'lbday'@'%' WITH GRANT OPTION" \
	|| die "weak account not refused up front ($rc): $out"
[ -z "$(mdb_slave_field b Slave_IO_Running)" ] && [ "$(mdb_sql b "SELECT @@gtid_binlog_pos")" = "$pos_b" ] \
	|| die "refused clone changed the standby"

# A clone killed half-way; the next plain run finishes the job.
"$LIFEBOAT" -c "$CONF" db clone --method dump >"$MDB_WORK/killed.log" 2>&1 & LPID=$!
wait_shop() { [ -n "$(mdb_sql b "SHOW DATABASES LIKE 'shop'" 2>/dev/null)" ]; }
deadline=$(( $(date +%s) + 60 ))
until wait_shop || ! kill -0 $LPID 2>/dev/null; do
	[ "$(date +%s)" -lt $deadline ] || die "clone never reached the import"; sleep 0.01
done
kill -KILL $LPID 2>/dev/null; wait $LPID 2>/dev/null
out=$(lb db clone --method dump 2>&1) || die "re-run after a killed clone failed: $out"

# Everything of the application is there.
[ "$(mdb_sql b "SELECT COUNT(*) FROM shop.orders")" = 20001 ] || die "orders not cloned"
[ "$(mdb_sql b "SELECT COUNT(*) FROM shop.audit")" = "$(mdb_sql a "SELECT COUNT(*) FROM shop.audit")" ] || die "audit differs"
[ "$(mdb_sql b "SELECT total FROM shop.order_totals WHERE item='widget'")" = 3 ] || die "view not cloned"
[ "$(mdb_sql b "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='shop'")" = 1 ] || die "trigger not cloned"
[ "$(mdb_sql b "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='shop'")" = 2 ] || die "routines not cloned"
[ "$(mdb_sql b "SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='shop'")" = 1 ] || die "event not cloned"
[ "$(mdb_app b shopapp "$MDB_APP_PASS" "SELECT shop.order_count()")" = 20001 ] || die "shopapp cannot log in on b"
mdb_app b shopadmin "$MDB_APPADMIN_PASS" "SELECT 1" >/dev/null || die "shopadmin cannot log in on b"
[ "$(mdb_sql b "SHOW GRANTS FOR shopapp@'%'" | grep -c 'ON `shop`')" = 1 ] || die "shopapp grants"
# The standby's own administrators are untouched.
[ "$(sys_accounts b)" = "$before_b" ] || die "system accounts changed: $(sys_accounts b) vs $before_b"
[ "$(mdb_sql_root b "SHOW GRANTS FOR root@localhost")" = "$root_grants_b" ] || die "root's grants changed"
mdb_sql_root b "SELECT 1" >/dev/null || die "root cannot log in on b"
[ "$MDB_FLAVOUR" != rhel ] || [ -n "$(mdb_sql b "SELECT 1 FROM mysql.global_priv WHERE user='root' AND host='$(hostname)'")" ] \
	|| die "root@HOSTNAME gone on b"
mdb_app a shopapp "$MDB_APP_PASS" "CALL shop.place_order('after', 1)"
mdb_wait_value b "SELECT COUNT(*) FROM shop.orders" 20002 30 || die "replication not running"

# Physical clone to c, from the same primary.
CONF2=$MDB_WORK/lifeboat-c.conf
mdb_config a c "start_command = bash $ROOT/tests/lib/mariadb.sh start $(mdb_dir c)" \
	| sed "s#state_dir = .*#state_dir = $MDB_WORK/state-c#" >"$CONF2"
before_c=$(sys_accounts c)
"$LIFEBOAT" -c "$CONF2" db clone --method backup || die "backup clone failed"
[ "$(mdb_sql c "SELECT COUNT(*) FROM shop.orders")" = 20002 ] || die "backup: orders"
mdb_app c shopapp "$MDB_APP_PASS" "SELECT shop.order_count()" >/dev/null || die "backup: shopapp"
"$LIFEBOAT" -c "$CONF2" db status >/dev/null || die "backup: status"

# Promote b; the application works there, procedure included.
lb db fence || die "fence"
lb db promote || die "promote"
mdb_app b shopapp "$MDB_APP_PASS" "CALL shop.place_order('on-b', 2)" || die "CALL on the new primary"
[ "$(mdb_app b shopapp "$MDB_APP_PASS" "SELECT shop.order_count()")" = 20003 ] || die "count on b"
[ "$(mdb_sql b "SELECT COUNT(*) FROM shop.audit WHERE what='placed on-b'")" = 1 ] || die "trigger on b"
echo PASS
