#!/usr/bin/env bash
# db clone (dump) -> status -> heartbeat lag -> promote (<1 s, epoch) ->
# fence -> rejoin, against two real mariadbd on 127.0.0.1.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20));
 INSERT INTO app.t VALUES (1,'one'),(2,'two'); CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'"
# A fresh standby with a local transaction in its binlog (pitfalls 5, 6).
mdb_sql b "CREATE USER localadmin@'%' IDENTIFIED BY 'x'"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "read_only_cnf = $(mdb_dir b)/lifeboat.cnf" >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }

lb db clone --method dump || die "clone failed"
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t")" = 2 ] || die "rows not cloned"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port b)" -uapp -papppw -N -e "SELECT 1" >/dev/null \
	|| die "app user not cloned"
mdb_sql a "INSERT INTO app.t VALUES (3,'three')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 3 20 || die "replication not running"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "standby not read_only"

# Refuses to overwrite data without --force; nothing changed.
out=$(lb db clone --method dump 2>&1); rc=$?
[ $rc = 1 ] || die "clone over data exit $rc: $out"
echo "$out" | grep -q -- "--force" || die "no --force hint: $out"
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t")" = 3 ] || die "refused clone changed data"

# Heartbeat: the foreground writer, then the true lag on the standby.
"$LIFEBOAT" -c "$CONF" db heartbeat & HB=$!; MDB_PIDS+=("$HB")
mdb_wait_value b "SELECT COUNT(*) FROM lifeboat.heartbeat" 1 20 || die "no heartbeat row"
json=$(lb db status --json) || die "status failed: $json"
echo "$json" | python3 -c '
import json,sys
d=json.load(sys.stdin); p,s=d["servers"]
assert p["read_only"] is False and p["server_id"]==1, p
assert s["replica"] and s["io_running"]=="Yes" and s["sql_running"]=="Yes", s
assert s["heartbeat_age"] is not None and s["heartbeat_age"] < 5, s
assert s["seconds_behind_master"] is not None
' || die "status json wrong: $json"
lb db status >/dev/null || die "text status failed"
kill -TERM $HB; wait $HB || die "heartbeat exit status $?"

# Promote: bounded time to the first write on an idle pair.
lb db fence || die "fence failed"
[ "$(mdb_sql a "SELECT @@read_only")" = 1 ] || die "fence did not set read_only"
t0=$(date +%s%N)
lb db promote || die "promote failed"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port b)" -uapp -papppw -e "INSERT INTO app.t VALUES (4,'four')" \
	|| die "app write refused after promote"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "promote -> first app write: $ms ms"
[ $ms -lt 1000 ] || die "promote took $ms ms"
[ "$(cat "$MDB_WORK/state/epoch")" = 1 ] || die "epoch file not 1"
[ "$(mdb_sql b "SELECT MAX(epoch) FROM lifeboat.epoch")" = 1 ] || die "db epoch not 1"
# The drop-in keeps read_only = ON even on the new primary: after a restart
# it takes writes only once lifeboat (db writable) sees it still holds the
# highest epoch.
grep -q "read_only = ON" "$(mdb_dir b)/lifeboat.cnf" && grep -q "epoch 1, writable" "$(mdb_dir b)/lifeboat.cnf" ||
	die "drop-in after promote: $(cat "$(mdb_dir b)/lifeboat.cnf")"
[ -z "$(mdb_sql b "SHOW SLAVE STATUS")" ] || die "replication still configured"

# A restart of the new primary comes back read-only: the drop-in keeps
# read_only = ON and only lifeboat turns writes on. db writable finds the
# primary's server by its role epoch (HOST:PORT servers, no [node]s).
mdb_stop b; mdb_start b || die "restart b"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "a restarted primary took writes before lifeboat said so"
lb db writable || die "db writable refused the server with the highest epoch"
[ "$(mdb_sql b "SELECT @@read_only")" = 0 ] || die "db writable left the new primary read-only"
[ "$(mdb_sql a "SELECT @@read_only")" = 1 ] || die "db writable touched the old primary"

# Rejoin: a is fenced and follows b.
lb db rejoin || die "rejoin failed"
mdb_sql b "INSERT INTO app.t VALUES (5,'five')"
mdb_wait_value a "SELECT COUNT(*) FROM app.t" 5 20 || die "old primary does not follow"
json=$(lb db status --json); echo "$json" | grep -q '"epoch":1' || die "epoch not replicated: $json"
echo PASS
