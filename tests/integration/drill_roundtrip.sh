#!/usr/bin/env bash
# lifeboat drill on the DR node of a two-node cluster in network namespaces
# (sync daemons on both, two application tables, files in the synced
# tree): switchover to DR and back with verification; the JSON report
# (stdout), the record in STATE_DIR, the HTML page rendered by headless
# Chromium (the SVG timeline has one bar per step and is drawn). Refused:
# --crash without drill_allow_crash (exit 2), a drill on the primary node
# (exit 1). A standby that diverged (a row written on it behind
# replication's back) fails the first verification before anything is
# switched. A drill killed while it holds the replica at its snapshot
# leaves replication stopped; the next drill starts it again.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/sync.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
need arping rsync python3 chromium timeout
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"
cluster_sync_start || fail "sync daemons did not start"

# --crash is for labs only: refused before anything happens.
out=$(lb_d drill --crash 2>&1); rc=$?
[ $rc = 2 ] && echo "$out" | grep -q drill_allow_crash || fail "--crash not refused (exit $rc): $out"
# The drill runs on the DR node.
out=$(lb_p drill 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "the drill runs on the DR node" || fail "drill on the primary (exit $rc): $out"

sql_p "CREATE TABLE app.u (k VARCHAR(20) PRIMARY KEY, n INT);
	INSERT INTO app.u VALUES ('a', 1), ('b', 2), ('c', 3);
	INSERT INTO app.t VALUES (1, 'one'), (2, 'two')" || fail "rows"
for i in $(seq 1 20); do echo "file $i" >"$T/oslo/www/f$i"; done
mkdir -p "$T/oslo/www/sub dir" && echo x >"$T/oslo/www/sub dir/-x"
wait_until 30 eval '[ "$(find "$T/dr/www" -path "*/.lifeboat-history" -prune -o -type f -print | wc -l)" = 21 ]' || fail "files not replicated"

lb_d drill --json --report "$T/drill.html" >"$T/drill.json" 2>"$T/drill.err"; rc=$?
cat "$T/drill.err"
[ $rc = 0 ] || { cat "$T/drill.json"; fail "drill exit $rc"; }
python3 - "$T/drill.json" <<'PY' || fail "drill report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["failure"] is None, r
top = [s["name"] for s in r["steps"] if s["depth"] == 0]
assert top == ["verify_before", "switchover", "verify_on_dr", "switchback", "verify_after"], top
assert all(s["ok"] and s["seconds"] >= 0 for s in r["steps"]), r["steps"]
inner = [s["name"] for s in r["steps"] if s["depth"] == 1]
assert inner.count("fence") == 2 and inner.count("promote") == 2, inner
assert [(c["phase"], c["what"], c["ok"]) for c in r["checks"]] == [
    (p, w, True) for p in ("before", "on_dr", "after") for w in ("database", "files")], r["checks"]
assert "2 table(s): row counts and checksums equal on the primary oslo and its replica dr" in r["checks"][0]["detail"], r["checks"][0]
assert "on the primary dr and its replica oslo" in r["checks"][2]["detail"], r["checks"][2]
assert r["rpo"]["transactions_lost"] == 0, r["rpo"]
assert r["rto_s"] > 0 and r["write_block_s"] > 0 and r["write_block_back_s"] > 0, r
print("drill: RTO %.3f s (back %.3f s), write block %.3f s / %.3f s, lost %d tx, %d files pending, %.1f s in all"
      % (r["rto_s"], r["rto_back_s"], r["write_block_s"], r["write_block_back_s"],
         r["rpo"]["transactions_lost"], r["rpo"]["files_pending"], r["seconds"]))
PY
rec=$(ls "$STATE_D"/drill-*.json 2>/dev/null | head -1)
[ -n "$rec" ] && cmp -s "$rec" "$T/drill.json" || fail "drill not recorded in $STATE_D"
# The roles are as before: oslo primary, dr its replica.
[ "$(sql_p "SELECT @@read_only")" = 0 ] && [ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "roles after the drill"
[ "$(vip_holder)" = primary ] || fail "VIP: $(vip_holder)"

# The HTML page, rendered: one bar per step in the DOM, pixels drawn.
nsteps=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$T/drill.json")
chrome() {
	timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@" "file://$T/drill.html" 2>>"$T/chrome.err"
}
chrome --dump-dom >"$T/dom.html" || fail "chromium --dump-dom: $(tail -3 "$T/chrome.err")"
bars=$(grep -o '<rect class="bar ok' "$T/dom.html" | wc -l)
[ "$bars" = "$nsteps" ] || fail "rendered $bars bars for $nsteps steps"
grep -q 'id="timeline"' "$T/dom.html" || fail "no timeline in the DOM"
(cd "$T" && chrome --screenshot="$T/shot.png" --window-size=1200,900 >/dev/null) || fail "chromium --screenshot"
python3 "$LIFEBOAT_ROOT/tests/lib/png_colours.py" "$T/shot.png" 47,111,189 || fail "the timeline's bars are not drawn"

# A drill killed while it holds the replica at its snapshot (SQL thread
# stopped at the primary's GTID): the next drill starts replication again
# first, says so, and passes.
LIFEBOAT_FAILPOINT=drill-frozen lb_d drill >/dev/null 2>"$T/killed.err"; rc=$?
[ $rc = 137 ] || fail "the failpoint did not kill the drill (exit $rc): $(cat "$T/killed.err")"
# Slave_running: ON while both replication threads run.
replicating_d() { sql_d "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'Slave_running'"; }
[ "$(replicating_d)" = OFF ] || fail "the killed drill did not hold the replica: $(replicating_d)"
sql_p "INSERT INTO app.t VALUES (3, 'three')" || fail "row 3"
lb_d drill >"$T/again.out" 2>"$T/again.err"; rc=$?
[ $rc = 0 ] || { cat "$T/again.out" "$T/again.err"; fail "drill after the killed one: exit $rc"; }
grep -q "an interrupted drill had stopped replication on dr: started again" "$T/again.err" \
	|| fail "no word of the restart: $(cat "$T/again.err")"
[ "$(replicating_d)" = ON ] || fail "replication not running after the drill"
wait_until 30 eval '[ "$(sql_d "SELECT v FROM app.t WHERE id = 3" 2>/dev/null)" = three ]' || fail "row 3 not replicated"

# A diverged standby: the first verification fails, nothing is switched.
sql_d "SET sql_log_bin = 0; INSERT INTO app.u VALUES ('z', 26)" || fail "diverge"
lb_d drill >"$T/bad.out" 2>"$T/bad.err"; rc=$?
[ $rc = 1 ] || { cat "$T/bad.out" "$T/bad.err"; fail "diverged drill exit $rc"; }
grep -q "verification before: database: .*app.*u.* differs" "$T/bad.err" || fail "message: $(cat "$T/bad.err")"
grep -q "^drill on dr (peer oslo): FAIL" "$T/bad.out" || fail "text report: $(cat "$T/bad.out")"
[ "$(sql_p "SELECT @@read_only")" = 0 ] && [ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "roles changed by a failed drill"
pass
