"""The self-test's samples, and decoding them with the layer's libraries.

A layer whose packages import but cannot decode (a vendored library
missing or built for the wrong CPU, a broken wheel) must fail the smoke
test that gates the "live" alias. So the self-test decodes three tiny files
the function ships in ../samples, made by the tests' generators
(tests/rawgen.py, and libheif's heif-enc for the HEIC):

- sample.dng (64x48 Bayer mosaic, 24x18 JPEG preview), through the
  thumbnail route's RAW path (raw.decode: a forked child under limits).
  Its preview is smaller than SIZE, so LibRaw extracts the preview and
  then demosaics: both of its paths run; "via" says which one gave the
  image.
- sample.heic (32x24), through the route's Pillow path (pil.decode) with
  pillow_heif's opener;
- sample.jpg (32x24), through the route's Pillow path.

Each is asked for a thumbnail of SIZE, as a request would, and the
thumbnail the route would answer with must be 32x24 pixels of the samples'
scene (top red, bottom blue), so a decoder that returns garbage of the
right size fails too.

Result per sample: {"ok": true, "ms": 12.3, "via": "demosaic"} or
{"ok": false, "ms": null, "via": null, "error": "<what went wrong>"};
"ms" is the wall time of the route's path (decode, thumbnail, encode) in
milliseconds, one decimal.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any, Callable

from imaging import pil, raw

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples")
RAW = "sample.dng"
HEIC = "sample.heic"
JPEG = "sample.jpg"
SIZE = 48
EXPECTED_SIZE = (32, 24)
# Pixels (images.MAX_PIXELS's role) a sample or its preview may have; they have hundreds.
MAX_PIXELS = 1_000_000


def decode_all() -> dict:
    """{"raw": ..., "heic": ..., "jpeg": ...}; see the module doc."""
    return {"raw": decode_raw(), "heic": decode_heic(), "jpeg": decode_jpeg()}


def decode_raw() -> dict:
    """The RAW sample through the route's RAW path."""

    def decode() -> tuple[Any, str]:
        meta, encoded = raw.decode(_read(RAW), SIZE, max_preview_pixels=MAX_PIXELS)
        return _opened(encoded), meta["source"]["raw"]["via"]

    return _timed(decode)


def decode_heic() -> dict:
    """The HEIC sample through the route's Pillow path, with pillow_heif's opener."""

    def decode() -> tuple[Any, str]:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _, encoded = pil.decode(_read(HEIC), SIZE, formats=["HEIF"], max_pixels=MAX_PIXELS)
        return _opened(encoded), "pillow_heif"

    return _timed(decode)


def decode_jpeg() -> dict:
    """The JPEG sample through the route's Pillow path."""

    def decode() -> tuple[Any, str]:
        _, encoded = pil.decode(_read(JPEG), SIZE, formats=["JPEG"], max_pixels=MAX_PIXELS)
        return _opened(encoded), "PIL"

    return _timed(decode)


def _opened(thumbnail: bytes) -> Any:
    """The route's answer (JPEG or PNG bytes) opened again, for its pixels."""
    from PIL import Image

    return Image.open(io.BytesIO(thumbnail))


def _timed(decode: Callable[[], tuple[Any, str]]) -> dict:
    start = time.perf_counter()
    try:
        img, via = decode()
        ms = (time.perf_counter() - start) * 1000
        problem = _not_the_scene(img)
    except raw.RawFailure as err:
        problem = err.message
    except Exception as err:  # noqa: BLE001 - a decode that fails is a result
        problem = f"{type(err).__name__}: {err}"
    if problem:
        return {"ok": False, "ms": None, "via": None, "error": problem}
    return {"ok": True, "ms": round(ms, 1), "via": via}


def _not_the_scene(img: Any) -> str | None:
    """Why img is not the samples' scene, or None when it is."""
    if tuple(img.size) != EXPECTED_SIZE:
        return f"decoded to {img.size[0]}x{img.size[1]} pixels, not {EXPECTED_SIZE[0]}x{EXPECTED_SIZE[1]}"
    rgb = img.convert("RGB")
    w, h = rgb.size
    top, bottom = rgb.getpixel((w // 2, 0)), rgb.getpixel((w // 2, h - 1))
    if not (top[0] > top[2] + 64 and bottom[2] > bottom[0] + 64):
        return f"decoded pixels are not the sample's (top {top}, bottom {bottom}: want red over blue)"
    return None


def _read(name: str) -> bytes:
    with open(os.path.join(FOLDER, name), "rb") as f:
        return f.read()
