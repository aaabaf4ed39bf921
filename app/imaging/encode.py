"""A thumbnail's bytes: JPEG, or PNG when the image has transparency (a
JPEG would turn it black). One place, so uploads and RAW decodes answer alike."""

from __future__ import annotations

import io
from typing import Any

JPEG_QUALITY = 85


def encode(img: Any) -> tuple[str, bytes]:
    """(content type, bytes) of a PIL image."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    out = io.BytesIO()
    if has_alpha:
        img.save(out, format="PNG", optimize=True)
        return "image/png", out.getvalue()
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "image/jpeg", out.getvalue()
