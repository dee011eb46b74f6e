#!/usr/bin/env bash
# A target over ssh to an IPv6 address: root@[::1]:/PATH. ssh gets the bare
# address, rsync the bracketed one; the startup pass, a change, a rename
# and a burst (the tar stream) all arrive.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1' || skip "no IPv6 loopback here"
start_sshd "" ::1 || fail "cannot start sshd on [::1]"

SRC=$T/src DST=$T/dst
mkdir -p "$SRC/old"
echo one >"$SRC/old/one"
sync_conf "$T/lb.conf" v6 "$SRC" "root@[::1]:$DST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle v6 20 || fail "startup pass did not reach idle: $(status_field v6 last_error)"
assert_trees_equal "$SRC" "$DST" 5
[ "$(status_field v6 target)" = "root@[::1]:$DST" ] || fail "status target: $(status_field v6 target)"

echo two >"$SRC/old/two"
mv "$SRC/old" "$SRC/renamed"
mkdir "$SRC/burst"
for i in $(seq 1 150); do echo "$i" >"$SRC/burst/f$i"; done
assert_trees_equal "$SRC" "$DST" 20
wait_idle v6 10 || fail "not idle: $(status_field v6 last_error)"
stop_sync || fail "sync did not stop cleanly"
pass
