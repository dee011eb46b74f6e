#!/usr/bin/env bash
# shellcheck disable=SC2119  # start_sshd/pass take optional arguments
# Self-test of the shared fixtures (tests/lib): if these are wrong, every
# integration test built on them is wrong.
set -euo pipefail
LIB=$(cd "$(dirname "$0")/../lib" && pwd)
# shellcheck source=tests/lib/common.sh
. "$LIB/common.sh"
# shellcheck source=tests/lib/sshd.sh
. "$LIB/sshd.sh"
# shellcheck source=tests/lib/netns.sh
. "$LIB/netns.sh"
lb_setup
need_root
need rsync ssh ssh-keygen unshare ip ss
[ -x /usr/sbin/sshd ] || skip "needs /usr/sbin/sshd"

# --- wait_until: succeeds, times out within bounds.
wait_until 1 true || fail "wait_until true"
t0=$(lb_now_ms)
if wait_until 0.3 false; then fail "wait_until false succeeded"; fi
dt=$(( $(lb_now_ms) - t0 ))
{ [ "$dt" -ge 280 ] && [ "$dt" -lt 1500 ]; } || fail "wait_until 0.3 false took $dt ms"

# --- trees_equal.
mkdir -p "$T/a/sub" "$T/b"
printf 'hello world\n' >"$T/a/sub/f"
printf 'x' >"$T/a/one"
ln -s sub/f "$T/a/link"
ln "$T/a/one" "$T/a/hard"
rsync -aHI "$T/a/" "$T/b/"
trees_equal "$T/a" "$T/b" || fail "equal trees reported different: $TREES_DIFF"
# same size, same mtime, different content
touch -r "$T/b/sub/f" "$T/ref"
printf 'hello WORLD\n' >"$T/b/sub/f"
touch -r "$T/ref" "$T/b/sub/f" "$T/b/sub"
if trees_equal "$T/a" "$T/b"; then fail "same-size same-mtime content change not detected"; fi
[[ $TREES_DIFF == *sub/f* ]] || fail "diff does not name sub/f: $TREES_DIFF"
rsync -aHI "$T/a/" "$T/b/"
trees_equal "$T/a" "$T/b" || fail "trees not equal after resync: $TREES_DIFF"
# extra file on the target
touch -r "$T/b" "$T/ref"
: >"$T/b/extra"
touch -r "$T/ref" "$T/b"
if trees_equal "$T/a" "$T/b"; then fail "extra file on target not detected"; fi
[[ $TREES_DIFF == *deleting*extra* ]] || fail "diff does not name extra: $TREES_DIFF"
rm "$T/b/extra"; touch -r "$T/ref" "$T/b"
trees_equal "$T/a" "$T/b" || fail "not equal after removing extra: $TREES_DIFF"
# missing file, broken hard link, mode change
chmod 600 "$T/b/one"
if trees_equal "$T/a" "$T/b"; then fail "mode change not detected"; fi
rsync -aHI "$T/a/" "$T/b/"
rm "$T/b/hard"; cp -p "$T/b/one" "$T/b/hard"
if trees_equal "$T/a" "$T/b"; then fail "lost hard link not detected"; fi
rsync -aHI "$T/a/" "$T/b/"
trees_equal "$T/a" "$T/b" || fail "not equal: $TREES_DIFF"
if trees_equal "$T/a" "$T/nonexistent"; then fail "missing target not detected"; fi
# assert_trees_equal fails (in a subshell, so this test goes on)
: >"$T/b/extra2"
if (assert_trees_equal "$T/a" "$T/b" 0.2) 2>/dev/null; then fail "assert_trees_equal passed on differing trees"; fi
rm "$T/b/extra2"
rsync -aHI "$T/a/" "$T/b/"
assert_trees_equal "$T/a" "$T/b" 1

# --- free_port: distinct, not listening.
p1=$(free_port); p2=$(free_port)
[ "$p1" != "$p2" ] || fail "free_port returned $p1 twice"
[ -d "$LB_LOCKDIR/port-$p1" ] || fail "port $p1 not reserved"

# --- lb_track_pid: a tracked process that ignores TERM is killed at exit
# (checked by a child test below), a tracked process is killed by lb_kill_tree.
sleep 100 & sp=$!
lb_track_pid $sp
lb_kill_tree $sp 2 || true
[ -d /proc/$sp ] && fail "lb_kill_tree left $sp alive"

# cleanup of a child test: runs the fixture in a separate bash, which starts
# a TERM-ignoring process and an sshd, then exits; all must be gone.
cat >"$T/child.sh" <<EOF
LB_TERM_TIMEOUT=1
. "$LIB/common.sh"; . "$LIB/sshd.sh"; . "$LIB/netns.sh"
lb_setup
echo "\$T" >"$T/child.T"
bash -c 'trap "" TERM; while :; do sleep 0.1; done' & lb_track_pid \$!
echo \$! >"$T/child.pid1"
start_sshd || exit 1
echo \$SSHD_PID >"$T/child.pid2"
netns_create x
echo \$(netns_name x) >"$T/child.ns"
exit 0
EOF
bash "$T/child.sh" || fail "child fixture failed"
for f in child.pid1 child.pid2; do
	pid=$(cat "$T/$f")
	[ -d "/proc/$pid" ] && fail "cleanup left PID $pid ($f) running"
