#!/usr/bin/env bash
# lifeboat flush never returns before the target synced what it covers.
# A local target's batch is put on disk by one syncfs that runs beside the
# daemon's loop while the next batch already ships; the batch counts (flush,
# RPO) only once that syncfs is done. Here every syncfs the daemon calls
# takes 1.5 s longer (an LD_PRELOAD shim that logs its start and end):
# after a burst of new files, flush must return only after a syncfs that
# started after the burst has ended, and the target must equal the source.
# The same over ssh through the restricted key, the shim in the target's
# `lifeboat serve`: serve tar-x says it placed a stream's trees before its
# syncfs, and the daemon ships on meanwhile; the batch counts only once
# that serve exited.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 cc ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"

cat >"$T/slow_syncfs.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void note(const char *what)
{
	const char *log = getenv("SLOW_SYNCFS_LOG");
	struct timespec ts;
	char line[64];
	if (!log)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	int n = snprintf(line, sizeof(line), "%s %lld%09ld\n", what, (long long)ts.tv_sec, ts.tv_nsec);
	int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0) {
		}
		close(fd);
	}
}

int syncfs(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");
	struct timespec slow = {1, 500000000};
	note("start");
	nanosleep(&slow, NULL);
	int rc = real(fd);
	note("end");
	return rc;
}
EOF
cc -shared -fPIC -O2 -o "$T/slow_syncfs.so" "$T/slow_syncfs.c" -ldl || fail "cannot build the syncfs shim"

SRC=$T/src DST=$T/dst SLOG=$T/syncfs.log
mkdir -p "$SRC/old" "$DST"
for i in $(seq 1 10); do echo "old $i" >"$SRC/old/f$i"; done
CONF=$T/lb.conf
sync_conf "$CONF" near "$SRC" "$DST" delay=30

SLOW_SYNCFS_LOG=$SLOG LD_PRELOAD=$T/slow_syncfs.so \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 start_sync "$CONF"
wait_idle near 60 || fail "startup pass did not reach idle"

# flushed_after_sync SINCE UNTIL: a syncfs started at or after SINCE ended
# at or before UNTIL (ns).
flushed_after_sync() {
	python3 - "$SLOG" "$1" "$2" <<'PY'
import sys
since, until = int(sys.argv[2]), int(sys.argv[3])
try:
    lines = [l.split() for l in open(sys.argv[1])]
except FileNotFoundError:
    sys.exit(1)
start = None
for what, ns in lines:
    if what == "start":
        start = int(ns)
    elif start is not None and start >= since and int(ns) <= until:
        sys.exit(0)
sys.exit(1)
PY
}

# rounds SRC DST SLOG NAME: three bursts, each flushed and checked.
rounds() {
	local src=$1 dst=$2 slog=$3 name=$4 round since until out
	for round in 1 2 3; do
		# Over 256 entries: one syncfs, not per-file fsyncs. Made outside
		# the source and moved in (a new tree), and new files in an
		# existing directory (the tar stream's new files).
		mkdir -p "$T/incoming-$name$round/tree"
		for i in $(seq 1 300); do echo "new $round $i" >"$T/incoming-$name$round/tree/n$i"; done
		for i in $(seq 1 100); do echo "flat $round $i" >"$src/old/r${round}_$i"; done
		mv "$T/incoming-$name$round/tree" "$src/tree$round"
		since=$(date +%s%N)
		out=$("$LIFEBOAT" -c "$CONF" flush --timeout 60 2>&1) || fail "$name round $round: flush failed: $out"
		until=$(date +%s%N)
		trees_equal "$src" "$dst" || fail "$name round $round: the target differs from the source when flush returned: $(head -n 3 <<<"$TREES_DIFF")"
		SLOG=$slog flushed_after_sync "$since" "$until" ||
			fail "$name round $round: flush returned before a syncfs covering the burst ended: $(tail -n 4 "$slog" | tr '\n' ' ')"
	done
}
rounds "$SRC" "$DST" "$SLOG" local
stop_sync || fail "sync did not stop cleanly"

# Over ssh: the target's serve runs with the shim (its own log).
start_sshd || fail "cannot start sshd"
RSRC=$T/rsrc RDST=$T/remote/rdst RSLOG=$T/serve-syncfs.log
mkdir -p "$RSRC/old"
for i in $(seq 1 10); do echo "old $i" >"$RSRC/old/f$i"; done
real=$(readlink -f "$T/ssh/bin/lifeboat")
rm -f "$T/ssh/bin/lifeboat"
printf '#!/bin/sh\nSLOW_SYNCFS_LOG=%s LD_PRELOAD=%s ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 exec %s "$@"\n' \
	"$RSLOG" "$T/slow_syncfs.so" "$real" >"$T/ssh/bin/lifeboat"
chmod 755 "$T/ssh/bin/lifeboat"
CONF=$T/lb-ssh.conf
sync_conf "$CONF" far "$RSRC" "$SSH_TARGET:$RDST" delay=30 ssh_port="$SSHD_PORT" \
	ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
cp "$CONF" "$T/lb.conf" # what serve reads on the target
start_sync "$CONF"
wait_idle far 60 || fail "ssh: startup pass did not reach idle"
rounds "$RSRC" "$RDST" "$RSLOG" ssh
stop_sync || fail "ssh: sync did not stop cleanly"
pass
