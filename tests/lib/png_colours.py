#!/usr/bin/env python3
"""png_colours.py FILE [R,G,B]: exit 0 when the PNG (8-bit RGB/RGBA, not
interlaced, as Chromium writes) has more than one colour and, if given,
contains the colour R,G,B; else print why and exit 1. No PIL needed."""
import struct, sys, zlib

def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0, "unsupported PNG"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), w * bpp
    prev, out = bytearray(stride), set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return out

colours = pixels(sys.argv[1])
if len(colours) < 2:
    sys.exit("blank image: one colour")
if len(sys.argv) > 2:
    want = bytes(int(x) for x in sys.argv[2].split(","))
    if want not in colours:
        sys.exit("colour %s not in the image (%d colours)" % (sys.argv[2], len(colours)))
print("%d colours" % len(colours))
