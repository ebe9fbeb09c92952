"""Minimal image probing for the fake ``sendPhoto``: is it a PNG/JPEG, and how big is it."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["PNG_SIGNATURE", "ImageInfo", "probe_image", "tiny_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "png" or "jpeg"
    width: int
    height: int


def probe_image(data: bytes) -> ImageInfo | None:
    """Return format and dimensions of a PNG or baseline/progressive JPEG, ``None`` if unrecognised."""
    if data.startswith(PNG_SIGNATURE):
        # The first chunk must be IHDR: length(4) type(4) width(4) height(4) ...
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo("png", width, height) if width and height else None
    if data.startswith(b"\xff\xd8\xff"):
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            (segment_length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            if marker in _JPEG_SOF_MARKERS and pos + 9 <= len(data):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return ImageInfo("jpeg", width, height) if width and height else None
            pos += 2 + segment_length
        return None
    return None


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid solid-colour RGB PNG, built with zlib only (handy for sendPhoto tests)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
