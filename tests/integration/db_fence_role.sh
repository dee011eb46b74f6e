#!/usr/bin/env bash
# db fence on a shop that hands out its admin rights through a role: the
# deploy account writes with ALL PRIVILEGES from its default role, so it
# holds READ_ONLY ADMIN without information_schema.USER_PRIVILEGES listing
# it. check names the role; the fence takes READ_ONLY ADMIN from the role
# and a reconnecting deploy writer is stopped; the promoted standby takes
# its writes (its role was never touched); promoting the old primary again
# gives the role its privilege back. lifeboat's own account may get its
# rights through a role too: check counts them, a fence leaves that role be.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_app_setup a 10 || die "app"
DEPLOY_PASS=deploy-$RANDOM$RANDOM
# The way an administrator gives a team the admin rights: a role.
mdb_sql_root a "CREATE ROLE shop_dba; GRANT ALL PRIVILEGES ON *.* TO shop_dba;
	CREATE USER 'deploy'@'%' IDENTIFIED BY '$DEPLOY_PASS';
	GRANT shop_dba TO 'deploy'@'%'; SET DEFAULT ROLE shop_dba FOR 'deploy'@'%'" || die "role"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }
lb db clone --method dump 2>"$MDB_WORK/err" || die "clone: $(cat "$MDB_WORK/err")"
role_grants() { mdb_sql_root "$1" "SHOW GRANTS FOR shop_dba"; }
grants_a=$(role_grants a)
echo "$grants_a" | grep -q "ALL PRIVILEGES ON \*\.\*" || die "role grants: $grants_a"

out=$(lb check 2>&1)
echo "$out" | grep "read_only_writers" | grep -q "'shop_dba'@''" \
	|| die "check does not name the role: $(echo "$out" | grep read_only_writers)"

W=$MDB_WORK/writer; mdb_app_writer a "$W" deploy "$DEPLOY_PASS"
acked() { cut -d' ' -f1 "$W" 2>/dev/null || echo 0; }
tries() { cut -d' ' -f2 "$W" 2>/dev/null || echo 0; }
deadline=$(( $(date +%s) + 30 ))
until [ "$(acked)" -ge 20 ]; do
	[ "$(date +%s)" -lt $deadline ] || die "the deploy writer does not write: $(acked)"
	sleep 0.05
done

lb db fence || die "fence failed"
rows=$(mdb_sql a "SELECT COUNT(*) FROM shop.orders")
a0=$(acked) t0=$(tries)
deadline=$(( $(date +%s) + 60 ))
until [ "$(tries)" -ge $((t0 + 25)) ]; do [ "$(date +%s)" -lt $deadline ] || die "writer stalled"; sleep 0.05; done
[ "$(acked)" = "$a0" ] || die "the role's writer wrote through the fence: $a0 -> $(acked)"
[ "$(mdb_sql a "SELECT COUNT(*) FROM shop.orders")" = "$rows" ] || die "rows changed after the fence"
out=$(mdb_app a deploy "$DEPLOY_PASS" "INSERT INTO shop.orders (item, qty) VALUES ('x', 1)" 2>&1) \
	&& die "the role's insert accepted on the fenced primary"
echo "$out" | grep -q 1290 || die "unexpected refusal: $out"
[ "$(mdb_sql a "SELECT grantee FROM lifeboat.fence_revoked WHERE grantee = '''shop_dba''@'''''")" ] \
	|| die "the role is not in the fence's record: $(mdb_sql a "SELECT * FROM lifeboat.fence_revoked")"

# The standby's copy of the role was not touched (the revoke is not binlogged).
lb db promote || die "promote"
[ "$(role_grants b)" = "$grants_a" ] || die "b's role changed: $(role_grants b)"
mdb_app_writer b "$MDB_WORK/writer-b" deploy "$DEPLOY_PASS"
deadline=$(( $(date +%s) + 30 ))
until [ "$(cut -d' ' -f1 "$MDB_WORK/writer-b" 2>/dev/null || echo 0)" -ge 5 ]; do
	[ "$(date +%s)" -lt $deadline ] || die "no writes on the new primary"; sleep 0.05; done

# Back: a rejoins, then is promoted again: its role gets READ_ONLY ADMIN back.
lb db rejoin || die "rejoin"
CONF2=$MDB_WORK/back.conf
mdb_config b a >"$CONF2"
"$LIFEBOAT" -c "$CONF2" db fence || die "fence b"
"$LIFEBOAT" -c "$CONF2" db promote || die "promote a"
[ "$(role_grants a)" = "$grants_a" ] || die "a's role not given back: $(role_grants a)"
[ "$(mdb_sql a "SELECT COUNT(*) FROM lifeboat.fence_revoked")" = 0 ] || die "fence record not cleared on a"

# lifeboat's account given its rights through a default role (the day-to-day
# GRANT from 'lifeboat db privileges', made to a role).
grant=$("$LIFEBOAT" db privileges lbops | sed -n 2p | sed "s/'lbops'@'%'/lb_ops/g")
# a is the primary again; back.conf names it the standby (b is fenced).
mdb_sql_root a "CREATE ROLE lb_ops; $grant
	CREATE USER 'lbops'@'%' IDENTIFIED BY '$MDB_PASS'; GRANT lb_ops TO 'lbops'@'%';
	SET DEFAULT ROLE lb_ops FOR 'lbops'@'%'" || die "lb_ops on a"
sed 's/^user = lifeboat$/user = lbops/' "$CONF2" >"$MDB_WORK/role.conf"
out=$("$LIFEBOAT" -c "$MDB_WORK/role.conf" check 2>&1)
echo "$out" | grep "db.standby.account" | grep -q PASS \
	|| die "the role's privileges are not counted: $(echo "$out" | grep "\.account")"
"$LIFEBOAT" -c "$MDB_WORK/role.conf" db fence --server standby 2>"$MDB_WORK/err" \
	|| die "fence by the role's account: $(cat "$MDB_WORK/err")"
[ "$(mdb_sql a "SELECT @@read_only")" = 1 ] || die "a not fenced by the role's account"
mdb_sql_root a "SHOW GRANTS FOR lb_ops" | grep -q "READ_ONLY ADMIN" || die "the fence took lifeboat's own role's privilege"
echo PASS
