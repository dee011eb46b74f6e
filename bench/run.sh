#!/usr/bin/env bash
# Benchmarks: lifeboat sync side by side with lsyncd and plain rsync, on the
# same machine, trees and file system, in one run; prints a table with
# ratios.  Method: bench/README.md (after shared/anchors.md).
#
#   bench/run.sh [latency] [burst] [startup]      (default: all three)
#
# Knobs (environment):
#   BENCH_QUICK=1           small run (~2-3 min): 1,000/5,000-file bursts,
#                           startup on 2,000 dirs / 20,000 files, 8 samples
#   BENCH_TOOLS             default "lifeboat lsyncd rsync" (rsync: bursts only)
#   BENCH_MODES             default "local ssh"
#   BENCH_SAMPLES           latency samples per tool and mode (25)
#   BENCH_INTERVAL_MS       between latency samples (1200)
#   BENCH_BURST_SIZES       files per burst, in 100 dirs (default "10000 100000")
#   BENCH_BURST_REPS        repetitions for bursts up to 20,000 files (3; median);
#                           bigger bursts run once
#   BENCH_STARTUP_DIRS / BENCH_STARTUP_FILES   (20000 / 200000)
#   BENCH_STARTUP_REPS      (5; median)
#   BENCH_CM=0              skip lsyncd + ssh ControlMaster (=all: also on
#                           bursts over 20,000 files, skipped by default)
#   BENCH_FS=tmp            no loop device: use /tmp's file system
#   BENCH_OUT=FILE          also write the table (markdown) to FILE
#   LIFEBOAT                binary (default ./lifeboat, built by `make bench`)
#   BENCH_LIFEBOAT_B        a second lifeboat binary, run as tool "lifeboat-b"
#                           right after lifeboat in every round (serve on the
#                           ssh side too), with an A/B table: two builds
#                           compared in the same time window
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat}
export LIFEBOAT
# shellcheck source=tests/lib/common.sh
. "$ROOT/tests/lib/common.sh"
# shellcheck source=tests/lib/sshd.sh
. "$ROOT/tests/lib/sshd.sh"

