#!/usr/bin/env bash
# make install honours PREFIX and DESTDIR and installs the binary, man
# pages, systemd units (pointing at the installed binary), completion,
# logrotate file and examples.
. "$(dirname "$0")/../lib/common.sh"
need make install
lb_setup
cd "$LIFEBOAT_ROOT"
[ -x lifeboat ] || skip "not built (run make first)"
make -s install DESTDIR="$T/root" PREFIX=/opt/lb >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install failed"; }
for f in opt/lb/bin/lifeboat opt/lb/share/man/man8/lifeboat.8 opt/lb/share/man/man5/lifeboat.conf.5 \
	opt/lb/lib/systemd/system/lifeboat-sync.service \
	opt/lb/share/bash-completion/completions/lifeboat etc/logrotate.d/lifeboat \
	opt/lb/share/doc/lifeboat/examples/lifeboat.conf.example; do
	[ -e "$T/root/$f" ] || fail "missing after install: $f"
done
grep -q "ExecStart=/opt/lb/bin/lifeboat" "$T/root/opt/lb/lib/systemd/system/lifeboat-sync.service" ||
	fail "the unit does not start the installed binary"
"$T/root/opt/lb/bin/lifeboat" version | grep -q "^lifeboat " || fail "installed binary does not run"
pass
