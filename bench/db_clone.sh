#!/usr/bin/env bash
# Clone throughput on SIZE_MB of table data (default 1024): a bare
# mariadb-backup stream (backup | mbstream, prepare) vs lifeboat db clone
# --method backup (the same stream through lifeboat's pump, plus stopping and
# starting the standby and starting replication) vs --method dump.
#   SIZE_MB=200 bench/db_clone.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIFEBOAT=${LIFEBOAT:-$ROOT/build/lifeboat}
SIZE_MB=${SIZE_MB:-1024}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

mdb_new a 1 "innodb_buffer_pool_size=512M"; mdb_new b 2 "innodb_buffer_pool_size=512M"
mdb_start a && mdb_start b || exit 1
# ~1 KiB rows of incompressible-ish text, generated on the server.
rows=$(( SIZE_MB * 1024 ))
t0=$(now_ms)
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(1100)) ENGINE=InnoDB"
for ((s = 1; s <= rows; s += 50000)); do
	e=$(( s + 49999 > rows ? rows : s + 49999 ))
	mdb_sql a "USE app; INSERT INTO app.t SELECT seq, CONCAT($(for k in $(seq 1 32); do printf "MD5(seq*%d)," $k; done | sed 's/,$//')) FROM seq_${s}_to_${e}"
done
bytes=$(mdb_sql a "SELECT SUM(DATA_LENGTH+INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA='app'")
mb=$(( bytes / 1048576 ))
echo "data: $mb MiB in app.t (generated in $(( ($(now_ms) - t0) / 1000 )) s)"
mdb_config a b "start_command = bash $ROOT/tests/lib/mariadb.sh start $(mdb_dir b)" >"$MDB_WORK/lb.conf"

rate() { awk -v mb="$1" -v ms="$2" 'BEGIN {printf "%.1f s, %.0f MiB/s", ms/1000, mb/(ms/1000)}'; }

# 1. Bare stream, same flags lifeboat uses.
mkdir -p "$MDB_WORK/bare" "$MDB_WORK/tmp"
t0=$(now_ms)
mariadb-backup --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port a)" -ulifeboat -p"$MDB_PASS" \
	--backup --stream=xbstream --parallel=2 --datadir="$(mdb_dir a)/data" --target-dir="$MDB_WORK/tmp" 2>"$MDB_WORK/bare.log" \
	| mbstream -x -C "$MDB_WORK/bare"
mariadb-backup --no-defaults --prepare --target-dir="$MDB_WORK/bare" 2>>"$MDB_WORK/bare.log" || { tail "$MDB_WORK/bare.log"; exit 1; }
bare=$(( $(now_ms) - t0 ))
echo "bare mariadb-backup stream + prepare: $(rate $mb $bare)"
rm -rf "$MDB_WORK/bare"

# 2. lifeboat, physical.
t0=$(now_ms)
"$LIFEBOAT" -c "$MDB_WORK/lb.conf" db clone --method backup --force 2>"$MDB_WORK/lb-backup.log" || { cat "$MDB_WORK/lb-backup.log"; exit 1; }
phys=$(( $(now_ms) - t0 ))
echo "lifeboat db clone --method backup (incl. standby stop/start, replication up): $(rate $mb $phys)"
grep "streamed" "$MDB_WORK/lb-backup.log" | sed 's/^/  /'

# 3. lifeboat, logical.
t0=$(now_ms)
"$LIFEBOAT" -c "$MDB_WORK/lb.conf" db clone --method dump --force 2>"$MDB_WORK/lb-dump.log" || { cat "$MDB_WORK/lb-dump.log"; exit 1; }
dump=$(( $(now_ms) - t0 ))
echo "lifeboat db clone --method dump (replication up): $(rate $mb $dump)"
grep "dumped" "$MDB_WORK/lb-dump.log" | sed 's/^/  /'
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t")" = "$rows" ] || { echo "row count differs after dump clone"; exit 1; }
