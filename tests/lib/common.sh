# shellcheck shell=bash
# Shared fixtures for tests/integration/*.sh (and bench/).  Source it, then
# call lb_setup:
#
#   . "$(dirname "$0")/../lib/common.sh"
#   lb_setup
#
# Every helper that starts something registers it in files under $T/.lb, so
# registration also works from $(...) subshells, and the EXIT trap installed
# by lb_setup undoes all of it: tracked PIDs (TERM, bounded wait, KILL),
# network namespaces, port and subnet reservations, extra cleanup commands,
# then $T itself.  Set LB_KEEP=1 to keep $T for a post-mortem.
#
# Environment: LIFEBOAT (binary under test; default: build/asan/lifeboat if
# built, else ./lifeboat), LIFEBOAT_ROOT (repo root; default: derived).

LIFEBOAT_ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if [ -z "${LIFEBOAT:-}" ]; then
	if [ -x "$LIFEBOAT_ROOT/build/asan/lifeboat" ]; then
		LIFEBOAT=$LIFEBOAT_ROOT/build/asan/lifeboat
	else
		LIFEBOAT=$LIFEBOAT_ROOT/lifeboat
	fi
fi
export LIFEBOAT LIFEBOAT_ROOT

# Reservations (ports, subnets) shared by tests running in parallel.
LB_LOCKDIR=${LB_LOCKDIR:-/tmp/lifeboat-test-locks}

# ---------------------------------------------------------------- results

# fail MSG: print the tail of the sync log (if any) and MSG, exit 1.
fail() {
	if [ -n "${T:-}" ] && [ -s "$T/sync.log" ]; then
		echo "--- tail of $T/sync.log:" >&2
		tail -n 20 "$T/sync.log" >&2
		echo "---" >&2
	fi
	echo "FAIL: $*" >&2
	exit 1
}

# skip MSG: exit 77 (tests/run.sh shows the last line of the log: MSG).
skip() {
	_LB_SKIP_MSG="SKIP: $*"
	echo "$_LB_SKIP_MSG"
	exit 77
}

pass() {
	echo "PASS${1:+: $*}"
	exit 0
}

# ---------------------------------------------------------------- setup

# lb_setup: make $T (private temp dir, exported) and install the cleanup trap.
lb_setup() {
	T=$(mktemp -d /tmp/lbtest.XXXXXX) || { echo "lb_setup: mktemp failed" >&2; exit 1; }
	chmod 755 "$T"
	export T
	LB_ID=$$
	export LB_ID
	mkdir -p "$T/.lb"
	: >"$T/.lb/pids"; : >"$T/.lb/netns"; : >"$T/.lb/locks"; : >"$T/.lb/cleanup"
	: >"$T/.lb/links"
	trap _lb_cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# lb_on_exit CMD...: run CMD (a command line, eval'ed) at cleanup, after the
# tracked processes are gone and before namespaces and $T are removed.  Run
# in reverse order of registration.
lb_on_exit() {
	printf '%s\n' "$*" >>"$T/.lb/cleanup"
}

# The kernel start time of PID (field 22 of /proc/PID/stat), to tell a
# process from a later one that reused its PID.
_lb_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# Alive = exists and is not a zombie (a zombie child of this shell still
# answers kill -0 until reaped).
_lb_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ] && [ "${stat:0:1}" != X ]
}

# Same process as registered?  (PID, start time)
_lb_same() {
	local st
	st=$(_lb_starttime "$1") || return 1
	[ "$st" = "$2" ]
}

# lb_track_pid PID: kill PID at exit (TERM, up to LB_TERM_TIMEOUT s
# (default 5), then KILL).
lb_track_pid() {
	local st
	st=$(_lb_starttime "$1") || return 0   # already gone
	echo "$1 $st" >>"$T/.lb/pids"
}

# lb_track_pid_kill PID: the same, for a throwaway server whose graceful
# stop only costs time (an etcd member that is raft leader waits seconds
# to hand leadership to peers that are going too): cleanup KILLs it first,
# and the shell does not report it "Killed" (it is no job of ours any more).
lb_track_pid_kill() {
	local st
	st=$(_lb_starttime "$1") || return 0
	echo "$1 $st" >>"$T/.lb/pids"
	echo "$1 $st" >>"$T/.lb/kill-first"
	disown "$1" 2>/dev/null || true
}

