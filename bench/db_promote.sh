#!/usr/bin/env bash
# Promote until the first application write is accepted, on an idle pair:
# lifeboat db promote vs the origin article's way (STOP SLAVE; RESET MASTER;
# read_only=0 in my.cnf; restart), same run, same machine. Prints one line per
# trial and the medians.   bench/db_promote.sh [TRIALS]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIFEBOAT=${LIFEBOAT:-$ROOT/build/lifeboat}
TRIALS=${1:-5}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
app_write() { # poll until one INSERT is accepted by NAME
	local port; port=$(mdb_port "$1")
	until mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uapp -papppw \
		-e "INSERT INTO app.t VALUES (NULL)" 2>/dev/null; do sleep 0.005; done
}

pair() { # fresh replicating pair $1a -> $1b
	mdb_new "$1a" 1; mdb_new "$1b" 2
	mdb_start "$1a" && mdb_start "$1b" || exit 1
	mdb_sql "$1a" "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY);
		CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'"
	mdb_config "$1a" "$1b" >"$MDB_WORK/$1.conf"
	"$LIFEBOAT" -q -c "$MDB_WORK/$1.conf" db clone --method dump || exit 1
	mdb_sql "$1a" "INSERT INTO app.t VALUES (NULL)"
	mdb_wait_value "$1b" "SELECT COUNT(*) FROM app.t" 1 20 >/dev/null || exit 1
}

lb=() art=()
for ((i = 1; i <= TRIALS; i++)); do
	pair "l$i"
	"$LIFEBOAT" -q -c "$MDB_WORK/l$i.conf" db fence || exit 1  # failover does this first
	t0=$(now_ms)
	"$LIFEBOAT" -q -c "$MDB_WORK/l$i.conf" db promote || exit 1
	app_write "l${i}b"
	lb+=($(( $(now_ms) - t0 )))
	mdb_stop "l${i}a"; mdb_stop "l${i}b"

	pair "r$i"
	t0=$(now_ms)
	mdb_sql "r${i}b" "STOP SLAVE; RESET MASTER"
	sed -i 's/read_only = ON/read_only = OFF/' "$(mdb_dir "r${i}b")/lifeboat.cnf"
	mdb_stop "r${i}b"; mdb_start "r${i}b" || exit 1
	app_write "r${i}b"
	art+=($(( $(now_ms) - t0 )))
	mdb_stop "r${i}a"; mdb_stop "r${i}b"
	echo "trial $i: lifeboat ${lb[-1]} ms, article ${art[-1]} ms"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median promote -> first write: lifeboat $(median "${lb[@]}") ms, article way $(median "${art[@]}") ms ($TRIALS trials)"
