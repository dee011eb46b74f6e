#!/usr/bin/env bash
# contrib/prometheus: the alerting rules are valid (promtool check rules),
# their unit tests pass (promtool test rules: each alert fires past its
# threshold and not before), and every sync and drill metric they use is one
# a real `lifeboat sync` serves on metrics_listen, in a form promtool
# accepts (the drill's: the start of the newest passing drill record).
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
[ -n "$used" ] || fail "the rules use no sync metric"
for m in $used; do
	grep -q "^${m}[{ ]" "$T/metrics" || fail "the rules use $m, which lifeboat sync does not serve"
done
grep -q '^lifeboat_sync_state{sync="www",state="error"} 0$' "$T/metrics" ||
	fail "no error state series for the LifeboatSyncError rule"
stop_sync || fail "sync did not stop cleanly"
pass "$(echo "$used" | wc -w) metrics used by the rules are served by lifeboat sync"
