#!/usr/bin/env bash
# lifeboat import-lsyncd: lsyncd configurations (the origin article's, every
# example Debian's lsyncd package ships, loops and variables, a file in
# pieces joined by dofile and require) become lifeboat configurations that
# lifeboat loads; the article's and the loop's replicate trees over a
# private sshd with `lifeboat sync --once`.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/sshd.sh"
need rsync ssh
need_root
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
FIX=$LIFEBOAT_ROOT/tests/fixtures/lsyncd
EXAMPLES=/usr/share/doc/lsyncd/examples
[ -d "$EXAMPLES" ] || skip "lsyncd's examples are not installed ($EXAMPLES)"

# import FILE OUT: run the import (bounded); it must succeed with nothing on
# stderr.
import() {
	local rc=0
	timeout -k 5 60 "$LIFEBOAT" import-lsyncd "$1" >"$2" 2>"$T/import.err" || rc=$?
	[ $rc -eq 0 ] || fail "import-lsyncd $1: exit $rc: $(cat "$T/import.err")"
	[ ! -s "$T/import.err" ] || fail "import-lsyncd $1 said: $(cat "$T/import.err")"
}

# has OUT LINE: OUT holds LINE exactly.
has() {
	grep -qxF -- "$2" "$1" || { cat "$1" >&2; fail "$1 has no line '$2'"; }
}

# loads OUT: lifeboat reads the whole file. `sync --once` loads it first;
# past that, the only objections allowed are about this machine (a source
# that does not exist here, no sync to run), never about the file's syntax
# or keys.
loads() {
	local out=$1 rc=0
	timeout -k 5 60 "$LIFEBOAT" -c "$out" sync --once >/dev/null 2>"$T/load.err" || rc=$?
	[ $rc -eq 0 ] && return 0
	[ $rc -eq 2 ] || fail "$out: sync --once exit $rc: $(cat "$T/load.err")"
	grep -qE "no \[sync NAME\] section|\] source '[^']*': No such file or directory" "$T/load.err" ||
		{ cat "$out" >&2; fail "$out does not load: $(cat "$T/load.err")"; }
}

# --- the article's configuration, verbatim
import "$FIX/article.lsyncd.conf" "$T/article.conf"
has "$T/article.conf" "[lifeboat]"
has "$T/article.conf" "log = /var/log/lsyncd/lsyncd.log"
has "$T/article.conf" "status_interval = 20"
grep -q '^; line 1: settings.statusFile = .*no equivalent' "$T/article.conf" ||
	fail "statusFile has no comment naming the settings{} line"
has "$T/article.conf" "[sync mysite]"
has "$T/article.conf" "source = /var/www/vhosts/mysite"
has "$T/article.conf" "target = dr-user@10.0.0.5:/var/www/vhosts/mysite"
has "$T/article.conf" "delay = 15"
has "$T/article.conf" "compress = yes"
has "$T/article.conf" "bwlimit = 5000"
loads "$T/article.conf"

# --- the article's configuration where the test can run it: its paths and
# host point at this test's trees and sshd, the ssh table says how to log in.
# The DR machine runs the peer's key as `lifeboat serve`, which reads its own
# copy of the configuration (sshd.sh: $T/lb.conf): each case copies the one
# file there, as an administrator copies it to both nodes.
start_sshd || fail "cannot start sshd"
mkdir -p "$T/www/mysite/uploads/2015" "$T/dr"
echo product >"$T/www/mysite/uploads/2015/oslo.jpg"
echo '<?php echo 1;' >"$T/www/mysite/index.php"
ln -s index.php "$T/www/mysite/home.php"
sed -e "s|/var/log/lsyncd/|$T/log-|" \
	-e "s|source = \"/var/www/vhosts/mysite/\"|source = \"$T/www/mysite/\"|" \
	-e "s|targetdir = \"/var/www/vhosts/mysite/\"|targetdir = \"$T/dr/mysite/\"|" \
	-e "s|host = \"dr-user@10.0.0.5\",|host = \"$SSH_TARGET\", ssh = { port = $SSHD_PORT, identityFile = \"$SSH_KEY\", options = { UserKnownHostsFile = \"$T/ssh/known_hosts\", StrictHostKeyChecking = \"yes\", BatchMode = \"yes\" } },|" \
	"$FIX/article.lsyncd.conf" >"$T/article-here.lua"
import "$T/article-here.lua" "$T/article-here.conf"
has "$T/article-here.conf" "target = $SSH_TARGET:$T/dr/mysite"
has "$T/article-here.conf" "ssh_port = $SSHD_PORT"
has "$T/article-here.conf" "ssh_identity = $SSH_KEY"
has "$T/article-here.conf" "bwlimit = 5000"
cp "$T/article-here.conf" "$T/lb.conf"
timeout -k 5 120 "$LIFEBOAT" -c "$T/article-here.conf" sync --once >"$T/once.out" 2>&1 ||
	{ cat "$T/once.out" >&2; fail "sync --once with the article's imported configuration failed"; }
assert_trees_equal "$T/www/mysite" "$T/dr/mysite" 5

