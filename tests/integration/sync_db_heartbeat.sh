#!/usr/bin/env bash
# With [database] heartbeat = yes the sync daemon keeps the heartbeat row
# fresh (in a supervised child, so a slow database never stalls file
# replication), restarts the writer if it dies, and stops it on SIGTERM.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
mdb_new a 1
mdb_start a || die "start a"
mdb_sql a "SET GLOBAL read_only=OFF"
CONF=$MDB_WORK/lifeboat.conf
mkdir -p "$MDB_WORK/src" && echo x >"$MDB_WORK/src/x"
{ mdb_config a a; printf '\n[sync www]\nsource = %s\ntarget = %s\ndelay = 0\n' "$MDB_WORK/src" "$MDB_WORK/dst"; } >"$CONF"
# The pair is a single server here: the heartbeat writer only needs a writable primary.
sed -i 's/^standby = .*/standby = 127.0.0.1:1/' "$CONF"
"$LIFEBOAT" -c "$CONF" sync >"$MDB_WORK/sync.log" 2>&1 & SYNC=$!; MDB_PIDS+=("$SYNC")
mdb_wait_value a "SELECT COUNT(*) > 0 FROM lifeboat.heartbeat" 1 20 || { cat "$MDB_WORK/sync.log"; die "no heartbeat row from the sync daemon"; }
t1=$(mdb_sql a "SELECT MAX(ts) FROM lifeboat.heartbeat")
mdb_wait_value a "SELECT MAX(ts) > '$t1' FROM lifeboat.heartbeat" 1 10 || die "heartbeat not refreshed"
# status shows each database server: the primary writable, the standby
# (nothing listens on port 1) unreachable, within its short timeout.
printf '{"operation":"drill","ok":true,"started":"2026-11-26T10:00:00Z","rto_s":1.5,"write_block_s":0.3}\n' \
	>"$MDB_WORK/state/drill-20261126T100000Z.json"
out=$("$LIFEBOAT" -c "$CONF" status 2>&1)
echo "$out"
echo "$out" | grep -q "database primary .*writable, epoch" || die "status lacks the primary"
echo "$out" | grep -q "database standby .*unreachable" || die "status lacks the unreachable standby"
echo "$out" | grep -q "last drill: 2026-11-26T10:00:00Z, PASS, RTO 1.50 s" || die "status lacks the last drill"

# The writer dies: the daemon starts another.
hb=$(pgrep -P "$SYNC" -f "db heartbeat" | head -1)
[ -n "$hb" ] || die "no heartbeat child"
kill -9 "$hb"
for _ in $(seq 1 200); do grep -q "heartbeat writer ended" "$MDB_WORK/sync.log" && break; sleep 0.05; done
grep -q "heartbeat writer ended" "$MDB_WORK/sync.log" || die "death of the writer not noticed"
t2=$(mdb_sql a "SELECT MAX(ts) FROM lifeboat.heartbeat")
mdb_wait_value a "SELECT MAX(ts) > '$t2' FROM lifeboat.heartbeat" 1 20 || die "heartbeat writer not restarted"
[ -f "$MDB_WORK/dst/x" ] || die "files not replicated alongside"
hb=$(pgrep -P "$SYNC" -f "db heartbeat" | head -1)
kill -TERM "$SYNC"; wait "$SYNC"
[ -z "$hb" ] || ! kill -0 "$hb" 2>/dev/null || die "heartbeat child left running after SIGTERM"

# A daemon killed with SIGKILL cannot stop its writer: the writer notices
# it was re-parented and ends by itself.
"$LIFEBOAT" -c "$CONF" sync >>"$MDB_WORK/sync.log" 2>&1 & SYNC=$!; MDB_PIDS+=("$SYNC")
for _ in $(seq 1 200); do hb=$(pgrep -P "$SYNC" -f "db heartbeat" | head -1); [ -n "$hb" ] && break; sleep 0.05; done
[ -n "$hb" ] || die "no heartbeat child after restart"
kill -9 "$SYNC"
for _ in $(seq 1 100); do kill -0 "$hb" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$hb" 2>/dev/null || { kill "$hb"; die "heartbeat writer outlived its SIGKILLed daemon"; }
echo PASS
