#!/usr/bin/env bash
# The man page and the bash completion know every command and option of the
# command table (src/usage.c, printed by `lifeboat help --dump-usage`), and
# no command the table does not have: the test fails as soon as one drifts.
#   lifeboat.8: a SYNOPSIS line and a COMMANDS section (.SS) per command (a
#     command with subcommands: one per subcommand), each naming every
#     option of it; the global options under OPTIONS.
#   completion: run in a real bash, it offers exactly the table's commands,
#     subcommands and options, an option's listed values after it, file
#     names after a FILE or PATH option, directories after a DIR one.
#   no tracked file holds a merge's conflict markers.
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
command -v bash >/dev/null || skip "no bash"
lb_setup
cd "$LIFEBOAT_ROOT"
MAN=docs/man/lifeboat.8
COMPLETION=contrib/bash-completion/lifeboat

"$LIFEBOAT" help --dump-usage >"$T/table" || fail "help --dump-usage: exit $?"
awk -F'\t' '$1 == "command" { print $2 }' "$T/table" >"$T/commands"
options_of() { awk -F'\t' -v c="$1" '$1 == "option" && $2 == c { print $3 }' "$T/table"; }
arg_of() { awk -F'\t' -v c="$1" -v o="$2" '$1 == "option" && $2 == c && $3 == o { print $4 }' "$T/table"; }
subcommands_of() { sed -n "s/^$1 //p" "$T/commands"; }
# The commands a person types whole: those without subcommands.
leaves() {
	local c
	while IFS= read -r c; do
		[ -z "$(subcommands_of "$c")" ] && echo "$c"
	done <"$T/commands"
}
leaves >"$T/leaves"
sorted() { tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
errors=()

# ---------------------------------------------------------------- man page
# The page as text: \- is -, font changes and \& gone.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$MAN" >"$T/man"
# section NAME: the lines of .SH NAME up to the next .SH.
section() { awk -v s="$1" '/^\.SH / { on = ($0 == ".SH " s || $0 == ".SH \"" s "\"") ; next } on' "$T/man"; }
section SYNOPSIS >"$T/synopsis"
section COMMANDS >"$T/cmds"

# The synopsis: a block per ".B lifeboat NAME" line, up to .br; NAME is one
# word, two for a subcommand.
awk '/^\.B lifeboat [a-z]/ { n = $3; if ($4 ~ /^[a-z]/ && $3 == "db") n = n " " $4; name = n; print "@" name; next }
	/^\.br/ { name = ""; next } name != "" { print }' "$T/synopsis" >"$T/syn.blocks"
# COMMANDS: a block per .SS "NAME ..." heading.
awk '/^\.SS / { h = $0; sub(/^\.SS "?/, "", h); split(h, w, /[ "]/); n = w[1]; if (n == "db") n = n " " w[2];
		print "@" n; print h; next } { print }' "$T/cmds" >"$T/cmds.blocks"
block() { awk -v n="@$2" '/^@/ { on = ($0 == n); next } on' "$1"; }

want=$(LC_ALL=C sort "$T/leaves" | tr '\n' ';')
got_syn=$(sed -n 's/^@//p' "$T/syn.blocks" | LC_ALL=C sort | tr '\n' ';')
got_ss=$(sed -n 's/^@//p' "$T/cmds.blocks" | LC_ALL=C sort | tr '\n' ';')
[ "$got_syn" = "$want" ] || errors+=("$MAN: SYNOPSIS has [$got_syn], the table [$want]")
[ "$got_ss" = "$want" ] || errors+=("$MAN: COMMANDS has [$got_ss], the table [$want]")
while IFS= read -r c; do
	for o in $(options_of "$c"); do
		block "$T/syn.blocks" "$c" | grep -q -- "$o\b" || errors+=("$MAN: SYNOPSIS of '$c' lacks $o")
		block "$T/cmds.blocks" "$c" | grep -q -- "$o\b" || errors+=("$MAN: COMMANDS section '$c' lacks $o")
	done
done <"$T/leaves"
for o in $(options_of ""); do
	section OPTIONS | grep -q -- "$o\b" || errors+=("$MAN: OPTIONS lacks the global option $o")
done

# ---------------------------------------------------------------- completion
mkdir -p "$T/d/sub"
: >"$T/d/report.html"
cat >"$T/complete.sh" <<'EOF'
# complete WORD...: what the completion offers for the last WORD, sorted.
. "$1"; shift
COMP_WORDS=(lifeboat "$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_lifeboat lifeboat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
EOF
complete_words() { LIFEBOAT_CONFIG=$T/none.conf bash "$T/complete.sh" "$LIFEBOAT_ROOT/$COMPLETION" "$@"; }
expect() { # expect WANT WHAT WORD...
	local want=$1 what=$2 got
	shift 2
	got=$(complete_words "$@")
	[ "$got" = "$want" ] || errors+=("$COMPLETION: $what: offers [$got], the table [$want] (lifeboat $*)")
}

expect "$(grep -v ' ' "$T/commands" | sorted)" "commands" ""
expect "$(options_of "" | sorted)" "global options" -
expect "$(grep -v ' ' "$T/commands" | sorted)" "help COMMAND" help ""
while IFS= read -r c; do
	subs=$(subcommands_of "$c")
	if [ -n "$subs" ]; then
		expect "$(sorted <<<"$subs")" "subcommands of $c" $c ""
		continue
	fi
	# shellcheck disable=SC2086 # "db clone" is two words on purpose
	expect "$(options_of "$c" | sorted)" "options of $c" $c -
	for o in $(options_of "$c"); do
		arg=$(arg_of "$c" "$o")
		case $arg in
		'') ;;
		*'|'*) expect "$(tr '|' ' ' <<<"$arg" | sorted)" "values of $c $o" $c "$o" "" ;;
		FILE | PATH) expect "$T/d/report.html $T/d/sub/" "file names after $c $o" $c "$o" "$T/d/" ;;
		DIR) expect "$T/d/sub/" "directories after $c $o" $c "$o" "$T/d/" ;;
		*) expect "" "nothing to offer after $c $o $arg" $c "$o" "" ;;
		esac
	done
done <"$T/commands"

# The completion's own cases (config file names for sync, ~, --config=).
bash contrib/bash-completion/test.sh >"$T/completion-test.log" 2>&1 ||
	errors+=("contrib/bash-completion/test.sh: $(grep -v '^ ' "$T/completion-test.log" | tr '\n' ' ')")

# A merge's conflict markers left in a tracked text file (one sat in
# docs/ARCHITECTURE.md for a session).
while IFS= read -r hit; do
	errors+=("conflict marker: $hit")
done < <(git grep -nE '^(<<<<<<<|>>>>>>>) ' -- ':!*.png' 2>/dev/null)

if [ ${#errors[@]} -gt 0 ]; then
	printf '%s\n' "${errors[@]}" >&2
	fail "${#errors[@]} problems: drift from the command table (src/usage.c) or conflict markers"
fi
pass "$(wc -l <"$T/commands") commands: man page and completion match the table"
