#!/usr/bin/env bash
# db clone's limits (issue 9 item 3): a standby whose datadir's file system is
# too small is refused before anything changes (a small tmpfs holds its
# datadir), and grown, the same clone goes through; a pump that moves no
# byte (mariadb-dump waiting for its FLUSH TABLES WITH READ LOCK behind an
# administrator's LOCK TABLES) does not hang the clone: after the stall
# deadline (LIFEBOAT_CLONE_STALL_S) both tools are killed and the clone
# fails naming the stalled one; the lock released, a re-run succeeds. The
# same for a physical clone, whose mariadb-backup stalls half-way.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/mariadb.sh"
lb_setup
mdb_setup
MNT=
# The killed server's files close a moment after it is gone (busy for a while).
trap 'rc=$?; [ -n "$MNT" ] && { mdb_kill9 b; wait_until 20 umount "$MNT" 2>/dev/null || umount -l "$MNT"; }; mdb_cleanup; (exit $rc); _lb_cleanup' EXIT
mdb_new a 1; mdb_new b 2
mdb_start a || die "start a"
mdb_sql a "SET GLOBAL read_only=OFF; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO app.t VALUES (1,'base')"
CONF=$MDB_WORK/lifeboat.conf
mdb_config a b >"$CONF"
lb() { "$LIFEBOAT" -c "$CONF" "$@"; }
# sleeping N: N sessions on a hold the administrator's lock (SELECT SLEEP).
sleeping() { [ "$(mdb_sql a "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)'")" = "$1" ]; }
# unlock: the administrator's session ends (client and server side).
unlock() {
	kill "$LOCKER" 2>/dev/null
	local id; id=$(mdb_sql a "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)' LIMIT 1")
	[ -n "$id" ] && mdb_sql a "KILL $id"
	wait_until 20 sleeping 0 || die "lock not released"
}

# The standby's datadir on its own small file system: what it holds now
# plus 24 MiB, less than the copy's margin (64 MiB over the source's size).
data=$(mdb_dir b)/data
used=$(du -sm "$data" | cut -f1)
if [ "$(id -u)" = 0 ]; then
	mv "$data" "$data.orig" && mkdir "$data" || die "move b's datadir"
	if mount -t tmpfs -o size=$((used + 24))m lifeboat-h9b "$data" 2>/dev/null; then
		MNT=$data
		cp -a --sparse=always "$data.orig/." "$data/" || die "copy b's datadir onto the tmpfs"
		rm -rf "$data.orig"
	else
		rmdir "$data" && mv "$data.orig" "$data" || die "put b's datadir back"
	fi
fi
if [ -n "$MNT" ]; then
	mdb_start b || die "start b"
	mdb_sql b "CREATE DATABASE own; CREATE TABLE own.x (id INT); INSERT INTO own.x VALUES (7)"
	out=$(lb db clone --method dump --force 2>&1); rc=$?
	echo "$out"
	[ $rc = 1 ] || die "clone onto a too small datadir: exit $rc"
	echo "$out" | grep -q "not enough disk space for the copy: $data/\? has [0-9]* MiB free.*nothing changed" ||
		die "no disk-space refusal"
	[ "$(mdb_sql b "SELECT id FROM own.x")" = 7 ] || die "refused clone changed b's data"
	[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "refused clone changed read_only"
	[ -z "$(mdb_sql b "SHOW SLAVE STATUS")" ] || die "refused clone configured replication"
	mount -o remount,size=$((used + 200))m "$data" || die "grow the tmpfs"
	lb db clone --method dump --force || die "clone with room enough"
	mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 30 || die "not replicated after the clone"
	mdb_sql b "STOP SLAVE; RESET SLAVE ALL"
else
	echo "no tmpfs mount here (needs root): disk-space case skipped"
	mdb_start b || die "start b"
fi

# The stall: an administrator holds a write lock on the source, so the dump's
# FLUSH TABLES WITH READ LOCK waits and no byte moves.
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port a)" -ulifeboat -p"$MDB_PASS" \
	-e "LOCK TABLES app.t WRITE; SELECT SLEEP(120)" >/dev/null 2>&1 &
LOCKER=$!
lb_track_pid $LOCKER
wait_until 20 sleeping 1 || die "lock not taken"
t0=$(lb_now_ms)
out=$(LIFEBOAT_CLONE_STALL_S=3 timeout 100 "$LIFEBOAT" -c "$CONF" db clone --method dump --force 2>&1); rc=$?
secs=$(( ($(lb_now_ms) - t0) / 1000 ))
echo "$out"
[ $rc = 124 ] && die "clone hung on a stalled pump"
[ $rc = 1 ] || die "stalled clone: exit $rc"
echo "$out" | grep -q "no progress for 3 s: mariadb-dump stalled (both killed" || die "stall not reported"
[ "$secs" -lt 60 ] || die "stalled clone took $secs s with a 3 s deadline"
pgrep -f "mariadb-dump.*$(mdb_port a)" >/dev/null && die "mariadb-dump left running"
unlock
# Run again: it fixes what the stalled one left.
lb db clone --method dump --force || die "clone after the stall"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 1 30 || die "not replicated after the re-run"

# The physical clone: mariadb-backup streams the files, then waits for its
# backup locks behind the same LOCK TABLES: the stream stalls half-way.
mdb_config a b "start_command = bash $ROOT/tests/lib/mariadb.sh start $(mdb_dir b)" >"$MDB_WORK/backup.conf"
mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$(mdb_port a)" -ulifeboat -p"$MDB_PASS" \
	-e "LOCK TABLES app.t WRITE; SELECT SLEEP(120)" >/dev/null 2>&1 &
LOCKER=$!
lb_track_pid $LOCKER
wait_until 20 sleeping 1 || die "lock not taken (backup)"
t0=$(lb_now_ms)
out=$(LIFEBOAT_CLONE_STALL_S=3 timeout 100 "$LIFEBOAT" -c "$MDB_WORK/backup.conf" db clone --method backup --force 2>&1); rc=$?
secs=$(( ($(lb_now_ms) - t0) / 1000 ))
echo "$out"
[ $rc = 124 ] && die "backup clone hung on a stalled pump"
[ $rc = 1 ] || die "stalled backup clone: exit $rc"
echo "$out" | grep -q "no progress for 3 s: mariadb-backup stalled (both killed" || die "backup stall not reported"
[ "$secs" -lt 80 ] || die "stalled backup clone took $secs s with a 3 s deadline"
pgrep -f "mariadb-backup.*--port=$(mdb_port a)" >/dev/null && die "mariadb-backup left running"
# It had replaced nothing: the standby runs again on its own data, as found.
echo "$out" | grep -q "is as it was and the standby is running again" || die "standby not restarted"
echo "$out" | grep -q "unfinished copy" && die "an untouched standby called an unfinished copy"
[ "$(mdb_sql b "SELECT v FROM app.t WHERE id = 1")" = base ] || die "standby's data after the stalled backup"
[ "$(mdb_sql b "SELECT @@read_only")" = 1 ] || die "standby writable after the stalled backup"
unlock
"$LIFEBOAT" -c "$MDB_WORK/backup.conf" db clone --method backup --force || die "backup clone after the stall"
mdb_sql a "INSERT INTO app.t VALUES (2,'after')"
mdb_wait_value b "SELECT COUNT(*) FROM app.t" 2 30 || die "not replicated after the backup re-run"
echo PASS
