#!/usr/bin/env bash
# No torn copies: the anchors' continuous-rewrite probe (a 1 MiB file
# rewritten in place every 40 ms for 10 s, the target copy read every
# 50 ms) finds no read holding two generations, for a local target and
# over ssh through the restricted key.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
LSRC=$T/lsrc LDST=$T/ldst RSRC=$T/rsrc RDST=$T/remote/rdst
mkdir -p "$LSRC" "$RSRC"
sync_conf "$T/lb.conf" loc "$LSRC" "$LDST" delay=0
sync_conf_add "$T/lb.conf" rem "$RSRC" "$SSH_TARGET:$RDST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle loc 30 && wait_idle rem 30 || fail "startup did not reach idle"
probe() {
	local out
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_probe.py" "$1/probe.bin" "$2/probe.bin" 10) ||
		fail "the probe failed: $out"
	echo "$3: $out"
	set -- $out
	[ "$2" -ge 50 ] || fail "$3: only $2 reads of the target copy"
	[ "$4" -eq 0 ] || fail "$3: $4 torn reads of the target copy"
}
probe "$LSRC" "$LDST" local
probe "$RSRC" "$RDST" ssh
# Once the writer stops, the last generation arrives whole.
assert_trees_equal "$LSRC" "$LDST" 15
assert_trees_equal "$RSRC" "$RDST" 15
stop_sync || fail "sync did not stop cleanly"
pass
