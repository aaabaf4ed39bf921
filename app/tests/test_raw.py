"""Camera RAW thumbnails on real decoders: Debian's LibRaw (through the
test-only rawpy in tests/libraw_ctypes) and Pillow, on synthetic DNGs
(tests/rawgen.py) and a real Canon EOS 30D CR2. Each input gives the right
size, orientation, "via" and camera; bad input is a clear 400; a decoder
crash or a limit hit is a 422 that names it, and the next request is
served as usual.

Nothing here decodes a RAW in this test process: LibRaw's OpenMP threads
started in a parent deadlock every child forked after them, which is
exactly why the function decodes only in children (imaging/raw.py).
"""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import tempfile
import unittest
from unittest import mock

import api
from imaging import isolate, raw
from tests.events import body_json, http_v2
from tests.realimaging import read_cr2, requires_real_decoders


def thumbnail(data: bytes, size: int = 256) -> tuple[int, dict]:
    event = http_v2("POST", "/images/thumbnail", {"image": base64.b64encode(data).decode(), "size": size},
                    headers={"content-type": "application/json"})
    response = api.handler(event, None)
    return response["statusCode"], body_json(response)


def picture(body: dict):
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(body["image"])))


def crash(*args):
    os.kill(os.getpid(), signal.SIGSEGV)


