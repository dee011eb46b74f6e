#!/usr/bin/env bash
# The source directory itself vanishes (moved away, volume unmounted): the
# target is not emptied, the state says error, and when the source is back
# the sync watches it again and converges.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"
SRC=$T/src DST=$T/dst
mkdir -p "$SRC/sub" && echo keep >"$SRC/sub/file"
sync_conf "$T/lb.conf" www "$SRC" "$DST" delay=0
start_sync "$T/lb.conf"
wait_idle www 20 || fail "startup did not reach idle"
mv "$SRC" "$T/away"
wait_until 10 eval '[ "$(status_field www state)" = error ]' || fail "vanished source not reported"
[ -f "$DST/sub/file" ] || fail "the target was emptied when the source vanished"
echo changed >"$T/away/sub/new"
mv "$T/away" "$SRC"
assert_trees_equal "$SRC" "$DST" 20
echo live >"$SRC/live-again"
assert_trees_equal "$SRC" "$DST" 10
grep -q "is back" "$SYNC_LOG" || fail "return of the source not logged"
pass
