#!/usr/bin/env bash
# DR disk fitness (SPEC "check": the DR disk's random-read IOPS and write
# throughput, measured, and the restore time on it). On a real ext4 file
# system on a loop device the test makes and removes:
#  - `check --disk-probe PATH --json` measures with O_DIRECT, within its
#    bound (about 2 s: 1 s of writes, 1 s of reads; asserted < 8 s, and
#    the run itself is bounded by timeout), leaves no file behind, and
#    prints every field;
#  - `check --json` has a sync.NAME.disk_fitness item for a target on it
#    with the figures (restore and clone time, the article's two rows);
#  - throttled to HDD-class random reads (a blkio cgroup: v1
#    blkio.throttle.read_iops_device, or v2 io.max where the io controller
#    is on) the rule FAILs (exit 3); throttled to 5,000 reads/s it WARNs
#    (below the SSD class).
#  - on tmpfs the figures are reported but not judged (SKIP).
set -u
. "$(dirname "$0")/../lib/common.sh"
[ -x "$LIFEBOAT" ] || skip "no binary at $LIFEBOAT (make asan)"
need_root
need losetup mkfs.ext4 python3
lb_setup
truncate -s 400M "$T/disk.img"
mkfs.ext4 -q -F "$T/disk.img" || fail "mkfs.ext4"
LOOP=$(losetup -f --show "$T/disk.img" 2>/dev/null) || skip "no loop device available"
lb_on_exit "losetup -d $LOOP"
mkdir -p "$T/mnt"
mount "$LOOP" "$T/mnt" || skip "cannot mount a loop device here"
lb_on_exit "umount -l $T/mnt"
mkdir -p "$T/src" "$T/mnt/www" "$T/state"
echo x >"$T/src/f"

# The one-shot probe: bounded, every field, nothing left behind.
timeout -k 5 30 "$LIFEBOAT" check --disk-probe "$T/mnt/www" --json >"$T/probe.json" 2>"$T/probe.err"
rc=$?
[ $rc = 0 ] || fail "disk probe exit $rc: $(cat "$T/probe.err")"
python3 - "$T/probe.json" "$T/mnt/www" <<'PY' || fail "probe JSON: $(cat "$T/probe.json")"
import json, sys
p = json.load(open(sys.argv[1]))
for k in ("path", "fs_type", "direct", "read_iops", "write_mb_s", "file_bytes", "seconds"):
    assert k in p, k
assert p["path"] == sys.argv[2] and p["fs_type"] == "ext4" and p["direct"] is True, p
assert p["read_iops"] > 0 and p["write_mb_s"] > 0, p
assert 0 < p["file_bytes"] <= 64 << 20, p
assert p["seconds"] < 8, p   # 1 s writes + 1 s reads + setup; generous for a loaded machine
PY
[ -z "$(ls -A "$T/mnt/www")" ] || fail "the probe left a file: $(ls -A "$T/mnt/www")"

cat >"$T/lifeboat.conf" <<EOF2
[lifeboat]
state_dir = $T/state
log = stderr

[sync www]
source = $T/src
target = $T/mnt/www
EOF2

# fitness COMMAND...: run COMMAND (a check --json) and print the
# disk_fitness item's result; its data must be complete.
fitness() {
	timeout -k 5 60 "$@" >"$T/check.json" 2>"$T/check.err"
	python3 - "$T/check.json" <<'PY' || fail "check JSON: $(cat "$T/check.json" "$T/check.err")"
import json, sys
items = {i["rule"]: i for i in json.load(open(sys.argv[1]))}
it = items["sync.www.disk_fitness"]
d = it["data"]
assert d["probe"]["direct"] is True and d["probe"]["read_iops"] > 0, d
assert d["restore_seconds"] > 0 and d["clone_seconds"] > 0, d
ref = {r["class"]: r for r in d["reference"]}
assert ref["HDD"]["read_iops"] == 120 and ref["SSD RAID-10"]["read_iops"] == 15000, ref
assert abs(ref["HDD"]["restore_seconds"] - 2700) < 1 and abs(ref["SSD RAID-10"]["restore_seconds"] - 240) < 1, ref
assert "article: HDD ~120 IOPS 45 min, SSD RAID-10 ~15,000 IOPS 4 min" in it["message"], it["message"]
print(it["result"])
PY
}
res=$(fitness "$LIFEBOAT" -c "$T/lifeboat.conf" check --json) || exit 1
case $res in PASS|WARN) ;; *) fail "unthrottled loop device: $res" ;; esac

# Throttle random reads on the loop device for one cgroup.
DEV=$(cat "/sys/block/$(basename "$LOOP")/dev")
CG=
if [ -w /sys/fs/cgroup/blkio/cgroup.procs ] || [ -d /sys/fs/cgroup/blkio ]; then
	CG=/sys/fs/cgroup/blkio/lifeboat-h14b-$$
	mkdir "$CG" 2>/dev/null && lb_on_exit "rmdir $CG" || CG=
	throttle() { echo "$DEV $1" >"$CG/blkio.throttle.read_iops_device"; }
elif grep -qw io /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	# Only where the io controller is on already: the test changes no
	# setting of the machine's cgroup tree.
	CG=/sys/fs/cgroup/lifeboat-h14b-$$
	mkdir "$CG" 2>/dev/null && lb_on_exit "rmdir $CG" || CG=
	throttle() { echo "$DEV riops=$1" >"$CG/io.max"; }
fi
[ -n "$CG" ] && throttle 300 2>/dev/null || skip "probe and JSON checked; no blkio/io cgroup to throttle with"
# A command run inside the cgroup: sh moves itself there, then execs it.
IN_CG=(sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG")

res=$(fitness "${IN_CG[@]}" "$LIFEBOAT" -c "$T/lifeboat.conf" check --json) || exit 1
[ "$res" = FAIL ] || fail "300 reads/s: $res, expected FAIL"
timeout -k 5 60 "${IN_CG[@]}" "$LIFEBOAT" -c "$T/lifeboat.conf" check >"$T/check.txt" 2>&1
rc=$?
[ $rc = 3 ] || fail "check with an HDD-class target exited $rc: $(cat "$T/check.txt")"
grep -q 'FAIL.*sync.www.disk_fitness' "$T/check.txt" || fail "no FAIL line: $(cat "$T/check.txt")"
grep -q 'fix: HDD-class storage' "$T/check.txt" || fail "no fix line: $(cat "$T/check.txt")"
throttle 5000
res=$(fitness "${IN_CG[@]}" "$LIFEBOAT" -c "$T/lifeboat.conf" check --json) || exit 1
[ "$res" = WARN ] || fail "5000 reads/s: $res, expected WARN"

# tmpfs: reported, not judged.
mkdir -p "$T/shm"
if mount -t tmpfs -o size=200m tmpfs "$T/shm" 2>/dev/null; then
	lb_on_exit "umount -l $T/shm"
	sed -i "s|^target = .*|target = $T/shm|" "$T/lifeboat.conf"
	timeout -k 5 60 "$LIFEBOAT" -c "$T/lifeboat.conf" check >"$T/check.txt" 2>&1
	grep -q 'SKIP.*sync.www.disk_fitness.*tmpfs' "$T/check.txt" || fail "tmpfs: $(cat "$T/check.txt")"
fi
pass