# Descendants of PID (children first-level, then theirs), one per line.
_lb_descendants() {
	local kids k
	kids=$(cat /proc/"$1"/task/*/children 2>/dev/null) || return 0
	for k in $kids; do
		echo "$k"
		_lb_descendants "$k"
	done
}

# lb_kill_tree PID [TIMEOUT]: TERM PID and its descendants, wait up to
# TIMEOUT s (default 5) for them to exit, then KILL the rest.  Returns
# PID's exit status if it is a child of this shell (else 0), 137 if it had
# to be killed with KILL.
lb_kill_tree() {
	local pid=$1 timeout=${2:-5} p rc=0 killed=0
	local -a all=()
	mapfile -t all < <(echo "$pid"; _lb_descendants "$pid")
	local -A st=()
	for p in "${all[@]}"; do st[$p]=$(_lb_starttime "$p") || unset "st[$p]"; done
	for p in "${!st[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	# shellcheck disable=SC2317  # called through eval
	_lb_any_alive() {
		local q
		for q in "${!st[@]}"; do
			_lb_same "$q" "${st[$q]}" && _lb_alive "$q" && return 0
		done
		return 1
	}
	if ! wait_until "$timeout" eval '! _lb_any_alive'; then
		for p in "${!st[@]}"; do
			_lb_same "$p" "${st[$p]}" && kill -KILL "$p" 2>/dev/null && killed=1
		done
		wait_until 2 eval '! _lb_any_alive' || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	[ $killed = 1 ] && rc=137
	return $rc
}

_lb_cleanup() {
	local rc=$? line pid st
	set +e
	trap - EXIT HUP INT TERM
	if [ -n "${T:-}" ] && [ -d "$T/.lb" ]; then
		# 1. tracked processes: TERM all, bounded wait, KILL survivors.
		local -a pids=() sts=()
		while read -r pid st; do
			_lb_same "$pid" "$st" && kill -KILL "$pid" 2>/dev/null
		done < <(cat "$T/.lb/kill-first" 2>/dev/null)
		while read -r pid st; do
			[ -n "$pid" ] || continue
			pids+=("$pid"); sts+=("$st")
		done <"$T/.lb/pids"
		local i kid kst
		# Their descendants too: an sshd's sessions outlive the listener,
		# and a daemon's helpers may sit in their own process groups.
		for i in "${!pids[@]}"; do
			_lb_same "${pids[$i]}" "${sts[$i]}" || continue
			for kid in $(_lb_descendants "${pids[$i]}"); do
				kst=$(_lb_starttime "$kid") || continue
				pids+=("$kid"); sts+=("$kst")
			done
		done
		for i in "${!pids[@]}"; do
			_lb_same "${pids[$i]}" "${sts[$i]}" && kill -TERM "${pids[$i]}" 2>/dev/null
		done
		local deadline=$(( ${EPOCHREALTIME/./} + ${LB_TERM_TIMEOUT:-5} * 1000000 )) busy
		while :; do
			busy=0
			for i in "${!pids[@]}"; do
				if _lb_same "${pids[$i]}" "${sts[$i]}" && _lb_alive "${pids[$i]}"; then busy=1; break; fi
			done
			[ $busy = 0 ] && break
			[ "${EPOCHREALTIME/./}" -ge $deadline ] && break
			sleep 0.02
		done
		for i in "${!pids[@]}"; do
			if _lb_same "${pids[$i]}" "${sts[$i]}" && _lb_alive "${pids[$i]}"; then
				echo "cleanup: PID ${pids[$i]} ($(tr "\0" " " </proc/${pids[$i]}/cmdline 2>/dev/null | cut -c1-120)) ignored SIGTERM for ${LB_TERM_TIMEOUT:-5} s, sending SIGKILL" >&2
				kill -KILL "${pids[$i]}" 2>/dev/null
			fi
			wait "${pids[$i]}" 2>/dev/null
		done
		# 2. extra cleanup commands, last registered first.
		if [ -s "$T/.lb/cleanup" ]; then
			local -a cmds=()
			mapfile -t cmds <"$T/.lb/cleanup"
			for (( i=${#cmds[@]}-1; i>=0; i-- )); do
				eval "${cmds[$i]}" >/dev/null 2>&1
			done
		fi
		# 3. network namespaces we created (their veth pairs go with them).
		while read -r line; do
			[ -n "$line" ] && ip netns del "$line" 2>/dev/null
		done <"$T/.lb/netns"
		# 4. reservations.
		while read -r line; do
			[ -n "$line" ] && rm -rf "${LB_LOCKDIR:?}/$line"
		done <"$T/.lb/locks"
		if [ "${LB_KEEP:-0}" = 1 ]; then
			echo "cleanup: kept $T" >&2
		else
			rm -rf "$T"
		fi
	fi
	[ -n "${_LB_SKIP_MSG:-}" ] && echo "$_LB_SKIP_MSG"
	exit $rc
}

# ---------------------------------------------------------------- waiting

# wait_until SECONDS CMD [ARGS...]: run CMD every ~30 ms until it succeeds
# (return 0); return 1 if it has not succeeded after SECONDS (decimal ok).
# CMD's output is not hidden.  The only place a test sleeps.
wait_until() {
	local secs=$1; shift
	local us=${secs%.*} frac=000000
	[[ $secs == *.* ]] && frac=${secs#*.}000000
	frac=${frac:0:6}
	local deadline=$(( ${EPOCHREALTIME/./} + ${us:-0} * 1000000 + 10#$frac ))
	while :; do
		"$@" && return 0
		[ "${EPOCHREALTIME/./}" -ge "$deadline" ] && return 1
		sleep 0.03
	done
}

# lb_now_ms: wall clock in milliseconds.
lb_now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $(( t / 1000 ))
}

# ---------------------------------------------------------------- trees

# trees_equal [-O] SRC DST: 0 when `rsync -aniHc --delete SRC/ DST/` finds
# nothing to do: same names, types, content (checksums, so a same-size
# same-mtime change is caught), permissions, owners, mtimes, symlink
# targets, hard links, and nothing extra in DST.  -O: ignore directory
# mtimes.  Sets TREES_DIFF to rsync's itemized output (or its error).
trees_equal() {
	local omit=()
	if [ "${1:-}" = -O ]; then omit=(--omit-dir-times); shift; fi
	local src=${1%/} dst=${2%/} rc=0
	if ! [ -d "$src" ] || ! [ -d "$dst" ]; then
		TREES_DIFF="not both directories: $1 $2"
		return 1
	fi
	# Every itemized line is a difference ("*deleting", ">f..."/"cd+++",
	# ".d..t...", "hf", "cL"...): with a single -i, rsync prints nothing for
	# an entry that is already up to date.
	# The target's history (.lifeboat-history) is not part of the copy.
	TREES_DIFF=$(rsync -aniHc --delete "${omit[@]}" --filter='- /.lifeboat-history/' \
		--out-format='%i %n%L' "$src/" "$dst/" 2>&1) || rc=$?
	[ $rc -eq 0 ] || { TREES_DIFF="rsync exit $rc: $TREES_DIFF"; return 1; }
	[ -z "$TREES_DIFF" ]
}

# assert_trees_equal [-O] SRC DST TIMEOUT: wait up to TIMEOUT s for the trees
# to be equal; on timeout print the differences and fail.
assert_trees_equal() {
	local o=()
	if [ "${1:-}" = -O ]; then o=(-O); shift; fi
	local src=$1 dst=$2 timeout=${3:-10}
	if ! wait_until "$timeout" trees_equal "${o[@]}" "$src" "$dst"; then
		trees_equal "${o[@]}" "$src" "$dst"
		echo "differences (rsync itemize, SRC -> DST):" >&2
		printf '%s\n' "$TREES_DIFF" | head -n 40 >&2
		fail "trees $src and $dst still differ after $timeout s"
	fi
}

# ---------------------------------------------------------------- lifeboat

# start_sync CONF [ARGS...]: run "$LIFEBOAT -c CONF sync ARGS" in the
# background, stdout and stderr appended to $T/sync.log (SYNC_LOG); sets
# SYNC_PID and tracks it.
start_sync() {
	local conf=$1; shift
	SYNC_LOG=$T/sync.log
	"$LIFEBOAT" -c "$conf" sync "$@" >>"$SYNC_LOG" 2>&1 &
	SYNC_PID=$!
	lb_track_pid "$SYNC_PID"
	export SYNC_PID SYNC_LOG
}

# stop_sync [TIMEOUT]: SIGTERM the sync started by start_sync and wait up to
# TIMEOUT s (default 10); returns its exit status (137: needed SIGKILL).
stop_sync() {
	lb_kill_tree "$SYNC_PID" "${1:-10}"
}

# sync_conf FILE NAME SOURCE TARGET [KEY=VALUE...]: write a minimal
# configuration: [lifeboat] with state_dir = $T/state and log = stderr,
# and one [sync NAME].  More [sync] sections: call sync_conf_add.
sync_conf() {
	local file=$1; shift
	mkdir -p "$T/state"
	printf '[lifeboat]\nstate_dir = %s\nlog = stderr\n' "$T/state" >"$file"
	sync_conf_add "$file" "$@"
}

# sync_conf_add FILE NAME SOURCE TARGET [KEY=VALUE...]
sync_conf_add() {
	local file=$1 name=$2 src=$3 dst=$4 kv; shift 4
	{
		printf '\n[sync %s]\nsource = %s\ntarget = %s\n' "$name" "$src" "$dst"
		for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
	} >>"$file"
}

# sync_state NAME [STATE_DIR]: print the state of sync NAME from the status
# file (empty if unknown).
sync_state() {
	local f=${2:-$T/state}/status.json
	[ -s "$f" ] || return 0
	/usr/bin/python3 - "$f" "$1" <<'EOF' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
s = d.get("syncs", {})
if isinstance(s, list):
    s = {x.get("name"): x for x in s}
print((s.get(sys.argv[2]) or {}).get("state", ""))
EOF
}

# ---------------------------------------------------------------- ports

# _lb_reserve NAME: atomically reserve NAME under $LB_LOCKDIR for this test
# (released at cleanup).  A reservation whose owner is dead is taken over.
_lb_reserve() {
	local name=$1 d=$LB_LOCKDIR/$1 owner
	mkdir -p "$LB_LOCKDIR" 2>/dev/null; chmod 1777 "$LB_LOCKDIR" 2>/dev/null
	if ! mkdir "$d" 2>/dev/null; then
		owner=$(cat "$d/owner" 2>/dev/null) || return 1
		[ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && return 1
		# stale: the owning test died without cleanup.  Take it over by
		# renaming (atomic) so two takers cannot both win.
		mv "$d" "$d.stale.$$" 2>/dev/null || return 1
		rm -rf "$d.stale.$$"
		mkdir "$d" 2>/dev/null || return 1
	fi
	echo "${LB_ID:-$$}" >"$d/owner"
	echo "$name" >>"$T/.lb/locks"
}

# free_port: print a TCP port free on 127.0.0.1, reserved for this test
# (below the ephemeral range, so outgoing connections cannot take it).
free_port() {
	local lo=20000 hi=32000 eph port i
	eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || eph=32768
	[ "$eph" -gt 10100 ] && [ "$eph" -le $hi ] && hi=$((eph - 1)) && lo=$((hi - 10000))
	for i in $(seq 1 200); do
		port=$(( lo + (RANDOM * 32768 + RANDOM) % (hi - lo) ))
		_lb_reserve "port-$port" || continue
		if ss -Htan "sport = :$port" 2>/dev/null | grep -q .; then continue; fi
		echo "$port"
		return 0
	done
	echo "free_port: no free port" >&2
	return 1
}

# need CMD...: skip the test unless every CMD is installed.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

# need_root: skip unless running as root.
need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
}
