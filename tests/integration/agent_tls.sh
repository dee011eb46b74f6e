#!/usr/bin/env bash
# run: alone (three etcd members and two mariadbd: an election stalled by a busy CPU is not what these tests are about)
# [cluster] over TLS: a real etcd member on loopback serving https and
# asking for client certificates (as a hardened etcd does). With etcd_ca,
# etcd_cert and etcd_key lifeboat talks to it (agent --pause, --resume,
# status);
# without the client certificate etcd refuses it and lifeboat says so.
set -u
. "$(dirname "$0")/../lib/common.sh"
lb_setup
command -v etcd >/dev/null || skip "etcd not installed (etcd-server)"
command -v openssl >/dev/null || skip "openssl not installed"
cd "$T" || fail "cd"
ext() { printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=%s\n' "$1" >"$T/$2.ext"; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=lifeboat-test-ca 2>/dev/null || fail "ca"
for who in server client; do
	openssl req -newkey rsa:2048 -nodes -keyout "$who.key" -out "$who.csr" -subj "/CN=$who" 2>/dev/null || fail "$who key"
	ext "$([ $who = server ] && echo serverAuth,clientAuth || echo clientAuth)" "$who"
	openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$who.pem" -days 1 \
		-extfile "$who.ext" 2>/dev/null || fail "$who cert"
done
cport=$(free_port) && pport=$(free_port) || fail "ports"
etcd --name tls --data-dir "$T/etcd" --listen-client-urls "https://127.0.0.1:$cport" \
	--advertise-client-urls "https://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "tls=http://127.0.0.1:$pport" \
	--cert-file server.pem --key-file server.key --trusted-ca-file ca.pem --client-cert-auth \
	--log-level warn >>"$T/etcd.log" 2>&1 &
lb_track_pid $!
healthy() { ETCDCTL_API=3 etcdctl --endpoints="https://127.0.0.1:$cport" --cacert ca.pem --cert client.pem --key client.key endpoint health >/dev/null 2>&1; }
wait_until 30 healthy || fail "etcd over TLS did not start: $(tail -3 "$T/etcd.log")"

conf() {
	cat <<EOF2
[lifeboat]
state_dir = $T/state
log = stderr

[cluster]
etcd = https://127.0.0.1:$cport
scope = tls
etcd_ca = $T/ca.pem
EOF2
	[ "${1:-}" = nocert ] || printf 'etcd_cert = %s\netcd_key = %s\n' "$T/client.pem" "$T/client.key"
}
conf >"$T/ok.conf"
conf nocert >"$T/nocert.conf"
ETCDCTL_API=3 etcdctl --endpoints="https://127.0.0.1:$cport" --cacert ca.pem --cert client.pem --key client.key \
	put /lifeboat/tls/paused '{"by":"test"}' >/dev/null || fail "etcdctl put"
"$LIFEBOAT" -c "$T/ok.conf" agent --resume || fail "agent --resume over TLS"
[ -z "$(ETCDCTL_API=3 etcdctl --endpoints="https://127.0.0.1:$cport" --cacert ca.pem --cert client.pem --key client.key get --print-value-only /lifeboat/tls/paused)" ] ||
	fail "paused still there"
"$LIFEBOAT" -c "$T/ok.conf" status --json >"$T/status.json" || true
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cluster"]; assert c["etcd"].startswith("https://"), c; assert c["auto_failover"] is True, c' "$T/status.json" ||
	fail "status over TLS: $(cat "$T/status.json")"
# --pause, for maintenance, and status says so.
"$LIFEBOAT" -c "$T/ok.conf" agent --pause || fail "agent --pause"
"$LIFEBOAT" -c "$T/ok.conf" status >"$T/status.txt" 2>&1 || true
grep -q "automatic  paused" "$T/status.txt" || fail "status after --pause: $(cat "$T/status.txt")"
"$LIFEBOAT" -c "$T/ok.conf" agent --resume || fail "agent --resume after --pause"
"$LIFEBOAT" -c "$T/ok.conf" status >"$T/status.txt" 2>&1 || true
grep -q "automatic  armed" "$T/status.txt" || fail "status after --resume: $(cat "$T/status.txt")"
out=$("$LIFEBOAT" -c "$T/nocert.conf" agent --resume 2>&1) && fail "no client certificate, yet it worked: $out"
echo "without a client certificate: $out"
echo "$out" | grep -q "no etcd member answered" || fail "unclear refusal: $out"
pass
