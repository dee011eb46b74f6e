#!/usr/bin/env bash
# What finding stale staging directories costs each batch on a sync target
# whose history holds many run directories (one per batch that kept
# something, kept for `keep`: 7 days by default). Every tar stream batch,
# serve receive and checked run calls history_clean_staging() first.
# Before: it read the whole history directory (TARGET/.lifeboat-history);
# after: only the staging area (TARGET/.lifeboat-history/.staging). The
# driver bench/staging_clean.c is built against both source trees and
# timed on the same target (a loop of calls, warm cache: the best case for
# the old layout).
#
#   bench/staging.sh      (BENCH_RUNS=200000, BENCH_CALLS=20,
#                          BENCH_BEFORE=0f1c514: the commit before .staging)
#
# Not root; everything it makes is in one temporary directory removed at exit
# (BENCH_DIR: where to make it, default /tmp).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${BENCH_RUNS:-200000} CALLS=${BENCH_CALLS:-20} BEFORE=${BENCH_BEFORE:-0f1c514}
T=$(mktemp -d "${BENCH_DIR:-/tmp}/lifeboat-bench-staging.XXXXXX")
trap 'rm -rf "$T"' EXIT
build() { # NAME SRC_DIR
	cc -O2 -Wall -Wextra -D_GNU_SOURCE -std=gnu11 -I"$2" -o "$T/$1" "$ROOT/bench/staging_clean.c" \
		"$2"/history.c "$2"/beneath.c "$2"/log.c "$2"/util.c -lm
}
mkdir -p "$T/old"
git -C "$ROOT" archive "$BEFORE" src | tar -x -C "$T/old"
build before "$T/old/src"
build after "$ROOT/src"
# The old layout's binary first (the new one's first call makes .staging).
"$T/before" "$T/target" "$RUNS" 1 >/dev/null
printf '| layout | run directories in the history | history_clean_staging per call |\n|---|---|---|\n'
for v in before after; do
	read -r runs calls us < <("$T/$v" "$T/target" "$RUNS" "$CALLS")
	printf '| %s (%s calls) | %s | %s µs |\n' "$v" "$calls" "$runs" "$us"
done
