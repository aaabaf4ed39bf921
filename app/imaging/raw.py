"""Camera RAW (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, 3FR, and whatever
else LibRaw opens) to a thumbnail, with rawpy and Pillow.

How a RAW becomes a thumbnail of ``size`` pixels (its longest side):

1. The embedded preview first (``extract_thumb()``: LibRaw picks the
   largest the file has), used when its longest side is at least ``size``:
   a JPEG preview is decoded by Pillow (at a reduced DCT scale where that is
   enough, ``draft``), a bitmap one taken with ``Image.fromarray``. Cameras
   embed previews of 1,600 px and more, so most requests end here, in a few
   milliseconds, without touching the sensor data.
2. Otherwise a half-size demosaic, ``postprocess(half_size=True,
   use_camera_wb=True, output_bps=8)``: each 2x2 Bayer block becomes one
   pixel, four times fewer to interpolate and hold than a full demosaic,
   and still larger than any thumbnail a camera's sensor is asked for.
   The RAW's pixel count is checked against MAX_RAW_PIXELS first.

Upright output: a preview gets the RAW's own orientation (``sizes.flip``)
applied, and its own EXIF orientation is ignored, because camera previews
often say "upright" while the RAW says "rotated". A demosaiced image comes
out of LibRaw already turned.

The camera's make and model come from the RAW's TIFF header, else from the
preview's Exif (tiffmeta.py); rawpy has no API for them. LibRaw puts an
Exif block of its own, naming the camera it identified, in front of a JPEG
preview that does not start with one, so for most non-TIFF RAWs the
preview's Exif is LibRaw's identification. Where neither says (no TIFF
header, no JPEG preview), both are null.

Decoding runs in a child process (isolate.py) with an address-space limit
and a time limit sized from the function's memory (``limits()``), so a
LibRaw crash, a decode that wants too much memory or too much time is an
answer (RawFailure) and the warm environment keeps serving. ``decode()``
is the entry point the route and the self-test use; ``thumbnail()`` is what
runs inside the child.

rawpy, numpy and PIL are imported by the caller before the fork (they are
inherited, not imported per request) and only ever inside functions here.
LibRaw must never process an image in the parent: its OpenMP threads,
once started there, deadlock every child forked after (measured with
Debian's LibRaw: the next child hung until its time limit).
"""

from __future__ import annotations

import io
import logging
import os
import time
from typing import Any

from imaging import isolate, tiffmeta
from imaging.encode import encode

log = logging.getLogger("galerly.raw")

# Larger than any current camera but medium format's largest backs: a
# half-size demosaic holds about 5 bytes per RAW pixel (the 16-bit mosaic
# plus the 4-channel half-size image), so 120 MP is about 600 MB.
MAX_RAW_PIXELS = 120_000_000

# What a decode may add to the address space: the function's memory less
# what the warm environment already holds (its resident memory at the fork)
# and MEMORY_RESERVE for the runtime and the child's copy-on-write pages.
MEMORY_RESERVE_MB = 96
MIN_DECODE_MEMORY_MB = 64
# Lambda gives a function one full vCPU at 1,769 MB and CPU in proportion
# to memory, so the time a decode may take scales the other way.
FULL_VCPU_MB = 1769
SECONDS_AT_FULL_VCPU = 10.0
MIN_SECONDS = 2.0
MAX_SECONDS = 60.0
# Time kept back from the invocation's own deadline to answer in: a Lambda
# timeout would end the environment, which the time limit is there to spare.
DEADLINE_MARGIN_SECONDS = 1.0
# AWS_LAMBDA_FUNCTION_MEMORY_SIZE's stand-in off Lambda: the stack's default.
DEFAULT_MEMORY_MB = 1024

# LibRaw's sizes.flip (dcraw's numbering) -> the EXIF orientation it means.
FLIP_TO_ORIENTATION = {0: 1, 1: 2, 2: 4, 3: 3, 4: 5, 5: 8, 6: 6, 7: 7}
WHAT = "the RAW decoder"


class RawFailure(Exception):
    """A RAW that gave no thumbnail. ``status`` is the HTTP status the
    route answers with: 400 for input that is no RAW or a damaged one (or
    too many pixels), 422 when the decoder crashed or hit a limit, 500 for
    a failure of the function itself."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def memory_mb() -> int:
    """The function's memory in MB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE)."""
    try:
        value = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", ""))
    except ValueError:
        return DEFAULT_MEMORY_MB
    return value if value > 0 else DEFAULT_MEMORY_MB


def limits(deadline: float | None = None, function_mb: int | None = None,
           resident: int | None = None) -> isolate.Limits:
    """The child's limits for a decode now. deadline is the invocation's end
    on time.monotonic()'s clock, None when unknown; function_mb and
    resident default to this function's memory size and resident memory."""
    mb = function_mb or memory_mb()
    held = isolate.resident_bytes() if resident is None else resident
    memory = max(MIN_DECODE_MEMORY_MB * 2**20, (mb - MEMORY_RESERVE_MB) * 2**20 - held)
    seconds = min(MAX_SECONDS, max(MIN_SECONDS, SECONDS_AT_FULL_VCPU * FULL_VCPU_MB / mb))
    if deadline is not None:
        seconds = max(0.1, min(seconds, deadline - time.monotonic() - DEADLINE_MARGIN_SECONDS))
    return isolate.Limits(memory=memory, seconds=seconds)


