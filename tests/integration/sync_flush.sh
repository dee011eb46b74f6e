#!/usr/bin/env bash
# lifeboat flush: the barrier. After a burst of every kind of change (new
# trees, renames, deletes, appends, chmod, a file still open for writing),
# the target equals the source the instant flush returns 0, to a local
# target and over ssh, with a `delay` far longer than the test waits (the
# flush does not wait for it). A flush that cannot finish returns 1 and
# names what is pending; no daemon is said clearly.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

SRC=$T/src LOCAL=$T/local-dst REMOTE=$T/remote/dst
mkdir -p "$SRC/keep/sub"
for i in $(seq 1 20); do echo "base $i" >"$SRC/keep/sub/f$i"; done
CONF=$T/lb.conf
sync_conf "$CONF" near "$SRC" "$LOCAL" delay=30
sync_conf_add "$CONF" far "$SRC" "$SSH_TARGET:$REMOTE" delay=30 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"

# No daemon: flush says so and fails.
rc=0; out=$("$LIFEBOAT" -c "$CONF" flush --timeout 5 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "no sync daemon is running" <<<"$out" || fail "flush without a daemon: exit $rc: $out"
# Nothing configured to sync: nothing to wait for (a database-only node).
printf '[lifeboat]\nstate_dir = %s\nlog = stderr\n' "$T/state" >"$T/nosync.conf"
"$LIFEBOAT" -c "$T/nosync.conf" flush --timeout 5 || fail "flush without any [sync] failed"
rc=0; out=$("$LIFEBOAT" -c "$CONF" flush nosuch 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "nosuch" <<<"$out" || fail "flush of an unknown sync: exit $rc: $out"

start_sync "$CONF"
wait_idle near 30 && wait_idle far 30 || fail "startup passes did not reach idle"
sock=$(ls "$T"/state/sync*.sock) || fail "no control socket in the state directory"
[ "$(stat -c %a "$sock")" = 600 ] || fail "control socket mode $(stat -c %a "$sock"), not 600"

# burst N: one round of every kind of change.
burst() {
	local n=$1 i
	mkdir -p "$SRC/tree$n/a/b"
	for i in $(seq 1 150); do echo "t$n $i" >"$SRC/tree$n/a/b/f$i"; done
	echo "append $n" >>"$SRC/keep/sub/f1"
	chmod 0600 "$SRC/keep/sub/f2"; chmod 0644 "$SRC/keep/sub/f2"; chmod "6$((n % 8))0" "$SRC/keep/sub/f3"
	mv "$SRC/keep/sub/f$((4 + n))" "$SRC/keep/sub/moved$n"
	rm -f "$SRC/keep/sub/f$((10 + n))"
	[ "$n" -gt 1 ] && mv "$SRC/tree$((n - 1))" "$SRC/renamed$((n - 1))"
	[ "$n" -gt 2 ] && rm -rf "$SRC/renamed$((n - 2))"
	echo "new $n" >"$SRC/new$n"
}

# flush_then_compare WHAT DST: flush, then compare at once (no waiting).
flush_then_compare() {
	local t0 t1
	t0=$(lb_now_ms)
	out=$("$LIFEBOAT" -c "$CONF" flush --timeout 60 2>&1) || fail "$1: flush failed: $out"
	t1=$(lb_now_ms)
	trees_equal "$SRC" "$LOCAL" || { echo "$TREES_DIFF" >&2; fail "$1: local target differs right after flush"; }
	trees_equal "$SRC" "$REMOTE" || { echo "$TREES_DIFF" >&2; fail "$1: ssh target differs right after flush"; }
	echo "$1: flush took $((t1 - t0)) ms"
	# It did not wait for the 30 s delay.
	[ $((t1 - t0)) -lt 25000 ] || fail "$1: flush waited for the delay ($((t1 - t0)) ms)"
}

for n in 1 2 3; do
	burst "$n"
	flush_then_compare "burst $n"
done

# A file still open for writing is held back; the flush waits for it and
# ships what was written before the call.
exec 7>"$SRC/open.log"
echo "line one" >&7
flush_then_compare "open file"
exec 7>&-

# Only the named sync; every kind of change again.
burst 4
"$LIFEBOAT" -c "$CONF" flush near --timeout 60 || fail "flush near failed"
trees_equal "$SRC" "$LOCAL" || { echo "$TREES_DIFF" >&2; fail "named flush: local target differs"; }

# The target goes away: flush times out, exit 1, naming the sync and what
# is pending.
stop_sshd
echo "while down" >"$SRC/down"
rc=0; out=$("$LIFEBOAT" -c "$CONF" flush far --timeout 3 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "flush with the target down: exit $rc: $out"
grep -q "\[sync far\] [1-9][0-9]* pending" <<<"$out" || fail "flush timeout does not name what is pending: $out"
# A flush waiting across a reload (the syncs restart with a startup pass)
# still waits for the target: it must not answer while the target is away.
"$LIFEBOAT" -c "$CONF" flush far --timeout 120 >"$T/flush-bg.out" 2>&1 &
FLUSH=$!
lb_track_pid "$FLUSH"
echo "; reloaded" >>"$CONF"
"$LIFEBOAT" -c "$CONF" reload || fail "reload failed"
if wait_until 3 eval '! kill -0 "$FLUSH" 2>/dev/null'; then
	fail "a waiting flush answered across a reload with the target down: $(cat "$T/flush-bg.out")"
fi
restart_sshd || fail "sshd did not come back"
wait "$FLUSH" || fail "the flush waiting across the reload failed: $(cat "$T/flush-bg.out")"
"$LIFEBOAT" -c "$CONF" flush --timeout 90 || fail "flush after the target came back failed"
trees_equal "$SRC" "$REMOTE" || { echo "$TREES_DIFF" >&2; fail "target differs after the flush that followed the outage"; }
stop_sync || fail "sync did not stop cleanly"
[ -z "$(ls "$T"/state/sync*.sock 2>/dev/null)" ] || fail "control socket left behind by a clean stop"
pass
