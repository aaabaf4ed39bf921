"""An image Pillow decodes in this process (JPEG, PNG, WebP, HEIC with
pillow_heif's opener registered) to a thumbnail: the thumbnail route's path
for everything but camera RAW, and the self-test's for its HEIC and JPEG
samples, so the smoke test proves the code requests run.

The thumbnail's longest side is ``size`` (never enlarged), its EXIF
orientation applied; it is encoded by encode.py. ``decode()`` answers as
``raw.decode()`` does: (meta, image bytes), where meta is {"contentType",
"width", "height", "source": {"format", "width", "height"}}, the source's
size as stored, before orientation.

Pillow's own exceptions pass through for the caller to answer:
UnidentifiedImageError (none of ``formats``), DecompressionBombError, and
OSError, SyntaxError or ValueError for data that turns out truncated or
damaged when its pixels decode.
"""

from __future__ import annotations

import io

from imaging.encode import encode


class TooManyPixels(Exception):
    """The header says more pixels than allowed; no pixel was decoded."""


def decode(data: bytes, size: int, *, formats: list[str], max_pixels: int) -> tuple[dict, bytes]:
    """A thumbnail of the image in data, tried as each of formats (Pillow's
    names: "JPEG", "HEIF", ...); see the module doc. Raises TooManyPixels
    when its header says more than max_pixels."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data), formats=formats) as img:
        source = {"format": img.format, "width": img.width, "height": img.height}
        if img.width * img.height > max_pixels:
            raise TooManyPixels(f"image is {img.width}x{img.height} pixels, more than the {max_pixels:,} allowed")
        img.thumbnail((size, size))
        thumb = ImageOps.exif_transpose(img)
        content_type, encoded = encode(thumb)
    return {"contentType": content_type, "width": thumb.width, "height": thumb.height, "source": source}, encoded
