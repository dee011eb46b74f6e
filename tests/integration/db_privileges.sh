#!/usr/bin/env bash
# docs/db.md's privileges table is the code's (lifeboat db privileges
# --markdown); regenerate it with that command when this fails. The GRANTs
# printed are valid SQL for MariaDB: a fresh server accepts them.
set -u
ROOT=${LIFEBOAT_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LIFEBOAT=${LIFEBOAT:-$ROOT/build/asan/lifeboat}
. "$ROOT/tests/lib/mariadb.sh"
doc=$(sed -n '/<!-- privileges:begin -->/,/<!-- privileges:end -->/p' "$ROOT/docs/db.md" | sed '1d;$d')
code=$("$LIFEBOAT" db privileges --markdown) || die "db privileges --markdown failed"
[ "$doc" = "$code" ] || die "docs/db.md's privileges table differs from the code's: $(diff <(echo "$doc") <(echo "$code"))"
mdb_setup
mdb_new a 1; mdb_start a || die "start a"
mdb_sql_root a "CREATE USER lb2@'%' IDENTIFIED BY 'x'; CREATE USER r2@'%' IDENTIFIED BY 'x';
	$("$LIFEBOAT" db privileges lb2 r2 | grep -v '^--')" || die "the printed GRANTs do not run"
mdb_sql a "SHOW GRANTS FOR lb2@'%'" | grep -qF 'ALL PRIVILEGES ON *.* TO `lb2`@`%`' || die "lb2's grants: $(mdb_sql a "SHOW GRANTS FOR lb2@'%'")"
echo PASS
