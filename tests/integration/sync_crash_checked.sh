#!/usr/bin/env bash
# kill -9 in the middle of a checked run (a file too big for the stage:
# rsync writes into a staging directory in the target's history, the file
# is merged into place only once it held still): of the sending side
# locally, of the receiving side (serve rsync-staged and its rsync) and of
# the sending side over ssh. Never a partial file under a final name, no
# staging directory left behind once the sync runs again, and the target
# converges to the source.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
# bwlimit (KB/s): a big file takes seconds, long enough to be killed in flight.
sync_pair_up delay=0 bwlimit=100000

no_partial() { # SRC DST: every file under a final name is whole
	local src=$1 dst=$2 f rel
	while IFS= read -r -d '' f; do
		rel=${f#"$dst"/}
		[ -f "$src/$rel" ] || fail "$rel is on the target, not on the source"
		cmp -s "$f" "$src/$rel" || fail "$rel is on the target but partial ($(stat -c %s "$f") of $(stat -c %s "$src/$rel") bytes)"
	done < <(find "$dst" -path "$dst/.lifeboat-history" -prune -o -type f -print0)
}
kill_matching() { # PARENT PATTERN: kill -9 the descendants of PARENT whose command line has PATTERN
	local p n=0
	for p in $(_lb_descendants "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" && kill -9 "$p" && n=$((n + 1))
	done
	[ $n -gt 0 ]
}
kill_daemon() {
	# The daemon first: killed after its rsync, it could see that one
	# exit and clean up, and there would be no crash to recover from.
	victims="$SYNC_PID $(_lb_descendants "$SYNC_PID")"
	for p in $victims; do kill -9 "$p" 2>/dev/null; done
	wait "$SYNC_PID" 2>/dev/null
	wait_until 15 gone || fail "the killed daemon's processes are still there"
}
gone() { local p; for p in $victims; do _lb_alive "$p" && return 1; done; return 0; }
# The checked run's file in flight: in its staging directory.
in_flight() { find "$1/.lifeboat-history" -path '*/.incoming-*-verified/*' -name "*$2*" -size +1M 2>/dev/null | grep -q .; }
staging_of() { find "$1/.lifeboat-history" -maxdepth 2 \( -name '.incoming-*-verified' \
	-o -name '.incoming-*-merge' -o -name '.received-*' \) 2>/dev/null; }
no_staging() { [ -z "$(staging_of "$1")" ]; }
big() { head -c 400000000 /dev/zero | tr '\0' "$2" >"$T/$1" && mv "$T/$1" "$3/$1"; }
converged() { # SRC DST NAME
	assert_trees_equal "$1" "$2" 90
	wait_idle "$3" 30 || fail "$3: not idle after converging"
	wait_until 15 no_staging "$2" || fail "$3: staging left in the history: $(staging_of "$2")"
}

# 1. The sending side, local target: the daemon and its rsync.
big a.bin a "$LSRC"
wait_until 30 in_flight "$LDST" a.bin || fail "no checked run of a.bin seen in flight"
kill_daemon
no_partial "$LSRC" "$LDST"
[ -n "$(staging_of "$LDST")" ] || fail "the killed run left no staging to clean (not a checked run?)"
[ -z "$(staging_of "$LDST" | grep -v '/\.lifeboat-history/\.staging/')" ] ||
	fail "a staging directory outside .lifeboat-history/.staging: $(staging_of "$LDST")"
start_sync "$T/lb.conf"
converged "$LSRC" "$LDST" loc

# 2. The receiving side over ssh: serve rsync-staged and its rsync.
big b.bin b "$RSRC"
wait_until 30 in_flight "$RDST" b.bin || fail "no checked run of b.bin seen in flight over ssh"
# The forced command's cmdline is "lifeboat serve": the receiving rsync's
# parent is the serve that runs it.
receivers() { local p; for p in $(_lb_descendants "$SSHD_PID"); do
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- " --server " &&
		echo "$p $(awk '{print $4}' "/proc/$p/stat")"; done; }
r=$(receivers)
[ -n "$r" ] || fail "no receiving rsync to kill"
kill -9 $r
no_partial "$RSRC" "$RDST"
converged "$RSRC" "$RDST" rem

# 3. The sending side over ssh: serve sees its stdin end and removes the
#    staging; nothing of it is merged.
big c.bin c "$RSRC"
wait_until 30 in_flight "$RDST" c.bin || fail "no checked run of c.bin seen in flight over ssh"
kill_daemon
no_partial "$RSRC" "$RDST"
wait_until 15 eval '[ -z "$(receivers)" ]' || fail "the receiving rsync did not end"
[ ! -e "$RDST/c.bin" ] || fail "c.bin was merged although its sender died"
wait_until 15 no_staging "$RDST" || fail "serve left its staging: $(staging_of "$RDST")"
start_sync "$T/lb.conf"
converged "$RSRC" "$RDST" rem
converged "$LSRC" "$LDST" loc
stop_sync || fail "sync did not stop cleanly"
pass
