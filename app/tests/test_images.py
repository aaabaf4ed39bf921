"""POST /images/thumbnail: input forms, the thumbnail's size and type, and
a clear 400 for each kind of bad input. The fake PIL stands in where Pillow
is not installed; RealPillowTest runs the same route on real Pillow where it is."""

from __future__ import annotations

import base64
import importlib.util
import io
import unittest

import api
from handlers import images
from tests.events import body_json, http_v2, rest_v1
from tests.fakes import fake_layer, png


def thumbnail_event(payload, **kw):
    return http_v2("POST", "/images/thumbnail", payload, headers={"content-type": "application/json"}, **kw)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class ThumbnailTest(unittest.TestCase):
    def call(self, event) -> tuple[int, dict]:
        with self.assertLogs("galerly", "INFO"):
            response = api.handler(event, None)
        self.assertEqual(response["headers"]["Content-Type"], "application/json")
        return response["statusCode"], body_json(response)

    def test_json_body_gives_a_jpeg_within_the_size(self):
        cases = [
            # (width, height, size, thumbnail width, height)
            (640, 480, 128, 128, 96),
            (300, 1000, 100, 30, 100),
            (200, 100, None, 200, 100),  # never enlarged; default size 256
        ]
        for width, height, size, want_w, want_h in cases:
            payload = {"image": b64(png(width, height))}
            if size is not None:
                payload["size"] = size
            with self.subTest(f"{width}x{height} size {size}"), fake_layer():
                status, body = self.call(thumbnail_event(payload))
                self.assertEqual(status, 200, body)
                self.assertEqual(body["contentType"], "image/jpeg")
                self.assertEqual((body["width"], body["height"]), (want_w, want_h))
                self.assertEqual(body["source"], {"format": "PNG", "width": width, "height": height})
                self.assertEqual(base64.b64decode(body["image"]), f"JPEG {want_w}x{want_h} RGB".encode())

    def test_transparency_is_kept_as_png(self):
        with fake_layer():
            status, body = self.call(thumbnail_event({"image": b64(png(64, 64, alpha=True)), "size": 32}))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["contentType"], "image/png")
        self.assertEqual(base64.b64decode(body["image"]), b"PNG 32x32 RGBA")

    def test_other_input_forms(self):
        events = {
            "binary upload, HTTP API": http_v2("POST", "/images/thumbnail", png(400, 200), binary=True,
                                               headers={"content-type": "image/png"}, query={"size": "100"}),
            "binary upload, REST API": rest_v1("POST", "/images/thumbnail", png(400, 200), binary=True,
                                               headers={"Content-Type": "image/png"}, query={"size": "100"}),
            "data URL": thumbnail_event({"image": "data:image/png;base64," + b64(png(400, 200)), "size": 100}),
            "base64 with line breaks": thumbnail_event({"image": "\n".join(b64(png(400, 200))), "size": 100}),
        }
        for label, event in events.items():
            with self.subTest(label), fake_layer():
                status, body = self.call(event)
                self.assertEqual(status, 200, body)
                self.assertEqual((body["width"], body["height"]), (100, 50))

    def test_bad_input_is_a_400_that_says_why(self):
        huge = png(10000, 10000, truncated=True)
        cases = {
            "no image": ({"size": 64}, 'request body has no "image" (a base64 string)'),
            "image not a string": ({"image": 12}, '"image" must be a base64 string, not int'),
            "bad base64": ({"image": "abc$"}, '"image" is not valid base64: '),
            "empty image": ({"image": ""}, "image is empty"),
            "not an image": ({"image": b64(b"hello, world")},
                             "image is not a JPEG, PNG, WEBP, HEIF or camera RAW file"),
            "a JPEG the decoder cannot read": ({"image": b64(b"\xff\xd8\xff\xe0junk")},
                                               "image is not a JPEG, PNG, WEBP, HEIF or camera RAW file"),
            "truncated": ({"image": b64(png(50, 50, truncated=True))},
                          "image could not be decoded: image file is truncated"),
            "too many pixels": ({"image": b64(huge)},
                                "image is 10000x10000 pixels, more than the 60,000,000 allowed"),
            "size too small": ({"image": b64(png(8, 8)), "size": 4}, "size must be between 16 and 2048, not 4"),
            "size not a number": ({"image": b64(png(8, 8)), "size": "big"},
                                  "size must be a whole number of pixels, not 'big'"),
            "size true": ({"image": b64(png(8, 8)), "size": True},
                          "size must be a whole number of pixels, not True"),
            "body not an object": ([1, 2], 'request body must be a JSON object like {"image": "<base64>", "size": 256}'),
            "empty body": (None, 'request body must be a JSON object like {"image": "<base64>", "size": 256}'),
            "data URL not base64": ({"image": "data:image/png,abc"}, '"image" is a data URL that is not base64'),
        }
        for label, (payload, error) in cases.items():
            with self.subTest(label), fake_layer():
                status, body = self.call(thumbnail_event(payload))
                self.assertEqual(status, 400, body)
                self.assertTrue(body["error"].startswith(error), f"{body['error']!r} does not start with {error!r}")

    def test_too_many_bytes_is_refused_before_decoding(self):
        oversized = "A" * (images.MAX_IMAGE_BYTES // 3 * 4 + 8)
        with fake_layer() as layer:
            status, body = self.call(thumbnail_event({"image": oversized}))
        self.assertEqual(status, 400)
        self.assertIn("more than the 6,291,456 bytes allowed", body["error"])
        self.assertEqual(layer.opened_formats, [], "nothing reached PIL")

    def test_without_pillow_heif_heic_is_not_offered_and_png_still_works(self):
        with fake_layer(fail={"pillow_heif": ImportError("libheif.so.1: cannot open shared object file")}) as layer:
            status, body = self.call(thumbnail_event({"image": b64(b"\x00\x00\x00\x18ftypheic....")}))
            self.assertEqual(status, 400)
            self.assertEqual(body["error"], "image is not a JPEG, PNG, WEBP or camera RAW file")
            status, _ = self.call(thumbnail_event({"image": b64(png(20, 20))}))
            self.assertEqual(status, 200)
        self.assertEqual(layer.opened_formats[-1], ["JPEG", "PNG", "WEBP"])

    def test_without_rawpy_raw_is_not_offered(self):
        with fake_layer(fail={"rawpy": ImportError("libraw_r.so.23: cannot open shared object file")}):
            status, body = self.call(thumbnail_event({"image": b64(b"II*\x00 a TIFF-based RAW")}))
        self.assertEqual((status, body), (400, {"error": "image is not a JPEG, PNG, WEBP, HEIF file"}))

    def test_a_raw_is_demosaiced_in_a_child_with_the_documented_parameters(self):
        # The fake rawpy's file has no usable preview (see tests/fakes.py);
        # the real decoders' cases are in tests/test_raw.py.
        with fake_layer() as layer:
            status, body = self.call(thumbnail_event({"image": b64(b"II*\x00 a TIFF-based RAW"), "size": 16}))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["source"], {"format": "RAW", "width": 64, "height": 48,
                                          "raw": {"make": None, "model": None, "via": "demosaic"}})
        self.assertEqual((body["contentType"], body["width"], body["height"]), ("image/jpeg", 16, 12))
        # The child demosaiced; the parent's fake saw nothing of it.
        self.assertEqual(layer.rawpy.postprocessed, [])

    def test_with_pillow_heif_heic_is_offered(self):
        with fake_layer() as layer:
            self.call(thumbnail_event({"image": b64(png(20, 20))}))
        self.assertEqual(layer.opened_formats, [["JPEG", "PNG", "WEBP", "HEIF"]])

    def test_without_pil_is_a_500(self):
        with fake_layer(fail={"PIL": ImportError("No module named 'PIL'")}):
            status, body = self.call(thumbnail_event({"image": b64(png(20, 20))}))
        self.assertEqual((status, body), (500, {"error": "image support is not available"}))

    def test_only_post(self):
        with fake_layer():
            status, body = self.call(http_v2("GET", "/images/thumbnail"))
        self.assertEqual(status, 405)


