#!/bin/sh
# Every configuration key the parser knows (the KEY tables of src/config.c)
# must be documented in lifeboat.conf(5) and docs/configuration.md, and the
# man pages must render without warnings. Not part of `make check`.
# Run from the top of the source tree: sh contrib/check-docs.sh
set -u
status=0
keys=$(sed -n 's/^[[:blank:]]*KEY[A-Z_]*([a-z_]*, "\([a-z_]*\)".*/\1/p' src/config.c | sort -u)
[ -n "$keys" ] || { echo "no keys found in src/config.c" >&2; exit 2; }
n=0
for k in $keys; do
	n=$((n + 1))
	# In the man page a key is the tag of a .TP entry: ".BI key" / ".BR key" / "\fBkey\fP".
	if ! grep -Eq "^(\.B[IR]? $k( |\$)|\\\\fB$k\\\\fP)" docs/man/lifeboat.conf.5; then
		echo "lifeboat.conf.5: key '$k' not documented"
		status=1
	fi
	if ! grep -q "| \`$k\` |" docs/configuration.md; then
		echo "configuration.md: key '$k' not in the table"
		status=1
	fi
done
for m in docs/man/*.[0-9]; do
	out=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
	if [ -n "$out" ]; then
		echo "$m: groff warnings:"
		echo "$out"
		status=1
	fi
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint "$m" 2>&1)
		[ -z "$out" ] || { echo "$m: mandoc lint:"; echo "$out"; status=1; }
	fi
done
[ $status -eq 0 ] && echo "$n keys documented; man pages render cleanly"
exit $status
