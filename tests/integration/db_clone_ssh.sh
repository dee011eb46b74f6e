#!/usr/bin/env bash
# db clone --method backup from a remote [node]: mariadb-backup runs under ssh
# on the primary's node (a private sshd on 127.0.0.1), credentials through its
# stdin, the stream comes back through ssh into the local standby.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/sshd.sh"
. "$ROOT/tests/lib/mariadb.sh"
[ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ] || { echo "needs root and sshd"; exit 77; }
lb_setup
mdb_setup
trap 'rc=$?; mdb_cleanup; (exit $rc); _lb_cleanup' EXIT
start_sshd || die "sshd"
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"; mdb_start b || die "start b"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1),(2),(3)"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b "start_command = bash $ROOT/tests/lib/mariadb.sh start $(mdb_dir b)" \
	"ssh_options = -p $SSHD_PORT -i $SSH_KEY $SSH_OPTS" "read_only_cnf = $MDB_WORK/dropin.cnf" >"$CONF"
# Nodes: the primary is remote (reached by ssh), this machine is the standby.
sed -i "s|^primary = .*|primary = oslo|; s|^standby = .*|standby = dr|; s|^\[lifeboat\]|[lifeboat]\nnode = dr|" "$CONF"
cat >>"$CONF" <<CONF

[node oslo]
address = 127.0.0.1:$(mdb_port a)
ssh = $SSH_TARGET

[node dr]
address = 127.0.0.1:$(mdb_port b)
CONF
"$LIFEBOAT" -c "$CONF" db clone --method backup 2>"$MDB_WORK/clone.err" || die "ssh clone failed: $(cat "$MDB_WORK/clone.err")"
grep -q "streamed" "$MDB_WORK/clone.err" || die "no stream: $(cat "$MDB_WORK/clone.err")"
[ "$(mdb_sql b "SELECT COUNT(*) FROM app.t")" = 3 ] || die "rows not cloned"
mdb_sql a "INSERT INTO app.t VALUES (4)"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 4 20 || die "replication not running"
grep -q "$MDB_PASS" "$MDB_WORK/state"/clone-*.log && die "password in a log"
grep -q "read_only = ON" "$MDB_WORK/dropin.cnf" || die "clone of this node did not persist read_only=ON"
# Fencing the remote node leaves this node's drop-in alone; promoting this
# node records it (read_only stays ON there: a restart waits for db writable).
"$LIFEBOAT" -c "$CONF" db fence || die fence
grep -q "read_only = ON" "$MDB_WORK/dropin.cnf" || die "fence of the other node touched our drop-in"
"$LIFEBOAT" -c "$CONF" db promote || die promote
grep -q "epoch 1, writable" "$MDB_WORK/dropin.cnf" && grep -q "read_only = ON" "$MDB_WORK/dropin.cnf" ||
	die "promote's drop-in: $(cat "$MDB_WORK/dropin.cnf")"
echo PASS
