#!/usr/bin/env bash
# Split brain, file side: a node never pushes to a peer holding a higher
# role epoch (a returning old primary is refused); the new primary pushes
# back to the old one only once it is rejoined, and that first pass keeps a
# copy of every file it replaces or deletes there (in its history: a full
# pass by comparison, whole versions only), also where the target keeps no
# history (keep = 0: that pass keeps all the same).
# Two nodes on one machine: "oslo" and "dr", each with its own state_dir,
# the peer reached over a private sshd.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh
need_root
lb_setup
cd "$T"
# Two nodes on one machine: each its own address and sshd, whose sessions
# get that node's configuration (what `lifeboat serve` reads there).
SSHD_LIFEBOAT_CONFIG=$T/oslo.conf start_sshd || fail "cannot start oslo's sshd"
SSHD_LIFEBOAT_CONFIG=$T/dr.conf start_sshd "$SSHD_PORT" 127.0.0.2 || fail "cannot start dr's sshd"

mkdir -p "$T/oslo/www" "$T/oslo/www0" "$T/oslo/state" "$T/dr/www" "$T/dr/www0" "$T/dr/state"
echo index >"$T/oslo/www/index.html"
echo index >"$T/oslo/www0/index.html"
conf() { # NODE FILE
	cat >"$2" <<EOF2
[lifeboat]
node = $1
state_dir = $T/$1/state
[node oslo]
ssh = root@127.0.0.1
role = primary
state_dir = $T/oslo/state
[node dr]
ssh = root@127.0.0.2
role = standby
state_dir = $T/dr/state
[sync www]
source = $T/oslo/www
target = dr:$T/dr/www
delay = 0
ssh_port = $SSHD_PORT
ssh_identity = $SSH_KEY
ssh_options = $SSH_OPTS
[sync www0]
source = $T/oslo/www0
target = dr:$T/dr/www0
delay = 0
keep = 0
ssh_port = $SSHD_PORT
ssh_identity = $SSH_KEY
ssh_options = $SSH_OPTS
EOF2
}
conf oslo "$T/oslo.conf"
conf dr "$T/dr.conf"
st() { status_field www "$1" "$2"; }

# 1. Normal operation: oslo (primary) pushes to dr; dr only receives.
start_sync "$T/oslo.conf"; OSLO=$SYNC_PID
"$LIFEBOAT" -c "$T/dr.conf" sync >>"$T/dr.log" 2>&1 & DR=$!; lb_track_pid $DR
wait_until 20 eval '[ "$(st state $T/oslo/state)" = idle ]' || fail "oslo did not reach idle"
assert_trees_equal "$T/oslo/www" "$T/dr/www" 10
assert_trees_equal "$T/oslo/www0" "$T/dr/www0" 10
wait_until 10 eval '[ "$(st direction $T/dr/state)" = receiving ]' || fail "dr is not receiving"
lb_kill_tree $DR 5

# 2. Failover: dr promoted (epoch 1, role primary). The old primary's sync
#    restarts and must refuse to push over the new primary.
lb_kill_tree $OSLO 5
echo 1 >"$T/dr/state/epoch"; echo primary >"$T/dr/state/role"
echo "new on dr" >"$T/dr/www/upload-after-failover"
echo "only on the old primary" >"$T/oslo/www/late-write"
echo "new on dr" >"$T/dr/www0/upload-after-failover"
echo "only on the old primary" >"$T/oslo/www0/late-write"
echo "index as dr has it" >"$T/dr/www0/index.html"
echo "index as only the old primary had it" >"$T/oslo/www0/index.html"
start_sync "$T/oslo.conf"; OSLO=$SYNC_PID
wait_until 20 eval '[ "$(st state $T/oslo/state)" = error ]' || fail "old primary did not refuse"
st last_error "$T/oslo/state" | grep -q "epoch" || fail "refusal does not name the epoch"
[ -f "$T/dr/www/upload-after-failover" ] || fail "the old primary deleted a file on the new primary"
[ ! -e "$T/dr/www/late-write" ] || fail "the old primary pushed to the new primary"

# 3. The new primary pushes back to the old one only after its rejoin.
"$LIFEBOAT" -c "$T/dr.conf" sync >>"$T/dr.log" 2>&1 & DR=$!; lb_track_pid $DR
wait_until 20 eval '[ "$(st state $T/dr/state)" = retrying ]' || fail "dr did not hold for the unrejoined peer"
[ "$(st direction "$T/dr/state")" = reversed ] || fail "dr is not pushing back to oslo"
[ ! -e "$T/oslo/www/upload-after-failover" ] || fail "dr pushed before the rejoin"
lb_kill_tree $OSLO 5
echo 1 >"$T/oslo/state/epoch"; echo standby >"$T/oslo/state/role"   # what db rejoin leaves
assert_trees_equal "$T/dr/www" "$T/oslo/www" 40
assert_trees_equal "$T/dr/www0" "$T/oslo/www0" 40
# Kept in the old primary's history by its serve (out of the pusher's reach).
kept=$(find "$T/oslo/www/.lifeboat-history" -name late-write 2>/dev/null | head -1)
[ -n "$kept" ] && grep -q "only on the old primary" "$kept" || fail "the old primary's own file was not kept"
echo "kept: $kept"
# With history on, that pass is an ordinary full pass by comparison (whole
# versions only), not rsync's pass in place.
grep -v debug "$T/dr.log" | grep -F "[sync www] " | grep -A1 "first pass to oslo: files it replaces or deletes there are kept in its history" |
	grep -Eq "(startup|full pass \(the first pass to a rejoined node\) by) comparison: " ||
	fail "the rejoin pass was not a full pass by comparison: $(grep -v debug "$T/dr.log" | tail -8)"
# Without history there (keep = 0), the same pass, and it keeps the file
# only the old primary had and the version of one it replaced.
kept=$(find "$T/oslo/www0/.lifeboat-history" -name late-write 2>/dev/null | head -1)
[ -n "$kept" ] && grep -q "only on the old primary" "$kept" || fail "keep = 0: the old primary's own file was not kept"
kept=$(find "$T/oslo/www0/.lifeboat-history" -name index.html 2>/dev/null | head -1)
[ -n "$kept" ] && grep -q "only the old primary had" "$kept" || fail "keep = 0: the replaced version was not kept"
grep -v debug "$T/dr.log" | grep -F "[sync www0] " | grep -A1 "first pass to oslo: files it replaces or deletes there are kept in its history" |
	grep -Eq "(startup|full pass \(the first pass to a rejoined node\) by) comparison: " ||
	fail "keep = 0: the rejoin pass was not a full pass by comparison: $(grep -v debug "$T/dr.log" | grep www0 | tail -8)"
# Once done, that sync keeps nothing again: a later overwrite is not kept.
echo "second" >"$T/dr/www0/index.html"
assert_trees_equal "$T/dr/www0" "$T/oslo/www0" 20
[ "$(find "$T/oslo/www0/.lifeboat-history" -name index.html | wc -l)" = 1 ] ||
	fail "keep = 0: an overwrite after the rejoin pass was kept"
pass
