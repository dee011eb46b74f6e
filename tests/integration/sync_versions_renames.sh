#!/usr/bin/env bash
# `versions` follows the renames the sync carried out on the target, for a
# local target and over ssh through the restricted key: after a file is
# renamed, a directory of versioned files is renamed, and a file is renamed
# twice, `versions NEW` lists the versions kept under the old names (each
# under the name it had), `versions OLD` says where the name went and lists
# what is under the new one, and each listed version is what
# `restore --at` its time brings back under its name.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
. "$(dirname "$0")/../lib/sync.sh"
need rsync python3 ssh tar
need_root
lb_setup
cd "$T" || fail "cannot cd to $T"
start_sshd || fail "cannot start sshd"

sync_pair_paths
for d in "$LSRC" "$RSRC"; do
	mkdir -p "$d/old" "$d/archive" "$d/docs"
	echo "report one" >"$d/report.pdf"
	echo "a one" >"$d/docs/a.txt"
	echo "b one" >"$d/docs/b.txt"
	echo "c one" >"$d/c1.txt"
done
sync_pair_up delay=0
assert_trees_equal "$LSRC" "$LDST" 10
assert_trees_equal "$RSRC" "$RDST" 10

lb() { "$LIFEBOAT" -c "$T/lb.conf" "$@"; }
# The next change in a later second than the last one (history times are
# seconds; the target stamps renames and ctimes with the kernel's coarse
# clock, a few ms behind `date`: 50 ms into the next second).
mark() {
	local next
	next=$((($(date +%s) + 1) * 1000 + 50))
	wait_until 3 eval '[ "$(date +%s%3N)" -ge '"$next"' ]' || fail "the clock does not move"
}
# write FILE TEXT DST_FILE: overwrite on the source, wait for the target
# and for the batch to be done (a rename while it is in flight ships the
# file again under its new name: a copy that arrived later).
write() {
	mark
	echo "$2" >"$1"
	wait_until 15 grep -qx "$2" "$3" || fail "$1: the overwrite did not replicate"
	lb flush >/dev/null || fail "flush failed"
}
# rename SRC_FROM SRC_TO DST_TO: a rename on the source, carried out as a
# rename on the target (logged there).
rename() {
	mark
	mv "$1" "$2"
	wait_until 15 test -e "$3" || fail "$1: the rename did not replicate"
	lb flush >/dev/null || fail "flush failed"
}

# rows NAME PATH: versions --json of PATH as lines
# "PATH\tRENAMED_TO\tSINCE\tSIZE\tMODIFIED\tLIVE".
rows() {
	lb versions --json "$2" >"$T/$1.json" || fail "versions --json $2 failed"
	python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    print("\t".join([r["path"], r.get("renamed_to") or "-", str(r.get("since", 0)), str(r["size"]),
                     str(r["modified"]), "live" if r["live"] else "kept"]))' "$T/$1.json" ||
		fail "versions --json $2 is not JSON: $(cat "$T/$1.json")"
}

# has_row ROWS PATH RENAMED_TO LIVE: one row of ROWS (rows' output) is PATH
# (renamed to RENAMED_TO, or "-"), kept or live.
has_row() {
	awk -F'\t' -v p="$2" -v r="$3" -v l="$4" '$1 == p && $2 == r && $6 == l { f = 1 }
		END { exit !f }' <<<"$1"
}

# restore_rows NAME SRC ROWS: each listed version comes back as listed
# (size and modification time) from `restore --at SINCE --to DIR PATH`;
# the text each PATH/RENAMED_TO pair must hold is in the assoc array WANT.
restore_rows() {
	local name=$1 src=$2 i=0 path to since size mtime live got
	while IFS=$'\t' read -r path to since size mtime live; do
		i=$((i + 1))
		rm -rf "$T/$name-r$i"
		lb restore --at "$(date -u -d "@$since" +%Y-%m-%dT%H:%M:%SZ)" --to "$T/$name-r$i" "$src/$path" 2>"$T/$name-r$i.err" ||
			fail "$name: restore --at $since of $path failed: $(cat "$T/$name-r$i.err")"
		got="$T/$name-r$i/$(basename "$path")"
		[ -f "$got" ] || fail "$name: restore --at $since of $path (listed) brought nothing back"
		[ "$(stat -c %s "$got")" = "$size" ] && [ "$(stat -c %Y "$got")" = "$mtime" ] ||
			fail "$name: restore --at $since of $path is not the listed version" \
				"($(stat -c '%s %Y' "$got"), listed $size $mtime)"
		if [ -n "${WANT[$path|$to|$live]:-}" ]; then
			[ "$(cat "$got")" = "${WANT[$path|$to|$live]}" ] ||
				fail "$name: restore --at $since of $path gave '$(cat "$got")'," \
					"want '${WANT[$path|$to|$live]}'"
		fi
	done <<<"$3"
}

