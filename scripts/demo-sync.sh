#!/usr/bin/env bash
# make demo-sync: lifeboat's live file replication on this one machine.
#
# A web root is replicated to two DR copies at once: a local directory and,
# over ssh, a private sshd on 127.0.0.1 (a throwaway key; nothing outside
# this machine is touched). Uploads, renames and deletes arrive in
# milliseconds; the target goes away and comes back without losing a
# change. Everything started here is stopped and removed at the end.
set -u
cd "$(dirname "$0")/.."
export LIFEBOAT=${LIFEBOAT:-$PWD/lifeboat}
. tests/lib/common.sh
. tests/lib/sshd.sh
. tests/lib/sync.sh
lb_setup

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms_since() { echo $(( $(lb_now_ms) - $1 )); }
arrived() { # FILE: wait until both DR copies have it, print the latency
	local f=$1 t0=$2
	wait_until 10 cmp -s "$WWW/$f" "$LOCAL_DR/$f" || { echo "  $f: NOT on the local DR copy"; return 1; }
	local l=$(ms_since "$t0")
	wait_until 10 cmp -s "$WWW/$f" "$SSH_DR/$f" || { echo "  $f: NOT on the ssh DR copy"; return 1; }
	printf '  %-34s local DR %4d ms   ssh DR %4d ms\n' "$f" "$l" "$(ms_since "$t0")"
}

WWW=$T/primary/var/www/shop
LOCAL_DR=$T/dr-local/var/www/shop
SSH_DR=$T/dr-ssh/var/www/shop

say "a web shop's document root on the primary"
mkdir -p "$WWW/uploads/2026/11" "$WWW/app"
for i in $(seq 1 500); do printf 'product image %d\n' "$i" >"$WWW/uploads/2026/11/img-$i.jpg"; done
printf '<?php echo "shop";\n' >"$WWW/app/index.php"
echo "  $(find "$WWW" -type f | wc -l) files"

say "a private sshd on 127.0.0.1 plays the DR server"
start_sshd || { echo "cannot start sshd" >&2; exit 1; }
echo "  sshd on 127.0.0.1:$SSHD_PORT, throwaway ed25519 key"

cat >"$T/lifeboat.conf" <<EOF2
[lifeboat]
state_dir = $T/state
log = stderr

[sync www-local]
source = $WWW
target = $LOCAL_DR
delay = 0

[sync www-dr]
source = $WWW
target = root@127.0.0.1:$SSH_DR
delay = 0
ssh_port = $SSHD_PORT
ssh_identity = $SSH_KEY
ssh_options = $SSH_OPTS
EOF2
say "the configuration"
sed 's/^/  /' "$T/lifeboat.conf"

say "lifeboat sync: startup pass, then live"
start_sync "$T/lifeboat.conf"
t0=$(lb_now_ms)
wait_idle www-local 30 && wait_idle www-dr 30 || { echo "startup failed:"; cat "$SYNC_LOG"; exit 1; }
echo "  both DR copies complete after $(ms_since "$t0") ms"

say "uploads arrive while customers shop"
for i in 1 2 3 4 5; do
	t0=$(lb_now_ms)
	head -c 200000 /dev/urandom >"$WWW/uploads/2026/11/new-photo-$i.jpg"
	arrived "uploads/2026/11/new-photo-$i.jpg" "$t0"
	wait_until 0.3 false
done
t0=$(lb_now_ms)
printf 'invoice\n' >"$WWW/uploads/$(printf 'Rechnung März 2026 (final).pdf')"
arrived "uploads/Rechnung März 2026 (final).pdf" "$t0"

say "a directory rename is a rename on the DR side, not a re-upload"
before=$(status_field www-dr bytes_shipped)
t0=$(lb_now_ms)
mv "$WWW/uploads/2026" "$WWW/uploads/archive-2026"
wait_until 10 test -d "$SSH_DR/uploads/archive-2026" && wait_idle www-dr 10
wait_until 1 false
echo "  500 files moved in $(ms_since "$t0") ms, $(( $(status_field www-dr bytes_shipped) - before )) bytes sent over ssh"

say "the DR server goes away for a while (sshd stopped)"
stop_sshd
for i in 1 2 3; do echo "order $i" >"$WWW/app/order-$i.txt"; done
rm "$WWW/app/index.php"
wait_until 20 eval '[ "$(status_field www-dr state)" = retrying ]'
echo "  state: $(status_field www-dr state), pending: $(status_field www-dr pending), oldest change waiting: $(status_field www-dr oldest_pending_age) s"
say "... and comes back: every kept change converges"
t0=$(lb_now_ms)
restart_sshd
if wait_until 60 trees_equal "$WWW" "$SSH_DR"; then
	echo "  DR copy identical again $(ms_since "$t0") ms after sshd returned"
else
	echo "  DR copy still differs:"; printf '%s\n' "$TREES_DIFF" | head; exit 1
fi

say "lifeboat status"
"$LIFEBOAT" -c "$T/lifeboat.conf" status | sed 's/^/  /'

say "verdict"
ok=1
trees_equal "$WWW" "$LOCAL_DR" && echo "  local DR copy: identical" || { echo "  local DR copy differs"; ok=0; }
trees_equal "$WWW" "$SSH_DR" && echo "  ssh DR copy:   identical" || { echo "  ssh DR copy differs"; ok=0; }
stop_sync >/dev/null 2>&1
[ $ok = 1 ] && echo "  demo passed; everything it started is stopped and removed" && exit 0
exit 1