def decode(data: bytes, size: int, *, max_preview_pixels: int, deadline: float | None = None,
           limits_: isolate.Limits | None = None) -> tuple[dict, bytes]:
    """A thumbnail of the RAW in data, decoded in a child under limits
    (default: ``limits(deadline)``): (meta, image bytes), where meta is
    {"contentType", "width", "height", "source": {"format": "RAW", "width",
    "height", "raw": {"make", "model", "via"}}}. Raises ImportError when
    rawpy does not import, RawFailure when the RAW gives no thumbnail."""
    import rawpy  # noqa: F401 - loaded here, in the parent, so every child inherits it
    from PIL import Image  # noqa: F401 - likewise

    limits_ = limits_ or limits(deadline)
    try:
        meta, payload = isolate.run(thumbnail, data, size, max_preview_pixels, limits=limits_, what=WHAT)
    except isolate.ChildFailed as err:
        status = 500 if err.kind in ("error", "no-answer") else 422
        raise RawFailure(status, err.kind, err.message) from None
    if meta.get("refused") == "empty":
        raise RawFailure(422, "memory", f"{WHAT} returned an empty image, as LibRaw does when an allocation "
                                        f"fails: the decode needs more than the {limits_.memory / 2**20:,.0f} MB "
                                        "of memory allowed")
    if "refused" in meta:
        raise RawFailure(400, meta["refused"], meta["message"])
    return meta, payload


def thumbnail(data: bytes, size: int, max_preview_pixels: int) -> tuple[dict, bytes]:
    """The child's work: see decode(). A RAW refused for what it is comes
    back as {"refused": kind, "message"} (the parent raises RawFailure)."""
    import rawpy
    from PIL import Image

    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            make, model = tiffmeta.camera_from_tiff(data)
            img, preview = _preview(raw, size, max_preview_pixels)
            if img is not None:
                via = "preview"
                img.thumbnail((size, size))
                img = _orient(img, sizes.flip)
            else:
                via = "demosaic"
                pixels = sizes.raw_width * sizes.raw_height
                if pixels > MAX_RAW_PIXELS:
                    return _refuse("pixels", f"RAW image is {sizes.raw_width}x{sizes.raw_height} pixels, "
                                             f"more than the {MAX_RAW_PIXELS:,} allowed")
                rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
                if rgb.size == 0:
                    # LibRaw reports success with no pixels when an
                    # allocation inside dcraw_process fails.
                    return _refuse("empty", "no pixels")
                img = Image.fromarray(rgb.squeeze(axis=2) if rgb.shape[2] == 1 else rgb)
                del rgb
                img.thumbnail((size, size))
    except MemoryError:
        raise
    except rawpy.LibRawFileUnsupportedError:
        return _refuse("unsupported", "not a camera RAW file LibRaw can open")
    except (rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawTooBigError, rawpy.LibRawMemPoolOverflowError):
        raise MemoryError from None
    except rawpy.LibRawError as err:
        # Data and I/O errors: LibRaw read past the end or found garbage.
        return _refuse("damaged", f"RAW image is truncated or damaged ({type(err).__name__}: {err})")
    if preview is not None and (make is None or model is None):
        exif_make, exif_model = tiffmeta.camera_from_jpeg(preview)
        make, model = make or exif_make, model or exif_model
    content_type, encoded = encode(img)
    meta = {
        "contentType": content_type,
        "width": img.width,
        "height": img.height,
        "source": {
            "format": "RAW",
            "width": sizes.width,
            "height": sizes.height,
            "raw": {"make": make, "model": model, "via": via},
        },
    }
    return meta, encoded


def _preview(raw: Any, size: int, max_pixels: int) -> tuple[Any, bytes | None]:
    """(the preview as a PIL image when it is large enough, else None;
    the JPEG preview's bytes when there is one, for its Exif)."""
    import rawpy
    from PIL import Image

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None, None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        h, w = thumb.data.shape[:2]
        if max(w, h) < size:
            return None, None
        array = thumb.data.squeeze(axis=2) if thumb.data.ndim == 3 and thumb.data.shape[2] == 1 else thumb.data
        return Image.fromarray(array), None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None, None
    jpeg = thumb.data
    try:
        img = Image.open(io.BytesIO(jpeg), formats=["JPEG"])
        if max(img.size) < size or img.width * img.height > max_pixels:
            return None, jpeg
        img.draft("RGB", (size, size))
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        # A damaged preview does not make the RAW unreadable.
        log.warning("RAW preview is unusable, demosaicing instead: %s", err)
        return None, jpeg
    return img, jpeg


def _orient(img: Any, flip: int) -> Any:
    """img turned by LibRaw's flip, as Pillow's exif_transpose would for the
    EXIF orientation it stands for."""
    from PIL import Image

    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(FLIP_TO_ORIENTATION.get(flip, 1))
    return img.transpose(method) if method is not None else img


def _refuse(kind: str, message: str) -> tuple[dict, bytes]:
    return {"refused": kind, "message": message}, b""