def pillow_installed() -> bool:
    return importlib.util.find_spec("PIL") is not None


@unittest.skipUnless(pillow_installed(), "Pillow is not installed for this interpreter (the fake PIL covers the route)")
class RealPillowTest(unittest.TestCase):
    def call(self, payload) -> tuple[int, dict]:
        with self.assertLogs("galerly", "INFO"):
            response = api.handler(thumbnail_event(payload), None)
        return response["statusCode"], body_json(response)

    def test_thumbnail_is_a_real_jpeg_of_the_right_size(self):
        from PIL import Image

        status, body = self.call({"image": b64(png(640, 480)), "size": 128})
        self.assertEqual(status, 200, body)
        with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as thumb:
            self.assertEqual((thumb.format, thumb.size), ("JPEG", (128, 96)))

    def test_exif_orientation_is_applied(self):
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90: the camera held upright
        buf = io.BytesIO()
        Image.new("RGB", (400, 200), "red").save(buf, "JPEG", exif=exif.tobytes())
        status, body = self.call({"image": b64(buf.getvalue()), "size": 100})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["source"], {"format": "JPEG", "width": 400, "height": 200})
        self.assertEqual((body["width"], body["height"]), (50, 100))

    def test_transparent_png_stays_png(self):
        status, body = self.call({"image": b64(png(64, 32, alpha=True)), "size": 32})
        self.assertEqual(status, 200, body)
        self.assertEqual((body["contentType"], body["width"], body["height"]), ("image/png", 32, 16))

    def test_damaged_images_are_400(self):
        cases = {
            "truncated": png(50, 50, truncated=True),
            "header only claims too many pixels": png(10000, 10000, truncated=True),
            "not an image": b"hello, world",
        }
        for label, data in cases.items():
            with self.subTest(label):
                status, body = self.call({"image": b64(data)})
                self.assertEqual(status, 400, body)


if __name__ == "__main__":
    unittest.main()
