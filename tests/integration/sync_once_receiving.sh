#!/usr/bin/env bash
# `sync --once` where the first sync only receives (its target is this
# node, which holds the primary role with no peer to push back to) and the
# second pushes: the receiving one is done at once, and that must not end
# the run before the other is counted (it exited 1 without a word).
. "$(dirname "$0")/../lib/common.sh"
need rsync
lb_setup
cd "$T" || fail "cannot cd to $T"

mkdir -p "$T/a" "$T/b" "$T/state"
echo data >"$T/b/file"
cat >"$T/lb.conf" <<CONF
[lifeboat]
node = here
state_dir = $T/state
log = stderr

[node here]
address = 127.0.0.1
role = primary

[sync incoming]
source = $T/a
target = here:$T/a-dst

[sync www]
source = $T/b
target = $T/b-dst
CONF
rc=0; out=$("$LIFEBOAT" -c "$T/lb.conf" sync --once 2>&1) || rc=$?
[ "$rc" = 0 ] || fail "sync --once with a receiving sync first: exit $rc: $out"
grep -q "\[sync www\] target matches the source" <<<"$out" || fail "the pushing sync did not run: $out"
assert_trees_equal "$T/b" "$T/b-dst" 5
pass
