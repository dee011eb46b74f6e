#!/usr/bin/env bash
# A forced full pass (SIGUSR1) on a tree already in sync but for a few
# files damaged on the target behind the watch's back: the time from the
# signal until they are repaired and the sync is idle again, local and over
# ssh (a private sshd, the restricted key), median of the runs. The poll
# (a grep and a status read every ~40 ms) is charged to both builds alike.
#   bench/full_pass.sh                  (as root; from the repository)
# Knobs: BENCH_FP_FILES (50000), BENCH_FP_DIRS (500), BENCH_FP_CHANGED (10),
# BENCH_FP_REPS (5), BENCH_MODES (local ssh), LIFEBOAT (A: build/lifeboat),
# BENCH_FP_EXCLUDE (an exclude rule, e.g. /cache/tmp/: one lifeboat does not
# evaluate itself makes the pass rsync's dry run instead of the comparison),
# BENCH_LIFEBOAT_B (a second build timed the same way, e.g. main's).
set -u
cd "$(dirname "$0")/.." || exit 1
: "${LIFEBOAT:=$PWD/build/lifeboat}"
. tests/lib/common.sh
. tests/lib/sshd.sh
. tests/lib/sync.sh
need rsync python3 ssh
lb_setup
FILES=${BENCH_FP_FILES:-50000} DIRS=${BENCH_FP_DIRS:-500} CHANGED=${BENCH_FP_CHANGED:-10}
REPS=${BENCH_FP_REPS:-5} MODES=${BENCH_MODES:-local ssh}
A=$(readlink -f "$LIFEBOAT") B=${BENCH_LIFEBOAT_B:+$(readlink -f "$BENCH_LIFEBOAT_B")}
start_sshd || fail "cannot start sshd"

SRC=$T/src
python3 - "$SRC" "$FILES" "$DIRS" <<'PY'
import os, sys
root, n, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, "d%04d" % (i % dirs))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d" % i), "w") as f:
        f.write("x" * (100 + i % 900))
PY
damaged=()
for i in $(seq 1 "$CHANGED"); do
	n=$(( (i * 4999) % FILES ))
	damaged+=("d$(printf %04d $((n % DIRS)))/f$(printf %06d $n)")
done

repaired() { ! (cd "$DST" && grep -lq damaged "${damaged[@]}" 2>/dev/null); }

# one BIN MODE: prints the median of REPS passes in ms.
one() {
	local bin=$1 mode=$2 target times=() r t0
	ln -sf "$bin" "$T/ssh/bin/lifeboat"
	DST=$T/dst-$mode
	rsync -a --delete "$SRC/" "$DST/"
	target=$DST
	[ "$mode" = ssh ] && target=$SSH_TARGET:$DST
	sync_conf "$T/lb.conf" fp "$SRC" "$target" delay=0 ssh_port="$SSHD_PORT" \
		ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS" \
		${BENCH_FP_EXCLUDE:+exclude="$BENCH_FP_EXCLUDE"}
	: >"$T/sync.log"
	LIFEBOAT=$bin start_sync "$T/lb.conf"
	wait_idle fp 300 || fail "$mode: startup did not reach idle"
	for r in $(seq 1 "$REPS"); do
		(cd "$DST" && for f in "${damaged[@]}"; do echo damaged >"$f"; done)
		t0=$(lb_now_ms)
		kill -USR1 "$SYNC_PID"
		wait_until 300 repaired || fail "$mode: not repaired"
		wait_idle fp 300 || fail "$mode: not idle"
		times+=($(( $(lb_now_ms) - t0 )))
	done
	stop_sync
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p"
}

echo "| forced full pass, $FILES files in sync, $CHANGED damaged on the target | A | ${B:+B |}"
for mode in $MODES; do
	a=$(one "$A" "$mode")
	b=${B:+$(one "$B" "$mode")}
	echo "| $mode | $a ms | ${B:+$b ms |}"
done
echo "A: $A${B:+, B: $B}"
