#!/bin/bash
# Test of contrib/bash-completion/lifeboat in a real bash: source it, set
# COMP_WORDS/COMP_CWORD as bash would, call _lifeboat, compare COMPREPLY.
# Run by tests/integration/help_docs.sh; alone: bash contrib/bash-completion/test.sh
# A literal "~" is what the user typed and what the completion expands.
# shellcheck disable=SC2088
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=lifeboat
. "$here/lifeboat"

cat >"$tmp/a.conf" <<'EOF'
[lifeboat]
state_dir = /var/lib/lifeboat
[sync www]
source = /var/www/
target = /srv/www/
  [ sync   uploads.img ]   ; comment after the header
source = /a
target = /b
[sync www-data]
source = /c
target = /d
[syncer nope]
# [sync commented]
; [sync alsocommented]
[database]
EOF
printf '[sync]\nsource = /x\ntarget = /y\n[sync env-one]\n' >"$tmp/env.conf"
mkdir -p "$tmp/dir/sub"
: >"$tmp/dir/report.json"

pass=0 fail=0

# check "expected words (sorted, space separated)" word0 word1 ... (the last
# word is the one being completed)
check()
{
	local expected=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_lifeboat lifeboat "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	local got
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	if [[ $got == "$expected" ]]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		printf 'FAIL: %s\n  expected: [%s]\n  got:      [%s]\n' "$*" "$expected" "$got"
	fi
}

export LIFEBOAT_CONFIG="$tmp/env.conf"

# Commands and global options.
check "agent check db drill failover flush help import-lsyncd reload restore serve status switchover sync version versions" lifeboat ""
check "serve status switchover sync" lifeboat s
check "--config --help --quiet --verbose --version -V -c -h -q -v" lifeboat -
check "--config" lifeboat --co
check "agent check db drill failover flush help import-lsyncd reload restore serve status switchover sync version versions" lifeboat -v -q ""
check "drill" lifeboat -c "$tmp/a.conf" -v dr
check "import-lsyncd" lifeboat im
check "$tmp/dir/report.json $tmp/dir/sub/" lifeboat import-lsyncd "$tmp/dir/"
check "" lifeboat import-lsyncd "$tmp/dir/report.json" ""
check "$tmp/dir/" lifeboat -c "$tmp/di"
check "$tmp/dir/report.json $tmp/dir/sub/" lifeboat --config "$tmp/dir/"

# sync: names from -c FILE, else $LIFEBOAT_CONFIG, else the default file.
check "uploads.img www www-data" lifeboat -c "$tmp/a.conf" sync ""
check "www www-data" lifeboat -c "$tmp/a.conf" sync w
check "uploads.img www-data" lifeboat -c "$tmp/a.conf" sync www ""
check "uploads.img www www-data" lifeboat "-c$tmp/a.conf" sync ""
check "uploads.img www www-data" lifeboat --config "=" "$tmp/a.conf" sync ""
check "uploads.img www www-data" lifeboat --config "$tmp/a.conf" -v sync ""
check "default env-one" lifeboat sync ""
check "--once" lifeboat sync -
# flush and reload name syncs too; flush --timeout takes seconds.
check "--timeout" lifeboat flush -
check "uploads.img www www-data" lifeboat -c "$tmp/a.conf" flush ""
check "" lifeboat -c "$tmp/a.conf" flush --timeout ""
check "www www-data" lifeboat -c "$tmp/a.conf" reload w
check "" lifeboat sync --once --
check "default" lifeboat sync --once env-one ""
LIFEBOAT_CONFIG="$tmp/missing.conf" check "" lifeboat sync ""
(
	cd "$tmp" && HOME=$tmp check "uploads.img www www-data" lifeboat -c "~/a.conf" sync ""
	echo "$pass $fail" >"$tmp/sub.count"
)
read -r pass fail <"$tmp/sub.count"

# status, check.
check "--json" lifeboat status -
check "" lifeboat status --json -
check "--disk-probe --json" lifeboat check --
check "--disk-probe --json" lifeboat -q check ""
check "$tmp/dir/" lifeboat check --disk-probe "$tmp/di"
(
	cd "$tmp" && HOME=$tmp/dir check "~/report.json ~/sub/" lifeboat -c "~/"
	echo "$pass $fail" >"$tmp/sub.count"
)
read -r pass fail <"$tmp/sub.count"

# db.
check "clone fence heartbeat privileges promote rejoin status writable" lifeboat db ""
check "privileges promote" lifeboat db pr
check "--json" lifeboat db status -
check "--force --method" lifeboat db clone --
check "backup dump" lifeboat db clone --method ""
check "dump" lifeboat db clone --method d
check "--force" lifeboat db clone --method dump -
check "--method" lifeboat db clone --force -
check "--server" lifeboat db fence -
check "primary standby" lifeboat db fence --server ""
check "--force" lifeboat db rejoin -
check "--force" lifeboat db promote -

# failover, switchover, drill.
check "--dry-run --force --json --yes" lifeboat failover -
check "--force --json --yes" lifeboat failover --dry-run -
check "--dry-run --epoch --json --step-down --yes" lifeboat switchover --
check "" lifeboat switchover --step-down --epoch ""
check "--crash --json --kill-local-database --report" lifeboat drill -
check "$tmp/dir/report.json $tmp/dir/sub/" lifeboat drill --report "$tmp/dir/"
check "--crash --kill-local-database --report" lifeboat drill --json -

# version, help.
check "" lifeboat version ""
check "db drill" lifeboat help d
check "clone fence heartbeat privileges promote rejoin status writable" lifeboat help db ""
check "" lifeboat help db clone ""
check "--dump-usage" lifeboat help -

# Registered for the lifeboat command.
if complete -p lifeboat 2>/dev/null | grep -q -- '-F _lifeboat lifeboat'; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	echo "FAIL: complete -p lifeboat"
fi

echo "$pass passed, $fail failed"
((fail == 0))
