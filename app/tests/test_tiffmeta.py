"""Camera make and model from TIFF headers and JPEG Exif: every TIFF-based
RAW's byte orders and magic numbers, short and long values, and hostile
bytes (cut, looping, huge counts) that must give None, never an error."""

from __future__ import annotations

import struct
import unittest

from imaging import tiffmeta


def tiff(entries: list[tuple[int, int, bytes]], *, endian: str = "<", magic: int = 42) -> bytes:
    """A TIFF whose IFD0 holds entries (tag, type, value bytes)."""
    order = b"II" if endian == "<" else b"MM"
    header = order + struct.pack(endian + "HI", magic, 8)
    ifd_size = 2 + 12 * len(entries) + 4
    data_at = 8 + ifd_size
    ifd, extra = struct.pack(endian + "H", len(entries)), b""
    for tag, kind, value in entries:
        if len(value) <= 4:
            ifd += struct.pack(endian + "HHI", tag, kind, len(value)) + value.ljust(4, b"\0")
        else:
            ifd += struct.pack(endian + "HHII", tag, kind, len(value), data_at + len(extra))
            extra += value
    return header + ifd + b"\0\0\0\0" + extra


def camera(make: bytes, model: bytes, **kw) -> bytes:
    return tiff([(0x010F, 2, make), (0x0110, 2, model)], **kw)


def exif_jpeg(tiff_bytes: bytes, *, jfif_first: bool = True) -> bytes:
    app1 = b"Exif\0\0" + tiff_bytes
    segments = b""
    if jfif_first:
        jfif = b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
        segments += b"\xff\xe0" + struct.pack(">H", len(jfif) + 2) + jfif
    segments += b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return b"\xff\xd8" + segments + b"\xff\xda\0\x02" + b"pixels" + b"\xff\xd9"


class CameraFromTiffTest(unittest.TestCase):
    def test_formats(self):
        cases = {
            "TIFF little-endian (DNG, CR2, NEF, ARW)": camera(b"Canon\0", b"Canon EOS 30D\0"),
            "TIFF big-endian (PEF, older NEF)": camera(b"Canon\0", b"Canon EOS 30D\0", endian=">"),
            "Olympus ORF (IIRO)": camera(b"Canon\0", b"Canon EOS 30D\0", magic=0x4F52),
            "Panasonic RW2 (IIU)": camera(b"Canon\0", b"Canon EOS 30D\0", magic=0x55),
        }
        for label, data in cases.items():
            with self.subTest(label):
                self.assertEqual(tiffmeta.camera_from_tiff(data), ("Canon", "Canon EOS 30D"))

    def test_values_are_cleaned(self):
        cases = [
            ("short value inline", camera(b"Leic", b"M\0"), ("Leic", "M")),
            ("padding and spaces", camera(b"NIKON CORPORATION   \0\0\0", b"NIKON D850\0"),
             ("NIKON CORPORATION", "NIKON D850")),
            ("control characters dropped", camera(b"Ev\x07il\0", b"\x1b[31mRed\0"), ("Evil", "[31mRed")),
            ("cut to 64 characters", camera(b"M" * 300 + b"\0", b"x\0"), ("M" * 64, "x")),
            ("empty is absent", camera(b"\0", b"   \0"), (None, None)),
            ("only make", tiff([(0x010F, 2, b"Sony\0")]), ("Sony", None)),
            ("not ASCII typed", tiff([(0x010F, 7, b"Sony\0"), (0x0110, 2, b"A7\0")]), (None, "A7")),
        ]
        for label, data, want in cases:
            with self.subTest(label):
                self.assertEqual(tiffmeta.camera_from_tiff(data), want)

    def test_hostile_bytes_give_none(self):
        good = camera(b"Canon\0", b"Canon EOS 30D\0")
        cases = {
            "empty": b"",
            "not TIFF": b"\x89PNG\r\n\x1a\n" + bytes(64),
            "BigTIFF": b"II+\0" + bytes(64),
            "IFD offset past the end": b"II*\0" + struct.pack("<I", 1 << 30),
            "cut in the IFD": good[:20],
            "value offset past the end": tiff([(0x010F, 2, b"0123456789")])[:-10],
            "huge entry count": b"II*\0\x08\0\0\0\xff\xff" + bytes(30),
        }
        for label, data in cases.items():
            with self.subTest(label):
                make, model = tiffmeta.camera_from_tiff(data)
                self.assertEqual((make, model), (None, None))

    def test_every_prefix_of_a_real_header_is_safe(self):
        good = camera(b"FUJIFILM\0", b"X-T5\0")
        for cut in range(len(good)):
            tiffmeta.camera_from_tiff(good[:cut])


class CameraFromJpegTest(unittest.TestCase):
    def test_exif_after_jfif_and_first(self):
        for jfif_first in (True, False):
            with self.subTest(jfif_first=jfif_first):
                data = exif_jpeg(camera(b"FUJIFILM\0", b"X-T5\0", endian=">"), jfif_first=jfif_first)
                self.assertEqual(tiffmeta.camera_from_jpeg(data), ("FUJIFILM", "X-T5"))

    def test_no_exif_or_not_jpeg(self):
        cases = {
            "no Exif before the scan": b"\xff\xd8\xff\xda\0\x02pixels\xff\xd9",
            "not a JPEG": b"II*\0" + bytes(32),
            "cut segment": exif_jpeg(camera(b"A\0", b"B\0"))[:7],
            "zero-length segment": b"\xff\xd8\xff\xe1\0\0",
        }
        for label, data in cases.items():
            with self.subTest(label):
                self.assertEqual(tiffmeta.camera_from_jpeg(data), (None, None))


if __name__ == "__main__":
    unittest.main()
