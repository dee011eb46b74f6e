#!/usr/bin/env bash
# A deploy that rewrites files the target already has: every one of N
# existing 4 KiB files rewritten on the source (new content, same names),
# timed from the first write until the target holds every new version,
# lifeboat (local and over ssh: a private sshd, the restricted key) beside
# plain `rsync -a` of the same rewrite started once it is written, and
# rsync followed by `sync -f` on the target (what lifeboat's durability
# is worth against). Median of the runs. These files go through the stage
# and a path batch's rsync (with --fsync: each file on disk before its
# rename), not through the tar stream of new files the burst measures.
#   bench/modify.sh                  (as root; from the repository)
# Knobs: BENCH_MOD_FILES (1000), BENCH_MOD_REPS (5), BENCH_MODES (local ssh),
# LIFEBOAT (A: build/lifeboat), BENCH_LIFEBOAT_B (a second build, e.g. main's).
set -u
cd "$(dirname "$0")/.." || exit 1
: "${LIFEBOAT:=$PWD/build/lifeboat}"
. tests/lib/common.sh
. tests/lib/sshd.sh
. tests/lib/sync.sh
need rsync python3 ssh
lb_setup
FILES=${BENCH_MOD_FILES:-1000} REPS=${BENCH_MOD_REPS:-5} MODES=${BENCH_MODES:-local ssh}
A=$(readlink -f "$LIFEBOAT") B=${BENCH_LIFEBOAT_B:+$(readlink -f "$BENCH_LIFEBOAT_B")}
start_sshd || fail "cannot start sshd"
SRC=$T/src

rewrite() { # every file new content, same size
	python3 - "$SRC" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(4096))
PY
}
rewrite

# Poll until DST holds SRC's content, every file: ms since $1.
until_equal() {
	python3 - "$SRC" "$DST" "$1" <<'PY'
import os, sys, time
src, dst, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = [os.path.join(d, f) for d in sorted(os.listdir(src)) for f in os.listdir(os.path.join(src, d))]
want = {n: open(os.path.join(src, n), "rb").read() for n in names}
deadline = time.time() + 120
while True:
    try:
        if all(open(os.path.join(dst, n), "rb").read() == want[n] for n in names):
            break
    except FileNotFoundError:
        pass
    if time.time() > deadline:
        sys.exit("target never equal")
    time.sleep(0.01)
print(int(time.time() * 1000) - t0)
PY
}

median() { sort -n | sed -n "$(( (REPS + 1) / 2 ))p"; }

# lifeboat BIN MODE: the median in ms.
one() {
	local bin=$1 mode=$2 target times=() r t0
	ln -sf "$bin" "$T/ssh/bin/lifeboat"
	DST=$T/dst-$mode
	rm -rf "$DST" && rsync -a "$SRC/" "$DST/"
	target=$DST
	[ "$mode" = ssh ] && target=$SSH_TARGET:$DST
	sync_conf "$T/lb.conf" mod "$SRC" "$target" delay=0 ssh_port="$SSHD_PORT" \
		ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
	: >"$T/sync.log"
	LIFEBOAT=$bin start_sync "$T/lb.conf"
	wait_idle mod 120 || fail "$mode: startup did not reach idle"
	for r in $(seq 1 "$REPS"); do
		t0=$(lb_now_ms)
		rewrite
		times+=($(until_equal "$t0")) || fail "$mode: target never equal"
		wait_idle mod 60 || fail "$mode: not idle"
	done
	stop_sync
	printf '%s\n' "${times[@]}" | median
}

# plain rsync MODE [sync]: the rewrite, then one rsync -a (and sync -f).
plain() {
	local mode=$1 also=${2:-} times=() r t0 dest
	DST=$T/dst-rsync-$mode
	rm -rf "$DST" && rsync -a "$SRC/" "$DST/"
	dest=$DST
	[ "$mode" = ssh ] && dest=$SSH_TARGET:$DST
	for r in $(seq 1 "$REPS"); do
		t0=$(lb_now_ms)
		rewrite
		if [ "$mode" = ssh ]; then
			rsync -a -e "$SSH_RSH" "$SRC/" "$dest/" || fail "rsync failed"
			[ -n "$also" ] && $SSH_RSH "$SSH_TARGET" sync -f "$DST"
		else
			rsync -a "$SRC/" "$dest/" || fail "rsync failed"
			[ -n "$also" ] && sync -f "$DST"
		fi
		times+=($(( $(lb_now_ms) - t0 )))
	done
	printf '%s\n' "${times[@]}" | median
}

echo "| $FILES existing 4 KiB files rewritten, until all on the target (median of $REPS, ms) | lifeboat A | ${B:+lifeboat B | }rsync -a | rsync -a, sync -f | A / (rsync + sync) |"
echo "|---|---|${B:+---|}---|---|---|"
for mode in $MODES; do
	a=$(one "$A" "$mode")
	b=${B:+$(one "$B" "$mode")}
	p=$(plain "$mode")
	ps=$(plain "$mode" sync)
	echo "| $mode | $a | ${B:+$b | }$p | $ps | $(python3 -c "print('%.2f' % ($a / $ps))") |"
done
echo "A: $A${B:+, B: $B}"
