#!/usr/bin/env python3
"""A file bigger than the stage copies (SIZE bytes, default 72 MiB) is
rewritten in place for DURATION s: version N has every byte equal to N,
written with pwrites from offset 0 over the whole file through an fd
kept open (so the sync holds the file as "being written" and tries it
every few seconds).  Meanwhile TARGET is read whole again and again; a
read is torn when it holds more than one byte value or is not SIZE bytes.
And STATUS_CMD... is run every 200 ms: "waiting" counts the runs whose
output names the file as waiting to hold still.  After DURATION the fd is
closed (the last version, whole, stays).  Prints
"reads N torn M waiting W versions V last L".

    torn_big_probe.py SOURCE TARGET DURATION [STATUS_CMD...]
"""
import os, subprocess, sys, threading, time

src, dst, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
status_cmd = sys.argv[4:]
SIZE = int(os.environ.get("PROBE_SIZE", 72 << 20))
CHUNK = 8 << 20
stop = time.monotonic() + duration
versions = [0]
waiting = [0]


def writer():
    # Each version in 8 MiB pwrites from offset 0 to the end, 4 ms apart:
    # the file is in the middle of a rewrite nearly all the time.
    fd = os.open(src, os.O_WRONLY)
    gen = 2
    while time.monotonic() < stop:
        block = bytes([gen % 250 + 1]) * CHUNK
        for off in range(0, SIZE, CHUNK):
            os.pwrite(fd, block[:SIZE - off], off)
            time.sleep(0.004)
        versions[0] = gen
        gen += 1
    os.close(fd)


def poll_status():
    name = os.path.basename(src)
    while time.monotonic() < stop:
        t0 = time.monotonic()
        out = subprocess.run(status_cmd, capture_output=True, text=True).stdout
        if "waiting for %s to hold still" % name in out:
            waiting[0] += 1
        time.sleep(max(0.0, 0.200 - (time.monotonic() - t0)))


w = threading.Thread(target=writer)
w.start()
threads = [w]
if status_cmd:
    threads.append(threading.Thread(target=poll_status))
    threads[-1].start()
reads = torn = 0
while w.is_alive():
    t0 = time.monotonic()
    try:
        with open(dst, "rb") as f:
            data = f.read()
        reads += 1
        if len(data) != SIZE or data.strip(data[:1]):
            torn += 1
    except FileNotFoundError:
        pass
    time.sleep(max(0.0, 0.050 - (time.monotonic() - t0)))
for t in threads:
    t.join()
print("reads %d torn %d waiting %d versions %d last %d"
      % (reads, torn, waiting[0], versions[0], versions[0] % 250 + 1))
