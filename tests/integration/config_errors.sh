#!/usr/bin/env bash
# Configuration errors stop `lifeboat sync --once` before it does anything:
# exit status 2, stdout empty, and exactly one stderr line naming FILE:LINE
# and what is wrong (SPEC: "Configuration file", exit statuses).
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
lb_setup
mkdir -p "$T/src/sub" "$T/other"
echo x >"$T/file"
cases=0

# run_lifeboat ARGS...: run the binary (bounded), output to $T/out and
# $T/err; prints the exit status.
run_lifeboat() {
	timeout -k 5 30 "$LIFEBOAT" "$@" >"$T/out" 2>"$T/err"
	echo $?
}

# check_refusal CASE CONF LOCATION FRAGMENT RC: the run exited RC == 2 with
# nothing on stdout and one error line holding "CONF LOCATION" and FRAGMENT.
check_refusal() {
	local name=$1 conf=$2 where=$3 want=$4 rc=$5
	cases=$((cases + 1))
	[ "$rc" -eq 2 ] || { cat "$T/err" >&2; fail "$name: exit $rc, expected 2"; }
	[ ! -s "$T/out" ] || fail "$name: stdout not empty: $(head -c 200 "$T/out")"
	local lines
	lines=$(wc -l <"$T/err")
	[ "$lines" -eq 1 ] || { cat "$T/err" >&2; fail "$name: $lines stderr lines, expected 1"; }
	grep -qF -- "$conf$where" "$T/err" || fail "$name: '$conf$where' not in: $(cat "$T/err")"
	grep -qF -- "$want" "$T/err" || fail "$name: '$want' not in: $(cat "$T/err")"
	grep -q '^lifeboat: error: ' "$T/err" || fail "$name: no error level prefix: $(cat "$T/err")"
}

# refuse NAME LINE FRAGMENT: the configuration on stdin, saved as
# $T/NAME.conf, is refused at LINE with FRAGMENT.
refuse() {
	local name=$1 line=$2 want=$3 conf=$T/$1.conf
	cat >"$conf"
	check_refusal "$name" "$conf" ":$line: " "$want" "$(run_lifeboat -c "$conf" sync --once)"
}

refuse target_inside_source 3 "target '$T/src/copy' overlaps its source '$T/src'" <<END
[sync www]
source = $T/src
target = $T/src/copy
END

refuse source_inside_target 3 "overlaps its source" <<END
[sync www]
source = $T/src/sub
target = $T
END

refuse missing_source 3 "source '$T/missing': No such file or directory" <<END
; the source is gone
[sync www]
source = $T/missing
target = $T/dst
END

refuse source_not_directory 2 "source '$T/file' is not a directory" <<END
[sync www]
source = $T/file
target = $T/dst
END

refuse two_syncs_one_target 6 "[sync b] has the same target as [sync a] (line 3)" <<END
[sync a]
source = $T/src
target = $T/dst
[sync b]
source = $T/other
target = $T/dst/
END

refuse same_remote_target_via_node 9 "[sync b] has the same target as [sync a] (line 6)" <<END
[node dr]
address = 192.0.2.5
ssh = root@192.0.2.5
[sync a]
source = $T/src
target = dr:/srv/www
[sync b]
source = $T/other
target = 192.0.2.5:/srv/www
END

for bad in 1e3 -1 0x10 nan inf 86401 99999999999999999999999; do
	refuse "delay_$bad" 4 "'delay' must be a number of seconds between 0 and 86400, got '$bad'" <<END
[sync www]
source = $T/src
target = $T/dst
delay = $bad
END
done

for bad in -1 0x10 1e3 1.5 99999999999999999999; do
	refuse "bwlimit_$bad" 5 "'bwlimit' must be a whole number between 0 and 1000000000, got '$bad'" <<END
[sync www]
source = $T/src
target = $T/dst

bwlimit = $bad  ; KiB/s
END
done

refuse ssh_port_range 4 "'ssh_port' must be a whole number between 1 and 65535, got '65536'" <<END
[sync www]
source = $T/src
target = backup@192.0.2.9:/srv
ssh_port = 65536
END

refuse unknown_key 4 "unknown key 'sorce' in [sync www]" <<END
[lifeboat]
[sync www]
target = $T/dst
sorce = $T/src
END

refuse unknown_section 3 "unknown section [sink www]" <<END
# comment
[lifeboat]
[sink www]
source = $T/src
END

refuse duplicate_key 4 "'target' is set twice in [sync www]" <<END
[sync www]
source = $T/src
target = $T/dst
target = $T/dst2
END

refuse relative_target 3 "target 'backup/www' must be NODE:/PATH, [USER@]HOST:/PATH ([USER@][IPV6]:/PATH) or /PATH" <<END
[sync www]
source = $T/src
target = backup/www
END

refuse bad_delete 4 "'delete' must be yes, no, startup or running, got 'always'" <<END
[sync www]
source = $T/src
target = $T/dst
delete = always
END

refuse key_outside_section 1 "key outside of any [section]" <<END
source = $T/src
[sync www]
END

refuse missing_exclude_from 1 "exclude_from '$T/none': No such file or directory" <<END
[sync www]
source = $T/src
target = $T/dst
exclude_from = $T/none
END

refuse crlf_line_numbers 5 "'delay' must be a number of seconds between 0 and 86400, got 'x'" \
	< <(printf '[sync www]\r\nsource = %s\r\ntarget = %s/dst\r\n\r\ndelay = x\r\n' "$T/src" "$T")

refuse nul_byte 3 "NUL byte in configuration" \
	< <(printf '[sync www]\nsource = %s\nta\0rget = %s/dst\n' "$T/src" "$T")

# A missing file: exit 2, naming the file (no line exists).
check_refusal missing_file "$T/absent.conf" ": cannot read configuration" \
	"No such file or directory" "$(run_lifeboat -c "$T/absent.conf" sync --once)"
check_refusal missing_file_from_env "$T/env.conf" ": cannot read configuration" \
	"No such file or directory" \
	"$(LIFEBOAT_CONFIG=$T/env.conf run_lifeboat sync --once)"

# Nothing was created by any refused run.
[ ! -e "$T/dst" ] && [ ! -e "$T/src/copy" ] || fail "a refused configuration still synced"
pass "$cases configuration errors refused with exit 2 and one FILE:LINE line"
