#!/usr/bin/env bash
# failover killed after each step (and in the middle of some) and run again
# until it completes; two failovers at once (the second is refused while the
# first holds the lock). The primary stays up, so this is the --force path:
# fence over SQL, step-down of the old primary over ssh (VIP released there).
# Hooks: pre/post/dns get their arguments; a failing pre_hook aborts.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
command -v arping >/dev/null || skip "arping not installed"

mkdir -p "$T/hooks"
# pre_hook: logs its arguments, fails when told to, else waits (bounded)
# for $T/release so a test can hold a failover inside it.
{
	echo '#!/bin/bash'
	echo "echo \"\$*\" >>$T/pre.log"
	echo "[ -e $T/pre.fail ] && { echo 'pre_hook says no' >&2; exit 3; }"
	echo "for i in \$(seq 1 600); do [ -e $T/release ] && exit 0; sleep 0.05; done"
	echo "exit 4"
} >"$T/hooks/pre"
printf '#!/bin/bash\necho "$*" >>%s\n' "$T/post.log" >"$T/hooks/post"
printf '#!/bin/bash\necho "$*" >%s\n' "$T/dns.args" >"$T/hooks/dns"
chmod +x "$T/hooks/"*
CLUSTER_EXTRA=("pre_hook = $T/hooks/pre" "post_hook = $T/hooks/post" "dns_hook = $T/hooks/dns")
cluster_up || fail "cluster setup"
for i in $(seq 1 10); do app_vip "INSERT INTO app.t VALUES ($i, 'before')" || fail "write $i"; done
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 10 ]' || fail "not replicated"

# A failing pre_hook aborts before anything changes (without --force; the
# primary is made read-only so that a failover without --force is allowed).
touch "$T/pre.fail"
sql_p "SET GLOBAL read_only=ON"
out=$(lb_d failover --yes 2>&1); rc=$?
[ $rc = 1 ] || fail "failing pre_hook: exit $rc: $out"
echo "$out" | grep -q "pre_hook says no" || fail "hook stderr not reported: $out"
[ "$(sql_d "SELECT @@read_only")" = 1 ] || fail "promoted despite the pre_hook"
sql_p "SET GLOBAL read_only=OFF"
rm -f "$T/pre.fail"
rm -f "$STATE_D/failover.journal"   # that attempt is history

# Two at once: the first waits in its pre_hook holding the lock.
: >"$T/pre.log"
node_bg dr lifeboat failover --yes --force >"$T/first.out" 2>&1
FIRST=$!
lb_track_pid "$FIRST"
wait_until 20 grep -q . "$T/pre.log" || fail "first failover never reached its pre_hook"
FIRST_LB=$(cat "$STATE_D/failover.lock")
[ "$FIRST_LB" = "$FIRST" ] || fail "lock names pid $FIRST_LB, not $FIRST"
out=$(lb_d failover --yes --force 2>&1); rc=$?
echo "$out"
[ $rc = 1 ] || fail "second failover at once: exit $rc"
echo "$out" | grep -q "another failover or switchover (pid $FIRST_LB)" || fail "not refused by the lock: $out"
out=$(lb_d switchover --yes 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "another failover" || fail "switchover not refused by the lock: $out"
# The first is killed in the middle of its pre_hook (step started, not done).
kill -KILL "$FIRST_LB"; wait "$FIRST" 2>/dev/null
touch "$T/release"   # its orphaned hook ends too
grep -q "^start pre_hook" "$STATE_D/failover.journal" || fail "pre_hook start not journaled"

# Killed right after each step (":done") or inside it (":start"), resumed.
for at in pre_hook:done fence:start fence:done promote:start promote:done epoch:done vip:start \
	vip:done dns:done reverse_sync:done old_primary:start old_primary:done post_hook:done; do
	LIFEBOAT_TEST_KILL_AT=$at lb_d failover --yes --force >"$T/run.out" 2>&1; rc=$?
	[ $rc = 137 ] || { cat "$T/run.out"; fail "run killed at $at: exit $rc"; }
	grep -q "resuming the interrupted failover" "$T/run.out" || fail "$at: did not resume"
	echo "killed at $at: $(tail -n 1 "$STATE_D/failover.journal")"
done
lb_d failover --yes --force --json >"$T/report.json" 2>"$T/last.err" || { cat "$T/last.err"; fail "final run"; }
cat "$T/last.err"
python3 - "$T/report.json" <<'PY' || fail "report wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["complete"] is True and r["epoch"] == 1, r
steps = {s["name"]: s for s in r["steps"]}
assert len(steps) == 10 and all(s["ended"] for s in steps.values()), r["steps"]
assert "read_only=ON" in steps["fence"]["note"], steps["fence"]
assert "stepped down" in steps["old_primary"]["note"], steps["old_primary"]
assert r["rpo"]["database"]["transactions_lost"] == 0, r["rpo"]
PY
# Effects: each exactly once where it matters.
[ "$(sql_d "SELECT COUNT(*) FROM lifeboat.epoch")" = 1 ] || fail "promoted more than once"
[ "$(cat "$STATE_D/epoch")" = 1 ] || fail "epoch file"
[ "$(sql_d "SELECT @@read_only")" = 0 ] || fail "dr not writable"
[ "$(sql_p "SELECT @@read_only")" = 1 ] || fail "old primary not fenced"
[ "$(vip_holder)" = dr ] || fail "VIP: $(vip_holder)"
[ "$(cat "$STATE_D/role")" = primary ] && [ "$(cat "$STATE_P/role")" = standby ] || fail "role files"
[ "$(cat "$T/dns.args")" = "dr $LB_NET.2" ] || fail "dns_hook args: $(cat "$T/dns.args")"
grep -qx "pre dr $LB_NET.2" "$T/pre.log" || fail "pre_hook args: $(cat "$T/pre.log")"
grep -qx "post dr $LB_NET.2" "$T/post.log" || fail "post_hook args: $(cat "$T/post.log")"
app_vip "INSERT INTO app.t VALUES (11, 'after')" || fail "write via VIP after failover"
[ "$(app_vip "SELECT COUNT(*) FROM app.t")" = 11 ] || fail "rows lost"
# And again: nothing to do.
lb_d failover --yes 2>&1 | grep -q "nothing to do" || fail "completed failover not recognised"
pass
