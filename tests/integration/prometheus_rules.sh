#!/usr/bin/env bash
# contrib/prometheus: the alerting rules are valid (promtool check rules),
# their unit tests pass (promtool test rules: each alert fires past its
# threshold and not before), and every sync and drill metric they use is one
# a real `lifeboat sync` serves on metrics_listen, in a form promtool
# accepts (the drill's: the start of the newest passing drill record; with
# [cluster], the agent's lease and lag from its state file).
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync curl promtool
lb_setup
DIR=$LIFEBOAT_ROOT/contrib/prometheus
RULES=$DIR/lifeboat.rules.yml

promtool check rules "$RULES" || fail "promtool check rules refused $RULES"
(cd "$DIR" && timeout -k 5 300 promtool test rules lifeboat.rules.test.yml lifeboat.drill.test.yml) ||
	fail "the rules' unit tests failed"

# A real scrape.
cd "$T" || exit 1
PORT=$(free_port)
mkdir -p "$T/src" "$T/state" && echo a >"$T/src/a"
printf '[lifeboat]\nstate_dir = %s\nmetrics_listen = 127.0.0.1:%s\n\n[sync www]\nsource = %s\ntarget = %s\ndelay = 0\n' \
	"$T/state" "$PORT" "$T/src" "$T/dst" >"$T/lb.conf"
# Two drill records as `lifeboat drill` leaves them: the newer one failed,
# so the last success is the older one's start.
printf '{"operation":"drill","ok":true,"failure":null}\n' >"$T/state/drill-20261101T020304Z.json"
printf '{"operation":"drill","ok":false,"failure":"x"}\n' >"$T/state/drill-20261201T020304Z.json"
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup did not reach idle"
curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/metrics" || fail "GET /metrics failed"
# promtool check metrics lints names and help texts; a parse error is fatal,
# lint advice is printed.
promtool check metrics <"$T/metrics" 2>&1 | tee "$T/lint" || true
grep -qi 'error parsing\|text format parsing error' "$T/lint" && fail "promtool cannot parse /metrics"
want=$(date -u -d 2026-11-01T02:03:04Z +%s)
grep -qx "lifeboat_drill_last_success_timestamp_seconds $want" "$T/metrics" ||
	fail "the last passing drill is not $want: $(grep drill "$T/metrics")"
used=$(grep -o 'lifeboat_sync_[a-z_]*\|lifeboat_up\|lifeboat_drill_[a-z_]*' "$RULES" | sort -u)
# (lifeboat_cluster_* and lifeboat_db_* need [cluster]: below.)
[ -n "$used" ] || fail "the rules use no sync metric"
for m in $used; do
	grep -q "^${m}[{ ]" "$T/metrics" || fail "the rules use $m, which lifeboat sync does not serve"
done
grep -q '^lifeboat_sync_state{sync="www",state="error"} 0$' "$T/metrics" ||
	fail "no error state series for the LifeboatSyncError rule"
stop_sync || fail "sync did not stop cleanly"
grep -q '^lifeboat_cluster_\|^lifeboat_db_replication' "$T/metrics" &&
	fail "cluster figures served without [cluster]"

# [cluster]: the agent's figures from its state file, as the agent writes
# it: on the primary the lease left, on a standby the lag while the file is
# fresh. (No etcd is asked: the sync daemon only reads the file.)
printf '\n[cluster]\netcd = http://127.0.0.1:9\nttl = 10\n' >>"$T/lb.conf"
now=$(date +%s)
agent_json() { # HOLDS PRIMARY_UNTIL LAG AT
	printf '{ "pid": 1, "at": %s, "node": "n", "etcd": "ok", "leader": "n", "holds_lease": %s, "primary_until": %s, "standby_ok": true, "lag": %s, "fenced_self": false, "auto_failover": true, "decision": "x" }\n' \
		"$4" "$1" "$2" "$3" >"$T/state/agent.json"
}
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$T/metrics" || fail "GET /metrics failed"; }
agent_json true $((now + 8)) null "$now"
start_sync "$T/lb.conf"
wait_idle www 20 || fail "restart with [cluster] did not reach idle"
scrape
left=$(sed -n 's/^lifeboat_cluster_lease_remaining_seconds //p' "$T/metrics")
[ -n "$left" ] && awk -v l="$left" 'BEGIN { exit !(l > 0 && l <= 8) }' ||
	fail "lease left '$left', expected 0-8 s"
grep -q '^lifeboat_db_replication_lag_seconds' "$T/metrics" && fail "a primary served a lag"
for m in $(grep -o 'lifeboat_cluster_[a-z_]*' "$RULES" | sort -u); do
	grep -q "^${m} " "$T/metrics" || fail "the rules use $m, which the primary does not serve"
done
grep -qx 'lifeboat_cluster_lease_ttl_seconds 10' "$T/metrics" || fail "no lease ttl"
agent_json true $((now - 30)) null $((now - 60)) # the agent stopped renewing
scrape
grep -qx 'lifeboat_cluster_lease_remaining_seconds 0.000' "$T/metrics" ||
	fail "a lease past its end: $(grep lease "$T/metrics")"
agent_json false 0 4.5 "$(date +%s)" # a standby 4.5 s behind
scrape
grep -qx 'lifeboat_db_replication_lag_seconds 4.500' "$T/metrics" ||
	fail "standby lag not served: $(grep -i 'lag\|lease' "$T/metrics")"
grep -q '^lifeboat_cluster_lease' "$T/metrics" && fail "a standby served a lease"
for m in $(grep -o 'lifeboat_db_[a-z_]*' "$RULES" | sort -u); do
	grep -q "^${m} " "$T/metrics" || fail "the rules use $m, which a standby does not serve"
done
agent_json false 0 4.5 $((now - 60)) # an agent that stopped: its lag says nothing
scrape
grep -q '^lifeboat_db_replication_lag_seconds' "$T/metrics" && fail "a stale lag was served"
promtool check metrics <"$T/metrics" 2>&1 | grep -qi 'error parsing' && fail "promtool cannot parse /metrics"
stop_sync || fail "sync did not stop cleanly"
pass "every metric the rules use is served by lifeboat sync ($(echo "$used" | wc -w) without [cluster], lease and lag with it)"
