#!/usr/bin/env bash
# A batch counts as on DR only once the target put it on disk (issue 12,
# Must 5). Here the target's file system refuses to sync (an LD_PRELOAD
# shim: syncfs, fsync and fdatasync fail with EIO while a flag file
# exists, as a failing disk's write-back would): flush must not return 0,
# status must say why, and nothing may be counted as done; once the disk
# syncs again, what was refused is sent again and flush returns 0 with the
# target equal to the source. Small batches (their files fsynced) and a
# burst (one syncfs in a thread beside the loop) both. A disk that keeps
# failing is retried with a growing pause, not hammered with full passes.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 cc
lb_setup
cd "$T" || fail "cannot cd to $T"

cat >"$T/failing_sync.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* While the flag exists: fail, and note one line per refused call. */
static int failing(void)
{
	const char *flag = getenv("FAIL_SYNC_FLAG");
	if (!flag || access(flag, F_OK) != 0)
		return 0;
	const char *log = getenv("FAIL_SYNC_LOG");
	int fd = log ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		if (write(fd, "refused\n", 8) < 0) {
		}
		close(fd);
	}
	errno = EIO;
	return 1;
}

#define WRAP(name)                                                        \
	int name(int fd)                                                  \
	{                                                                 \
		if (failing())                                            \
			return -1;                                        \
		int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, #name); \
		return real(fd);                                          \
	}
WRAP(syncfs)
WRAP(fsync)
WRAP(fdatasync)
EOF
cc -shared -fPIC -O2 -o "$T/failing_sync.so" "$T/failing_sync.c" -ldl || fail "cannot build the shim"

SRC=$T/src DST=$T/dst FLAG=$T/disk-fails REFUSED=$T/refused.log
mkdir -p "$SRC/old" "$DST"
for i in $(seq 1 10); do echo "old $i" >"$SRC/old/f$i"; done
CONF=$T/lb.conf
sync_conf "$CONF" near "$SRC" "$DST" delay=0

FAIL_SYNC_FLAG=$FLAG FAIL_SYNC_LOG=$REFUSED LD_PRELOAD=$T/failing_sync.so \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 start_sync "$CONF"
wait_idle near 60 || fail "startup pass did not reach idle"

has_error() {
	[ -n "$(status_field near last_error)" ]
}

for round in small burst; do
	: >"$REFUSED"
	touch "$FLAG"
	if [ $round = small ]; then
		echo "changed while the disk fails" >"$SRC/old/f1"
		echo "new while the disk fails" >"$SRC/old/new1"
	else
		mkdir -p "$T/incoming/tree"
		for i in $(seq 1 300); do echo "new $i" >"$T/incoming/tree/n$i"; done
		for i in $(seq 1 100); do echo "flat $i" >"$SRC/old/r$i"; done
		mv "$T/incoming/tree" "$SRC/tree"
	fi
	out=$("$LIFEBOAT" -c "$CONF" flush --timeout 3 2>&1) && \
		fail "$round: flush returned 0 while the target could not sync: $out"
	wait_until 20 has_error || fail "$round: status shows no error while the target cannot sync"
	grep -qi "sync" <<<"$(status_field near last_error)" ||
		fail "$round: the error does not say the sync failed: $(status_field near last_error)"
	# Pauses of 0.5, 1, 2, 4 s...: a handful of tries in these seconds
	# (each try: a transfer's fsync, then its syncfs), not dozens.
	tries=$(wc -l <"$REFUSED")
	[ "$tries" -le 16 ] || fail "$round: $tries refused syncs in a few seconds: the failing disk is hammered"
	rm -f "$FLAG"
	out=$("$LIFEBOAT" -c "$CONF" flush --timeout 60 2>&1) ||
		fail "$round: flush failed after the disk recovered: $out"
	assert_trees_equal "$SRC" "$DST"
done

stop_sync || fail "sync did not stop cleanly"
pass