WHAT=("$@")
[ ${#WHAT[@]} -gt 0 ] || WHAT=(latency burst startup)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	: "${BENCH_SAMPLES:=8}" "${BENCH_BURST_SIZES:=1000 5000}" "${BENCH_STARTUP_DIRS:=2000}"
	: "${BENCH_STARTUP_FILES:=20000}" "${BENCH_BURST_REPS:=1}" "${BENCH_STARTUP_REPS:=1}"
	: "${BENCH_INTERVAL_MS:=500}"
fi
SAMPLES=${BENCH_SAMPLES:-25}
INTERVAL=${BENCH_INTERVAL_MS:-1200}
BURST_SIZES=${BENCH_BURST_SIZES:-10000 100000}
BURST_REPS=${BENCH_BURST_REPS:-3}
ST_DIRS=${BENCH_STARTUP_DIRS:-20000}
ST_FILES=${BENCH_STARTUP_FILES:-200000}
ST_REPS=${BENCH_STARTUP_REPS:-5}
TOOLS=${BENCH_TOOLS:-lifeboat lsyncd rsync}
LIFEBOAT_B=${BENCH_LIFEBOAT_B:-}
if [ -n "$LIFEBOAT_B" ]; then
	LIFEBOAT_B=$(readlink -f "$LIFEBOAT_B")
	TOOLS=${TOOLS/lifeboat/lifeboat lifeboat-b}
fi
MODES=${BENCH_MODES:-local ssh}
CM=${BENCH_CM:-1}

log() { printf '%s bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }

lb_setup
need_root
need rsync lsyncd ssh cc losetup mkfs.ext4

# ---------------------------------------------------------------- setup

mkdir -p "$T/bin"
cc -O2 -o "$T/bin/latency_probe" bench/latency_probe.c
cc -O2 -o "$T/bin/gen_tree" bench/gen_tree.c

# A private ext4 on a loop device: stable file-creation cost, nothing else
# on it.  Sized for the biggest scenario (source and target).
W=$T/mnt
mkdir -p "$W"
FSNOTE="ext4 on a loop device (image in /tmp)"
if [ "${BENCH_FS:-loop}" = loop ]; then
	need_files=$(( ST_FILES > 100000 ? ST_FILES : 100000 ))
	for s in $BURST_SIZES; do [ "$s" -gt "$need_files" ] && need_files=$s; done
	inodes=$(( need_files * 3 + ST_DIRS * 3 + 100000 ))
	gib=$(( (need_files * 3 * 4096 + ST_DIRS * 2 * 4096) / 1073741824 + 2 ))
	truncate -s "${gib}G" "$T/fs.img"
	if LOOP=$(losetup -f --show "$T/fs.img" 2>/dev/null); then
		lb_on_exit "losetup -d $LOOP"
		mkfs.ext4 -q -F -N "$inodes" -E lazy_itable_init=0,lazy_journal_init=0 "$LOOP"
		mount -o noatime "$LOOP" "$W"
		lb_on_exit "umount $W || umount -l $W"
	else
		log "no loop device; using /tmp"
		FSNOTE="the file system of /tmp (no loop device)"
	fi
else
	FSNOTE="the file system of /tmp"
fi
log "file system: $FSNOTE, $W"

# serve (what the ssh side runs) reads the benchmark's configuration.
SSHD_LIFEBOAT_CONFIG=$T/lifeboat.conf start_sshd ""   # a free port
# lsyncd's rsyncssh passes ssh options as a table; SSH_OPTS as pairs.
SSH_HOST=127.0.0.1

RESULTS=$T/results   # lines: key<TAB>value
: >"$RESULTS"
put() { printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"; log "$1 = $2"; }
get() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$RESULTS"; }
# Individual measurements: sample KEY VALUE; samples KEY prints them.
mkdir -p "$T/samples"
sample() { echo "$2" >>"$T/samples/${1//\//_}"; log "$1 += $2"; }
samples() { cat "$T/samples/${1//\//_}" 2>/dev/null || true; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

now() { echo "${EPOCHREALTIME}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---------------------------------------------------------------- tools

# Every tool run gets a fresh directory pair unless told otherwise.
fresh_pair() {
	rm -rf "$W/src" "$W/dst"
	mkdir -p "$W/src" "$W/dst"
	sync
}

# start_tool TOOL MODE SRC DST: start the daemon; sets TOOL_PID, TOOL_LOG.
start_tool() {
	local tool=$1 mode=$2 src=$3 dst=$4
	TOOL_LOG=$T/$tool-$mode.log
	: >"$TOOL_LOG"
	case $tool in
	lifeboat|lifeboat-b)
		local bin=$LIFEBOAT
		[ "$tool" = lifeboat ] || bin=$LIFEBOAT_B
		# what the ssh side runs as `lifeboat serve` (tests/lib/sshd.sh)
		ln -sf "$(readlink -f "$bin")" "$T/ssh/bin/lifeboat"
		rm -rf "$T/lbstate"; mkdir -p "$T/lbstate"
		{
			printf '[lifeboat]\nstate_dir = %s\nlog = stderr\n\n[sync bench]\nsource = %s/\ndelay = 0\n' \
				"$T/lbstate" "$src"
			if [ "$mode" = local ]; then
				printf 'target = %s/\n' "$dst"
			else
				printf 'target = root@%s:%s/\nssh_port = %s\nssh_identity = %s\nssh_options = %s\n' \
					"$SSH_HOST" "$dst" "$SSHD_PORT" "$SSH_KEY" "$SSH_OPTS"
			fi
		} >"$T/lifeboat.conf"
		"$bin" -c "$T/lifeboat.conf" sync >>"$TOOL_LOG" 2>&1 &
		TOOL_PID=$!
		;;
	lsyncd|lsyncd-cm)
		local opts
		opts="UserKnownHostsFile=\"$T/ssh/known_hosts\", StrictHostKeyChecking=\"yes\", BatchMode=\"yes\", LogLevel=\"ERROR\""
		if [ "$tool" = lsyncd-cm ]; then
			opts="$opts, ControlMaster=\"auto\", ControlPath=\"$T/cm-%C\", ControlPersist=\"600\""
		fi
		{
			printf 'settings {\n  nodaemon = true,\n  logfile = "%s",\n  statusFile = "%s",\n  statusInterval = 1,\n  insist = false,\n}\n' \
				"$T/lsyncd-file.log" "$T/lsyncd.status"
			if [ "$mode" = local ]; then
				printf 'sync {\n  default.rsync,\n  source = "%s/",\n  target = "%s/",\n  delay = 0,\n  rsync = { archive = true },\n}\n' \
					"$src" "$dst"
			else
				printf 'sync {\n  default.rsyncssh,\n  source = "%s/",\n  host = "root@%s",\n  targetdir = "%s/",\n  delay = 0,\n  rsync = { archive = true },\n  ssh = { port = %s, identityFile = "%s", options = { %s } },\n}\n' \
					"$src" "$SSH_HOST" "$dst" "$SSHD_PORT" "$SSH_KEY" "$opts"
			fi
		} >"$T/lsyncd.conf.lua"
		: >"$T/lsyncd-file.log"
		lsyncd -nodaemon "$T/lsyncd.conf.lua" >>"$TOOL_LOG" 2>&1 &
		TOOL_PID=$!
		;;
	*) fail "start_tool: $tool" ;;
	esac
	lb_track_pid "$TOOL_PID"
	TOOL=$tool
}

# tool_idle: the daemon finished its startup pass and has nothing pending.
tool_idle() {
	kill -0 "$TOOL_PID" 2>/dev/null || { cat "$TOOL_LOG" >&2; fail "$TOOL exited"; }
	case $TOOL in
	lifeboat|lifeboat-b)
		# The log line comes the moment every startup pass is done; the
		# status file is rewritten at most every 200 ms.
		grep -q 'every sync is live' "$TOOL_LOG" && return 0
		local f=$T/lbstate/status.json states
		[ -s "$f" ] || return 1
		states=$(grep -o '"state": *"[a-z]*"' "$f" | sed 's/.*"\([a-z]*\)"$/\1/' | sort -u)
		[ "$states" = idle ]
		;;
	lsyncd*)
		grep -q 'Startup of .* finished' "$T/lsyncd-file.log" "$TOOL_LOG" 2>/dev/null
		;;
	esac
}

# Peak resident set of the daemon itself (children not included), KiB.
tool_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$TOOL_PID/status" 2>/dev/null || echo 0; }

stop_tool() {
	lb_kill_tree "$TOOL_PID" 10 || true
	if [ "$TOOL" = lsyncd-cm ]; then
		# shellcheck disable=SC2086
		ssh -O exit -o ControlPath="$T/cm-%C" -p "$SSHD_PORT" $SSH_OPTS "root@$SSH_HOST" 2>/dev/null || true
	fi
}

# tree_done SRC DST N LAST: the target is complete: a cheap count first (rsync's temporary files
# start with a dot), then rsync's quick check (size + mtime, no content).
tree_done() {
	local n
	# Cheapest first, so polling does not compete with the tools for the
	# CPUs: the file generated last, usually also shipped last.
	[ -f "$2/$4" ] || return 1
	n=$(find "$2" -path "$2/.lifeboat-history" -prune -o -type f ! -name '.*' -print 2>/dev/null | wc -l)
	[ "$n" -eq "$3" ] || return 1
	[ -z "$(rsync -ani --delete --filter='- /.lifeboat-history/' "$1/" "$2/" 2>/dev/null)" ]
}

# last_change DIR T1: the newest ctime in DIR (the tool's last write there),
# at most T1 (when the poller saw the tree complete).
last_change() {
	find "$1" -path "$1/.lifeboat-history" -prune -o -printf '%C@\n' | awk -v t1="$2" '$1 > m { m = $1 } END { printf "%.6f\n", (m > 0 && m < t1) ? m : t1 }'
}

tool_modes() {   # the (tool, mode) pairs to run, one per line
	local tool mode
	for tool in $TOOLS; do
		[ "$tool" = rsync ] && continue
		for mode in $MODES; do
			echo "$tool $mode"
			if [ "$tool" = lsyncd ] && [ "$mode" = ssh ] && [ "$CM" != 0 ]; then echo "lsyncd-cm ssh"; fi
		done
	done
}

lifeboat_ok() {
	[ -x "$LIFEBOAT" ] || return 1
	local h
	h=$("$LIFEBOAT" help 2>&1) || true
	[[ $h == *sync* ]]
}

# ---------------------------------------------------------------- scenarios

bench_latency() {
	local tool mode out pair
	local -a pairs
	mapfile -t pairs < <(tool_modes)
	for pair in "${pairs[@]}"; do
		read -r tool mode <<<"$pair"
		log "latency: $tool $mode"
		fresh_pair
		start_tool "$tool" "$mode" "$W/src" "$W/dst"
		if ! wait_until 60 tool_idle; then
			log "latency: $tool $mode did not become idle"; tail -5 "$TOOL_LOG" >&2
			stop_tool; put "lat/$tool/$mode" "n/a"; continue
		fi
		out=$("$T/bin/latency_probe" "$W/src" "$W/dst" "$SAMPLES" "$INTERVAL" 100 30000 | tee "$T/lat-$tool-$mode.txt" | tail -n 1) || true
		stop_tool
		# "p50 X p90 Y min .. max .. n N lost L"
		put "lat/$tool/$mode" "$(awk '{ printf "%s %s %s", $2, $4, $12 }' <<<"$out")"
	done
}

bench_burst() {
	local n tool mode reps r t0 t1 last k pair
	local -a pairs
	mapfile -t pairs < <(tool_modes)
	for n in $BURST_SIZES; do
		reps=$BURST_REPS
		[ "$n" -gt 20000 ] && reps=1
		last=$(printf 'd%05d/f%07d' 99 $((n - 1)))
		# Runs are interleaved (rsync, then each tool, then again), so a
		# change of load on the machine hits every tool alike.
		for r in $(seq "$reps"); do
			# generation alone, and plain rsync -a of that tree, alone
			fresh_pair
			t0=$(now); "$T/bin/gen_tree" "$W/src" 100 "$n" 4096; t1=$(now)
			sample "burst/$n/gen" "$(elapsed "$t0" "$t1")"
			if has_tool rsync; then
				for mode in $MODES; do
					log "burst $n: rsync $mode (run $r/$reps)"
					rm -rf "$W/dst"; mkdir "$W/dst"; sync
					t0=$(now)
					if [ "$mode" = local ]; then
						rsync -a "$W/src/" "$W/dst/"
					else
						rsync -a -e "$SSH_RSH" "$W/src/" "root@$SSH_HOST:$W/dst/" </dev/null
					fi
					t1=$(now)
					sample "burst/$n/rsync/$mode" "$(elapsed "$t0" "$t1")"
					# lifeboat's target has what it received on disk before
					# a batch counts as done; plain rsync does not: the same
					# copy, durable, is rsync then a sync of the target's
					# file system (the same one here, local and ssh alike).
					sync -f "$W/dst"
					sample "burst/$n/rsync+sync/$mode" "$(elapsed "$t0" "$(now)")"
				done
			fi
			# live tools: start idle on empty dirs, then generate; from the
			# start of the generation until the target is complete.
			for pair in "${pairs[@]}"; do
				read -r tool mode <<<"$pair"
				# lsyncd + CM on the big burst costs many minutes and says
				# nothing the small ones do not (BENCH_CM=all to run it)
				if [ "$tool" = lsyncd-cm ] && [ "$n" -gt 20000 ] && [ "$CM" != all ]; then continue; fi
				log "burst $n: $tool $mode (run $r/$reps)"
				fresh_pair
				start_tool "$tool" "$mode" "$W/src" "$W/dst"
				if ! wait_until 60 tool_idle; then
					log "burst: $tool $mode did not become idle"; stop_tool; continue
				fi
				t0=$(now)
				"$T/bin/gen_tree" "$W/src" 100 "$n" 4096
				if wait_until 900 tree_done "$W/src" "$W/dst" "$n" "$last"; then
					t1=$(now)
					# The moment the target became identical is its newest
					# change (ctime), not when the poller looked.
					sample "burst/$n/$tool/$mode" "$(elapsed "$t0" "$(last_change "$W/dst" "$t1")")"
					sample "burst/$n/$tool/$mode/seen" "$(elapsed "$t0" "$t1")"
					trees_equal "$W/src" "$W/dst" || log "burst: $tool $mode: content differs after completion: $(head -n 3 <<<"$TREES_DIFF")"
				else
					log "burst: $tool $mode: target incomplete after 900 s"
				fi
				sample "burst/$n/$tool/$mode/hwm" "$(tool_hwm)"
				stop_tool
			done
		done
		for k in "burst/$n/gen" "burst/$n/rsync/local" "burst/$n/rsync/ssh" \
			"burst/$n/rsync+sync/local" "burst/$n/rsync+sync/ssh"; do
			put "$k" "$(samples "$k" | median)"
		done
		for pair in "${pairs[@]}"; do
			read -r tool mode <<<"$pair"
			k=burst/$n/$tool/$mode
			put "$k" "$(samples "$k" | median)"
			put "$k/seen" "$(samples "$k/seen" | median)"
			put "$k/hwm" "$(samples "$k/hwm" | sort -n | tail -n 1)"
		done
	done
}

bench_startup() {
	local tool mode r t0 t1 pair k
	local -a pairs
	mapfile -t pairs < <(tool_modes | grep -v '^lsyncd-cm')
	log "startup: generating $ST_DIRS dirs / $ST_FILES files"
	fresh_pair
	"$T/bin/gen_tree" "$W/src" "$ST_DIRS" "$ST_FILES" 1024 200
	rsync -a "$W/src/" "$W/dst/"
	rsync -a "$W/src/" "$W/dst/" # warm: every inode read once more
	# interleaved, as the bursts, and every other run in reverse order: the
	# first tool after the seeding must not always be the same one
	local order
	for r in $(seq "$ST_REPS"); do
		order=("${pairs[@]}")
		if [ $((r % 2)) = 0 ]; then
			mapfile -t order < <(printf '%s\n' "${pairs[@]}" | tac)
		fi
		for pair in "${order[@]}"; do
			read -r tool mode <<<"$pair"
			log "startup: $tool $mode (run $r/$ST_REPS)"
			sync # no writeback of the previous run's files during this one
			t0=$(now)
			start_tool "$tool" "$mode" "$W/src" "$W/dst"
			if wait_until 600 tool_idle; then
				t1=$(now)
				sample "startup/$tool/$mode" "$(elapsed "$t0" "$t1")"
				sample "startup/$tool/$mode/hwm" "$(tool_hwm)"
			else
				log "startup: $tool $mode not idle after 600 s"
			fi
			stop_tool
		done
	done
	for pair in "${pairs[@]}"; do
		read -r tool mode <<<"$pair"
		k=startup/$tool/$mode
		put "$k" "$(samples "$k" | median)"
		put "$k/hwm" "$(samples "$k/hwm" | sort -n | tail -n 1)"
	done
}

# ---------------------------------------------------------------- report

ratio() {   # ratio A B: "A/B" to two decimals, or empty
	awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b }'
}
ms() { awk -v s="$1" 'BEGIN { if (s == "" || s == "n/a") print "n/a"; else printf "%.0f", s * 1000 }'; }
secs() { awk -v s="$1" 'BEGIN { if (s == "" || s == "n/a") print "n/a"; else printf "%.2f s", s }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "" || k == 0) print "n/a"; else printf "%.1f MiB", k / 1024 }'; }

