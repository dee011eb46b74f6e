#!/usr/bin/env bash
# Data residency for files (SPEC "Data residency"): with [lifeboat]
# jurisdictions set, `lifeboat sync` refuses at start (exit 2, one line
# naming the target's line and the policy's) a target on a node outside the
# policy, a node without a jurisdiction and a target that is no [node];
# nothing reaches the target. The same configuration with the node inside
# the policy replicates (the refusal is the policy's, not a broken setup).
# `check` reports each node against the policy; an unknown code is refused
# at load, naming its line.
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
mkdir -p "$T/src/sub" "$T/dst" "$T/state"
echo data >"$T/src/sub/file"

# conf JURISDICTION TARGET: this node oslo, in JURISDICTION; the policy on
# line 4, the target on line 16.
conf() {
	cat <<EOF2
[lifeboat]
node = oslo
state_dir = $T/state
jurisdictions = NO EEA
log = stderr

[node oslo]
address = 127.0.0.1
jurisdiction = $1

[node dr]
address = 192.0.2.5
jurisdiction = US

[sync www]
target = $2
source = $T/src
EOF2
}

# refused NAME CONF FRAGMENT...: sync --once exits 2 with one error line
# holding every fragment; the target stays empty.
refused() {
	local name=$1 c=$2; shift 2
	timeout -k 5 30 "$LIFEBOAT" -c "$c" sync --once >"$T/out" 2>"$T/err"
	local rc=$?
	[ $rc = 2 ] || { cat "$T/err" >&2; fail "$name: exit $rc, expected 2"; }
	[ "$(wc -l <"$T/err")" = 1 ] || { cat "$T/err" >&2; fail "$name: not one stderr line"; }
	local f
	for f in "$@"; do
		grep -qF -- "$f" "$T/err" || fail "$name: '$f' not in: $(cat "$T/err")"
	done
	[ -z "$(ls -A "$T/dst")" ] || fail "$name: files reached the target"
}

C=$T/lifeboat.conf
conf US "$T/dst" >"$C"
refused local-outside "$C" "$C:16:" "[node oslo] in US" "$C:9" "jurisdictions = NO EEA ($C:4)"
conf NO dr:/srv/www >"$C"
refused node-outside "$C" "$C:16:" "[node dr] in US" "$C:13" "($C:4)"
conf NO backup@192.0.2.9:/srv/www >"$C"
refused not-a-node "$C" "$C:16:" "no [node]" "($C:4)"
sed '/^jurisdiction = US/d' "$C" >"$C.tmp"; mv "$C.tmp" "$C"
sed -i 's|^target = .*|target = dr:/srv/www|' "$C"
refused no-jurisdiction "$C" "$C:15:" "sets no 'jurisdiction'" "($C:4)"

# Inside the policy: the same sync replicates.
conf NO "$T/dst" >"$C"
timeout -k 5 60 "$LIFEBOAT" -c "$C" sync --once >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "allowed sync failed"; }
[ "$(cat "$T/dst/sub/file" 2>/dev/null)" = data ] || fail "allowed sync did not copy"

# status: one line with each node against the policy (the daemon runs: dr
# is outside but receives nothing, so it starts).
start_sync "$C"
wait_until 30 test -s "$T/state/status.json" || fail "no status file"
timeout -k 5 30 "$LIFEBOAT" -c "$C" status >"$T/status.txt" 2>&1 || fail "status: $(cat "$T/status.txt")"
grep -qF "data residency: jurisdictions = NO EEA: oslo NO (inside), dr US (OUTSIDE)" "$T/status.txt" \
	|| fail "status: $(cat "$T/status.txt")"
stop_sync || fail "sync daemon exit status $?"

# check: PASS for oslo, FAIL for dr (US), exit 3; the JSON names the rule.
timeout -k 5 60 "$LIFEBOAT" -c "$C" check --json >"$T/check.json" 2>"$T/check.err"
rc=$?
[ $rc = 3 ] || fail "check exit $rc, expected 3: $(cat "$T/check.err")"
python3 - "$T/check.json" <<'PY' || fail "check JSON: $(cat "$T/check.json")"
import json, sys
items = {i["rule"]: i for i in json.load(open(sys.argv[1]))}
assert items["node.oslo.jurisdiction"]["result"] == "PASS", items["node.oslo.jurisdiction"]
dr = items["node.dr.jurisdiction"]
assert dr["result"] == "FAIL" and "US" in dr["message"] and dr["fix"], dr
assert items["sync.www.residency"]["result"] == "PASS", items["sync.www.residency"]
PY

# An unknown code: refused at load with its line (and the ISO hint for UK).
sed -i 's/^jurisdictions = .*/jurisdictions = NO UK/' "$C"
timeout -k 5 30 "$LIFEBOAT" -c "$C" sync --once >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 2 ] || fail "unknown code: exit $rc"
grep -qF "$C:4: unknown jurisdiction 'UK': the ISO 3166 code is GB" "$T/err" || fail "unknown code: $(cat "$T/err")"
conf XY "$T/dst" >"$C"
timeout -k 5 30 "$LIFEBOAT" -c "$C" check >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 2 ] || fail "unknown node code: exit $rc"
grep -qF "$C:9: unknown jurisdiction 'XY'" "$T/err" || fail "unknown node code: $(cat "$T/err")"
pass
