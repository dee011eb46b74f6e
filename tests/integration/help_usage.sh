#!/usr/bin/env bash
# Help where a person looks for it, from the command table (src/usage.c):
# `lifeboat COMMAND --help`, `COMMAND -h` and `lifeboat help COMMAND` print
# the usage and every option of the table, one line each, exit 0, with
# nothing on stderr and without reading the configuration; `lifeboat help`
# lists every command. And the table is the truth about the parsers: every
# option a src/cmd_*.c compares its arguments with is in the table under
# that command, and every option of the table is one its parser knows.
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
cd "$LIFEBOAT_ROOT"

"$LIFEBOAT" help --dump-usage >"$T/table" || fail "help --dump-usage: exit $?"
# command<TAB>NAME<TAB>SYNOPSIS<TAB>FLAGS and option<TAB>NAME<TAB>OPTION<TAB>ARG
awk -F'\t' '$1 == "command" { print $2 }' "$T/table" >"$T/commands"
[ "$(wc -l <"$T/commands")" -ge 10 ] || fail "the table is too short: $(cat "$T/table")"
options_of() { awk -F'\t' -v c="$1" '$1 == "option" && $2 == c { print $3 }' "$T/table"; }
top_level() { grep -v ' ' "$T/commands"; }

# help_ok NAME ARGS...: exit 0, stdout begins with "usage: lifeboat NAME",
# one line per option of NAME, stderr empty. A missing configuration must
# not matter: help reads none.
help_ok() {
	local name=$1 rc o
	shift
	"$LIFEBOAT" -c "$T/missing.conf" "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc = 0 ] || fail "lifeboat $*: exit $rc ($(cat "$T/err"))"
	[ ! -s "$T/err" ] || fail "lifeboat $*: stderr: $(cat "$T/err")"
	head -n 1 "$T/out" | grep -q "^usage: lifeboat $name\( \|\$\)" ||
		fail "lifeboat $*: first line: $(head -n 1 "$T/out")"
	for o in $(options_of "$name"); do
		[ "$(grep -c -- "^  \(-., \)\?$o\( \|\$\)" "$T/out")" = 1 ] ||
			fail "lifeboat $*: no one line for option $o in: $(cat "$T/out")"
	done
}

n=0
while IFS= read -r name; do
	# shellcheck disable=SC2086 # "db clone" is two words on purpose
	{
		help_ok "$name" $name --help
		help_ok "$name" $name -h
		help_ok "$name" help $name
		# After other arguments too, as git does (not where the arguments
		# are another program's words).
		grep -q "^command	$name	.*	raw_args\$" "$T/table" || help_ok "$name" $name --json --help
	}
	n=$((n + 1))
done <"$T/commands"

# A subcommand's options are listed by name under its command.
"$LIFEBOAT" db --help >"$T/out"
for sub in $(sed -n 's/^db //p' "$T/commands"); do
	grep -q "^  $sub " "$T/out" || fail "db --help does not list $sub"
done

# `lifeboat help`, `-h` and `--help` list every command, on stdout, exit 0.
for args in help -h --help; do
	"$LIFEBOAT" "$args" >"$T/out" 2>"$T/err" || fail "lifeboat $args: exit $?"
	for c in $(top_level); do
		grep -q "^  $c " "$T/out" || fail "lifeboat $args does not list $c"
	done
	for o in $(options_of ""); do
		grep -q -- "$o" "$T/out" || fail "lifeboat $args does not list the global option $o"
	done
done

# Refusals stay refusals: exit 2 and one line on stderr.
"$LIFEBOAT" help nosuchcommand >"$T/out" 2>"$T/err" && fail "help nosuchcommand: exit 0"
grep -q "no command 'nosuchcommand'" "$T/err" || fail "help nosuchcommand: $(cat "$T/err")"
"$LIFEBOAT" help db nosuch >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 2 ] || fail "help db nosuch: exit $rc"
# After "--" a -h is an argument, not a request for help.
"$LIFEBOAT" -c "$T/missing.conf" sync -- -h >"$T/out" 2>"$T/err" && fail "sync -- -h ran"
grep -q "usage: lifeboat sync" "$T/out" && fail "sync -- -h printed the help"

# The parsers against the table. A src/cmd_X.c is command X (an underscore
# is a dash); the options it knows are the string literals that are an
# option, "--like-this", and getopt_long entries {"like-this", ...}.
# cli_parse_json_only (src/cli.c) is a parser's way to take --json.
for f in src/cmd_*.c; do
	cmd=$(basename "$f" .c); cmd=${cmd#cmd_}; cmd=${cmd//_/-}
	grep -qx "$cmd" "$T/commands" || fail "$f: no command '$cmd' in the table (src/usage.c)"
	table=$(awk -F'\t' -v c="$cmd" '$1 == "option" && ($2 == c || index($2, c " ") == 1) { print $3 }' "$T/table" | sort -u)
	code=$( {
		grep -o '"--[a-z][a-z0-9-]*"' "$f" | tr -d '"'
		grep -o '{"[a-z][a-z0-9-]*", *\(no\|required\|optional\)_argument' "$f" |
			sed 's/^{"\([^"]*\)".*/--\1/'
		grep -q 'cli_parse_json_only' "$f" && echo --json
	} | grep -vx -- '--help' | sort -u) # main.c answers --help before a parser sees it
	for o in $code; do
		grep -qx -- "$o" <<<"$table" || fail "$f accepts $o, which the table (src/usage.c) does not list under '$cmd'"
	done
	for o in $table; do
		case $o in --*) ;; *) continue ;; esac
		grep -qx -- "$o" <<<"$code" || fail "the table lists $o under '$cmd', which $f does not accept"
	done
done

# The table is well formed: every option is in its command's synopsis.
bad=$(awk -F'\t' '$1 == "command" { syn[$2] = $3 }
	$1 == "option" && $2 != "" { want = $3 ($4 == "" ? "" : " " $4)
		if (index(syn[$2], want) == 0) print "the synopsis of \x27" $2 "\x27 lacks " want }' "$T/table")
[ -z "$bad" ] || fail "$bad"

pass "$n commands and subcommands answer --help, -h and help COMMAND; parsers match the table"
