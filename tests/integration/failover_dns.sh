#!/usr/bin/env bash
# dns_hook against a real bind9: named in the client's namespace serves a
# throwaway zone shop.test that accepts dynamic updates signed with a TSIG
# key; the dns_hook is what an administrator would write (nsupdate -k). After
# the failover the name points at DR and the client reaches the database by
# that name. Also fence = hook:PATH (a STONITH stand-in) runs with the old
# primary's name and address. Skips when named is missing or cannot start.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$LIFEBOAT_ROOT/tests/lib/netns.sh"
. "$LIFEBOAT_ROOT/tests/lib/sshd.sh"
. "$LIFEBOAT_ROOT/tests/lib/mariadb.sh"
. "$LIFEBOAT_ROOT/tests/lib/cluster.sh"
lb_setup
need_root
[ -x /usr/sbin/named ] || skip "bind9 not installed (scripts/install-deps.sh installs it)"
need nsupdate dig tsig-keygen arping

N=$T/named
mkdir -p "$N" "$T/hooks"
tsig-keygen -a hmac-sha256 lifeboat-key >"$N/key.conf"
# The hook needs the network first: named listens on the client's address.
CLUSTER_EXTRA=("dns_hook = $T/hooks/dns" "fence = hook:$T/hooks/stonith")
printf '#!/bin/sh\necho "$*" >%s\n' "$T/stonith.args" >"$T/hooks/stonith"
chmod +x "$T/hooks/stonith"
cluster_up || fail "cluster setup"
DNS=$LB_NET.3
cat >"$N/shop.test.zone" <<EOF
\$TTL 30
@ IN SOA ns.shop.test. admin.shop.test. 1 60 60 600 30
@ IN NS ns.shop.test.
ns IN A $DNS
db IN A $LB_NET.1
EOF
cat >"$N/named.conf" <<EOF
options {
	directory "$N";
	pid-file "$N/named.pid";
	session-keyfile "$N/session.key";
	managed-keys-directory "$N";
	listen-on port 53 { $DNS; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	allow-query { any; };
};
include "$N/key.conf";
zone "shop.test" {
	type primary;
	file "$N/shop.test.zone";
	allow-update { key "lifeboat-key"; };
};
EOF
ip netns exec "$(netns_name client)" /usr/sbin/named -g -u root -c "$N/named.conf" >"$N/named.log" 2>&1 &
lb_track_pid $!
# Only the address: on a timeout dig prints ";; ..." on stdout.
resolve() { in_ns client dig +short +time=2 +tries=2 @"$DNS" db.shop.test A | grep -E '^[0-9.]+$'; }
if ! wait_until 15 eval '[ -n "$(resolve)" ]'; then
	tail -n 5 "$N/named.log"
	skip "named did not start in the namespace"
fi
[ "$(resolve)" = "$LB_NET.1" ] || fail "zone not served: $(resolve)"

# The administrator's hook: NODE ADDRESS -> db.shop.test A ADDRESS.
cat >"$T/hooks/dns" <<EOF
#!/bin/sh
printf 'server $DNS 53\nzone shop.test\nupdate delete db.shop.test A\nupdate add db.shop.test 30 A %s\nsend\n' "\$2" |
	exec nsupdate -t 5 -k $N/key.conf
EOF
chmod +x "$T/hooks/dns"

app_name() { in_ns client mariadb --no-defaults --protocol=tcp -h"$(resolve)" -P$CLUSTER_PORT -uapp -papppw --connect-timeout=3 -N -B -e "$*"; }
app_name "INSERT INTO app.t VALUES (1, 'before')" || fail "write by name before"
wait_until 20 eval '[ "$(sql_d "SELECT COUNT(*) FROM app.t")" = 1 ]' || fail "not replicated"
cluster_kill_primary
lb_d failover --dry-run 2>/dev/null | grep -q "run: $T/hooks/dns dr $LB_NET.2" || fail "dry-run lacks the dns_hook command"
[ "$(resolve)" = "$LB_NET.1" ] || fail "dry-run changed DNS"
lb_d failover --yes >"$T/report.txt" 2>"$T/failover.err" || { cat "$T/failover.err"; fail "failover"; }
cat "$T/report.txt"
grep -q "dns .*hooks/dns dr $LB_NET.2 ok" "$T/report.txt" || fail "dns step not in the report"
[ "$(cat "$T/stonith.args")" = "fence oslo $LB_NET.1" ] || fail "fence hook args: $(cat "$T/stonith.args" 2>&1)"
[ "$(resolve)" = "$LB_NET.2" ] || fail "db.shop.test is $(resolve), expected DR $LB_NET.2"
app_name "INSERT INTO app.t VALUES (2, 'after')" || fail "write by name after the failover"
[ "$(app_name "SELECT @@server_id")" = 2 ] || fail "name does not lead to DR"

# The old primary comes back; `db rejoin` run there makes it follow the new
# primary, and its own files too (role standby, the new epoch).
cluster_revive_primary || fail "revive"
lb_p db rejoin || fail "db rejoin on the old primary"
[ "$(cat "$STATE_P/epoch")" = 1 ] || fail "db rejoin did not give the old primary the new epoch"
[ "$(cat "$STATE_P/role")" = standby ] || fail "old primary's role after db rejoin: $(cat "$STATE_P/role")"
wait_until 20 eval '[ "$(sql_p "SELECT COUNT(*) FROM app.t")" = 2 ]' || fail "old primary does not follow"
pass