scenario() {
	local name=$1 src=$2 dst=$3 r out
	declare -gA WANT=()

	# One file: overwritten (its first version kept), then renamed.
	write "$src/report.pdf" "report two" "$dst/report.pdf"
	rename "$src/report.pdf" "$src/old/report-2025.pdf" "$dst/old/report-2025.pdf"
	grep -qa "old/report-2025.pdf" "$dst/.lifeboat-history/.renames" ||
		fail "$name: the target did not log the rename of report.pdf"
	r=$(rows "$name-report" "$src/old/report-2025.pdf")
	has_row "$r" report.pdf - kept ||
		fail "$name: versions of the new name lacks the version kept under the old: $r"
	has_row "$r" report.pdf old/report-2025.pdf kept ||
		fail "$name: versions of the new name lacks the old name before the rename: $r"
	has_row "$r" old/report-2025.pdf - live || fail "$name: versions lacks the live copy: $r"
	WANT=([report.pdf\|-\|kept]="report one" [report.pdf\|old/report-2025.pdf\|kept]="report two"
		[old/report-2025.pdf\|-\|live]="report two")
	restore_rows "$name-report" "$src" "$r"
	out=$(lb versions "$src/report.pdf") || fail "$name: versions of the old name failed"
	grep -q "^report.pdf: renamed to old/report-2025.pdf at " <<<"$out" ||
		fail "$name: versions of the old name does not say where it went: $out"
	grep -q "(on the target now) .* old/report-2025.pdf$" <<<"$out" ||
		fail "$name: versions of the old name does not list the new one: $out"
	out=$(lb versions --json "$src/report.pdf" 2>&1 >/dev/null)
	grep -q "report.pdf: renamed to old/report-2025.pdf at " <<<"$out" ||
		fail "$name: versions --json of the old name does not say where it went: $out"

	# A directory of versioned files, renamed into another one.
	write "$src/docs/a.txt" "a two" "$dst/docs/a.txt"
	rename "$src/docs" "$src/archive/docs-2025" "$dst/archive/docs-2025"
	r=$(rows "$name-docs" "$src/archive/docs-2025")
	has_row "$r" docs/a.txt - kept ||
		fail "$name: versions of the renamed directory lacks a file's old version: $r"
	has_row "$r" docs/b.txt archive/docs-2025/b.txt kept ||
		fail "$name: versions of the renamed directory lacks its old name: $r"
	WANT=([docs/a.txt\|-\|kept]="a one" [docs/a.txt\|archive/docs-2025/a.txt\|kept]="a two"
		[docs/b.txt\|archive/docs-2025/b.txt\|kept]="b one"
		[archive/docs-2025/a.txt\|-\|live]="a two" [archive/docs-2025/b.txt\|-\|live]="b one")
	[ "$(wc -l <<<"$r")" -eq 5 ] || fail "$name: versions of the directory: not 5 rows: $r"
	restore_rows "$name-docs" "$src" "$r"
	out=$(lb versions "$src/docs") || fail "$name: versions of the old directory failed"
	grep -q "^docs: renamed to archive/docs-2025 at " <<<"$out" ||
		fail "$name: versions of the old directory does not say where it went: $out"

	# A chain: overwritten, renamed, renamed again.
	write "$src/c1.txt" "c two" "$dst/c1.txt"
	rename "$src/c1.txt" "$src/c2.txt" "$dst/c2.txt"
	rename "$src/c2.txt" "$src/c3.txt" "$dst/c3.txt"
	r=$(rows "$name-chain" "$src/c3.txt")
	WANT=([c1.txt\|-\|kept]="c one" [c1.txt\|c2.txt\|kept]="c two" [c2.txt\|c3.txt\|kept]="c two"
		[c3.txt\|-\|live]="c two")
	for k in "c1.txt - kept" "c1.txt c2.txt kept" "c2.txt c3.txt kept" "c3.txt - live"; do
		# shellcheck disable=SC2086
		has_row "$r" $k || fail "$name: versions of the chain's end lacks $k: $r"
	done
	restore_rows "$name-chain" "$src" "$r"
	out=$(lb versions "$src/c1.txt") || fail "$name: versions of the chain's start failed"
	grep -q "^c1.txt: renamed to c2.txt at " <<<"$out" && grep -q "^c2.txt: renamed to c3.txt at " <<<"$out" ||
		fail "$name: versions of the chain's start does not follow it: $out"
	[ "$(lb versions --json "$src/c2.txt" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq 4 ] ||
		fail "$name: versions of the chain's middle does not list the whole chain"
}

scenario loc "$LSRC" "$LDST"
scenario rem "$RSRC" "$RDST"
stop_sync || fail "sync did not stop cleanly"
pass
