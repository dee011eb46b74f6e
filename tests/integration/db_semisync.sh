#!/usr/bin/env bash
# semi_sync = yes: clone sets up both sides; status reports the primary's
# fallback to async once the standby is gone.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; SET GLOBAL rpl_semi_sync_master_timeout=300; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "semi_sync = yes" >"$CONF"
"$LIFEBOAT" -c "$CONF" db clone --method dump || die clone
mdb_sql a "INSERT INTO app.t VALUES (1)"
json=$("$LIFEBOAT" -c "$CONF" db status --json) || die "status: $json"
echo "$json" | python3 -c '
import json,sys; p,s=json.load(sys.stdin)["servers"]
assert p["semi_sync"]["master_enabled"] and p["semi_sync"]["master_active"], p
assert s["semi_sync"]["slave_enabled"] and s["semi_sync"]["slave_active"], s' || die "semi-sync not set up: $json"

mdb_stop b
mdb_sql a "INSERT INTO app.t VALUES (2)"   # waits rpl_semi_sync_master_timeout, then async
out=$("$LIFEBOAT" -c "$CONF" db status 2>&1)
echo "$out" | grep -q "fallen back to async" || die "fallback not reported: $out"
echo "$out" | grep -q "FELL BACK TO ASYNC" || die "fallback not in the text status: $out"
echo PASS
