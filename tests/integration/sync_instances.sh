#!/usr/bin/env bash
# One daemon per sync (the lifeboat-sync@NAME units): every instance writes
# the one STATE_DIR/status.json, and none hides the others. Each entry
# names its daemon; a stopped instance shows as not running while the
# others keep running; `lifeboat status` says so.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T" || fail "cannot cd to $T"

mkdir -p "$T/a" "$T/b"
echo a >"$T/a/file"
echo b >"$T/b/file"
sync_conf "$T/lb.conf" www "$T/a" "$T/a-dst" delay=0
sync_conf_add "$T/lb.conf" uploads "$T/b" "$T/b-dst" delay=0

"$LIFEBOAT" -c "$T/lb.conf" sync www >>"$T/www.log" 2>&1 &
WWW=$!
lb_track_pid "$WWW"
"$LIFEBOAT" -c "$T/lb.conf" sync uploads >>"$T/uploads.log" 2>&1 &
UPL=$!
lb_track_pid "$UPL"

wait_idle www 20 || fail "www did not reach idle: $(cat "$T/www.log")"
wait_idle uploads 20 || fail "uploads did not reach idle: $(cat "$T/uploads.log")"

# Both daemons keep writing; both entries stay, each with its own pid.
echo more >"$T/a/second"
echo more >"$T/b/second"
assert_trees_equal "$T/a" "$T/a-dst" 10
assert_trees_equal "$T/b" "$T/b-dst" 10
_both_listed() {
	[ "$(status_field www pid)" = "$WWW" ] && [ "$(status_field uploads pid)" = "$UPL" ] &&
		[ "$(status_field www running)" = True ] && [ "$(status_field uploads running)" = True ]
}
wait_until 10 _both_listed || fail "status.json does not list both daemons: $(cat "$T/state/status.json")"

out=$("$LIFEBOAT" -c "$T/lb.conf" status 2>&1) || fail "status failed with both running: $out"
grep -q 'www' <<<"$out" && grep -q 'uploads' <<<"$out" || fail "status does not show both syncs: $out"
grep -q 'not running' <<<"$out" && fail "status calls a running daemon stopped: $out"

# Stop one instance: its entry stays, marked not running; the other runs on
# and its next write keeps that entry.
lb_kill_tree "$UPL" 10 || fail "uploads did not stop cleanly"
echo third >"$T/a/third"
assert_trees_equal "$T/a" "$T/a-dst" 10
_uploads_stopped() {
	[ "$(status_field uploads running)" = False ] && [ "$(status_field www running)" = True ]
}
wait_until 10 _uploads_stopped || fail "stopped instance not marked: $(cat "$T/state/status.json")"
top=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["running"], d["pid"])' "$T/state/status.json")
[ "$top" = "True $WWW" ] || fail "top-level running/pid should be the live daemon's: $top"
out=$("$LIFEBOAT" -c "$T/lb.conf" status 2>&1) || fail "status failed with one daemon running: $out"
grep 'uploads' <<<"$out" | grep -q 'its daemon is not running' || fail "status does not flag the stopped instance: $out"
grep 'www' <<<"$out" | grep -q 'not running' && fail "status flags the running instance: $out"

# Restarted, the instance takes its entry back.
"$LIFEBOAT" -c "$T/lb.conf" sync uploads >>"$T/uploads.log" 2>&1 &
UPL=$!
lb_track_pid "$UPL"
wait_until 20 _both_listed || fail "restarted instance not listed: $(cat "$T/state/status.json")"
pass
