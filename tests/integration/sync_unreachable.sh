#!/usr/bin/env bash
# Target unreachable, twice: sshd stopped, then a network partition (the DR
# host in its own network namespace, its link cut). The daemon keeps
# running, keeps every change, says "retrying", and converges when the
# target is back.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/netns.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh ip
need_root
lb_setup
cd "$T"

netns_create dr || fail "cannot create a network namespace"
netns_link root "$LB_NET.1" dr "$LB_NET.2" || fail "cannot link the namespace"
start_sshd_in_ns dr "$LB_NET.2" || fail "cannot start sshd in the namespace"

SRC=$T/src DST=$T/dr/www
mkdir -p "$SRC" && echo start >"$SRC/start"
sync_conf "$T/lb.conf" www "$SRC" "$SSH_TARGET:$DST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS -o ConnectTimeout=2"
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup pass did not reach idle"
assert_trees_equal "$SRC" "$DST" 5

# 1. sshd goes away.
stop_sshd
for i in $(seq 1 20); do echo "while down $i" >"$SRC/down-$i"; done
mkdir -p "$SRC/newdir/x" && echo y >"$SRC/newdir/x/y"
mv "$SRC/start" "$SRC/started"
wait_until 20 eval '[ "$(status_field www state)" = retrying ]' || fail "state is not retrying"
kill -0 "$SYNC_PID" || fail "the daemon exited while the target was down"
[ "$(status_field www pending)" -gt 0 ] || fail "pending changes not counted while down"
[ -n "$(status_field www last_error)" ] || fail "no last_error while down"
restart_sshd || fail "cannot restart sshd"
assert_trees_equal "$SRC" "$DST" 90
wait_idle www 10 || fail "not idle after the target came back"

# 2. network partition: packets vanish.
link_cut root dr
for i in $(seq 1 20); do echo "partitioned $i" >"$SRC/part-$i"; done
rm "$SRC/down-1"
wait_until 60 eval '[ "$(status_field www state)" = retrying ]' || fail "state is not retrying during the partition"
age=$(status_field www oldest_pending_age)
echo "file RPO while partitioned: $age s"
kill -0 "$SYNC_PID" || fail "the daemon exited during the partition"
link_up root dr || fail "cannot restore the link"
assert_trees_equal "$SRC" "$DST" 120
wait_idle www 10 || fail "not idle after the partition healed"
grep -q "target unreachable" "$SYNC_LOG" || fail "the outage was not logged"
stop_sync || fail "sync did not stop cleanly"
pass
