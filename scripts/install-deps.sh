#!/bin/sh
# Install the Debian packages lifeboat needs to build, test and demo, but only
# those missing, so a second run costs nothing.  Debian 12, as root.
set -eu

PACKAGES="build-essential pkg-config libmariadb-dev libjson-c-dev libcmocka-dev
rsync openssh-server openssh-client lsyncd
debhelper dpkg-dev fakeroot lintian
mariadb-server mariadb-client mariadb-backup
iproute2 iputils-arping procps psmisc curl python3 bind9 bind9-dnsutils chromium
libcurl4-openssl-dev
etcd-server etcd-client
haproxy
liblua5.3-dev
prometheus
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Never start the packaged services: tests start their own, on loopback.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
