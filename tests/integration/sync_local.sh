#!/usr/bin/env bash
# Live sync to a local target: startup pass, then every kind of change
# (create, modify, chmod, delete, symlink, hard link, rename, new trees,
# hostile names) reaches the target; the status file tells the truth.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3
lb_setup
cd "$T"

SRC=$T/src DST=$T/dst
mkdir -p "$SRC/old/deep"
for i in $(seq 1 50); do echo "file $i" >"$SRC/old/deep/f$i"; done
ln -s deep/f1 "$SRC/old/link"
sync_conf "$T/lb.conf" www "$SRC" "$DST" delay=0
start_sync "$T/lb.conf"

wait_idle www 20 || fail "startup pass did not reach idle"
assert_trees_equal "$SRC" "$DST" 5
[ "$(status_field www full_passes)" -ge 1 ] || fail "status: no full pass counted"

# Plain changes.
echo new >"$SRC/new.txt"
echo more >>"$SRC/old/deep/f2"
chmod 600 "$SRC/old/deep/f3"
rm "$SRC/old/deep/f4"
ln -s ../new.txt "$SRC/old/link2"
ln "$SRC/old/deep/f5" "$SRC/old/hardlink"
assert_trees_equal "$SRC" "$DST" 10
[ "$(stat -c %h "$DST/old/hardlink")" = 2 ] || fail "hard link not kept on the target"

# New directories filled immediately (race with the watch being added).
mkdir -p "$SRC/burst/a/b/c"
for i in $(seq 1 200); do echo "$i" >"$SRC/burst/a/b/c/f$i"; done
mkdir "$SRC/burst2" && echo x >"$SRC/burst2/one" && mkdir "$SRC/burst2/sub" && echo y >"$SRC/burst2/sub/two"
assert_trees_equal "$SRC" "$DST" 15

# Hostile names never reach a shell.
make_weird_names "$SRC/weird"
assert_trees_equal "$SRC" "$DST" 10
[ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ] && [ ! -e "$SRC/pwned" ] || fail "a file name was run by a shell"

# Directory delete, then re-create with different content.
rm -rf "$SRC/burst"
mkdir -p "$SRC/burst" && echo again >"$SRC/burst/again"
assert_trees_equal "$SRC" "$DST" 10

# Renames: file over file, directory into another directory.
mv "$SRC/new.txt" "$SRC/renamed.txt"
mv "$SRC/old" "$SRC/burst2/old-moved"
assert_trees_equal "$SRC" "$DST" 10

# Same-size rewrite within the same second is still shipped.
printf 'AAAA' >"$SRC/same"
assert_trees_equal "$SRC" "$DST" 10
printf 'BBBB' >"$SRC/same"
touch -d "$(stat -c %y "$DST/same")" "$SRC/same"   # same size, same mtime
assert_trees_equal "$SRC" "$DST" 10

wait_idle www 10 || fail "not idle at the end"
[ "$(status_field www files_shipped)" -gt 0 ] || fail "status: files_shipped is 0"
[ -n "$(status_field www last_success)" ] || fail "status: no last_success"
# A finished failover journal (as failover archives it) shows with its RTO.
printf 'begin 1795000000.000 1\nfact operation failover\nfact invoked 1795000000.000\nend 1795000003.250\n' \
	>"$T/state/failover.journal.20260101T000000Z"
out=$("$LIFEBOAT" -c "$T/lb.conf" status) || fail "status failed while running: $out"
grep -q "node .*primary, role epoch 0" <<<"$out" || fail "status lacks role and epoch"
grep -q "last failover: .*RTO 3.25 s" <<<"$out" || fail "status lacks the last failover"
echo "$out"
grep -q "running" <<<"$out" && grep -q "www .*idle" <<<"$out" || fail "status text lacks state"
"$LIFEBOAT" -c "$T/lb.conf" status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["syncs"]["www"]["state"]=="idle"' ||
	fail "status --json is not the status JSON"
stop_sync || fail "sync did not stop cleanly on SIGTERM"
rc=0; out=$("$LIFEBOAT" -c "$T/lb.conf" status) || rc=$?
[ "$rc" = 1 ] && grep -q "NOT RUNNING" <<<"$out" || fail "status after stop: exit $rc: $out"
pass
