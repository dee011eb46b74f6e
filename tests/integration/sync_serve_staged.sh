#!/usr/bin/env bash
# serve's checked-run requests through the restricted key: `rsync-staged
# TAG` (and `rsync-linked TAG`, its --link-dest form for hard links)
# receives only into a synced tree's root, only into a staging
# directory serve picks (nothing under a final name until `merge TAG`),
# never as a sender and never with a compare or link directory the peer
# names; `merge TAG` merges only what that receive staged, leaves out the
# names it is given (and nothing outside the staging), and a tag with no
# staging, or a malformed one, changes nothing.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync ssh
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"
SRC=$T/src DST=$T/remote/dst
mkdir -p "$SRC" "$DST" "$T/outside"
echo keep >"$T/outside/keep"
sync_conf "$T/lb.conf" www "$SRC" "$SSH_TARGET:$DST" delay=0 \
	ssh_port="$SSHD_PORT" ssh_identity="$SSH_SYNC_KEY" ssh_options="$SSH_OPTS"
RSH="ssh -i $SSH_SYNC_KEY -p $SSHD_PORT $SSH_OPTS"
rssh() { ssh -i "$SSH_SYNC_KEY" -p "$SSHD_PORT" $SSH_OPTS "$SSH_TARGET" "$@"; }
TAG=0123456789abcdef0123456789abcdef
mkdir -p "$T/in/d"
echo one >"$T/in/d/one" && echo two >"$T/in/d/two"
staged() { rsync -a -e "$RSH" --rsync-path="lifeboat serve rsync-staged $1" "$T/in/" "$SSH_TARGET:$2"; }

# Refused: a bad tag, a path that is not a tree's root, a sender, options
# that name another directory.
staged "../x" "$DST/" 2>"$T/e1" && fail "a malformed tag was accepted"
grep -q "refused" "$T/e1" || fail "no refusal for a malformed tag: $(cat "$T/e1")"
staged "$TAG" "$T/outside/" 2>"$T/e2" && fail "rsync-staged into another directory was accepted"
staged "$TAG" "$DST/d/" 2>"$T/e3" && fail "rsync-staged below the root was accepted"
rsync -a -e "$RSH" --rsync-path="lifeboat serve rsync-staged $TAG" "$SSH_TARGET:$DST/" "$T/got/" \
	2>"$T/e4" && fail "rsync-staged as a sender was accepted"
rsync -a -e "$RSH" --compare-dest=/etc --rsync-path="lifeboat serve rsync-staged $TAG" \
	"$T/in/" "$SSH_TARGET:$DST/" 2>"$T/e5" && fail "a peer's --compare-dest was accepted"
[ ! -e "$T/outside/d" ] || fail "a file was written outside the tree"

# Received: staged under the tag, nothing under a final name.
staged "$TAG" "$DST/" 2>"$T/e6" || fail "rsync-staged failed: $(cat "$T/e6")"
[ ! -e "$DST/d" ] || fail "rsync-staged wrote under a final name"
[ -f "$DST/.lifeboat-history/.staging/.received-$TAG/d/one" ] || fail "nothing staged for the tag"
# A merge of another tag, or of a path outside the tree, changes nothing.
printf '%s\0' "$DST" | rssh lifeboat serve merge ffffffffffffffff 2>"$T/e7" &&
	fail "a merge of a tag with no staging succeeded"
printf '%s\0' "$T/outside" | rssh lifeboat serve merge "$TAG" 2>"$T/e8" &&
	fail "a merge into a directory that is not a synced tree succeeded"
printf '%s\0' "$DST" | rssh lifeboat serve merge "../$TAG" 2>"$T/e9" && fail "a malformed tag merged"
# The merge leaves out what it is told, and nothing outside the staging.
printf '%s\0%s\0%s\0' "$DST" "d/two" "../../../outside/keep" | rssh lifeboat serve merge "$TAG" \
	2>"$T/e10" || fail "merge failed: $(cat "$T/e10")"
[ "$(cat "$DST/d/one")" = one ] || fail "the staged file was not merged"
[ ! -e "$DST/d/two" ] || fail "a file the merge was told to leave out arrived"
[ -f "$T/outside/keep" ] || fail "the merge removed a file outside the staging"
[ ! -e "$DST/.lifeboat-history/.staging/.received-$TAG" ] || fail "the staging stayed after the merge"
# Merged once: the same tag again finds nothing.
printf '%s\0' "$DST" | rssh lifeboat serve merge "$TAG" 2>/dev/null && fail "a tag merged twice"

# rsync-linked (hard links: --link-dest): the same refusals, a peer's own
# --link-dest among them; an unchanged file is staged as a link of the
# tree's own and the merge leaves it where it is, keeping nothing.
linked() { rsync -a -e "$RSH" --rsync-path="lifeboat serve rsync-linked $1" "$T/in/" "$SSH_TARGET:$2"; }
linked "../x" "$DST/" 2>"$T/e11" && fail "rsync-linked: a malformed tag was accepted"
linked "$TAG" "$T/outside/" 2>"$T/e12" && fail "rsync-linked into another directory was accepted"
rsync -a -e "$RSH" --link-dest=/etc --rsync-path="lifeboat serve rsync-linked $TAG" \
	"$T/in/" "$SSH_TARGET:$DST/" 2>"$T/e13" && fail "a peer's --link-dest was accepted"
TAG2=fedcba9876543210fedcba9876543210
before=$(stat -c %i "$DST/d/one")
linked "$TAG2" "$DST/" 2>"$T/e14" || fail "rsync-linked failed: $(cat "$T/e14")"
staged_one=$(find "$DST/.lifeboat-history" -path "*$TAG2/d/one")
[ -n "$staged_one" ] && [ "$(stat -c %i "$staged_one")" = "$before" ] ||
	fail "rsync-linked did not link the unchanged file: '$staged_one'"
printf '%s\0' "$DST" | rssh lifeboat serve merge "$TAG2" 2>"$T/e15" || fail "merge failed: $(cat "$T/e15")"
[ "$(stat -c %i "$DST/d/one")" = "$before" ] && [ "$(cat "$DST/d/two")" = two ] ||
	fail "the linked merge did not leave d/one and bring d/two"
[ -z "$(find "$DST/.lifeboat-history" -path '*/d/one' -newer "$T/e14")" ] ||
	fail "an unchanged file was kept in the history"
# A staging area that is a symlink (out of the tree) is refused, never
# written through: no receive, no claim, no cleanup there.
mkdir -p "$T/outside/.received-$TAG" && echo out >"$T/outside/.received-$TAG/f"
rm -rf "$DST/.lifeboat-history/.staging" && ln -s "$T/outside" "$DST/.lifeboat-history/.staging"
staged "$TAG" "$DST/" 2>"$T/e16" && fail "rsync-staged wrote through a symlinked staging area"
grep -q "symlink" "$T/e16" || fail "no reason given for the symlinked staging area: $(cat "$T/e16")"
printf '%s\0' "$DST" | rssh lifeboat serve merge "$TAG" 2>"$T/e17" &&
	fail "a merge claimed through a symlinked staging area"
[ ! -e "$DST/d/f" ] || fail "a file outside the tree was merged"
[ -f "$T/outside/.received-$TAG/f" ] && [ "$(ls -A "$T/outside" | sort | tr '\n' ' ')" = ".received-$TAG keep " ] ||
	fail "something was written or removed through the symlink: $(ls -A "$T/outside")"
for e in e1 e2 e3 e4 e5 e7 e8 e9 e11 e12 e13 e16 e17; do echo "$e: $(head -c 300 "$T/$e" | tr "\n" " ")"; done
pass
