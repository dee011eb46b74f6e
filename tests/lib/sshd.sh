# shellcheck shell=bash
# A private sshd for tests and benchmarks.  Needs common.sh and lb_setup.
#
#   start_sshd            sshd -D -e on 127.0.0.1:$(free_port), tracked
#   stop_sshd             kill it and every session it started (the target
#                         "goes away"; established connections die too)
#   restart_sshd          start it again on the same address and port
#
# After start_sshd:
#   SSHD_PID   sshd's own PID (the listener)
#   SSHD_ADDR  127.0.0.1 (or the namespace address, see netns.sh)
#   SSHD_PORT  its port
#   SSHD_NS    "" (or the namespace, see start_sshd_in_ns)
#   SSH_KEY    client identity file (ed25519, no passphrase)
#   SSH_OPTS   "-o UserKnownHostsFile=$T/ssh/known_hosts -o StrictHostKeyChecking=yes
#               -o BatchMode=yes -o LogLevel=ERROR": usable as lifeboat's
#              `ssh_options =` value (no spaces inside an argument)
#   SSH_RSH    "ssh -i $SSH_KEY -p $SSHD_PORT $SSH_OPTS", for rsync -e and
#              for running commands: $SSH_RSH root@$SSHD_ADDR true
#   SSH_TARGET root@$SSHD_ADDR
#   SSH_SYNC_KEY  a second client identity, restricted in authorized_keys as
#              the docs ask: restrict,command="lifeboat serve" (all it can do
#              is what serve answers)
#
# Sessions get PATH with $LIFEBOAT as `lifeboat` first (an installed
# lifeboat) and LIFEBOAT_CONFIG=$SSHD_LIFEBOAT_CONFIG (default $T/lb.conf):
# that node's configuration, as /etc/lifeboat/lifeboat.conf would be.
#
# Root's ~/.bashrc on some machines runs slow things (pyenv init: ~250 ms)
# and every command sshd runs for root sources it (bash does, when started
# by sshd).  So sshd runs in a private mount namespace where an empty file
# is bind-mounted over root's ~/.bashrc; the real one is untouched.

_lb_ssh_keys() {
	[ -f "$T/ssh/id_ed25519" ] && return 0
	mkdir -p "$T/ssh"
	chmod 700 "$T/ssh"
	ssh-keygen -q -t ed25519 -N '' -C lifeboat-test-host -f "$T/ssh/host_ed25519" </dev/null >/dev/null
	ssh-keygen -q -t ed25519 -N '' -C lifeboat-test-user -f "$T/ssh/id_ed25519" </dev/null >/dev/null
	ssh-keygen -q -t ed25519 -N '' -C lifeboat-test-sync -f "$T/ssh/id_sync" </dev/null >/dev/null
	mkdir -p "$T/ssh/bin"
	ln -sf "$(readlink -f "$LIFEBOAT")" "$T/ssh/bin/lifeboat"
	{
		cat "$T/ssh/id_ed25519.pub"
		printf 'restrict,command="lifeboat serve" %s\n' "$(cat "$T/ssh/id_sync.pub")"
	} >"$T/ssh/authorized_keys"
	chmod 600 "$T/ssh/authorized_keys"
	: >"$T/ssh/known_hosts"
	: >"$T/ssh/empty_bashrc"
}

# _lb_sshd_launch NS ADDR PORT: start sshd (in netns NS if not empty).
# The sshd_config lines every test sshd shares: throwaway host key, key
# authentication only, dead clients dropped. $1: ADDR:PORT to listen on.
_lb_sshd_common_config() {
	cat <<EOF
ListenAddress $1
HostKey $T/ssh/host_ed25519
PidFile none
AuthorizedKeysFile $T/ssh/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
MaxStartups 200
MaxSessions 200
ClientAliveInterval 5
ClientAliveCountMax 2
LogLevel ERROR
EOF
}

