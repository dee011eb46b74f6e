#!/usr/bin/env bash
# DR disk fitness for the database (SPEC "check"): with two real mariadbd on
# 127.0.0.1, `check --json` measures the standby's datadir (@@datadir, as the
# server says) and prices a restore of the primary's data (its size from
# information_schema). With the standby on another [node], the probe runs
# there: `lifeboat check --disk-probe DATADIR --json` over [failover]
# peer_command (ssh to a private sshd); with that sshd gone the rule says it
# cannot measure, instead of measuring here. With both servers down, the
# datadir's own size prices the restore.
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
need_root
need python3
lb_setup
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
MDB_WORK=$T/mdb
mkdir -p "$MDB_WORK"
MDB_INSTANCES=()
mdb_template || fail "template datadir"
lb_on_exit 'for n in "${MDB_INSTANCES[@]}"; do mdb_kill9 "$n"; done; for p in "${MDB_PORTS[@]}"; do rm -rf "${MDB_PORT_DIR:?}/$p"; done'
mdb_new a 1; mdb_new b 2
mdb_start a || fail "start a"; mdb_start b || fail "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT);
 INSERT INTO app.t SELECT seq, REPEAT('x', 1000) FROM app.seq_1_to_2000" || fail "app data"
DATADIR=$(mdb_sql b "SELECT @@datadir"); DATADIR=${DATADIR%/}

# fitness CONF: check --json; prints the database.disk_fitness result, its
# probe path and the database size the data carries.
fitness() {
	timeout -k 5 120 "$LIFEBOAT" -c "$1" check --json >"$T/check.json" 2>"$T/check.err"
	python3 - "$T/check.json" <<'PY' || fail "check JSON: $(cat "$T/check.json" "$T/check.err")"
import json, sys
items = {i["rule"]: i for i in json.load(open(sys.argv[1]))}
it = items["database.disk_fitness"]
d = it.get("data") or {}
print(it["result"], d.get("probe", {}).get("path", "-"), int(d.get("database_bytes", 0)), it["message"])
PY
}

# The standby on this machine: measured here.
mdb_config a b >"$T/local.conf"
read -r res path bytes msg < <(fitness "$T/local.conf")
echo "local: $res $msg"
case $res in PASS|WARN|FAIL) ;; *) fail "local: $res $msg" ;; esac
[ "$path" = "$DATADIR" ] || fail "local: probed $path, not the standby's datadir $DATADIR"
[ "$bytes" -gt 1000000 ] || fail "local: database size $bytes: $msg"
echo "$msg" | grep -q "information_schema on the primary" || fail "local: size source: $msg"

# The standby on [node b], reached by peer_command over ssh.
start_sshd || fail "sshd"
sed -e "s/^primary = .*/primary = a/" -e "s/^standby = .*/standby = b/" "$T/local.conf" >"$T/remote.conf"
cat >>"$T/remote.conf" <<EOF2
[node a]
address = 127.0.0.1:$(mdb_port a)
[node b]
address = 127.0.0.1:$(mdb_port b)
ssh = root@127.0.0.1
[failover]
peer_command = ssh -i $SSH_KEY -p $SSHD_PORT $SSH_OPTS -o ConnectTimeout=3 root@127.0.0.1 $LIFEBOAT
EOF2
sed -i "s/^\[lifeboat\]/[lifeboat]\nnode = a/" "$T/remote.conf"
read -r res path bytes msg < <(fitness "$T/remote.conf")
echo "remote: $res $msg"
case $res in PASS|WARN|FAIL) ;; *) fail "remote: $res $msg" ;; esac
[ "$path" = "$DATADIR" ] || fail "remote: probed $path: $msg"
echo "$msg" | grep -q "^127.0.0.1:$DATADIR" || fail "remote: not named as remote: $msg"

stop_sshd
read -r res path bytes msg < <(fitness "$T/remote.conf")
[ "$res" = WARN ] || fail "sshd gone: $res $msg"
echo "$msg" | grep -q "cannot measure 127.0.0.1:" || fail "sshd gone: $msg"

# Both servers down: the standby's datadir ([database] datadir) is still
# measured here, and priced at its own size.
mdb_stop a; mdb_stop b
echo "datadir = $DATADIR" >>"$T/local.conf"
read -r res path bytes msg < <(fitness "$T/local.conf")
echo "down: $res $msg"
[ "$path" = "$DATADIR" ] || fail "down: probed $path: $msg"
[ "$bytes" -gt 1000000 ] || fail "down: size $bytes: $msg"
echo "$msg" | grep -qF "the size of $DATADIR" || fail "down: size source: $msg"
pass
