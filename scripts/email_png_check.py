#!/usr/bin/env python3
"""Checks screenshots of the default e-mail for a non-blank render (used by scripts/email-render.sh).

Usage: email_png_check.py FILE.png:#rrggbb [FILE.png:#rrggbb ...]

For each PNG (8-bit RGB or RGBA, not interlaced, as Chromium writes them) it counts the pixels that
are not near-white and the pixels near the given colour (the e-mail's header bar: red for an Alert,
amber for a Reminder, green for an Ok). A render passes when at least 2 % of its pixels are not
white, and at least 1 % are the header colour (the styled HTML rendered, not just its text).
Only the standard library: CI and developers' machines have Python, not Pillow.
"""

import struct
import sys
import zlib

MIN_INK = 0.02
MIN_HEADER = 0.01


def decode(path):
    """(width, height, channels, rows of bytes) of a PNG file."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    offset, idat, header = 8, [], None
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError(f"{path}: no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"{path}: depth {depth}, colour type {colour}, interlace {interlace} not supported")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            up_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[x] = (line[x] + predictor) & 0xFF
            elif kind != 0:
                raise ValueError(f"{path}: unknown filter {kind} in row {y}")
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def measure(path, colour):
    """(pixels, share not near-white, share near `colour`)."""
    width, height, channels, rows = decode(path)
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    ink = header = 0
    for row in rows:
        for x in range(0, width * channels, channels):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if min(r, g, b) < 235:
                ink += 1
            if abs(r - target[0]) + abs(g - target[1]) + abs(b - target[2]) < 40:
                header += 1
    pixels = width * height
    return pixels, ink / pixels, header / pixels


def main(arguments):
    if not arguments:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for argument in arguments:
        path, _, colour = argument.rpartition(":")
        pixels, ink, header = measure(path, colour)
        verdict = "ok" if ink >= MIN_INK and header >= MIN_HEADER else "BLANK OR UNSTYLED"
        failed += verdict != "ok"
        print(f"{path}: {pixels} pixels, {ink:.1%} not white, {header:.1%} header colour {colour}: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
