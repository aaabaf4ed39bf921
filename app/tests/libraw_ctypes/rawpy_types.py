"""rawpy's types as its own module defines them (rawpy 0.27.0's _rawpy.pyx
and _rawpy.pyi): the sizes and thumbnail tuples, ThumbFormat, and the
LibRawError classes with their hierarchy.

Stdlib only, so both test-only rawpys share them: the ctypes one over
Debian's LibRaw (rawpy.py beside this file, which needs numpy and libraw)
and the unit tests' fake (tests/fakes.py, which runs where neither is).
"""

from __future__ import annotations

import collections
import enum

ImageSizes = collections.namedtuple("ImageSizes", [
    "raw_height", "raw_width", "height", "width", "top_margin", "left_margin", "iheight", "iwidth",
    "pixel_aspect", "flip", "crop_left_margin", "crop_top_margin", "crop_width", "crop_height",
])

Thumbnail = collections.namedtuple("Thumbnail", ["format", "data"])


class ThumbFormat(enum.Enum):
    """Thumbnail/preview image type, as LibRaw_image_formats numbers them."""

    JPEG = 1
    BITMAP = 2


class LibRawError(Exception):
    pass


class LibRawFatalError(LibRawError):
    pass


class LibRawNonFatalError(LibRawError):
    pass


class LibRawUnspecifiedError(LibRawNonFatalError):
    pass


class LibRawFileUnsupportedError(LibRawNonFatalError):
    pass


class LibRawRequestForNonexistentImageError(LibRawNonFatalError):
    pass


class LibRawOutOfOrderCallError(LibRawNonFatalError):
    pass


class LibRawNoThumbnailError(LibRawNonFatalError):
    pass


class LibRawUnsupportedThumbnailError(LibRawNonFatalError):
    pass


class LibRawInputClosedError(LibRawNonFatalError):
    pass


class LibRawNotImplementedError(LibRawNonFatalError):
    pass


class LibRawUnsufficientMemoryError(LibRawFatalError):
    pass


class LibRawDataError(LibRawFatalError):
    pass


class LibRawIOError(LibRawFatalError):
    pass


class LibRawCancelledByCallbackError(LibRawFatalError):
    pass


class LibRawBadCropError(LibRawFatalError):
    pass


class LibRawTooBigError(LibRawFatalError):
    pass


class LibRawMemPoolOverflowError(LibRawFatalError):
    pass


class NotSupportedError(Exception):
    pass
