#!/usr/bin/env bash
# make demo-failover: the panic button, end to end, on this one machine.
#
# Two machines play "Oslo" (the primary) and "DR": each its own network
# namespace and its own mount namespace (the same paths, its own files:
# /etc/mysql, /var/lib/mysql, /srv/www/mysite, /etc/lifeboat), lifeboat
# installed with `make install`, one configuration file, the same on both.
# A third namespace is the client; they share a bridge, and the service
# address (VIP) sits on Oslo. Each runs a real mariadbd (read_only = ON in
# its my.cnf; lifeboat turns writes on on Oslo) and `lifeboat sync`: Oslo
# pushes its web root, DR receives, and MariaDB replicates the shop's
# database. A client places orders through the VIP while uploads land in
# Oslo's web root. Then Oslo dies: kill -9 of everything on it and its
# network cable cut. One command,
# `lifeboat failover --yes`, on DR. We check what DR has, that the client
# reaches the database through the same address, and print the RTO/RPO
# report. Everything started here is stopped and removed at the end.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export LIFEBOAT=${LIFEBOAT:-$ROOT/lifeboat} LIFEBOAT_ROOT=$ROOT
[ -x "$LIFEBOAT" ] || { echo "build it first: make all" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "demo-failover needs root (network namespaces)" >&2; exit 2; }
. tests/lib/common.sh
. tests/lib/netns.sh
. tests/lib/sshd.sh
. tests/lib/sync.sh
. tests/lib/mariadb.sh
. tests/lib/cluster.sh
lb_setup
T0=$(lb_now_ms)

say() { printf '\n\033[1m== [%5.1f s] %s\033[0m\n' "$(( $(lb_now_ms) - T0 ))e-3" "$*"; }

say "two servers, Oslo (primary) and DR, and a client: network and mount namespaces"
CLUSTER_SYNC=1
cluster_up || { echo "cluster setup failed" >&2; exit 1; }
echo "  Oslo $LB_NET.1, DR $LB_NET.2, client $LB_NET.3; service address (VIP) $VIP on Oslo"
echo "  one /etc/lifeboat/lifeboat.conf, byte for byte the same on both; lifeboat from make install"
echo "  mariadbd on both, DR cloned from Oslo and replicating (GTID); heartbeat every second"
sql_p "CREATE TABLE app.orders (id INT PRIMARY KEY, item VARCHAR(40), placed DATETIME(6) DEFAULT NOW(6))"
mkdir -p "$T/oslo/www/uploads" "$T/oslo/www/app"
printf '<?php echo "shop";\n' >"$T/oslo/www/app/index.php"
for i in $(seq 1 200); do printf 'product image %d\n' "$i" >"$T/oslo/www/uploads/product-$i.jpg"; done
cluster_sync_start || { echo "sync daemons did not start" >&2; exit 1; }
# The site's files, not the history DR keeps beside them.
site_files() { find "$1" -path "$1/.lifeboat-history" -prune -o -type f -print | wc -l; }
wait_until 30 eval '[ "$(site_files "$T/dr/www")" = 201 ]' || {
	echo "first pass failed: $(site_files "$T/dr/www") of 201 files on DR" >&2
	find "$T/dr/www" | head -20 >&2; tail -20 "$T/sync-oslo.log" "$T/sync-dr.log" >&2 2>/dev/null; exit 1; }
echo "  lifeboat sync on both nodes: Oslo pushes its web root, DR receives ($(site_files "$T/dr/www") files)"
lb_d status 2>/dev/null | grep -A1 "receiving" | sed 's/^/  DR: /'

say "business as usual: orders through the VIP, uploads on Oslo"
orders() {
	local i=1
	while [ ! -e "$T/stop" ]; do
		# IGNORE: an order committed just as the old primary died may be on DR
		# already, its answer lost: it is there, so it counts as taken.
		if app_vip "INSERT IGNORE INTO app.orders (id, item) VALUES ($i, 'order $i')" 2>/dev/null; then
			echo "$i" >>"$T/orders.acked"; i=$((i + 1))
		fi
	done
}
uploads() {
	local i=1
	while [ ! -e "$T/stop" ] && [ ! -e "$T/oslo.dead" ]; do
		printf 'upload %d\n' "$i" >"$T/oslo/www/uploads/u-$i.jpg"; i=$((i + 1))
		wait_until 0.05 false
	done
}
: >"$T/orders.acked"
orders & lb_track_pid $!
uploads & lb_track_pid $!
wait_until 30 eval '[ "$(wc -l <"$T/orders.acked")" -ge 100 ]'
echo "  $(wc -l <"$T/orders.acked") orders placed, $(find "$T/oslo/www/uploads" -name 'u-*' | wc -l) uploads so far"
lb_d failover --dry-run 2>/dev/null | sed -n '/^standby lag/,$p' | sed 's/^/  dry run: /'

say "Oslo dies: kill -9 of everything on it, network cable cut"
touch "$T/oslo.dead"
cluster_crash primary
n_acked=$(wc -l <"$T/orders.acked")
echo "  $n_acked orders acknowledged before the crash; the client now gets errors"

say "the panic button, on DR: lifeboat failover --yes"
lb_d failover --yes 2>"$T/failover.err" | sed 's/^/  /'
rc=${PIPESTATUS[0]}
sed 's/^/  /' "$T/failover.err" | grep -v "^  lifeboat: info: failover: " || true
[ "$rc" = 0 ] || { echo "failover failed (exit $rc)" >&2; exit 1; }

say "after: the client reaches the database through the same address"
wait_until 20 eval '[ "$(wc -l <"$T/orders.acked")" -gt $((n_acked + 20)) ]' || { echo "no orders after the failover" >&2; exit 1; }
touch "$T/stop"
echo "  server behind $VIP: server_id $(app_vip "SELECT @@server_id") (DR), read_only $(app_vip "SELECT @@read_only")"
echo "  $(( $(wc -l <"$T/orders.acked") - n_acked )) more orders placed on DR through the VIP"
sort -n "$T/orders.acked" >"$T/acked.s"
sql_d "SELECT id FROM app.orders" | sort -n >"$T/have.s"
lost=$(comm -23 "$T/acked.s" "$T/have.s" | wc -l)
echo "  orders: $(wc -l <"$T/acked.s") acknowledged, $lost missing on DR (async replication; semi_sync = yes makes it 0)"
on_oslo=$(find "$T/oslo/www" -type f | wc -l)
missing=$(cd "$T/oslo/www" && find . -type f | while read -r f; do [ -e "$T/dr/www/$f" ] || echo "$f"; done | wc -l)
echo "  files: $on_oslo on Oslo's disk, $((on_oslo - missing)) on DR, $missing not shipped before the crash"
echo "  DR's sync: role $(cat "$STATE_D/role"), epoch $(cat "$STATE_D/epoch"); Oslo stays fenced until 'lifeboat db rejoin'"
say "done in $(( ($(lb_now_ms) - T0) / 1000 )) s; cleaning up"
# Act two, automatic failover on etcd: its own servers, its own cleanup.
scripts/demo-agent.sh || exit 1
