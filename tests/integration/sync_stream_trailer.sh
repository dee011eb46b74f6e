#!/usr/bin/env bash
# The tar stream over ssh: serve tar-x moves an archive into place only
# when the sender vouched for it with a trailer behind it. tar -x exits
# once it has read the end of the archive, which may be before the trailer
# and the end of the stream arrive: a whole, quiet tree must still go as
# one stream (no "did not vouch" refusal, no fall back to rsync), tree
# after tree.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync ssh tar python3
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
# -v: the log says which way each batch went (a wrapper that execs, so
# SYNC_PID is still the daemon).
printf '#!/bin/sh\nexec "%s" -v "$@"\n' "$LIFEBOAT" >"$T/lifeboat-v"
chmod +x "$T/lifeboat-v"
LIFEBOAT=$T/lifeboat-v
SRC=$T/src DST=$T/remote/dst
mkdir -p "$SRC"
sync_conf "$T/lb.conf" rem "$SRC" "$SSH_TARGET:$DST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle rem 20 || fail "startup pass did not reach idle"

streamed() { grep -caF "[sync rem] tar stream: " "$SYNC_LOG" || true; }
# Trees built aside and moved in whole (quiet: nothing changes while tar
# reads them), big enough that tar -x is done well before the stream ends.
for i in 1 2 3; do
	before=$(streamed)
	python3 - "$T/aside/t$i" <<'PY'
import os, sys
for d in range(100):
    os.makedirs(f"{sys.argv[1]}/d{d}")
    for f in range(100):
        with open(f"{sys.argv[1]}/d{d}/f{f}", "w") as out:
            out.write(f"{d} {f}\n" * 512)
PY
	mv "$T/aside/t$i" "$SRC/t$i"
	assert_trees_equal "$SRC" "$DST" 60
	wait_until 10 eval '[ "$(streamed)" -gt "$before" ]' || fail "tree t$i did not go as a stream"
done
if grep -aF "did not vouch" "$SYNC_LOG"; then
	fail "serve refused a whole archive (its tar -x ended before the trailer arrived)"
fi
grep -aF "[sync rem] tar stream declined" "$SYNC_LOG" && fail "a whole tree was declined"
stop_sync || fail "sync did not stop cleanly"
pass
