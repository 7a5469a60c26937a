"""Metadata-stripped copies of JPEG and PNG images, with the standard library only.

The console never renders or opens a file itself; these functions only rewrite the container:

* JPEG: every APPn segment is dropped (EXIF, XMP, ICC profiles, Photoshop IRB, maker notes...)
  except APP0 "JFIF", which is rebuilt without its embedded thumbnail (a thumbnail can show the
  picture as it was before someone cropped or blacked out part of it), and APP14 "Adobe", which
  holds only the colour-transform flag a decoder needs. COM segments are dropped, and so is
  anything after the end-of-image marker. The entropy-coded image data is copied unchanged.
  Orientation lives in EXIF, so a stripped photo may display rotated.
* PNG: only the critical chunks (IHDR, PLTE, IDAT, IEND) and the ancillary chunks needed to draw
  the pixels correctly (tRNS, gAMA, cHRM, sRGB) are kept; text (tEXt, zTXt, iTXt), eXIf, tIME,
  iCCP, pHYs, private and animation chunks are dropped, and so is anything after IEND.

A file that is not well formed raises StripError: no copy is made rather than a half-clean one.
"""

from __future__ import annotations

import struct
import zlib

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB"})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..RST7: no length field


class StripError(ValueError):
    """The file cannot be parsed safely as the format it claims to be."""


def kind_of(data: bytes) -> str | None:
    """'jpeg', 'png' or None, by content (never by name or declared type)."""
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SOI + b"\xff"):
        return "jpeg"
    return None


def strip(data: bytes) -> tuple[str, bytes]:
    kind = kind_of(data)
    if kind == "png":
        return kind, strip_png(data)
    if kind == "jpeg":
        return kind, strip_jpeg(data)
    raise StripError("only JPEG and PNG images can be stripped of metadata")


def _jfif_without_thumbnail(body: bytes) -> bytes | None:
    """APP0 body; keep a JFIF header (version, units, density) with a 0x0 thumbnail."""
    if len(body) < 14 or body[:5] != b"JFIF\x00":
        return None
    return body[:12] + b"\x00\x00"


def _scan_end(data: bytes, start: int) -> int:
    """Index of the first marker after entropy-coded data beginning at `start`."""
    position = start
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise StripError("JPEG image data does not end")
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2  # stuffed 0xFF byte, or a restart marker inside the scan
        elif following == 0xFF:
            position += 1  # fill byte
        else:
            return position


def strip_jpeg(data: bytes) -> bytes:
    if not data.startswith(JPEG_SOI):
        raise StripError("not a JPEG file")
    out = bytearray(JPEG_SOI)
    position = 2
    saw_frame = False
    while True:
        if position + 2 > len(data) or data[position] != 0xFF:
            raise StripError("malformed JPEG segment")
        while position + 1 < len(data) and data[position + 1] == 0xFF:
            position += 1  # fill bytes before a marker
        if position + 2 > len(data):
            raise StripError("truncated JPEG")
        marker = data[position + 1]
        if marker == 0xD9:  # EOI: done; whatever follows is dropped
            if not saw_frame:
                raise StripError("JPEG has no image")
            out += b"\xff\xd9"
            return bytes(out)
        if marker in _STANDALONE:
            out += data[position : position + 2]
            position += 2
            continue
        if position + 4 > len(data):
            raise StripError("truncated JPEG segment")
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > len(data):
            raise StripError("JPEG segment runs past the end")
        body = data[position + 4 : end]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            saw_frame = True
        if marker == 0xE0:
            jfif = _jfif_without_thumbnail(body)
            if jfif is not None:
                out += b"\xff\xe0" + struct.pack(">H", len(jfif) + 2) + jfif
        elif marker == 0xEE and body[:5] == b"Adobe" and len(body) == 12:
            out += data[position:end]
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE:
            pass  # APPn / COM: metadata
        elif marker == 0xDA:  # SOS: header, then entropy-coded data up to the next marker
            scan_end = _scan_end(data, end)
            out += data[position:scan_end]
            position = scan_end
            continue
        else:
            out += data[position:end]
        position = end


def strip_png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise StripError("not a PNG file")
    out = bytearray(PNG_SIGNATURE)
    position = len(PNG_SIGNATURE)
    first = True
    while True:
        if position + 12 > len(data):
            raise StripError("truncated PNG chunk")
        length, chunk_type = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise StripError("PNG chunk runs past the end")
        if not chunk_type.isalpha():
            raise StripError("malformed PNG chunk type")
        chunk_data = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : end])
        if zlib.crc32(chunk_type + chunk_data) != crc:
            raise StripError("PNG chunk checksum mismatch")
        if first and chunk_type != b"IHDR":
            raise StripError("PNG does not start with IHDR")
        first = False
        if chunk_type in PNG_KEEP:
            out += data[position:end]
        elif chunk_type[0:1].isupper():
            raise StripError(f"unknown critical PNG chunk {chunk_type!r}")
        if chunk_type == b"IEND":
            return bytes(out)
        position = end
