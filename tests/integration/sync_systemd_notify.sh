#!/usr/bin/env bash
# Under systemd (Type=notify): READY=1 only after the startup pass, then
# WATCHDOG=1 pings at half the asked interval, STOPPING=1 on SIGTERM.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"
SRC=$T/src
mkdir -p "$SRC"
for i in $(seq 1 300); do echo "$i" >"$SRC/f$i"; done
sync_conf "$T/lb.conf" www "$SRC" "$T/dst" delay=0

# A stand-in for systemd's notify socket: log every datagram with the
# state of the sync at the moment it arrived.
python3 - "$T/notify.sock" "$T/notify.log" "$T/dst" <<'PY' &
import os, socket, sys
sock_path, log_path, dst = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.settimeout(30)
with open(log_path, "a", buffering=1) as log:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        for line in msg.split("\n"):
            log.write("%s files_on_target=%d\n" % (line, len([n for n in os.listdir(dst) if n != ".lifeboat-history"]) if os.path.isdir(dst) else 0))
        if "STOPPING=1" in msg:
            break
PY
lb_track_pid $!
wait_until 5 test -S "$T/notify.sock" || fail "notify socket not ready"

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 start_sync "$T/lb.conf"
wait_until 20 grep -q "READY=1" "$T/notify.log" || fail "no READY=1"
grep "READY=1" "$T/notify.log" | head -1 | grep -q "files_on_target=300" ||
	fail "READY=1 before the startup pass was done: $(grep READY "$T/notify.log")"
wait_until 5 eval '[ "$(grep -c WATCHDOG=1 "$T/notify.log")" -ge 3 ]' || fail "no watchdog pings"
kill -TERM "$SYNC_PID"
wait_until 10 grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1"
pass
