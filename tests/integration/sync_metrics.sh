#!/usr/bin/env bash
# The Prometheus endpoint (metrics_listen) serves the status figures to a
# real HTTP client, answers 404 elsewhere, and a client that connects and
# says nothing does not hold up replication.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 curl
lb_setup
cd "$T"
PORT=$(free_port)
SRC=$T/src
mkdir -p "$SRC" && echo a >"$SRC/a"
mkdir -p "$T/state"
printf '[lifeboat]\nstate_dir = %s\nmetrics_listen = 127.0.0.1:%s\n\n[sync www]\nsource = %s\ntarget = %s\ndelay = 0\n' \
	"$T/state" "$PORT" "$SRC" "$T/dst" >"$T/lb.conf"
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup did not reach idle"
M=$(curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics") || fail "GET /metrics failed"
echo "$M" | head -20
grep -q '^lifeboat_up 1$' <<<"$M" || fail "no lifeboat_up"
grep -q '^lifeboat_sync_state{sync="www",state="idle"} 1$' <<<"$M" || fail "idle state not exported"
grep -q '^lifeboat_sync_pending{sync="www"} 0$' <<<"$M" || fail "pending not exported"
grep -q '^# TYPE lifeboat_sync_bytes_shipped_total counter$' <<<"$M" || fail "no TYPE line"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/nope")
[ "$code" = 404 ] || fail "GET /nope answered $code"

# A silent client must not block the loop.
exec 8<>"/dev/tcp/127.0.0.1/$PORT"
echo b >"$SRC/b"
wait_until 10 test -f "$T/dst/b" || fail "replication stalled behind a silent metrics client"
exec 8>&-
files=$(curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" | sed -n 's/^lifeboat_sync_files_shipped_total{sync="www"} //p')
[ "${files%.*}" -ge 1 ] || fail "files_shipped_total did not grow: $files"
pass
