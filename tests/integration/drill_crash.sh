#!/usr/bin/env bash
# lifeboat drill --crash on the DR node (lab setup, drill_allow_crash = yes):
# the primary's mariadbd is killed with SIGKILL by the lifeboat on its node
# (reached over peer_command), `lifeboat failover` promotes the DR side, and
# the promoted server holds every table as it was before the crash. A
# primary node whose configuration does not allow crashes is not killed.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
need arping rsync python3
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"
cluster_sync_start || fail "sync daemons did not start"
# One node's copy of the file allows it (a lab that allows crashes on one
# side only).
allow_crash() { sed -i 's/^log = stderr$/&\ndrill_allow_crash = yes/' "$(_node_dir "$1")/etc-lifeboat/lifeboat.conf"; }

sql_p "INSERT INTO app.t VALUES (1, 'one'), (2, 'two'), (3, 'three')" || fail "rows"
for i in 1 2 3; do echo "file $i" >"$T/oslo/www/f$i"; done
wait_until 30 eval '[ "$(find "$T/dr/www" -path "*/.lifeboat-history" -prune -o -type f -print | wc -l)" = 3 ]' || fail "files not replicated"

# Allowed here but not on the primary's node: nothing is killed.
allow_crash dr
lb_d drill --crash >"$T/no.out" 2>"$T/no.err"; rc=$?
[ $rc = 1 ] && grep -q "crash: killing the database on oslo failed.*drill_allow_crash" "$T/no.err" ||
	{ cat "$T/no.out" "$T/no.err"; fail "crash not refused by the primary's node (exit $rc)"; }
[ "$(sql_p "SELECT @@read_only")" = 0 ] && [ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "roles changed"

allow_crash primary
lb_d drill --crash --json --report "$T/crash.html" >"$T/crash.json" 2>"$T/crash.err"; rc=$?
cat "$T/crash.err"
[ $rc = 0 ] || { cat "$T/crash.json"; fail "crash drill exit $rc"; }
python3 - "$T/crash.json" <<'PY' || fail "crash report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["operation"] == "drill-crash", r
top = [s["name"] for s in r["steps"] if s["depth"] == 0]
assert top == ["verify_before", "crash", "failover", "verify_on_dr"], top
assert "killed mariadbd pid" in r["steps"][1]["note"], r["steps"][1]
assert [(c["phase"], c["what"], c["ok"]) for c in r["checks"]] == [
    (p, w, True) for p in ("before", "on_dr") for w in ("database", "files")], r["checks"]
assert r["rpo"]["transactions_lost"] == 0, r["rpo"]
assert 0 < r["write_block_s"] <= r["rto_s"], r
print("crash drill: RTO %.3f s from the kill, writes blocked %.3f s, lost %d tx"
      % (r["rto_s"], r["write_block_s"], r["rpo"]["transactions_lost"]))
PY
grep -q 'class="bar ok' "$T/crash.html" || fail "no HTML report"
! mdb_pid_alive p || fail "the primary's mariadbd still runs"
[ "$(sql_d "SELECT @@read_only")" = 0 ] || fail "dr not writable"
[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 3 ] || fail "rows on dr"
pass