# Two builds in the same run: A is $LIFEBOAT, B is $BENCH_LIFEBOAT_B.
report_ab() {
	local mode n a b v
	echo "A: $(readlink -f "$LIFEBOAT"), B: $LIFEBOAT_B"
	echo
	echo "| A/B, same run | A | B | B / A | A / rsync | B / rsync |"
	echo "|---|---|---|---|---|---|"
	for mode in $MODES; do
		if [[ " ${WHAT[*]} " == *" latency "* ]]; then
			a=$(get "lat/lifeboat/$mode"); b=$(get "lat/lifeboat-b/$mode")
			echo "| one-file change, $mode, p50 / p90 ms | $(awk '{ print $1 " / " $2 }' <<<"$a") | $(awk '{ print $1 " / " $2 }' <<<"$b") | $(ratio "${b%% *}" "${a%% *}") | | |"
		fi
		if [[ " ${WHAT[*]} " == *" burst "* ]]; then
			for n in $BURST_SIZES; do
				a=$(get "burst/$n/lifeboat/$mode"); b=$(get "burst/$n/lifeboat-b/$mode")
				v=$(get "burst/$n/rsync/$mode")
				echo "| burst $n, $mode | $(secs "$a") | $(secs "$b") | $(ratio "$b" "$a") | $(ratio "$a" "$v") | $(ratio "$b" "$v") |"
			done
		fi
	done
	echo
}