_lb_sshd_launch() {
	local ns=$1 addr=$2 port=$3 conf=$T/ssh/sshd_${1:+$1_}$3.conf home rc laddr=$2
	[[ $addr == *:* ]] && laddr="[$addr]" # IPv6: [::1]:PORT

	home=$(getent passwd root | cut -d: -f6)
	home=${home:-/root}
	rc=$home/.bashrc
	mkdir -p /run/sshd && chmod 755 /run/sshd
	{
		_lb_sshd_common_config "$laddr:$port"
		cat <<EOF
Subsystem sftp internal-sftp
SetEnv PATH=$T/ssh/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LIFEBOAT_CONFIG=${SSHD_LIFEBOAT_CONFIG:-$T/lb.conf} ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
EOF
	} >"$conf"
	# unshare and sh exec, so $! is sshd's own PID.  Where a private mount
	# namespace is not allowed (some containers), sshd runs without it:
	# slower logins, same behaviour.
	local -a pre=() mnt=(unshare -m --propagation private)
	[ -n "$ns" ] && pre=(ip netns exec "$ns")
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "start_sshd: no private mount namespace here; ~/.bashrc stays visible to sshd" >&2
		mnt=()
	fi
	# shellcheck disable=SC2016  # $1..$3 are the inner shell's
	"${pre[@]}" "${mnt[@]}" /bin/sh -c '
		if [ -f "$1" ] && [ "$4" = yes ]; then
			mount --bind "$2" "$1" || echo "start_sshd: could not hide $1" >&2
		fi
		exec /usr/sbin/sshd -D -e -f "$3"' sh "$rc" "$T/ssh/empty_bashrc" "$conf" \
		"$([ ${#mnt[@]} -gt 0 ] && echo yes || echo no)" \
		>>"$T/ssh/sshd_$port.log" 2>&1 </dev/null &
	SSHD_PID=$!
	lb_track_pid "$SSHD_PID"
	# Ready when it listens.
	local nsarg=()
	[ -n "$ns" ] && nsarg=(ip netns exec "$ns")
	if ! wait_until 10 _lb_listening "${nsarg[@]}" -- "$addr" "$port"; then
		cat "$T/ssh/sshd_$port.log" >&2
		echo "start_sshd: sshd did not come up on $addr:$port" >&2
		return 1
	fi
	[ "$(cat "/proc/$SSHD_PID/comm" 2>/dev/null)" = sshd ] ||
		{ echo "start_sshd: PID $SSHD_PID is not sshd" >&2; return 1; }
	local hk key
	hk=$(cut -d' ' -f1,2 "$T/ssh/host_ed25519.pub")
	key="[$addr]:$port"
	grep -qF "$key $hk" "$T/ssh/known_hosts" || echo "$key $hk" >>"$T/ssh/known_hosts"
	SSHD_NS=$ns SSHD_ADDR=$addr SSHD_PORT=$port
	SSH_KEY=$T/ssh/id_ed25519
	SSH_OPTS="-o UserKnownHostsFile=$T/ssh/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o LogLevel=ERROR"
	SSH_RSH="ssh -i $SSH_KEY -p $SSHD_PORT $SSH_OPTS"
	SSH_TARGET=root@$SSHD_ADDR
	SSH_SYNC_KEY=$T/ssh/id_sync
	export SSH_SYNC_KEY SSHD_PID SSHD_NS SSHD_ADDR SSHD_PORT SSH_KEY SSH_OPTS SSH_RSH SSH_TARGET
}

# _lb_listening [ip netns exec NS] -- ADDR PORT
_lb_listening() {
	local -a pre=()
	while [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	local a=$1
	[[ $a == *:* ]] && a="[$a]"
	"${pre[@]}" ss -Hltn "src $a:$2" 2>/dev/null | grep -q .
}

# start_sshd [PORT [ADDR]]: a private sshd on 127.0.0.1, or ADDR (::1 for
# IPv6) (PORT: default free_port).
start_sshd() {
	[ "$(id -u)" = 0 ] || { echo "start_sshd: needs root" >&2; return 1; }
	[ -x /usr/sbin/sshd ] || { echo "start_sshd: /usr/sbin/sshd missing" >&2; return 1; }
	_lb_ssh_keys
	local port=${1:-}
	[ -n "$port" ] || port=$(free_port) || return 1
	_lb_sshd_launch "" "${2:-127.0.0.1}" "$port"
}

# stop_sshd: kill the sshd last started and all its sessions (TERM, KILL).
stop_sshd() {
	[ -n "${SSHD_PID:-}" ] || return 0
	lb_kill_tree "$SSHD_PID" 5 || true
	local nsarg=()
	[ -n "${SSHD_NS:-}" ] && nsarg=(ip netns exec "$SSHD_NS")
	# shellcheck disable=SC2016
	wait_until 5 eval '! _lb_listening "${nsarg[@]}" -- "$SSHD_ADDR" "$SSHD_PORT"'
}

# restart_sshd: start the last stopped sshd again (same namespace, address,
# port, host key, so clients' known_hosts still match).
restart_sshd() {
	_lb_sshd_launch "${SSHD_NS:-}" "$SSHD_ADDR" "$SSHD_PORT"
}
