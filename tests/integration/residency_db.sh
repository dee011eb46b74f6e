#!/usr/bin/env bash
# Data residency for database copies, against two real mariadbd on
# 127.0.0.1: with the standby's node outside [lifeboat] jurisdictions,
# `db clone` is refused (exit 2, naming the node's line and the policy's)
# before it connects: the standby gets no data and no replication. Inside
# the policy the same clone runs. Then, on the standby, with the old
# primary's node moved outside the policy, `failover` (and --dry-run),
# `switchover` and `db rejoin` are refused the same way: the copies would
# flow to it afterwards. Nothing changes: the standby stays read-only and
# replicating, no journal is written.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1)"
CONF=$MDB_WORK/lifeboat.conf

# conf THIS_NODE A_JURISDICTION B_JURISDICTION: nodes a (line 6) and b
# (line 10), the policy on line 4.
conf() {
	mdb_config a b | sed '/^\[database\]/,$!d' >"$MDB_WORK/db.part"
	cat <<EOF2
[lifeboat]
node = $1
state_dir = $MDB_WORK/state
jurisdictions = NO EEA
log = stderr
[node a]
address = 127.0.0.1:$(mdb_port a)
jurisdiction = $2

[node b]
address = 127.0.0.1:$(mdb_port b)
jurisdiction = $3

EOF2
	sed -e 's/^primary = .*/primary = a/' -e 's/^standby = .*/standby = b/' "$MDB_WORK/db.part"
}
lb() { timeout -k 5 120 "$LIFEBOAT" -c "$CONF" "$@"; }

# refused NAME FRAGMENT... -- ARGS: exit 2 with every fragment on stderr.
refused() {
	local name=$1; shift
	local want=()
	while [ "$1" != -- ]; do want+=("$1"); shift; done
	shift
	lb "$@" >"$MDB_WORK/out" 2>"$MDB_WORK/err"
	local rc=$?
	[ $rc = 2 ] || { cat "$MDB_WORK/err" >&2; die "$name: exit $rc, expected 2"; }
	local f
	for f in "${want[@]}"; do
		grep -qF -- "$f" "$MDB_WORK/err" || die "$name: '$f' not in: $(cat "$MDB_WORK/err")"
	done
}

conf a NO US >"$CONF"
refused clone "$CONF:10:" "[node b] in US ($CONF:12)" "jurisdictions = NO EEA ($CONF:4)" -- db clone --method dump
[ "$(mdb_sql b "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('app','lifeboat')")" = 0 ] \
	|| die "refused clone reached the standby"
[ -z "$(mdb_sql b "SHOW SLAVE STATUS")" ] || die "refused clone configured replication"
[ -z "$(mdb_sql a "SELECT user FROM mysql.user WHERE user='repl'")" ] || die "refused clone touched the primary"

# Inside the policy (b in Sweden): the same clone goes ahead.
conf a NO SE >"$CONF"
lb db clone --method dump 2>"$MDB_WORK/err" || { cat "$MDB_WORK/err" >&2; die "allowed clone failed"; }
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 20 || die "allowed clone did not copy"

# On b: the old primary a is now in the US. Its copies after a failover
# (replication back, reverse syncs) would go there.
conf b US SE >"$CONF"
refused failover "$CONF:6:" "[node a] in US ($CONF:8)" "($CONF:4)" -- failover --yes
refused failover-dry-run "[node a] in US" -- failover --dry-run
refused switchover "[node a] in US" -- switchover --yes
refused rejoin "[node a] in US" -- db rejoin
[ ! -e "$MDB_WORK/state/failover.journal" ] || die "a refused failover wrote a journal"
[ ! -e "$MDB_WORK/state/role" ] || die "a refused failover wrote the role"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "refused failover changed the standby"
mdb_sql a "INSERT INTO app.t VALUES (2)"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 2 20 || die "replication broken after the refusals"
[ "$(mdb_sql a "SELECT @@read_only")" = 0 ] || die "refused failover fenced the primary"
echo PASS
