#!/usr/bin/env bash
# Test runner: unit tests (cmocka, built with ASan+UBSan) and integration
# tests (tests/integration/*.sh, each a program: exit 0 pass, 77 skip, other
# fail), run in parallel, JOBS at a time. Ends with "N passed, N failed".
# A test that failed because a mariadbd it started crashed runs once more.
#   tests/run.sh [unit|integration] [NAME-PATTERN]
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
WHAT=${1:-all}
PATTERN=${2:-}
JOBS=${JOBS:-$(( $(nproc) > 1 ? $(nproc) : 2 ))}
LOGDIR=${TEST_LOGDIR:-$ROOT/build/test-logs}
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
export LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
export LIFEBOAT_ROOT=$ROOT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=98}

tests=()
if [ "$WHAT" = all ] || [ "$WHAT" = unit ]; then
	for t in build/asan/tests/test_*; do [ -x "$t" ] && tests+=("$t"); done
fi
if [ "$WHAT" = all ] || [ "$WHAT" = integration ]; then
	for t in tests/integration/*.sh; do [ -f "$t" ] && tests+=("$t"); done
fi
if [ -n "$PATTERN" ]; then
	filtered=()
	for t in "${tests[@]}"; do [[ $t == *$PATTERN* ]] && filtered+=("$t"); done
	tests=("${filtered[@]}")
fi

# A test whose first lines say "# run: alone" (timing-sensitive: an etcd
# election, lease deadlines) runs before the others, with nothing beside it.
alone=()
together=()
for t in "${tests[@]}"; do
	if [[ $t == *.sh ]] && head -n 15 "$t" | grep -q '^# run: alone'; then
		alone+=("$t")
	else
		together+=("$t")
	fi
done

passed=0 failed=0 skipped=0
declare -A running=() started=()
failures=()
retries=()

# A test whose mariadbd crashed (SIGSEGV inside the server: seen a few
# times under load, always at one address in MariaDB 10.11) failed for the
# server's sake, not lifeboat's: it runs once more, alone, and says so.
server_crashed() {
	grep -q 'Segmentation fault.*\(mariadbd\|mdb_mysqld\)\|mariadbd got signal' "$1"
}

finish() {
	local pid=$1 name=${running[$1]} rc took
	wait "$pid"; rc=$?
	took=$((SECONDS - ${started[$pid]}))
	unset "running[$pid]" "started[$pid]"
	local log="$LOGDIR/$(basename "$name").log"
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $name (${took} s)"
	elif [ $rc -eq 77 ]; then
		skipped=$((skipped + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	elif [ -z "${RETRYING:-}" ] && server_crashed "$log"; then
		retries+=("$name"); cp "$log" "$log.server-crash"
		echo "RETRY $name: a mariadbd it started crashed (log kept in $log.server-crash)"
	else
		failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (exit $rc, ${took} s)"
		sed 's/^/    | /' "$log" | tail -n 40
	fi
}

run_test() {   # run_test TEST: in the background, output to its log
	local t=$1 log
	log="$LOGDIR/$(basename "$t").log"
	case $t in
	*.sh) timeout -k 10 ${TEST_TIMEOUT:-600} bash "$t" >"$log" 2>&1 & ;;
	*) timeout -k 10 ${TEST_TIMEOUT:-600} "$t" >"$log" 2>&1 & ;;
	esac
	running[$!]=$t
	started[$!]=$SECONDS
}

start_ts=$(date +%s)
# The tests that run alone go first, on a machine the rest of the suite
# has not churned yet: after it, agent_partition's etcd elections ran past
# the lease deadline it times in 3 of 4 CI runs, never when run alone.
# What the suite leaves behind that slows them was not found (no stray
# process, no write-back pending): a scheduling answer, not a cause.
for t in "${alone[@]}"; do
	timeout 300 sync # nothing written before is still on its way to disk
	run_test "$t"
	for pid in "${!running[@]}"; do finish "$pid"; done
done
for t in "${together[@]}"; do
	while [ ${#running[@]} -ge "$JOBS" ]; do
		wait -n -p done_pid 2>/dev/null || true
		[ -n "${done_pid:-}" ] && [ -n "${running[$done_pid]:-}" ] && finish "$done_pid"
		done_pid=
	done
	run_test "$t"
done
while [ ${#running[@]} -gt 0 ]; do
	wait -n -p done_pid 2>/dev/null || true
	[ -n "${done_pid:-}" ] && [ -n "${running[$done_pid]:-}" ] && finish "$done_pid"
	done_pid=
done
RETRYING=1
for t in "${retries[@]}"; do
	run_test "$t"
	for pid in "${!running[@]}"; do finish "$pid"; done
done
echo "($(( $(date +%s) - start_ts )) s; logs in $LOGDIR)"
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
