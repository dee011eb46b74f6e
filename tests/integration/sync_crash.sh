#!/usr/bin/env bash
# kill -9 of either side in the middle of a large file: no partial file
# ever has its final name on the target (rsync's temporary names, serve's
# staging directory for the tar stream), and a restart converges.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh tar
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
LSRC=$T/lsrc LDST=$T/ldst RSRC=$T/rsrc RDST=$T/remote/rdst SSRC=$T/ssrc SDST=$T/remote/sdst
mkdir -p "$LSRC" "$RSRC" "$SSRC"
# bwlimit: a big file takes seconds, long enough to be killed in flight.
sync_conf "$T/lb.conf" loc "$LSRC" "$LDST" delay=0 bwlimit=150000
sync_conf_add "$T/lb.conf" rem "$RSRC" "$SSH_TARGET:$RDST" delay=0 bwlimit=150000 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
sync_conf_add "$T/lb.conf" str "$SSRC" "$SSH_TARGET:$SDST" delay=1 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle loc 30 && wait_idle rem 30 && wait_idle str 30 || fail "startup did not reach idle"

# Every file under its final name on the target is a whole copy of the
# source's (or absent); nothing else (no temporary name) is in the tree.
no_partial() {
	local src=$1 dst=$2 f rel
	while IFS= read -r -d '' f; do
		rel=${f#"$dst"/}
		case $rel in .lifeboat-history/*) continue ;; esac
		[ -f "$src/$rel" ] || fail "$rel is on the target, not on the source"
		cmp -s "$f" "$src/$rel" || fail "$rel is on the target but partial ($(stat -c %s "$f") of $(stat -c %s "$src/$rel") bytes)"
	done < <(find "$dst" -type f -print0)
}
kill_matching() { # PARENT PATTERN: kill -9 the descendants of PARENT whose command line has PATTERN
	local p n=0
	for p in $(_lb_descendants "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" && kill -9 "$p" && n=$((n + 1))
	done
	[ $n -gt 0 ]
}
# rsync writes into the history's staging area (a file over 64 MiB: a
# checked run's staging directory, as .big.bin.XXXXXX), then it is moved
# into place.
temp_file_in() { find "$1/.lifeboat-history" -name '*big.bin.*' -size +1M 2>/dev/null | grep -q .; }

# 1. The sending side: the daemon and its rsync, killed mid-file.
head -c 800000000 /dev/zero | tr '\0' 'a' >"$T/big.bin"
mv "$T/big.bin" "$LSRC/big.bin"
wait_until 30 temp_file_in "$LDST" || fail "no transfer of big.bin seen in flight"
victims="$SYNC_PID $(_lb_descendants "$SYNC_PID")" # the daemon first: it spawns nothing after
for p in $victims; do kill -9 "$p" 2>/dev/null; done
wait "$SYNC_PID" 2>/dev/null
# Gone: every process killed, and none left listening on the daemon's
# control socket (a new daemon refuses to start while one is).
sock_holders() { ss -xlpn 2>/dev/null | grep -F "$T/state/sync" || true; }
gone() {
	local p
	for p in $victims; do _lb_alive "$p" && return 1; done
	[ -z "$(sock_holders)" ]
}
wait_until 15 gone || fail "the killed daemon's processes are still there: $(sock_holders)"
no_partial "$LSRC" "$LDST"
start_sync "$T/lb.conf"
assert_trees_equal "$LSRC" "$LDST" 60
wait_idle rem 30 || fail "rem not idle after the restart"

# 2. The receiving side: rsync's server under serve, killed mid-file.
head -c 800000000 /dev/zero | tr '\0' 'b' >"$T/big.bin"
mv "$T/big.bin" "$RSRC/big.bin"
wait_until 30 temp_file_in "$RDST" || fail "no transfer of big.bin seen in flight over ssh"
kill_matching "$SSHD_PID" " --server " || fail "no rsync server to kill"
no_partial "$RSRC" "$RDST"
assert_trees_equal "$RSRC" "$RDST" 90

# 3. The tar stream's receiving end (serve tar-x), killed mid-stream: the
#    staging directory holds what arrived, no final name does.
mkdir "$T/tree"
for i in $(seq 1 80); do head -c 4000000 /dev/zero | tr '\0' "$((i % 10))" >"$T/tree/f$i"; done
mv "$T/tree" "$SSRC/tree"
wait_until 30 eval 'find "$SDST/.lifeboat-history" -path "*/.incoming-*/tree/*" -size +1M 2>/dev/null | grep -q .' ||
	fail "no tar stream seen in flight"
# The whole receiving side: every lifeboat serve and the tar it runs.
kill_matching "$SSHD_PID" "lifeboat serve" || fail "no lifeboat serve to kill"
kill_matching "$SSHD_PID" "/.incoming-" || true
[ ! -e "$SDST/tree" ] || no_partial "$SSRC" "$SDST"
assert_trees_equal "$SSRC" "$SDST" 90

# 4. The tar stream's sending side (the daemon, its tar -c and ssh), killed
#    mid-stream: serve tar-x sees the stream end without the sender's word
#    that the archive is whole, and moves nothing of it into place.
mkdir "$T/tree2"
for i in $(seq 1 80); do head -c 4000000 /dev/zero | tr '\0' "$((i % 7))" >"$T/tree2/g$i"; done
mv "$T/tree2" "$SSRC/tree2"
wait_until 30 eval 'find "$SDST/.lifeboat-history" -path "*/.incoming-*/tree2/*" -size +1M 2>/dev/null | grep -q .' ||
	fail "no tar stream of tree2 seen in flight"
victims="$SYNC_PID $(_lb_descendants "$SYNC_PID")" # the daemon first: it spawns nothing after
for p in $victims; do kill -9 "$p" 2>/dev/null; done
wait "$SYNC_PID" 2>/dev/null
wait_until 15 gone || fail "the killed daemon's processes are still there: $(sock_holders)"
# serve on the target notices the end of its stdin and stops.
serve_tarx() { local p; for p in $(_lb_descendants "$SSHD_PID"); do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "serve tar-x" && return 0; done; return 1; }
wait_until 15 eval '! serve_tarx' || fail "serve tar-x did not end"
[ ! -e "$SDST/tree2" ] || no_partial "$SSRC" "$SDST"
start_sync "$T/lb.conf"
assert_trees_equal "$SSRC" "$SDST" 90
stop_sync || fail "sync did not stop cleanly"
pass
