"""The camera's make and model, read from a RAW's TIFF header or from the
Exif block of a JPEG (a RAW's embedded preview).

rawpy exposes no make or model (LibRaw has them in ``imgdata.idata``, but
rawpy 0.27.0's RawPy offers only the lens's), so they are read here from
the bytes themselves: DNG, CR2, NEF, ARW, PEF, SRW, ORF, RW2 and most other
RAW formats are TIFF files (ORF and RW2 with their own magic number) whose
first IFD carries Make (0x010F) and Model (0x0110). Formats that are not
TIFF (CR3, RAF, ...) embed a JPEG preview whose Exif usually has them.

The bytes are hostile: every offset is bounds-checked, at most
MAX_ENTRIES entries are looked at, and a value is cut to MAX_TEXT printable
characters. Anything unreadable is "not there" (None), never an error.
Stdlib only.
"""

from __future__ import annotations

import struct

MAKE = 0x010F
MODEL = 0x0110
ASCII = 2
MAX_ENTRIES = 1024
MAX_TEXT = 64
# TIFF (and every TIFF-based RAW), Olympus ORF ("IIRO", "IIRS"), Panasonic RW2.
TIFF_MAGIC = (42, 0x4F52, 0x5352, 0x55)
# Bytes of a JPEG scanned for its Exif segment: APP1 comes first, after SOI.
JPEG_SCAN = 256 * 1024


def camera_from_tiff(data: bytes, base: int = 0) -> tuple[str | None, str | None]:
    """(make, model) from the first IFD of the TIFF at data[base:]; each
    None when absent or unreadable."""
    order = data[base:base + 2]
    if order == b"II":
        endian = "<"
    elif order == b"MM":
        endian = ">"
    else:
        return None, None
    try:
        magic, ifd = struct.unpack_from(endian + "HI", data, base + 2)
        if magic not in TIFF_MAGIC:
            return None, None
        (count,) = struct.unpack_from(endian + "H", data, base + ifd)
    except struct.error:
        return None, None
    found: dict[int, str | None] = {MAKE: None, MODEL: None}
    for i in range(min(count, MAX_ENTRIES)):
        entry = base + ifd + 2 + 12 * i
        try:
            tag, kind, n = struct.unpack_from(endian + "HHI", data, entry)
        except struct.error:
            break
        if tag in found and kind == ASCII:
            found[tag] = _ascii(data, base, entry, n, endian)
    return found[MAKE], found[MODEL]


def camera_from_jpeg(data: bytes) -> tuple[str | None, str | None]:
    """(make, model) from a JPEG's Exif (APP1) segment; None where absent."""
    if data[:2] != b"\xff\xd8":
        return None, None
    pos, end = 2, min(len(data), JPEG_SCAN)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None, None
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no Exif before the pixels
            return None, None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None, None
        if marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00":
            segment = data[pos + 10:pos + 2 + length]
            return camera_from_tiff(segment)
        pos += 2 + length
    return None, None


def _ascii(data: bytes, base: int, entry: int, n: int, endian: str) -> str | None:
    if n <= 4:
        start = entry + 8
    else:
        try:
            (offset,) = struct.unpack_from(endian + "I", data, entry + 8)
        except struct.error:
            return None
        start = base + offset
    raw = data[start:start + min(n, 4 * MAX_TEXT)]
    if start + min(n, 1) > len(data):
        return None
    text = raw.split(b"\x00", 1)[0].decode("latin-1")
    text = "".join(c for c in text if c.isprintable()).strip()
    return text[:MAX_TEXT] or None
