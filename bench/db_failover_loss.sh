#!/usr/bin/env bash
# Crash failover under write load, lifeboat vs the origin article's way, same
# run: 4 writers on the primary, kill -9 of it, then either `lifeboat db
# promote` or the article (STOP SLAVE; RESET MASTER; read_only=0 in my.cnf;
# restart). Reports the time to the first accepted write and the acknowledged
# commits missing on the new primary right then and 3 s later.
#   bench/db_failover_loss.sh [TRIALS]
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIFEBOAT=${LIFEBOAT:-$ROOT/build/lifeboat}
TRIALS=${1:-3}
. "$ROOT/tests/lib/mariadb.sh"
mdb_setup
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

writer() {
	local w=$1 port=$2 i
	for ((i = 1; i <= 500000; i++)); do
		echo "INSERT INTO app.t VALUES ($((w * 1000000 + i)), REPEAT('x', 2000)); SELECT $((w * 1000000 + i));"
	done | mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$port" -uapp -papppw -n -N -B >"$MDB_WORK/acked.$w" 2>/dev/null
}
app_write() {
	until mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port "$1")" -uapp -papppw \
		-e "INSERT INTO app.t VALUES (999999999, 'probe')" 2>/dev/null; do sleep 0.005; done
}
lost() { # acked ids missing on NAME
	cat "$MDB_WORK"/acked.[0-9] | sort >"$MDB_WORK/all_acked"
	mdb_sql "$1" "SELECT id FROM app.t" | sort >"$MDB_WORK/have"
	comm -23 "$MDB_WORK/all_acked" "$MDB_WORK/have" | wc -l
}

trial() { # WAY N
	local way=$1 n=$2 a=$1$2a b=$1$2b pids=() w t0 ms l0 l3 total
	mdb_new "$a" 1; mdb_new "$b" 2
	mdb_start "$a" && mdb_start "$b" || exit 1
	mdb_sql "$a" "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id BIGINT PRIMARY KEY, v TEXT);
		CREATE USER app@'%' IDENTIFIED BY 'apppw'; GRANT ALL ON app.* TO app@'%'"
	mdb_config "$a" "$b" >"$MDB_WORK/$way$n.conf"
	"$LIFEBOAT" -q -c "$MDB_WORK/$way$n.conf" db clone --method dump || exit 1
	rm -f "$MDB_WORK"/acked.*
	for w in 1 2 3 4; do writer $w "$(mdb_port "$a")" & pids+=($!); MDB_PIDS+=($!); done
	until [ "$(cat "$MDB_WORK"/acked.* 2>/dev/null | wc -l)" -ge 3000 ]; do sleep 0.05; done
	mdb_kill9 "$a"
	for w in "${pids[@]}"; do wait "$w"; done
	t0=$(now_ms)
	if [ "$way" = lifeboat ]; then
		"$LIFEBOAT" -q -c "$MDB_WORK/$way$n.conf" db promote || exit 1
	else
		mdb_sql "$b" "STOP SLAVE; RESET MASTER"
		sed -i 's/read_only = ON/read_only = OFF/' "$(mdb_dir "$b")/lifeboat.cnf"
		mdb_stop "$b"; mdb_start "$b" || exit 1
	fi
	app_write "$b"
	ms=$(( $(now_ms) - t0 ))
	total=$(cat "$MDB_WORK"/acked.[0-9] | wc -l)
	l0=$(lost "$b")
	sleep 3 # deliberately: what a late-applying relay log changes afterwards
	l3=$(lost "$b")
	echo "$way trial $n: first write after $ms ms; of $total acknowledged commits $l0 missing then, $l3 missing 3 s later"
	mdb_stop "$b"
}
for ((i = 1; i <= TRIALS; i++)); do trial lifeboat $i; [ -n "${LIFEBOAT_ONLY:-}" ] || trial article $i; done
