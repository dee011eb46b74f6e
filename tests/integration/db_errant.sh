#!/usr/bin/env bash
# Rejoin with errant transactions: the old primary wrote after the standby
# forked. Rejoin lists them, saves them (mariadb-binlog extract), refuses and
# leaves the old primary fenced; --force re-clones it from the new primary.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO app.t VALUES (1,'base')"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }
lb db clone --method dump || die "clone"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 20 || die "replication"

# The standby stops receiving; the old primary takes two more commits.
mdb_sql b "STOP SLAVE"
mdb_sql a "INSERT INTO app.t VALUES (2,'errant-two'); INSERT INTO app.t VALUES (3,'errant-three')"
out=$(lb db promote 2>&1) && die "promote with a writable primary did not refuse"
echo "$out" | grep -q "still up and writable" || die "no split-brain message: $out"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "refused promote changed b"
lb db fence || die "fence"
lb db promote || die "promote"
mdb_sql b "INSERT INTO app.t VALUES (10,'new-primary')"

out=$(lb db rejoin 2>&1); rc=$?
echo "$out"
[ $rc = 1 ] || die "rejoin with errant exit $rc"
echo "$out" | grep -q "errant transactions.*domain 0: seq [0-9]*\.\.[0-9]* (2 transactions" || die "errant not listed"
file=$(echo "$out" | grep -o "$MDB_WORK/state/errant-[0-9TZ]*\.sql")
[ -s "$file" ] || die "errant file missing"
grep -q "errant-two" "$file" && grep -q "errant-three" "$file" || die "errant rows not in $file"
grep -q "'base'" "$file" && die "extract holds more than the errant transactions"
# A second refused rejoin at once (same second, often): a second extract,
# the first one kept.
out2=$(lb db rejoin 2>&1) && die "second rejoin with errant did not refuse"
file2=$(echo "$out2" | grep -o "$MDB_WORK/state/errant-[0-9TZ-]*\.sql")
[ -s "$file2" ] && [ "$file2" != "$file" ] && [ -s "$file" ] || die "errant extracts: '$file' '$file2'"
cmp -s "$file" "$file2" || die "the second extract differs"
[ "$(mdb_sql a "SELECT @@read_only")" = 1 ] || die "old primary not left fenced"
[ -z "$(mdb_sql a "SHOW SLAVE STATUS")" ] || die "refused rejoin configured replication"
[ "$(mdb_sql a "SELECT COUNT(*) FROM app.t")" = 3 ] || die "refused rejoin changed data"
# The fence took READ_ONLY ADMIN from root (it writes through read_only).
mdb_sql_root a "SHOW GRANTS FOR root@localhost" | grep -q "ALL PRIVILEGES" && die "fenced root keeps ALL PRIVILEGES"

lb db rejoin --force || die "rejoin --force"
mdb_wait_value a "SELECT GROUP_CONCAT(id ORDER BY id) FROM app.t" "1,10" 30 || die "old primary not re-cloned"
mdb_sql b "INSERT INTO app.t VALUES (11,'after')"
mdb_wait_value a "SELECT COUNT(*) FROM app.t" 3 20 || die "old primary does not follow"
# Re-seeded, its own root (a system account, not copied) is whole again.
mdb_sql_root a "SHOW GRANTS FOR root@localhost" | grep -q "GRANT ALL PRIVILEGES ON \*\.\* TO .root.@.localhost." \
	|| die "root on the re-seeded old primary: $(mdb_sql_root a "SHOW GRANTS FOR root@localhost")"
echo PASS
