# shellcheck shell=bash
# Helpers for the live-sync tests.  Needs common.sh and lb_setup.
#
#   status_field NAME FIELD   print one field of sync NAME from status.json
#   wait_idle NAME TIMEOUT    until NAME is idle with nothing pending
#   wait_field_ge NAME FIELD N TIMEOUT
#   make_weird_names DIR      files whose names try to break shells and logs
#                             (a shell that ran one creates ./pwned: run
#                             lifeboat from a directory you then check)
#
# The local and the ssh sync that most sync tests run side by side (the ssh
# one through the restricted key of the private sshd: start_sshd first):
#   sync_pair_paths           sets LSRC LDST (this machine), RSRC RDST
#                             (over ssh) and makes the two sources
#   sync_pair_conf [K=V...]   $T/lb.conf with [sync loc] and [sync rem],
#                             the same K=Vs each
#   sync_pair_up [K=V...]     sync_pair_conf, the daemon, both idle

status_field() {
	local f=${3:-$T/state}/status.json
	[ -s "$f" ] || return 1
	/usr/bin/python3 - "$f" "$1" "$2" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
v = d["syncs"][sys.argv[2]][sys.argv[3]]
print("" if v is None else v)
PY
}

_idle() {
	[ "$(status_field "$1" state)" = idle ] && [ "$(status_field "$1" pending)" = 0 ]
}

wait_idle() {
	wait_until "$2" _idle "$1"
}

_field_ge() {
	local v
	v=$(status_field "$1" "$2") || return 1
	[ -n "$v" ] && [ "${v%.*}" -ge "$3" ]
}

wait_field_ge() {
	wait_until "$4" _field_ge "$1" "$2" "$3"
}

make_weird_names() {
	local d=$1
	mkdir -p "$d"
	echo space >"$d/with space"
	printf 'nl' >"$d/$(printf 'new\nline')"
	echo dash >"$d/-rf"
	echo dash2 >"$d/--delete"
	echo quote >"$d/it's \"quoted\""
	echo star >"$d/*"
	# shellcheck disable=SC2016
	echo subst >"$d/\$(touch pwned)"
	echo tick >"$d/\`touch pwned2\`"
	echo semi >"$d/a;b&c|d"
	printf 'bin' >"$d/$(printf 'latin1-\xe9\xff')"
	echo glob >"$d/[abc]?"
	mkdir -p "$d/dir with space/-sub"
	echo deep >"$d/dir with space/-sub/file"
}

sync_pair_paths() {
	LSRC=$T/lsrc LDST=$T/ldst RSRC=$T/rsrc RDST=$T/remote/rdst
	mkdir -p "$LSRC" "$RSRC"
}

sync_pair_conf() {
	[ -n "${LSRC:-}" ] || sync_pair_paths
	sync_conf "$T/lb.conf" loc "$LSRC" "$LDST" "$@"
	sync_conf_add "$T/lb.conf" rem "$RSRC" "$SSH_TARGET:$RDST" "$@" \
		ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
}

sync_pair_up() {
	sync_pair_conf "$@"
	start_sync "$T/lb.conf"
	wait_idle loc 30 && wait_idle rem 30 ||
		fail "startup did not reach idle: $(tail -3 "$SYNC_LOG")"
}

# probe_full_passes SRC DST NAME MIN_PASSES: SIGUSR1 to the sync daemon
# every 100 ms (a full pass each) while torn_probe.py rewrites SRC/probe.bin
# in place for 6 s and reads DST/probe.bin: fails on a torn read, on fewer
# than 30 reads, or when fewer than MIN_PASSES full passes ran.
probe_full_passes() {
	local before out pinger
	before=$(status_field "$3" full_passes)
	( while kill -USR1 "$SYNC_PID" 2>/dev/null; do sleep 0.1; done ) &
	pinger=$!
	lb_track_pid "$pinger"
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_probe.py" "$1/probe.bin" "$2/probe.bin" 6) ||
		fail "the probe failed: $out"
	kill "$pinger"
	echo "$3: $out, full passes $before -> $(status_field "$3" full_passes)"
	set -- $out "$3" "$4"
	[ "$2" -ge 30 ] || fail "$5: only $2 reads of the target copy"
	[ "$4" -eq 0 ] || fail "$5: $4 torn reads of the target copy during full passes"
	_field_ge "$5" full_passes $((before + $6)) || fail "$5: the full passes did not run"
}
