#!/usr/bin/env python3
"""A new tree arrives holding a file that is rewritten while the tree is
shipped: OUTSIDE/f.bin (1 MiB, one byte value per generation) is rewritten
in place, 2 ms apart, through a directory fd, so moving OUTSIDE to INSIDE
(in the synced source) does not stop the writer; after DURATION s one last
generation is written and the writer stops.  Meanwhile TARGET/f.bin is
read every 5 ms; a read is torn when it holds more than one byte value or
is not 1 MiB.  With EXTRA, the tree also holds EXTRA small files (s/N)
made before it moves in (a tree too big to be listed file by file).
Prints "reads N torn M".

    torn_tree_probe.py OUTSIDE INSIDE TARGET [DURATION [EXTRA]]
"""
import os, sys, time

outside, inside, target = sys.argv[1], sys.argv[2], sys.argv[3]
duration = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
extra = int(sys.argv[5]) if len(sys.argv) > 5 else 0
SIZE, CHUNK = 1 << 20, 64 << 10
stop = time.monotonic() + duration

os.mkdir(outside)
dfd = os.open(outside, os.O_RDONLY | os.O_DIRECTORY)
if extra:
    os.mkdir(os.path.join(outside, "s"))
for i in range(extra):
    with open(os.path.join(outside, "s", str(i)), "w") as f:
        f.write("%d\n" % i)


def write_generation(gen):
    fd = os.open("f.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dfd)
    block = bytes([gen % 251 + 1]) * CHUNK
    for _ in range(SIZE // CHUNK):
        os.write(fd, block)
    os.close(fd)


def writer():
    # 2 ms between generations: a file never closed long enough to copy is
    # held until its writer stops, which would leave nothing to read here.
    gen = 2
    while time.monotonic() < stop:
        write_generation(gen)
        gen += 1
        time.sleep(0.002)
    write_generation(gen)  # the last one, whole


write_generation(1)
# The writer is a process of its own: a thread would stall mid-generation
# whenever this reader holds the interpreter lock, with the file open and
# quiet, which the sync may rightly take as a version that held still.
pid = os.fork()
if pid == 0:
    writer()
    os._exit(0)
time.sleep(0.2)
os.rename(outside, inside)  # the new tree appears in the source
path = os.path.join(target, "f.bin")
reads = torn = 0
while os.waitpid(pid, os.WNOHANG) == (0, 0):
    try:
        with open(path, "rb") as f:
            data = f.read()
        reads += 1
        if len(data) != SIZE or data.strip(data[:1]):
            torn += 1
    except FileNotFoundError:
        pass
    time.sleep(0.005)
print("reads %d torn %d" % (reads, torn))
