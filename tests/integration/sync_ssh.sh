#!/usr/bin/env bash
# Live sync over ssh to a private sshd: one ssh login for the whole run
# (ControlMaster), every change arrives, renames send no file content again,
# hostile names never reach a shell on either side.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T"
start_sshd || fail "cannot start sshd"

SRC=$T/src DST=$T/remote/dst
mkdir -p "$SRC/sub"
echo hello >"$SRC/sub/a"
sync_conf "$T/lb.conf" www "$SRC" "$SSH_TARGET:$DST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup pass over ssh did not reach idle"
assert_trees_equal "$SRC" "$DST" 5

# Ordinary changes and hostile names.
echo new >"$SRC/new"
chmod 640 "$SRC/sub/a"
make_weird_names "$SRC/weird"
ln -s "weird/with space" "$SRC/link"
assert_trees_equal "$SRC" "$DST" 15
[ ! -e "$T/pwned" ] && [ ! -e "$T/remote/pwned" ] && [ ! -e "$HOME/pwned" ] && [ ! -e /pwned ] ||
	fail "a file name was run by a shell"

# A big file, then renames of it and of a directory: no content re-sent.
head -c 8000000 /dev/urandom >"$SRC/big.bin"
mkdir -p "$SRC/photos" && head -c 2000000 /dev/urandom >"$SRC/photos/p1.jpg"
assert_trees_equal "$SRC" "$DST" 20
wait_idle www 10 || fail "not idle after the big files"
wait_until 2 false || true # let the coalesced status write land
before=$(status_field www bytes_shipped)
mv "$SRC/big.bin" "$SRC/big-renamed.bin"
mv "$SRC/photos" "$SRC/photos-2026"
mv "$SRC/weird" "$SRC/sub/weird-moved"
assert_trees_equal "$SRC" "$DST" 15
wait_idle www 10 || fail "not idle after the renames"
wait_until 2 false || true
after=$(status_field www bytes_shipped)
sent=$((after - before))
echo "bytes shipped for the renames: $sent"
[ "$sent" -lt 200000 ] || fail "renames re-sent content: $sent bytes (files were 10 MB)"

# One ssh login for everything: sshd forks one process per connection,
# and the ControlMaster carries every rsync and rename over its one.
conns=$(cat /proc/"$SSHD_PID"/task/*/children 2>/dev/null | wc -w)
echo "ssh connections open: $conns"
[ "$conns" -le 1 ] || fail "$conns ssh connections: the connection is not reused"
stop_sync || fail "sync did not stop cleanly"

# Killed with SIGKILL, the daemon cannot clean up: its ssh master and
# primed rsyncs must still end by themselves, and the sessions close.
start_sync "$T/lb.conf"
wait_idle www 20 || fail "restart did not reach idle"
kids=$(_lb_descendants "$SYNC_PID" | tr '\n' ' ')
[ -n "$kids" ] || fail "no children to watch"
kill -9 "$SYNC_PID"
gone() { local k; for k in $kids; do _lb_alive "$k" && return 1; done; return 0; }
wait_until 15 gone || fail "children outlived the SIGKILLed daemon: $kids"
wait_until 15 eval '[ "$(cat /proc/"$SSHD_PID"/task/*/children 2>/dev/null | wc -w)" = 0 ]' ||
	fail "ssh sessions stayed open after the daemon died"
pass
