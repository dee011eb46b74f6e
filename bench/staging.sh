#!/usr/bin/env bash
# What finding stale staging directories costs each batch on a sync target
# whose history holds many run directories (one per batch that kept
# something, kept for `keep`: 7 days by default). Every tar stream batch,
# serve receive and checked run calls history_clean_staging() first.
# Before: it read the whole history directory (TARGET/.lifeboat-history);
# after: only the staging area (TARGET/.lifeboat-history/.staging).
#
#   bench/staging.sh [clean] [batch]     (default: both)
#
#   clean: the driver bench/staging_clean.c, built against both source
#          trees, times history_clean_staging() alone on the same target
#          (a loop of calls, warm cache: the best case for the old layout).
#   batch: lifeboat sync (both builds in turn, local target, delay=0) on
#          that target: a new tree of 100 files (a tar stream batch) moved
#          into the source, timed until it is on the target; median of
#          BENCH_BATCHES. As root (tests/lib).
#
# BENCH_RUNS=200000 run directories, BENCH_CALLS=20, BENCH_BATCHES=15,
# BENCH_BEFORE=0f1c514 (the commit before .staging). Everything it makes is
# in one temporary directory removed at exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat}
export LIFEBOAT
. "$ROOT/tests/lib/common.sh"
. "$ROOT/tests/lib/sync.sh"
RUNS=${BENCH_RUNS:-200000} CALLS=${BENCH_CALLS:-20} BATCHES=${BENCH_BATCHES:-15}
BEFORE=${BENCH_BEFORE:-0f1c514}
WHAT=("$@")
[ ${#WHAT[@]} -gt 0 ] || WHAT=(clean batch)
lb_setup
log() { printf '%s staging: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

mkdir -p "$T/old"
git -C "$ROOT" archive "$BEFORE" | tar -x -C "$T/old"
build_driver() { # NAME SRC_DIR
	cc -O2 -Wall -Wextra -D_GNU_SOURCE -std=gnu11 -I"$2" -o "$T/$1" \
		"$ROOT/bench/staging_clean.c" "$2"/history.c "$2"/beneath.c "$2"/log.c "$2"/util.c -lm
}
build_driver clean-before "$T/old/src"
build_driver clean-after "$ROOT/src"
# The target's history: RUNS run directories (the old layout's driver makes
# them: the new one's first call would make .staging).
"$T/clean-before" "$T/target" "$RUNS" 1 >/dev/null

clean() {
	printf '| layout | run directories | history_clean_staging per call |\n|---|---|---|\n'
	for v in before after; do
		read -r runs calls us < <("$T/clean-$v" "$T/target" "$RUNS" "$CALLS")
		printf '| %s (%s calls) | %s | %s µs |\n' "$v" "$calls" "$runs" "$us"
	done
}

# One round: a tree of 100 files moved into the source, until it is on the target.
batch_ms() { # NAME
	local name=$1 t0 t1
	mkdir -p "$T/prep/$name"
	for i in $(seq 1 100); do echo "$name $i" >"$T/prep/$name/f$i"; done
	t0=$(lb_now_ms)
	mv "$T/prep/$name" "$T/src/$name"
	until [ -e "$T/target/$name/f100" ]; do
		[ $(($(lb_now_ms) - t0)) -lt 30000 ] || { log "$name: not on the target in 30 s"; return 1; }
		sleep 0.002
	done
	t1=$(lb_now_ms)
	echo $((t1 - t0))
}

batch() {
	need_root
	log "building lifeboat at $BEFORE"
	make -s -C "$T/old" -j2 all >/dev/null
	mkdir -p "$T/src" "$T/prep"
	echo home >"$T/src/index.html"
	printf '| build | run directories | one 100-file stream batch, median of %s (min-max) |\n|---|---|---|\n' "$BATCHES"
	for v in before after; do
		local bin=$LIFEBOAT
		[ $v = before ] && bin=$T/old/lifeboat
		sync_conf "$T/lb-$v.conf" www "$T/src" "$T/target" delay=0
		rm -f "$T/state/status.json" # the other build's idle state
		LIFEBOAT=$bin start_sync "$T/lb-$v.conf"
		wait_idle www 300 || { log "$v: startup did not finish"; exit 1; }
		local ms=() i
		for i in $(seq 1 "$BATCHES"); do
			ms+=("$(batch_ms "$v-$i")") || exit 1
			wait_idle www 60 || { log "$v: not idle after batch $i"; exit 1; }
		done
		stop_sync
		local sorted
		sorted=$(printf '%s\n' "${ms[@]}" | sort -n)
		printf '| %s | %s | %s ms (%s-%s) |\n' "$v" \
			"$(find "$T/target/.lifeboat-history" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l)" \
			"$(sed -n "$(((BATCHES + 1) / 2))p" <<<"$sorted")" "$(head -1 <<<"$sorted")" \
			"$(tail -1 <<<"$sorted")"
	done
}

for w in "${WHAT[@]}"; do
	case $w in
	clean | batch) "$w" ;;
	*) echo "usage: bench/staging.sh [clean] [batch]" >&2; exit 2 ;;
	esac
done
