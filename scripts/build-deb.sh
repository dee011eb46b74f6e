#!/bin/sh
# Build lifeboat_VERSION_ARCH.deb with the Debian tools (dpkg-buildpackage,
# debhelper), out of a copy of the tree in build/deb/, because
# dpkg-buildpackage writes its results to ../ and cleans the tree it builds
# in. The .deb is copied to the top of the tree; lintian checks it (errors
# fail the build). `make deb` runs this.
#
# The version is src/version.h's, the one source of truth: when the top of
# debian/changelog names another, the copy gets an entry for this one.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
version=$(sed -n 's/^#define LIFEBOAT_VERSION "\(.*\)"$/\1/p' src/version.h)
[ -n "$version" ] || { echo "build-deb: no LIFEBOAT_VERSION in src/version.h" >&2; exit 2; }
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
out=build/deb
src=$out/lifeboat-$version
deb=lifeboat_${version}_${arch}.deb

rm -rf "$out"
mkdir -p "$src"
# The sources as git would see them: no build products, no .git.
rsync -a --exclude=/.git --exclude=/build/ --filter=':- .gitignore' ./ "$src/"

changelog_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
if [ "$changelog_version" != "$version" ]; then
	maintainer=$(sed -n 's/^Maintainer: //p' debian/control)
	{
		printf 'lifeboat (%s) unstable; urgency=medium\n\n' "$version"
		printf '  * Version %s (src/version.h).\n\n' "$version"
		printf ' -- %s  %s\n\n' "$maintainer" "$(date -R)"
		cat debian/changelog
	} >"$src/debian/changelog"
fi

(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed; the whole log is $top/$out/build.log" >&2
	exit 1
}
cp "$out/$deb" "$deb"

# lintian: errors fail, warnings are shown.
if command -v lintian >/dev/null; then
	lintian --fail-on error "$deb" >"$out/lintian.log" 2>&1 || {
		cat "$out/lintian.log" >&2
		echo "build-deb: lintian found errors in $deb" >&2
		exit 1
	}
	# (as root, lintian says it would rather not be; that is no finding)
	grep -v '^running with root privileges' "$out/lintian.log" >&2 || true
fi
echo "$deb"
