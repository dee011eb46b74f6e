#!/usr/bin/env python3
"""The anchors' torn-copy probe: a 1 MiB file rewritten in place (64 KiB
writes, one byte value per generation, closed each time) every 40 ms for
DURATION s while the target copy is read every 50 ms; a read is torn when
it holds more than one byte value.  Prints "reads N torn M".

    torn_probe.py SOURCE_FILE TARGET_FILE [DURATION]
"""
import os, sys, time

src, dst = sys.argv[1], sys.argv[2]
duration = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
SIZE, CHUNK = 1 << 20, 64 << 10
stop = time.monotonic() + duration


def writer():
    gen = 1
    while time.monotonic() < stop:
        t0 = time.monotonic()
        fd = os.open(src, os.O_WRONLY)
        block = bytes([gen % 251 + 1]) * CHUNK
        for _ in range(SIZE // CHUNK):
            os.write(fd, block)
        os.close(fd)
        gen += 1
        time.sleep(max(0.0, 0.040 - (time.monotonic() - t0)))


with open(src, "wb") as f:
    f.write(b"\0" * SIZE)
# The writer is a process of its own (see torn_tree_probe.py).
pid = os.fork()
if pid == 0:
    writer()
    os._exit(0)
reads = torn = 0
while time.monotonic() < stop:
    t0 = time.monotonic()
    try:
        with open(dst, "rb") as f:
            data = f.read()
        reads += 1
        if data and (len(data) != SIZE or data.strip(data[:1])):
            torn += 1
    except FileNotFoundError:
        pass
    time.sleep(max(0.0, 0.050 - (time.monotonic() - t0)))
os.waitpid(pid, 0)
print("reads %d torn %d" % (reads, torn))
