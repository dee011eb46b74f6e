#!/usr/bin/env bash
# What history costs: the disk a redeploy of the anchors' burst tree
# (10,000 x 4 KiB files in 100 directories) leaves in the target's history
# (every file overwritten once, kept by rename), and how long `lifeboat
# restore` takes to bring all 10,000 files back after an rm -rf, locally
# and over ssh (through the restricted key).  As root; everything it makes
# is removed at exit.
#
#   bench/history.sh            (BENCH_FILES=10000, BENCH_DIRS=100)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat}
export LIFEBOAT
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/sshd.sh"
. "$ROOT/tests/lib/sync.sh"
FILES=${BENCH_FILES:-10000} DIRS=${BENCH_DIRS:-100}
lb_setup
need_root
need rsync ssh cc
log() { printf '%s history: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
cc -O2 -o "$T/gen_tree" "$ROOT/bench/gen_tree.c"
SSHD_LIFEBOAT_CONFIG=$T/lb.conf start_sshd || exit 1
mkdir -p "$T/lsrc" "$T/rsrc"
"$T/gen_tree" "$T/lsrc" "$DIRS" "$FILES"
"$T/gen_tree" "$T/rsrc" "$DIRS" "$FILES"
# A web root keeps something besides the tree (an emptied source is held by
# the source guard, not shipped).
echo home >"$T/lsrc/index.html"
echo home >"$T/rsrc/index.html"
sync_conf "$T/lb.conf" loc "$T/lsrc" "$T/ldst" delay=0
sync_conf_add "$T/lb.conf" rem "$T/rsrc" "$SSH_TARGET:$T/remote/rdst" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
start_sync "$T/lb.conf"
wait_idle loc 120 && wait_idle rem 120 || { log "startup did not finish"; exit 1; }
secs() { local a=$1 b=$2; echo "scale=2; ($b - $a) / 1000" | bc; }
tree_kib() { du -sk --exclude=.lifeboat-history "$1" | cut -f1; }
hist_kib() { du -sk "$1/.lifeboat-history" 2>/dev/null | cut -f1; }
for m in loc rem; do
	src=$T/${m:0:1}src dst=$T/ldst
	[ $m = rem ] && dst=$T/remote/rdst
	before=$(hist_kib "$dst")
	# A redeploy: every file rewritten with new content of the same size.
	find "$src" -type f -name 'f*' -print0 | xargs -0 -n 500 sh -c 'for f; do head -c 4096 /dev/urandom >"$f"; done' sh
	wait_until 300 trees_equal "$src" "$dst" || { log "$m: redeploy did not converge"; exit 1; }
	after=$(hist_kib "$dst")
	t=$(date +%s)
	wait_until 3 eval '[ "$(date +%s)" -gt '"$t"' ]'
	cp -a "$src" "$T/$m-expected"
	rm -rf "$src"/d*
	wait_until 300 eval '[ "$(ls "$dst")" = index.html ]' || { log "$m: the rm -rf did not replicate"; exit 1; }
	t0=$(lb_now_ms)
	"$LIFEBOAT" -q -c "$T/lb.conf" restore --at "$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)" "$src" ||
		{ log "$m: restore failed"; exit 1; }
	t1=$(lb_now_ms)
	trees_equal -O "$T/$m-expected" "$src" || { log "$m: restored tree differs: $TREES_DIFF"; exit 1; }
	printf '| %s | %s KiB | %s KiB | %s s |\n' "$m" "$(tree_kib "$T/$m-expected")" \
		"$((after - before))" "$(secs "$t0" "$t1")"
done
stop_sync