@requires_real_decoders
class SyntheticDNGTest(unittest.TestCase):
    def test_size_orientation_via_and_camera(self):
        from tests import rawgen

        camera = {"make": "Galerly", "model": "Synthetic DNG"}
        # LibRaw puts an Exif block of its own, naming the camera it
        # identified (here from UniqueCameraModel), at the front of a JPEG
        # preview that does not start with one, as Pillow's do not.
        libraw = {"make": "Galerly", "model": "Synthetic"}
        cases = [
            # (label, DNG spec keywords, size, want (w, h), red side, via, camera)
            ("upright, preview used", dict(orientation=1), 64, (64, 48), "top", "preview", camera),
            ("rotated 90 CW, preview turned", dict(orientation=6), 64, (48, 64), "right", "preview", camera),
            ("rotated 90 CCW, preview turned", dict(orientation=8), 64, (48, 64), "left", "preview", camera),
            ("upright, preview too small", dict(orientation=1), 200, (200, 150), "top", "demosaic", camera),
            ("rotated 90 CW, demosaic turned by LibRaw", dict(orientation=6), 200, (150, 200), "right",
             "demosaic", camera),
            ("rotated 90 CCW, demosaic turned by LibRaw", dict(orientation=8), 200, (150, 200), "left",
             "demosaic", camera),
            # The preview says "upright" (or "rotated the other way"); the RAW wins.
            ("preview EXIF says upright, RAW says 6", dict(orientation=6, preview_orientation=1), 64, (48, 64),
             "right", "preview", camera),
            ("preview EXIF says 8, RAW says 6", dict(orientation=6, preview_orientation=8), 64, (48, 64),
             "right", "preview", camera),
            # No JPEG preview: LibRaw hands over IFD0's RGB thumbnail (a bitmap, 1/8 of the sensor).
            ("bitmap thumbnail used", dict(preview=None, width=1024, height=768), 96, (96, 72), "top", "preview",
             camera),
            ("bitmap thumbnail too small", dict(preview=None, orientation=6), 100, (75, 100), "right", "demosaic",
             camera),
            ("no preview at all", dict(preview=None, thumbnail=False, orientation=8), 100, (75, 100), "left",
             "demosaic", camera),
            ("camera only in the preview's Exif", dict(camera=None, preview_exif_camera=("PreviewMake", "PM-1")),
             64, (64, 48), "top", "preview", libraw),
            ("camera nowhere, with a preview", dict(camera=None), 64, (64, 48), "top", "preview", libraw),
            ("camera nowhere, no preview", dict(camera=None, preview=None, thumbnail=False), 100, (100, 75), "top",
             "demosaic", {"make": None, "model": None}),
        ]
        for label, spec, size, want, side, via, cam in cases:
            kw = {"width": 512, "height": 384, "preview": (160, 120), **spec}
            with self.subTest(label), self.assertLogs("galerly", "INFO"):
                status, body = thumbnail(rawgen.dng(**kw), size)
                self.assertEqual(status, 200, body)
                self.assertEqual(body["source"], {"format": "RAW", "width": kw["width"], "height": kw["height"],
                                                  "raw": {**cam, "via": via}})
                self.assertEqual((body["contentType"], body["width"], body["height"]), ("image/jpeg", *want))
                img = picture(body)
                self.assertEqual((img.format, img.size), ("JPEG", want))
                self.assertEqual(rawgen.red_side(img), side)

    def test_libraw_bin_reads_the_dngs_as_written(self):
        from tests import rawgen

        for orientation, flip in ((1, 0), (6, 6), (8, 5)):
            with self.subTest(orientation=orientation), tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "test.dng")
                with open(path, "wb") as f:
                    f.write(rawgen.dng(width=512, height=384, preview=(160, 120), orientation=orientation))
                info = subprocess.run(["raw-identify", "-v", path], capture_output=True, text=True, timeout=60,
                                      check=True).stdout
                self.assertRegex(info, r"Camera: Galerly Synthetic DNG")
                self.assertRegex(info, r"Thumb size: +160 x 120")
                self.assertRegex(info, r"Full size: +512 x 384")
                self.assertRegex(info, rf"Image flip: {flip}\n")
                self.assertRegex(info, r"Filter pattern: RGGB")

    def test_never_enlarged(self):
        from tests import rawgen

        # A 64x48 RAW demosaics at half size to 32x24, the most it gives.
        with self.assertLogs("galerly", "INFO"):
            status, body = thumbnail(rawgen.dng(preview=None), 2048)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["width"], body["height"], body["source"]["raw"]["via"]), (32, 24, "demosaic"))

    def test_bad_input_is_a_400_that_says_why(self):
        from tests import rawgen

        dng = rawgen.dng(width=256, height=192, preview=None, thumbnail=False)
        cases = {
            "random bytes": (os.urandom(4096), "image is not a JPEG, PNG, WEBP or camera RAW file"),
            "a TIFF header and nothing else": (b"II*\x00\x08\x00\x00\x00" + bytes(64),
                                              "image is not a JPEG, PNG, WEBP or camera RAW file"),
            "a DNG cut in its mosaic": (dng[: len(dng) // 2], "RAW image is truncated or damaged"),
        }
        for label, (data, error) in cases.items():
            with self.subTest(label), self.assertLogs("galerly", "INFO"):
                status, body = thumbnail(data, 100)
                self.assertEqual(status, 400, body)
                self.assertTrue(body["error"].startswith(error), body["error"])

    def test_too_many_pixels_is_refused_before_any_demosaic(self):
        from tests import rawgen

        dng = rawgen.dng(width=256, height=192, preview=(160, 120))
        with mock.patch.object(raw, "MAX_RAW_PIXELS", 256 * 192 - 1), self.assertLogs("galerly", "INFO"):
            status, body = thumbnail(dng, 200)  # the preview is too small: a demosaic is needed
            self.assertEqual((status, body), (400, {"error": "RAW image is 256x192 pixels, more than the 49,151 allowed"}))
            # The preview needs no demosaic, so the cap does not stand in its way.
            status, body = thumbnail(dng, 64)
            self.assertEqual((status, body["source"]["raw"]["via"]), (200, "preview"))


@requires_real_decoders
class RealCR2Test(unittest.TestCase):
    """IMG_5952.CR2: 3596x2360 sensor, 3522x2348 image, a 1728x1152 JPEG
    preview; 7.5 MB, more than a request carries, so raw.decode directly
    (the route's own call; tests/test_photos.py sends it through S3)."""

    def decode(self, size: int, **kw) -> tuple[dict, bytes]:
        return raw.decode(read_cr2(), size, max_preview_pixels=60_000_000, **kw)

    def test_preview_and_demosaic(self):
        from PIL import Image

        for size, via, want in ((256, "preview", (256, 171)), (1728, "preview", (1728, 1152)),
                                (2048, "demosaic", (1761, 1174))):
            with self.subTest(size=size):
                meta, data = self.decode(size)
                self.assertEqual(meta["source"], {"format": "RAW", "width": 3522, "height": 2348,
                                                  "raw": {"make": "Canon", "model": "Canon EOS 30D", "via": via}})
                self.assertEqual((meta["width"], meta["height"]), want)
                self.assertEqual(Image.open(io.BytesIO(data)).size, want)

    def test_damage_is_a_400(self):
        data = read_cr2()
        for label, cut in (("half", data[: len(data) // 2]), ("header only", data[:4096])):
            with self.subTest(label):
                with self.assertRaises(raw.RawFailure) as caught:
                    raw.decode(cut, 2048, max_preview_pixels=60_000_000)
                self.assertEqual(caught.exception.status, 400, caught.exception.message)
                self.assertIn(caught.exception.kind, ("damaged", "unsupported"))

    def test_limits_hit_are_422_and_the_next_decode_works(self):
        cases = [
            # (limits, kind, message start)
            (isolate.Limits(memory=20 * 2**20, seconds=60), "memory", "the RAW decoder "),
            (isolate.Limits(memory=2**30, seconds=0.05), "timeout", "the RAW decoder took longer than the 0.05 s"),
        ]
        for limits, kind, message in cases:
            with self.subTest(kind):
                with self.assertRaises(raw.RawFailure) as caught:
                    self.decode(2048, limits_=limits)
                self.assertEqual((caught.exception.status, caught.exception.kind), (422, kind))
                self.assertTrue(caught.exception.message.startswith(message), caught.exception.message)
                if kind == "memory":
                    self.assertIn("20 MB of memory allowed", caught.exception.message)
                meta, _ = self.decode(256)
                self.assertEqual(meta["source"]["raw"]["via"], "preview")


@requires_real_decoders
class CrashTest(unittest.TestCase):
    def test_a_decoder_crash_is_a_422_and_the_environment_keeps_serving(self):
        from tests import rawgen

        dng = rawgen.dng(width=256, height=192, preview=(160, 120))
        with mock.patch.object(raw, "thumbnail", crash), self.assertLogs("galerly", "ERROR") as logs:
            status, body = thumbnail(dng, 64)
        self.assertEqual((status, body), (422, {"error": "the RAW decoder crashed (SIGSEGV)"}))
        self.assertIn("RAW decode failed (crashed): the RAW decoder crashed (SIGSEGV)", logs.output[0])
        with self.assertLogs("galerly", "INFO"):
            status, body = thumbnail(dng, 64)
        self.assertEqual((status, body["source"]["raw"]["via"]), (200, "preview"))


if __name__ == "__main__":
    unittest.main()
