#!/usr/bin/env bash
# make install honours PREFIX and DESTDIR and installs the binary, man
# pages, systemd units (pointing at the installed binary), completion,
# logrotate file and examples. Under a private PREFIX nothing lands outside
# it (no /etc/logrotate.d); PREFIX=/usr/local puts the logrotate file in
# /etc, where logrotate reads it (here under DESTDIR).
. "$(dirname "$0")/../lib/common.sh"
need make install
lb_setup
cd "$LIFEBOAT_ROOT"
[ -x lifeboat ] || skip "not built (run make first)"
make -s install DESTDIR="$T/root" PREFIX=/opt/lb >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
for f in opt/lb/bin/lifeboat opt/lb/share/man/man8/lifeboat.8 opt/lb/share/man/man5/lifeboat.conf.5 \
	opt/lb/lib/systemd/system/lifeboat-sync.service \
	opt/lb/share/bash-completion/completions/lifeboat opt/lb/etc/logrotate.d/lifeboat \
	opt/lb/share/doc/lifeboat/examples/lifeboat.conf.example \
	opt/lb/share/doc/lifeboat/examples/lifeboat.rules.yml; do
	[ -e "$T/root/$f" ] || fail "missing after install: $f"
done
grep -q "ExecStart=/opt/lb/bin/lifeboat" "$T/root/opt/lb/lib/systemd/system/lifeboat-sync.service" ||
	fail "the unit does not start the installed binary"
"$T/root/opt/lb/bin/lifeboat" version | grep -q "^lifeboat " || fail "installed binary does not run"
[ ! -e "$T/root/etc/logrotate.d/lifeboat" ] || fail "PREFIX=/opt/lb wrote etc/logrotate.d outside the prefix"

# No DESTDIR, a private PREFIX: /etc/logrotate.d is left alone.
before=$(stat -c %Y /etc/logrotate.d/lifeboat 2>/dev/null || echo none)
make -s install PREFIX="$T/prefix" >"$T/install2.log" 2>&1 || { cat "$T/install2.log"; fail "make install PREFIX=\$T/prefix"; }
[ -e "$T/prefix/etc/logrotate.d/lifeboat" ] || fail "logrotate file not under the prefix"
[ "$(stat -c %Y /etc/logrotate.d/lifeboat 2>/dev/null || echo none)" = "$before" ] ||
	fail "make install PREFIX=\$T/prefix wrote /etc/logrotate.d/lifeboat"

# A system prefix: the logrotate file where logrotate reads it.
make -s install DESTDIR="$T/sys" PREFIX=/usr/local >"$T/install3.log" 2>&1 || { cat "$T/install3.log"; fail "make install PREFIX=/usr/local"; }
[ -e "$T/sys/etc/logrotate.d/lifeboat" ] && [ -x "$T/sys/usr/local/bin/lifeboat" ] ||
	fail "PREFIX=/usr/local: $(cd "$T/sys" && find . -type f | head)"
# lifeboat(8): `db heartbeat` has its own paragraph, not the end of rejoin's.
man8=$LIFEBOAT_ROOT/docs/man/lifeboat.8
grep -q '^\.SS "db heartbeat"' "$man8" || fail "lifeboat(8) has no db heartbeat heading"
sed -n '/^\.SS "db rejoin/,/^\.SS /{/^\.SS/!p}' "$man8" | grep -q "every second" &&
	fail "lifeboat(8): the heartbeat text runs into db rejoin's paragraph"
pass