# --- every example of Debian's lsyncd package, from a directory that has
# the relative sources they name (as lsyncd would need them).
mkdir -p "$T/ex/src" "$T/ex/trg" "$T/ex/magicdir"
echo example >"$T/ex/src/a"
n=0
for f in "$EXAMPLES"/*.lua "$EXAMPLES"/*.lua.gz; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .gz)
	if [[ $f == *.gz ]]; then
		gzip -dc "$f" >"$T/ex/$name"
		f=$T/ex/$name
	fi
	(cd "$T/ex" && import "$f" "$T/ex/$name.conf") || exit 1
	(cd "$T/ex" && loads "$T/ex/$name.conf") || exit 1
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n lsyncd examples found in $EXAMPLES"
# default.rsync with relative paths: taken against the working directory,
# and a real pass.
has "$T/ex/lrsync.lua.conf" "source = $T/ex/src"
has "$T/ex/lrsync.lua.conf" "target = $T/ex/trg"
[ -f "$T/ex/trg/a" ] || fail "lrsync.lua's import did not replicate src to trg"
# custom Lua actions: the section is there, commented out, with the line.
grep -q '^; \[sync src\]$' "$T/ex/lbash.lua.conf" || fail "lbash.lua: no commented-out section"
grep -q '^; line 46: onCreate = .*custom Lua action' "$T/ex/lbash.lua.conf" ||
	fail "lbash.lua: onCreate is not named with its line"
grep -q "^; line 7: settings 'statusIntervall' is not an lsyncd setting" "$T/ex/lbash.lua.conf" ||
	fail "lbash.lua: the misspelt setting is not named"
grep -q '^; NOT IMPORTED: .*relative to the login' "$T/ex/lrsyncssh.lua.conf" ||
	fail "lrsyncssh.lua: a relative targetdir is not explained"
grep -q "^; line 20: require('socket')" "$T/ex/lsayirc.lua.conf" ||
	fail "lsayirc.lua: the stubbed require is not named"
has "$T/ex/lpostcmd.lua.conf" "target = localhost:/path/to/trg"

# --- loops and variables: three sites over the private sshd.
for s in shop blog wiki; do
	mkdir -p "$T/sites/$s/cache" "$T/sites-dr"
	echo "$s" >"$T/sites/$s/index.html"
	echo junk >"$T/sites/$s/cache/x"
	echo log >"$T/sites/$s/access.log"
done
LSYNCD_ROOT=$T/sites LSYNCD_DR=$SSH_TARGET LSYNCD_SSH_PORT=$SSHD_PORT LSYNCD_SSH_KEY=$SSH_KEY \
	LSYNCD_KNOWN_HOSTS=$T/ssh/known_hosts import "$FIX/sites.lua" "$T/sites.conf"
for s in shop blog wiki; do has "$T/sites.conf" "[sync $s]"; done
has "$T/sites.conf" "delay = 6"
has "$T/sites.conf" "delete = startup"
has "$T/sites.conf" "bwlimit = 30000"
has "$T/sites.conf" "exclude = cache/"
has "$T/sites.conf" "rsync_args = --omit-dir-times"
[ "$(grep -c '^compress = yes$' "$T/sites.conf")" -eq 2 ] || fail "compress is not per site"
grep -q '^; line 12: settings.maxProcesses = 4' "$T/sites.conf" || fail "maxProcesses not named"
cp "$T/sites.conf" "$T/lb.conf"
timeout -k 5 120 "$LIFEBOAT" -c "$T/sites.conf" sync --once >"$T/once.out" 2>&1 ||
	{ cat "$T/once.out" >&2; fail "sync --once with the loop's imported configuration failed"; }
for s in shop blog wiki; do
	[ "$(cat "$T/sites-dr/$s/index.html")" = "$s" ] || fail "site $s not replicated"
	[ ! -e "$T/sites-dr/$s/cache" ] && [ ! -e "$T/sites-dr/$s/access.log" ] ||
		fail "site $s: excluded files were replicated"
done

# --- a file in pieces: dofile and require relative to the file, not to the
# working directory.
mkdir -p "$T/elsewhere"
(cd "$T/elsewhere" && LSYNCD_ROOT=$T/tree import "$FIX/main.lua" "$T/main.conf") || exit 1
has "$T/main.conf" "[sync uploads]"
has "$T/main.conf" "[sync config]"
has "$T/main.conf" "source = $T/tree/uploads"
has "$T/main.conf" "delete = running"
has "$T/main.conf" "exclude = *.part"
has "$T/main.conf" "rsync_args = --checksum"
grep -q "^; $FIX/layers/mirror.lua" "$T/main.conf" && fail "layer notes should name the sync{} line"
grep -q '^; line 11: onCreate = a Lua function: a custom Lua action' "$T/main.conf" ||
	fail "the layer's onCreate is not named"
mkdir -p "$T/tree/uploads" "$T/tree/config"
echo cfg >"$T/tree/config/app.ini"
cp "$T/main.conf" "$T/lb.conf"
timeout -k 5 60 "$LIFEBOAT" -c "$T/main.conf" sync --once >"$T/once.out" 2>&1 ||
	{ cat "$T/once.out" >&2; fail "sync --once with the pieces' imported configuration failed"; }
assert_trees_equal "$T/tree/config" "$T/tree-dr/config" 5

pass "article over sshd, $n Debian examples, loops, dofile/require"
