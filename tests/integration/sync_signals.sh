#!/usr/bin/env bash
# Signals as the SPEC says: SIGUSR1 a full pass now (repairs a target
# changed behind our back), SIGHUP reloads the configuration and reopens
# the log (logrotate), a bad reload keeps the running configuration,
# SIGTERM stops cleanly with every child reaped.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"

SRC=$T/src DST=$T/dst
mkdir -p "$SRC" && echo one >"$SRC/one"
mkdir -p "$T/state"
write_conf() {
	printf '[lifeboat]\nstate_dir = %s\nlog = %s\n\n[sync www]\nsource = %s\ntarget = %s\ndelay = 0\n%s\n' \
		"$T/state" "$T/lifeboat.log" "$SRC" "$DST" "${1:-}" >"$T/lb.conf"
}
write_conf
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup pass did not reach idle"
assert_trees_equal "$SRC" "$DST" 5
grep -q "startup pass done" "$T/lifeboat.log" || fail "log file not written"

# SIGUSR1: someone damaged the target; a full pass repairs it.
echo damaged >"$DST/one"
echo extra >"$DST/extra"
passes=$(status_field www full_passes)
kill -USR1 "$SYNC_PID"
wait_field_ge www full_passes $((passes + 1)) 10 || fail "SIGUSR1 did not start a full pass"
assert_trees_equal "$SRC" "$DST" 10

# SIGHUP from logrotate, configuration unchanged: the log is reopened and
# no full pass is started.
mv "$T/lifeboat.log" "$T/lifeboat.log.0"
passes=$(status_field www full_passes)
kill -HUP "$SYNC_PID"
wait_until 10 grep -q "log reopened" "$T/lifeboat.log" || fail "SIGHUP did not reopen the log"
[ "$(status_field www full_passes)" = "$passes" ] || fail "an unchanged configuration caused a full pass"

# SIGHUP: logrotate moved the log; a new configuration excludes *.tmp.
mv "$T/lifeboat.log" "$T/lifeboat.log.1"
write_conf "exclude = *.tmp"
kill -HUP "$SYNC_PID"
wait_until 10 grep -q "configuration reloaded" "$T/lifeboat.log" || fail "no reload logged in the reopened log"
wait_idle www 20 || fail "not idle after the reload"
echo scratch >"$SRC/scratch.tmp"
echo keep >"$SRC/keep.txt"
wait_until 10 test -f "$DST/keep.txt" || fail "change after reload not shipped"
wait_idle www 10
[ ! -e "$DST/scratch.tmp" ] || fail "the reloaded exclude is not applied"

# A broken configuration on SIGHUP: refused, the old one keeps running.
printf '[lifeboat]\nbogus_key = 1\n' >"$T/lb.conf"
kill -HUP "$SYNC_PID"
wait_until 10 grep -q "reload refused" "$T/lifeboat.log" || fail "bad reload not refused"
echo after-bad-reload >"$SRC/after"
wait_until 10 test -f "$DST/after" || fail "sync stopped working after a refused reload"
kill -0 "$SYNC_PID" || fail "daemon died on a bad reload"

# SIGTERM: exit 0, no rsync or ssh child left behind.
kids=$(_lb_descendants "$SYNC_PID" | tr '\n' ' ')
[ -n "$kids" ] || fail "expected primed rsync children before SIGTERM"
kill -TERM "$SYNC_PID"
rc=0; wait "$SYNC_PID" || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
for k in $kids; do
	_lb_alive "$k" && fail "child $k still running after SIGTERM"
done
pass
