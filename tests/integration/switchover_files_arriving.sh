#!/usr/bin/env bash
# Switchover with file sync daemons on both nodes:
# 1. Ctrl-C (SIGINT) on a switchover whose pre_hook hangs ends the hook
#    too (it runs in its own process group, which the terminal's signal
#    never reaches), and nothing was changed: the primary still writes.
# 2. Run again while the application is still writing files on the old
#    primary: every file it wrote before its database was fenced is on the
#    new primary when the switchover returns (the files step is the old
#    primary's flush barrier), new trees in flight in the tar stream too.
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
mkdir -p "$T/hooks"
printf '#!/bin/sh\necho $$ >%s\nexec sleep 300\n' "$T/hook.pid" >"$T/hooks/pre"
chmod +x "$T/hooks/pre"
CLUSTER_EXTRA=("pre_hook = $T/hooks/pre")
CLUSTER_SYNC=1
cluster_up || fail "cluster setup"
cluster_sync_start || fail "sync daemons did not start"

# 1. Interrupted while its pre_hook hangs.
node_bg dr env --default-signal=INT lifeboat switchover --yes >"$T/sw-int.out" 2>&1
SW=$!
lb_track_pid "$SW"
wait_until 60 test -s "$T/hook.pid" || fail "pre_hook did not start: $(cat "$T/sw-int.out")"
HOOK=$(cat "$T/hook.pid")
kill -INT "$SW"
wait_until 10 eval '! kill -0 "$SW" 2>/dev/null' || fail "switchover did not end on SIGINT"
wait_until 10 eval '! kill -0 "$HOOK" 2>/dev/null' || fail "its pre_hook (pid $HOOK) runs on after Ctrl-C"
[ "$(sql_p "SELECT @@read_only")" = 0 ] || fail "the interrupted switchover fenced the primary"

# 2. Files still arriving. The application writes a new tree of files after
# each committed transaction, and stops at its first failed one (the fence).
printf '#!/bin/sh\nexit 0\n' >"$T/hooks/pre"
app() {
	local i=1 j
	while app_vip "INSERT INTO app.t VALUES ($i, 'w')" 2>/dev/null; do
		mkdir -p "$T/oslo/www/t$i"
		for j in $(seq 1 80); do echo "$i $j" >"$T/oslo/www/t$i/f$j"; done
		echo "t$i $(lb_now_ms)" >>"$T/written"
		i=$((i + 1))
	done
}
: >"$T/written"
app &
APP=$!
lb_track_pid "$APP"
wait_until 30 eval '[ "$(wc -l <"$T/written")" -ge 5 ]' || fail "the application does not write"
lb_d switchover --yes >"$T/sw.out" 2>&1 || { cat "$T/sw.out"; fail "switchover failed"; }
grep -q "files.*lifeboat flush there" "$T/sw.out" || fail "files step did not flush the old primary: $(cat "$T/sw.out")"
# Compared as the switchover returns, no waiting for stragglers: every tree
# complete before the files step started (the journal says when).
j=$(ls "$STATE_D"/failover.journal* | tail -n 1)
files_ms=$(awk '$1 == "start" && $2 == "files" {printf "%d", $3 * 1000; exit}' "$j")
[ -n "$files_ms" ] || fail "no files step in $j"
missing=0 required=0
while read -r d at; do
	[ "$at" -lt "$files_ms" ] || continue
	required=$((required + 1))
	for j in $(seq 1 80); do
		[ "$(cat "$T/dr/www/$d/f$j" 2>/dev/null)" = "${d#t} $j" ] || { missing=$((missing + 1)); echo "missing $d/f$j" >&2; }
	done
done <"$T/written"
wait_until 30 eval '! kill -0 "$APP" 2>/dev/null' || fail "application did not stop at the fence"
echo "$required trees written before the files step, $missing files missing on the new primary"
[ "$required" -ge 5 ] || fail "only $required trees before the files step"
[ "$missing" = 0 ] || fail "$missing files written before the files step are not on the new primary"
pass
