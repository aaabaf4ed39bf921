"""POST /images/thumbnail: a small preview of an uploaded photo.

Input, one of:

- JSON ``{"image": "<base64 JPEG, PNG, WebP, HEIC or camera RAW>", "size": 256}``
  (a ``data:image/...;base64,`` prefix is accepted);
- the image itself as the body with an ``image/*`` or
  ``application/octet-stream`` Content-Type (API Gateway base64-encodes
  it), and ``?size=256``;
- JSON ``{"s3": {"bucket": "<PHOTOS_BUCKET>", "key": "<key>"}, "size": 256}``:
  the original is read from the function's photos bucket (utils/photos.py),
  for originals larger than a request may carry (Lambda's 6 MB).

"size" is the longest side of the thumbnail in pixels, 16 to 2048 (default
256); the aspect ratio is kept and an image is never enlarged. The photo's
orientation is applied, so a portrait shot stays upright.

JPEG, PNG, WebP and HEIC are decoded by Pillow in this process
(imaging/pil.py). Anything Pillow does not recognise as one of those is
tried as a camera RAW (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, ...)
with rawpy, in a child process with memory and time limits
(imaging/raw.py).

Output 200: ``{"contentType": "image/jpeg", "width": w, "height": h,
"source": {"format": "PNG", "width": W, "height": H}, "image": "<base64>"}``;
a RAW's source is ``{"format": "RAW", "width": W, "height": H, "raw":
{"make": "Canon", "model": "Canon EOS 30D", "via": "preview"}}`` (make and
model null where the file does not say; "via" is "preview" when the
camera's embedded preview was large enough, else "demosaic"). The source's
width and height are as stored, before orientation. The thumbnail is a
JPEG, or a PNG when the source has transparency.

Bad input (no image, bad base64, not an image of those formats, truncated
or damaged, too many pixels, bad size, a bucket other than the photos
bucket, an object over its size cap) is a 400 that says which; an object
that is not there a 404. A RAW whose decoder crashed or hit its memory or
time limit is a 422 that says which, and the next request is served as usual.

PIL is imported when the first thumbnail is made, rawpy when the first
upload is not one of Pillow's formats, boto3 for the first "s3" request.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from imaging import pil, raw
from utils import photos
from utils.logs import get_logger
from utils.request import Request
from utils.responses import BadRequest, HTTPError, json_response

log = get_logger("images")

DEFAULT_SIZE = 256
MIN_SIZE = 16
MAX_SIZE = 2048
# Lambda refuses a synchronous request over 6 MB, so a larger image can
# never arrive whole; the check makes the limit explicit and cheap.
MAX_IMAGE_BYTES = 6 * 1024 * 1024
# A 48 MP phone photo fits. Pixels cost memory when decoded (3 bytes each),
# and the header says how many before any decoding happens.
MAX_PIXELS = 60_000_000
# Formats a photo upload may be in; Pillow's other decoders (EPS, PSD, ...)
# are never tried on user input.
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")


def thumbnail(request: Request) -> dict:
    """Handle POST /images/thumbnail; see the module doc."""
    data, size = _read_input(request)
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as err:
        log.error("PIL is not importable, is the image layer attached? %s", err)
        raise HTTPError(500, "image support is not available") from None

    formats = [f for f in FORMATS if f != "HEIF" or _register_heif()]
    try:
        meta, encoded = pil.decode(data, size, formats=formats, max_pixels=MAX_PIXELS)
    except UnidentifiedImageError:
        # Not one of Pillow's formats: perhaps a camera RAW.
        return _raw_thumbnail(data, size, formats, request)
    except pil.TooManyPixels as err:
        raise BadRequest(str(err)) from None
    except Image.DecompressionBombError as err:
        raise BadRequest(f"image has too many pixels: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        # Truncated or corrupt data surfaces only when the pixels decode.
        raise BadRequest(f"image could not be decoded: {err}") from None

    source = meta["source"]
    log.info(
        "thumbnail %s %dx%d -> %s %dx%d",
        source["format"], source["width"], source["height"], meta["contentType"], meta["width"], meta["height"],
    )
    return _answer(meta, encoded)


def _raw_thumbnail(data: bytes, size: int, formats: list[str], request: Request) -> dict:
    try:
        meta, encoded = raw.decode(data, size, max_preview_pixels=MAX_PIXELS, deadline=request.deadline)
    except ImportError as err:
        log.warning("RAW uploads disabled: rawpy does not import: %s", err)
        raise BadRequest(f"image is not a {', '.join(formats)} file") from None
    except raw.RawFailure as err:
        if err.kind == "unsupported":
            raise BadRequest(f"image is not a {', '.join(formats)} or camera RAW file") from None
        if err.status >= 422:
            log.error("RAW decode failed (%s): %s", err.kind, err.message)
        raise HTTPError(err.status, err.message) from None
    source = meta["source"]
    log.info(
        "thumbnail RAW %dx%d (%s %s, via %s) -> %s %dx%d",
        source["width"], source["height"], source["raw"]["make"], source["raw"]["model"], source["raw"]["via"],
        meta["contentType"], meta["width"], meta["height"],
    )
    return _answer(meta, encoded)


def _answer(meta: dict, encoded: bytes) -> dict:
    """The 200: meta as imaging's decoders give it, and the image in base64."""
    return json_response(200, {**meta, "image": base64.b64encode(encoded).decode("ascii")})


def _read_input(request: Request) -> tuple[bytes, int]:
    if request.is_binary:
        data = request.body
        size = _parse_size(request.query.get("size"), "query parameter size")
    else:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest('request body must be a JSON object like {"image": "<base64>", "size": 256}')
        size = _parse_size(body.get("size"), "size")
        if "s3" in body:
            if "image" in body:
                raise BadRequest('request body has both "image" and "s3"; send one')
            # The photos bucket's cap, not a request's, bounds these bytes.
            return photos.read(body["s3"]), size
        data = _decode_image_field(body.get("image"))
    if not data:
        raise BadRequest("image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise BadRequest(f"image is {len(data):,} bytes, more than the {MAX_IMAGE_BYTES:,} allowed")
    return data, size


def _decode_image_field(value: Any) -> bytes:
    if value is None:
        raise BadRequest('request body has no "image" (a base64 string)')
    if not isinstance(value, str):
        raise BadRequest(f'"image" must be a base64 string, not {type(value).__name__}')
    if value.startswith("data:"):
        header, sep, value = value.partition(",")
        if not sep or not header.endswith(";base64"):
            raise BadRequest('"image" is a data URL that is not base64')
    text = "".join(value.split())  # line breaks from MIME-style encoders
    if len(text) * 3 // 4 > MAX_IMAGE_BYTES:
        raise BadRequest(f'"image" decodes to more than the {MAX_IMAGE_BYTES:,} bytes allowed')
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequest(f'"image" is not valid base64: {err}') from None


def _parse_size(value: Any, what: str) -> int:
    if value is None or value == "":
        return DEFAULT_SIZE
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    # bool is an int in Python; "size": true is a client bug, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{what} must be a whole number of pixels, not {value!r}")
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise BadRequest(f"{what} must be between {MIN_SIZE} and {MAX_SIZE}, not {value}")
    return value


def _register_heif() -> bool:
    """Register pillow_heif's opener with PIL; False when it is unavailable,
    in which case HEIC uploads get the 400 for an unsupported format."""
    try:
        import pillow_heif
    except ImportError as err:
        log.warning("HEIC uploads disabled: pillow_heif does not import: %s", err)
        return False
    pillow_heif.register_heif_opener()
    return True
