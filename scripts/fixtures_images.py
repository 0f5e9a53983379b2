"""Writes small PNG files in the formats MyelinIO's encoder does not produce (16-bit,
palette with transparency, 1-bit gray, gray + alpha, interlaced) for ImageTests, with a
hand-written encoder (zlib + chunks) so the bytes do not depend on an imaging library.

    python3 scripts/fixtures_images.py   # writes Tests/MyelinDataTests/Fixtures/*.png
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "MyelinDataTests", "Fixtures")


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(name, width, height, depth, color, rows, extra=b"", interlace=0):
    """rows: list of bytes (packed samples, no filter byte)."""
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace))
    data += extra
    data += chunk(b"IDAT", zlib.compress(raw))
    data += chunk(b"IEND", b"")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


os.makedirs(OUT, exist_ok=True)
# 16-bit gray 3×2: values 0, 1, 256, 32768, 65534, 65535.
g16 = [0, 1, 256, 32768, 65534, 65535]
png("gray16.png", 3, 2, 16, 0, [struct.pack(">HHH", *g16[0:3]), struct.pack(">HHH", *g16[3:6])])
# 16-bit RGB 2×1: (65535, 0, 4660), (1, 2, 65535).
png("rgb16.png", 2, 1, 16, 2, [struct.pack(">HHHHHH", 65535, 0, 4660, 1, 2, 65535)])
# Palette 2×2 with transparency on entry 1: palette red, green(alpha 128), blue.
plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]))
trns = chunk(b"tRNS", bytes([255, 128]))
png("palette_trns.png", 2, 2, 8, 3, [bytes([0, 1]), bytes([2, 0])], extra=plte + trns)
# Palette without transparency, 4-bit indices: 3×1, entries 2, 0, 1.
png("palette4.png", 3, 1, 4, 3, [bytes([0x20, 0x10])], extra=plte)
# 1-bit gray 8×1: 10110001.
png("gray1.png", 8, 1, 1, 0, [bytes([0b10110001])])
# Gray + alpha 8-bit 2×1: (10, 255), (200, 0).
png("gray_alpha.png", 2, 1, 8, 4, [bytes([10, 255, 200, 0])])
print("wrote", sorted(f for f in os.listdir(OUT) if f.endswith(".png")))