done
[ -e "/run/netns/$(cat "$T/child.ns")" ] && fail "cleanup left netns $(cat "$T/child.ns")"
[ -e "$(cat "$T/child.T")" ] && fail "cleanup left $(cat "$T/child.T")"

# --- sshd: ssh in works and is fast (no slow ~/.bashrc), rsync over it works.
start_sshd || fail "start_sshd"
[ "$(cat "/proc/$SSHD_PID/comm")" = sshd ] || fail "SSHD_PID is not sshd"
# shellcheck disable=SC2086
out=$(ssh -i "$SSH_KEY" -p "$SSHD_PORT" $SSH_OPTS root@127.0.0.1 'echo ok') || fail "ssh failed: $(cat "$T"/ssh/sshd_*.log)"
[ "$out" = ok ] || fail "ssh printed '$out'"
best=999999
for _ in 1 2 3 4 5; do
	t0=$(lb_now_ms)
	$SSH_RSH "$SSH_TARGET" true
	dt=$(( $(lb_now_ms) - t0 )); [ $dt -lt $best ] && best=$dt
done
echo "ssh true: best of 5 = $best ms"
# On these machines a login costs ~150-300 ms (key exchange, delayed ACKs);
# the bound only catches something grossly wrong.  The real check of the
# inert ~/.bashrc is the next one.
[ $best -lt 1500 ] || fail "ssh true takes $best ms"
# the remote shell does not read the real ~/.bashrc
rc=$($SSH_RSH "$SSH_TARGET" 'cat ~/.bashrc 2>/dev/null | wc -c')
[ "$rc" = 0 ] || fail "remote ~/.bashrc not inert ($rc bytes)"
rm -rf "$T/b"; mkdir "$T/b"
rsync -aH -e "$SSH_RSH" "$T/a/" "$SSH_TARGET:$T/b/" || fail "rsync over ssh"
trees_equal "$T/a" "$T/b" || fail "rsync over ssh: $TREES_DIFF"

# stop (an open session dies with it) / restart on the same port
$SSH_RSH "$SSH_TARGET" 'sleep 60' & sess=$!
# shellcheck disable=SC2016
wait_until 5 eval '[ -n "$(_lb_descendants "$SSHD_PID")" ]' || fail "no ssh session"
stop_sshd
if $SSH_RSH -o ConnectTimeout=2 "$SSH_TARGET" true 2>/dev/null; then fail "ssh works after stop_sshd"; fi
wait_until 5 eval "! kill -0 $sess 2>/dev/null" || fail "open session survived stop_sshd"
wait $sess 2>/dev/null || true
restart_sshd || fail "restart_sshd"
$SSH_RSH "$SSH_TARGET" true || fail "ssh after restart_sshd"

# --- netns: link, down, cut, up; sshd inside a namespace.
need_netns
netns_create a
netns_create b
[[ $LB_NET =~ ^10\.231\.[0-9]+$ ]] || fail "LB_NET=$LB_NET"
netns_link a "$LB_NET.1" b "$LB_NET.2"
tcp_ok() { in_ns "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
start_sshd_in_ns b "$LB_NET.2" || fail "start_sshd_in_ns"
[ "$SSHD_ADDR" = "$LB_NET.2" ] || fail "SSHD_ADDR=$SSHD_ADDR"
tcp_ok a "$LB_NET.2" "$SSHD_PORT" || fail "no TCP from a to b"
# shellcheck disable=SC2086
in_ns a $SSH_RSH "root@$LB_NET.2" true || fail "ssh a -> b"
if command -v ping >/dev/null; then
	in_ns a ping -c1 -W1 "$LB_NET.2" >/dev/null || fail "ping a -> b"
fi
link_down a b
if tcp_ok a "$LB_NET.2" "$SSHD_PORT"; then fail "TCP works across a downed link"; fi
if command -v ping >/dev/null; then
	if in_ns a ping -c1 -W1 "$LB_NET.2" >/dev/null 2>&1; then fail "ping works across a downed link"; fi
fi
link_up a b
wait_until 5 tcp_ok a "$LB_NET.2" "$SSHD_PORT" || fail "no TCP after link_up"
link_cut a b
t0=$(lb_now_ms)
if tcp_ok a "$LB_NET.2" "$SSHD_PORT"; then fail "TCP works across a cut link"; fi
dt=$(( $(lb_now_ms) - t0 ))
[ $dt -ge 1500 ] || fail "cut link fails fast ($dt ms), expected a timeout"
link_up a b
wait_until 5 tcp_ok a "$LB_NET.2" "$SSHD_PORT" || fail "no TCP after link_up (cut)"
# root <-> namespace
net2=$(netns_subnet)
[ "$net2" != "$LB_NET" ] || fail "netns_subnet returned LB_NET again"
netns_link root "$net2.1" b "$net2.2"
start_sshd_in_ns b "$net2.2" || fail "second sshd in b"
$SSH_RSH "root@$net2.2" true || fail "ssh root -> b"
link_down root b
if tcp_ok root "$net2.2" "$SSHD_PORT"; then fail "TCP root -> b across a downed link"; fi
link_up root b
wait_until 5 tcp_ok root "$net2.2" "$SSHD_PORT" || fail "no TCP root -> b after link_up"

pass
