#!/usr/bin/env bash
# No torn copies of files too big for the stage (over 64 MiB): a 72 MiB
# file rewritten in place without pause (every byte of version N is N, one
# pwrite over the whole file) while a reader checks every read of the
# target's copy: none holds two versions, locally and over ssh through the
# restricted key. Meanwhile status names the file as waiting to hold
# still; once the writer stops, its last version arrives, and no staging
# directory stays behind in the target's history.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
sync_pair_up delay=0

SIZE=$((72 << 20))
# A checked run's staging (in .lifeboat-history/.staging; the old layout's
# place, the history itself, is looked at too): .incoming-PID-verified
# while it is received, .received-TAG until merged (serve),
# .incoming-PID-merge while merged.
staging_of() { find "$1/.lifeboat-history" -maxdepth 2 \( -name '.incoming-*-verified' \
	-o -name '.incoming-*-merge' -o -name '.received-*' \) 2>/dev/null; }
no_staging() { [ -z "$(staging_of "$1")" ]; }
probe() { # SRC DST NAME
	local out
	python3 -c 'import sys; open(sys.argv[1], "wb").write(bytes([2]) * int(sys.argv[2]))' \
		"$1/big.bin" "$SIZE" || fail "cannot write big.bin"
	wait_until 60 cmp -s "$1/big.bin" "$2/big.bin" || fail "$3: the first version never arrived"
	out=$(python3 "$LIFEBOAT_ROOT/tests/lib/torn_big_probe.py" "$1/big.bin" "$2/big.bin" 11 \
		"$LIFEBOAT" -c "$T/lb.conf" status) || fail "$3: the probe failed: $out"
	echo "$3: $out"
	set -- "$1" "$2" "$3" $out
	[ "$5" -ge 20 ] || fail "$3: only $5 reads of the target copy"
	[ "$7" -eq 0 ] || fail "$3: $7 torn reads of the target copy"
	[ "$9" -ge 1 ] || fail "$3: status never said big.bin waits to hold still"
	# The last version arrives once the writer stopped.
	wait_until 60 cmp -s "$1/big.bin" "$2/big.bin" || fail "$3: the last version never arrived"
	wait_idle "$3" 30 || fail "$3: not idle after the writer stopped"
	wait_until 10 no_staging "$2" || fail "$3: a staging directory stayed in the history: $(staging_of "$2")"
}
probe "$LSRC" "$LDST" loc
probe "$RSRC" "$RDST" rem
grep -Eq "big.bin (changed while it was read|is open for writing): it waits for a quiet moment" "$SYNC_LOG" ||
	fail "the log never said big.bin waits for a quiet moment"
stop_sync || fail "sync did not stop cleanly"
pass
