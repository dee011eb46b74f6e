#!/usr/bin/env bash
# lifeboat drill refuses before it does anything, exit status 2, one error
# line, nothing on stdout: a bad argument, a --report page that cannot be
# written, a configuration without [database], --crash without
# drill_allow_crash; --kill-local-database (what a crash drill runs on the
# primary's node) without drill_allow_crash.
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
printf '[lifeboat]\nstate_dir = %s/state\nlog = stderr\n' "$T" >"$T/lb.conf"
printf '[lifeboat]\nstate_dir = %s/state\nlog = stderr\ndrill_allow_crash = yes\n' "$T" >"$T/crash.conf"

# refused NAME FRAGMENT ARGS...: exit 2, stdout empty, one stderr line with FRAGMENT.
refused() {
	local name=$1 want=$2 rc
	shift 2
	timeout -k 5 30 "$LIFEBOAT" "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ $rc = 2 ] || { cat "$T/err"; fail "$name: exit $rc, expected 2"; }
	[ ! -s "$T/out" ] || fail "$name: stdout: $(cat "$T/out")"
	[ "$(wc -l <"$T/err")" = 1 ] && grep -qF -- "$want" "$T/err" || fail "$name: stderr: $(cat "$T/err")"
}

refused "bad argument" "unknown argument '--bogus'" -c "$T/lb.conf" drill --bogus
refused "--report without FILE" "--report needs FILE" -c "$T/lb.conf" drill --report
refused "report dir" "cannot write in $T/missing" -c "$T/lb.conf" drill --report "$T/missing/d.html"
refused "no [database]" "drill needs a [database] section" -c "$T/lb.conf" drill --json
refused "--crash not allowed" "drill_allow_crash = yes" -c "$T/lb.conf" drill --crash
refused "--crash allowed, still no [database]" "drill needs a [database] section" -c "$T/crash.conf" drill --crash
refused "kill not allowed" "this node's database is not killed" -c "$T/lb.conf" drill --kill-local-database
[ ! -e "$T/state/drill.lock" ] || fail "a refused drill took the lock"
pass
