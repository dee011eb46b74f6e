#!/usr/bin/env bash
# db fence on a shop whose application runs with ALL PRIVILEGES (and as
# root): in 10.11 those accounts hold READ_ONLY ADMIN and write straight
# through read_only. Under a steady write load (a reconnecting writer, a
# persistent session, root on the socket) the fence stops every write, the
# stopped writers stay stopped, root can still log in and read; promote of
# the standby gives the application its writes there; the privileges the
# fence took from the old primary come back when it is promoted again.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_app_setup a 10 || die "app"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }
lb db clone --method dump 2>"$MDB_WORK/err" || die "clone: $(cat "$MDB_WORK/err")"
grants_a=$(mdb_sql a "SHOW GRANTS FOR shopadmin@'%'"; mdb_sql_root a "SHOW GRANTS FOR root@localhost")

# Load: reconnecting ALL PRIVILEGES writer, a persistent session, root.
W=$MDB_WORK/writer; mdb_app_writer a "$W"
( while :; do echo "CALL shop.place_order('session', 1); SELECT 'ack';"; sleep 0.02; done ) \
	| mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port a)" -ushopadmin -p"$MDB_APPADMIN_PASS" \
		-N -B -n >"$MDB_WORK/session.out" 2>/dev/null &
MDB_PIDS+=("$!")
( while :; do mdb_sql_root a "CALL shop.place_order('root', 1)" 2>/dev/null && echo ack; sleep 0.02; done ) \
	>"$MDB_WORK/root.out" &
MDB_PIDS+=("$!")
acked() { cut -d' ' -f1 "$W" 2>/dev/null || echo 0; }
tries() { cut -d' ' -f2 "$W" 2>/dev/null || echo 0; }
lines() { wc -l <"$1"; }
deadline=$(( $(date +%s) + 30 ))
until [ "$(acked)" -ge 20 ] && [ "$(lines "$MDB_WORK/session.out")" -ge 20 ] && [ "$(lines "$MDB_WORK/root.out")" -ge 20 ]; do
	[ "$(date +%s)" -lt $deadline ] || die "the load does not write: $(acked) $(lines "$MDB_WORK/session.out") $(lines "$MDB_WORK/root.out")"
	sleep 0.05
done

lb db fence || die "fence failed"
rows=$(mdb_sql a "SELECT COUNT(*) FROM shop.orders")
a0=$(acked) t0=$(tries) s0=$(lines "$MDB_WORK/session.out") r0=$(lines "$MDB_WORK/root.out")
# Every writer keeps trying (the reconnecting one 25 more times): nothing lands.
deadline=$(( $(date +%s) + 60 ))
until [ "$(tries)" -ge $((t0 + 25)) ]; do [ "$(date +%s)" -lt $deadline ] || die "writer stalled"; sleep 0.05; done
[ "$(acked)" = "$a0" ] || die "ALL PRIVILEGES writer wrote through the fence: $a0 -> $(acked)"
[ "$(lines "$MDB_WORK/root.out")" = "$r0" ] || die "root wrote through the fence"
[ "$(lines "$MDB_WORK/session.out")" -le "$s0" ] || die "the persistent session wrote through the fence"
[ "$(mdb_sql a "SELECT COUNT(*) FROM shop.orders")" = "$rows" ] || die "rows changed after the fence"
out=$(mdb_app a shopadmin "$MDB_APPADMIN_PASS" "INSERT INTO shop.orders (item, qty) VALUES ('x', 1)" 2>&1) \
	&& die "ALL PRIVILEGES insert accepted on the fenced primary"
echo "$out" | grep -q 1290 || die "unexpected refusal: $out"
[ "$(mdb_sql_root a "SELECT COUNT(*) FROM shop.orders")" = "$rows" ] || die "root cannot log in and read"
mdb_sql_root a "SHOW PROCESSLIST" >/dev/null || die "root cannot administer"

# Promote the standby: the application writes there; the standby's own
# root kept READ_ONLY ADMIN (the revoke was not replicated).
lb db promote || die "promote"
mdb_app_writer b "$MDB_WORK/writer-b"
deadline=$(( $(date +%s) + 30 ))
until [ "$(cut -d' ' -f1 "$MDB_WORK/writer-b" 2>/dev/null || echo 0)" -ge 5 ]; do
	[ "$(date +%s)" -lt $deadline ] || die "no writes on the new primary"; sleep 0.05; done
mdb_sql_root b "SHOW GRANTS FOR root@localhost" | grep -q "ALL PRIVILEGES" || die "b's root lost its grants"

# Back: a rejoins, then is promoted again: its accounts get READ_ONLY ADMIN back.
lb db rejoin || die "rejoin"
CONF2=$MDB_WORK/back.conf
mdb_config b a >"$CONF2"
"$LIFEBOAT" -c "$CONF2" db fence || die "fence b"
"$LIFEBOAT" -c "$CONF2" db promote || die "promote a"
[ "$(mdb_sql a "SHOW GRANTS FOR shopadmin@'%'"; mdb_sql_root a "SHOW GRANTS FOR root@localhost")" = "$grants_a" ] \
	|| die "a's grants not given back: $(mdb_sql a "SHOW GRANTS FOR shopadmin@'%'")"
[ "$(mdb_sql a "SELECT COUNT(*) FROM lifeboat.fence_revoked")" = 0 ] || die "fence record not cleared on a"

# A fence undone by 'db writable' (writes back without a promote): the
# accounts get READ_ONLY ADMIN back there too. a holds the higher epoch and
# b is read-only, so writable picks a.
"$LIFEBOAT" -c "$CONF2" db fence --server standby || die "fence a"
[ "$(mdb_sql a "SELECT COUNT(*) FROM lifeboat.fence_revoked")" -gt 0 ] || die "fence of a recorded nothing"
"$LIFEBOAT" -c "$CONF2" db writable 2>"$MDB_WORK/err" || die "writable: $(cat "$MDB_WORK/err")"
[ "$(mdb_sql a "SELECT @@read_only")" = 0 ] || die "a not writable after db writable"
[ "$(mdb_sql a "SHOW GRANTS FOR shopadmin@'%'"; mdb_sql_root a "SHOW GRANTS FOR root@localhost")" = "$grants_a" ] \
	|| die "db writable did not give a's grants back: $(mdb_sql a "SHOW GRANTS FOR shopadmin@'%'")"
[ "$(mdb_sql a "SELECT COUNT(*) FROM lifeboat.fence_revoked")" = 0 ] || die "fence record not cleared by db writable"
mdb_app a shopadmin "$MDB_APPADMIN_PASS" "INSERT INTO shop.orders (item, qty) VALUES ('back', 1)" \
	|| die "the application cannot write after db writable"

# A lifeboat account without GRANT OPTION cannot revoke: the fence still
# sets read_only and kills the sessions, then fails naming the GRANT.
mdb_sql_root a "CREATE USER lbng@'%' IDENTIFIED BY '$MDB_PASS';
	$("$LIFEBOAT" db privileges lbng | sed -n 2p | sed 's/ WITH GRANT OPTION//')" || die "lbng"
sed 's/^user = lifeboat$/user = lbng/' "$CONF2" >"$MDB_WORK/ng.conf"
out=$("$LIFEBOAT" -c "$MDB_WORK/ng.conf" db fence --server standby 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "missing privilege.*REVOKE.*GRANT .*WITH GRANT OPTION" || die "fence without GRANT OPTION ($rc): $out"
[ "$(mdb_sql a "SELECT @@read_only")" = 1 ] || die "read_only not set by the failed fence"
echo PASS
