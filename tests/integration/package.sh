#!/usr/bin/env bash
# `make deb` builds lifeboat_VERSION_ARCH.deb with the Debian tools, lintian
# finds no error in it, and it holds what a sysadmin expects: the binary in
# /usr/bin (version of src/version.h, answering `check --help`), the man
# pages, the systemd units pointing at /usr/bin/lifeboat and neither enabled
# nor started by the maintainer scripts, the bash completion, the logrotate
# file, the example configurations; it depends on the programs lifeboat
# runs. The tree stays clean. The package is unpacked into $T, not
# installed: .ci/run installs it with apt-get, runs it and removes it.
set -u
. "$(dirname "$0")/../lib/common.sh"
need dpkg-buildpackage dh lintian fakeroot dpkg-deb rsync pkg-config
lb_setup
cd "$LIFEBOAT_ROOT"

# Build-Depends names the -dev package of every library the Makefile links
# (the build here would not notice: they are all installed).
build_depends=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control)
for pc in $(sed -n 's/.*pkg-config --libs \([^)]*\) 2>.*/\1/p' Makefile | head -n 1); do
	file=$(pkg-config --variable=pcfiledir "$pc")/$pc.pc
	dev=$(dpkg -S "$file" 2>/dev/null || dpkg -S "$(realpath "$file")" 2>/dev/null)
	dev=${dev%%:*}
	[ -n "$dev" ] || fail "no Debian package owns $file (pkg-config $pc)"
	grep -q "\b$dev\b" <<<"$build_depends" || fail "debian/control: Build-Depends lacks $dev (the Makefile links $pc)"
done

version=$(sed -n 's/^#define LIFEBOAT_VERSION "\(.*\)"$/\1/p' src/version.h)
deb=lifeboat_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
# What dpkg-buildpackage would leave in a tree it builds in, and next to it.
leftovers() {
	git status --porcelain -- debian src Makefile 2>/dev/null
	ls -d lifeboat_*.changes lifeboat_*.buildinfo ../lifeboat_* debian/.debhelper debian/lifeboat 2>/dev/null
}
status_before=$(leftovers)
timeout -k 10 900 make -s deb >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make deb failed"; }
[ -f "$deb" ] || fail "make deb did not leave $deb ($(cat "$T/make.log"))"
[ "$(leftovers)" = "$status_before" ] || fail "make deb dirtied the tree: $(leftovers)"

# Control fields.
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "package version $(dpkg-deb -f "$deb" Version), src/version.h $version"
depends=$(dpkg-deb -f "$deb" Depends)
for p in rsync openssh-client mariadb-client libmariadb3 libjson-c5; do
	grep -q "\b$p\b" <<<"$depends" || fail "Depends lacks $p: $depends"
done
grep -q mariadb-backup <<<"$(dpkg-deb -f "$deb" Recommends)" || fail "Recommends lacks mariadb-backup"

# lintian: no error (make deb already fails on one; this says so here too).
lintian --fail-on error "$deb" >"$T/lintian.log" 2>&1 || { cat "$T/lintian.log"; fail "lintian errors"; }

# Contents.
dpkg-deb -x "$deb" "$T/root"
for f in usr/bin/lifeboat usr/share/man/man8/lifeboat.8.gz usr/share/man/man5/lifeboat.conf.5.gz \
	$(cd contrib/systemd && printf 'lib/systemd/system/%s ' *.service) \
	usr/share/bash-completion/completions/lifeboat etc/logrotate.d/lifeboat \
	usr/share/doc/lifeboat/examples/lifeboat.conf.example usr/share/doc/lifeboat/copyright; do
	[ -e "$T/root/$f" ] || fail "not in the package: /$f"
done
for u in "$T"/root/lib/systemd/system/*.service; do
	grep -q '^ExecStart=/usr/bin/lifeboat ' "$u" || fail "$(basename "$u"): $(grep ExecStart "$u")"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/logrotate.d/lifeboat || fail "the logrotate file is not a conffile"

# The packaged binary runs (as from /usr/bin; its libraries are the system's).
"$T/root/usr/bin/lifeboat" version >"$T/out" || fail "lifeboat version: exit $?"
[ "$(cat "$T/out")" = "lifeboat $version" ] || fail "lifeboat version: $(cat "$T/out")"
"$T/root/usr/bin/lifeboat" check --help >"$T/out" || fail "lifeboat check --help: exit $?"
grep -q '^usage: lifeboat check' "$T/out" || fail "check --help: $(cat "$T/out")"

# Installed, never enabled nor started: the maintainer scripts only
# re-enable what the admin had enabled before (an upgrade) and start nothing.
dpkg-deb -e "$deb" "$T/ctl"
if grep -Eh 'deb-systemd-invoke (start|restart)|systemctl.* (start|enable)|invoke-rc.d' \
	"$T"/ctl/*inst 2>/dev/null | grep -q .; then
	fail "a maintainer script starts a unit: $(grep -h 'deb-systemd-invoke\|invoke-rc.d' "$T"/ctl/*inst)"
fi
# An upgrade restarts only units that run (try-restart) and stops none
# before it; a removal stops them.
grep -q 'deb-systemd-invoke try-restart' "$T/ctl/postinst" || fail "postinst does not restart running units on upgrade"
grep -q 'deb-systemd-invoke stop' "$T/ctl/preinst" 2>/dev/null && fail "preinst stops the units before an upgrade"
grep -q 'deb-systemd-invoke stop' "$T/ctl/prerm" || fail "prerm does not stop the units on removal"
# dh_installsystemd --no-enable puts every enable under "debian-installed"
# (the unit was installed before: an upgrade); without it, a first install
# enables the unit.
awk '/^[[:space:]]*if / { depth++; if (/debian-installed/) guard = depth }
	/deb-systemd-helper enable/ && !(guard && depth >= guard) { bad = 1 }
	/^[[:space:]]*fi/ { if (guard == depth) guard = 0; depth-- }
	END { exit bad }' "$T/ctl/postinst" ||
	fail "postinst enables a unit on a first install: $(cat "$T/ctl/postinst")"
pass "$deb: lintian clean, contents and maintainer scripts as expected"
