"""Draw the Zendesk app's icons (assets/logo.png, assets/logo-small.png) with the standard library only.

Zendesk wants logo.png at 320x320 (square corners: its UI rounds them) and
logo-small.png at 128x128, PNG-24 with transparency:
https://developer.zendesk.com/documentation/apps/publish-your-app-or-theme/create_assets
The picture is a sealed letter on a teal tile. The output is deterministic, so
re-running this script leaves the committed files unchanged unless the drawing
changes: `.venv/bin/python tools/make_app_logos.py`.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
TEAL = (31, 111, 107)
PAPER = (250, 247, 240)
SEAL = (242, 165, 65)
SAMPLES = 4  # per axis: 16 samples a pixel for smooth edges


def png(width: int, height: int, rgba_rows: list[bytes]) -> bytes:
    """A minimal PNG: 8-bit RGBA, one IDAT, filter 0 on every row (https://www.w3.org/TR/png/)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rgba_rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _near_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float], half_width: float) -> bool:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    px, py = ax + t * dx - x, ay + t * dy - y
    return px * px + py * py <= half_width * half_width


def _colour_at(x: float, y: float, tile_radius: float) -> tuple[int, int, int] | None:
    """The colour at (x, y) in unit coordinates, or None for transparent."""
    if tile_radius:  # rounded tile: outside the corner arcs is transparent
        cx = min(max(x, tile_radius), 1 - tile_radius)
        cy = min(max(y, tile_radius), 1 - tile_radius)
        if (x - cx) ** 2 + (y - cy) ** 2 > tile_radius ** 2:
            return None
    if (x - 0.5) ** 2 + (y - 0.55) ** 2 <= 0.075 ** 2:
        return SEAL
    if 0.2 <= x <= 0.8 and 0.3 <= y <= 0.72:
        fold = (0.5, 0.55)
        flap = _near_segment(x, y, (0.2, 0.3), fold, 0.022) or _near_segment(x, y, (0.8, 0.3), fold, 0.022)
        return TEAL if flap else PAPER
    return TEAL


def draw(size: int, tile_radius: float) -> bytes:
    rows = []
    step = 1.0 / (size * SAMPLES)
    for py in range(size):
        row = bytearray()
        for px in range(size):
            r = g = b = a = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    colour = _colour_at((px * SAMPLES + sx + 0.5) * step, (py * SAMPLES + sy + 0.5) * step, tile_radius)
                    if colour:
                        r, g, b, a = r + colour[0], g + colour[1], b + colour[2], a + 1
            n = SAMPLES * SAMPLES
            row += bytes((r // a, g // a, b // a, round(255 * a / n))) if a else b"\x00\x00\x00\x00"
        rows.append(bytes(row))
    return png(size, size, rows)


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    (ASSETS / "logo.png").write_bytes(draw(320, tile_radius=0.0))  # full bleed: Zendesk rounds it
    (ASSETS / "logo-small.png").write_bytes(draw(128, tile_radius=0.18))  # transparent corners
    print(f"wrote {ASSETS / 'logo.png'} and {ASSETS / 'logo-small.png'}")


if __name__ == "__main__":
    main()