report() {
	local mode n a b c v g net
	echo
	echo "lifeboat bench, $(date -u +%Y-%m-%d\ %H:%MZ), $(nproc) CPUs, $(uname -r), $FSNOTE"
	echo "load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg) (anything above ~0.5 means other work shared the CPUs)"
	echo "lifeboat: $("$LIFEBOAT" version 2>/dev/null | head -n 1), $(lsyncd --version 2>&1 | head -n 1 | sed 's/Version: /lsyncd /'), $(rsync --version | head -n 1 | awk '{ print "rsync " $3 }'), $(ssh -V 2>&1 | cut -d, -f1)"
	echo
	if [[ " ${WHAT[*]} " == *" latency "* ]]; then
		echo "| one-file change until on target (p50 / p90 ms, $SAMPLES samples) | lifeboat | lsyncd | lsyncd + ControlMaster | lifeboat / lsyncd (p50) |"
		echo "|---|---|---|---|---|"
		for mode in $MODES; do
			a=$(get "lat/lifeboat/$mode"); b=$(get "lat/lsyncd/$mode"); c=$(get "lat/lsyncd-cm/$mode")
			fmt() { [ -n "$1" ] && [ "$1" != n/a ] && awk '{ printf "%s / %s%s", $1, $2, ($3 > 0 ? " (" $3 " lost)" : "") }' <<<"$1" || echo "${1:-}"; }
			echo "| $mode, delay 0 | $(fmt "$a") | $(fmt "$b") | $(fmt "$c") | $(ratio "${a%% *}" "${b%% *}") |"
		done
		echo
	fi
	if [[ " ${WHAT[*]} " == *" burst "* ]]; then
		echo "| files (4 KiB, 100 new dirs), start of creation until the target's last change | lifeboat | lsyncd | lsyncd + CM | plain rsync -a alone | lifeboat / rsync | lsyncd / rsync | lifeboat / lsyncd | lifeboat / rsync, until the poller saw it | plain rsync -a, then sync -f | lifeboat / (rsync + sync) |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|"
		for n in $BURST_SIZES; do
			for mode in $MODES; do
				a=$(get "burst/$n/lifeboat/$mode"); b=$(get "burst/$n/lsyncd/$mode")
				c=$(get "burst/$n/lsyncd-cm/$mode"); v=$(get "burst/$n/rsync/$mode")
				g=$(get "burst/$n/gen"); seen=$(get "burst/$n/lifeboat/$mode/seen")
				d=$(get "burst/$n/rsync+sync/$mode")
				echo "| $n, $mode (generation alone $(secs "$g")) | $(secs "$a") | $(secs "$b") | $(secs "$c") | $(secs "$v") | $(ratio "$a" "$v") | $(ratio "$b" "$v") | $(ratio "$a" "$b") | $(ratio "$seen" "$v") | $(secs "$d") | $(ratio "$a" "$d") |"
			done
		done
		echo
	fi
	if [ -n "$LIFEBOAT_B" ]; then
		report_ab
	fi
	if [[ " ${WHAT[*]} " == *" startup "* ]]; then
		echo "| startup on $ST_DIRS dirs / $ST_FILES files in sync, until idle (warm cache) | lifeboat | lsyncd | lifeboat / lsyncd |"
		echo "|---|---|---|---|"
		for mode in $MODES; do
			a=$(get "startup/lifeboat/$mode"); b=$(get "startup/lsyncd/$mode")
			echo "| $mode: time | $(secs "$a") | $(secs "$b") | $(ratio "$a" "$b") |"
			a=$(get "startup/lifeboat/$mode/hwm"); b=$(get "startup/lsyncd/$mode/hwm")
			echo "| $mode: daemon peak RSS (VmHWM) | $(mib "$a") | $(mib "$b") | $(ratio "$a" "$b") |"
		done
		echo
	fi
}

if has_tool lifeboat && ! lifeboat_ok; then
	log "$LIFEBOAT has no working sync command: lifeboat left out"
	TOOLS=${TOOLS//lifeboat/}
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for w in "${WHAT[@]}"; do
	case $w in
	latency) bench_latency ;;
	burst) bench_burst ;;
	startup) bench_startup ;;
	*) fail "unknown scenario $w (latency, burst, startup)" ;;
	esac
done
report | tee "$T/table.md"
[ -z "${BENCH_OUT:-}" ] || cp "$T/table.md" "$BENCH_OUT"
