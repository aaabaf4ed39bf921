"""A test-only ``rawpy`` over the machine's real LibRaw, through ctypes.

rawpy itself cannot be installed where the tests run (no PyPI, and Debian
packages no rawpy), but Debian's LibRaw can (libraw20, libraw-dev). This
module offers exactly the part of rawpy's API that the function uses, with
rawpy's own names, types and exception classes (checked against rawpy
0.27.0's _rawpy.pyx and _rawpy.pyi), so the function's RAW code runs
unchanged on a real decoder:

- ``imread(path_or_file, shot_select=0)`` -> ``RawPy`` (a context manager);
- ``RawPy.sizes`` -> ``ImageSizes`` (the 14 fields of rawpy's namedtuple);
- ``RawPy.extract_thumb()`` -> ``Thumbnail(format, data)``: ``ThumbFormat.JPEG``
  with bytes, or ``ThumbFormat.BITMAP`` with an (h, w, c) uint8 ndarray;
- ``RawPy.postprocess(params=None, **kw)`` -> an (h, w, 3) ndarray, with the
  ``Params`` keywords the function passes (half_size, use_camera_wb,
  use_auto_wb, output_bps, user_flip);
- ``libraw_version`` (a 3-tuple) and ``flags`` (None, as rawpy reports for a
  LibRaw built without cmake's libraw_config.h, which Debian's is);
- ``LibRawError`` and its subclasses (defined, with ``ThumbFormat`` and the
  tuples, in rawpy_types.py beside this file), raised for LibRaw's error codes as
  rawpy raises them, including LibRawDataError when LibRaw counted data
  errors during a call (rawpy asks ``error_count()``; the C API has no such
  call, so a data-error callback counts them here).

It never ships: lambdapack leaves app/tests out of the function package,
and the function imports ``rawpy``, never this folder. Tests put this
folder first on sys.path (see tests/realimaging.py).

Where the C API lacks a setter (half_size, use_camera_wb) or a getter
(the image sizes), fields are written and read at their offsets in
``libraw_data_t``, which the C compiler reads from libraw-dev's headers
once per process: nothing about LibRaw's struct layout is written down here.
"""

from __future__ import annotations

import ctypes
import functools
import io
import json
import os
import subprocess
import tempfile

import numpy
from rawpy_types import (  # noqa: F401 - rawpy's names, re-exported as rawpy does
    ImageSizes, Thumbnail, ThumbFormat, LibRawError, LibRawFatalError, LibRawNonFatalError,
    LibRawUnspecifiedError, LibRawFileUnsupportedError, LibRawRequestForNonexistentImageError,
    LibRawOutOfOrderCallError, LibRawNoThumbnailError, LibRawUnsupportedThumbnailError,
    LibRawInputClosedError, LibRawNotImplementedError, LibRawUnsufficientMemoryError, LibRawDataError,
    LibRawIOError, LibRawCancelledByCallbackError, LibRawBadCropError, LibRawTooBigError,
    LibRawMemPoolOverflowError, NotSupportedError,
)

__version__ = "0+libraw.ctypes"

_LIBRARY = "libraw_r.so.20"  # rawpy links the thread-safe libraw_r too

# The fields of libraw_data_t this module touches: name -> (C member
# designator, ctypes type). Offsets come from offsetof() at run time.
_FIELDS = {
    "raw_height": ("sizes.raw_height", ctypes.c_ushort),
    "raw_width": ("sizes.raw_width", ctypes.c_ushort),
    "height": ("sizes.height", ctypes.c_ushort),
    "width": ("sizes.width", ctypes.c_ushort),
    "top_margin": ("sizes.top_margin", ctypes.c_ushort),
    "left_margin": ("sizes.left_margin", ctypes.c_ushort),
    "iheight": ("sizes.iheight", ctypes.c_ushort),
    "iwidth": ("sizes.iwidth", ctypes.c_ushort),
    "pixel_aspect": ("sizes.pixel_aspect", ctypes.c_double),
    "flip": ("sizes.flip", ctypes.c_int),
    # LibRaw 0.20 has one inset crop; 0.21+ has raw_inset_crops[2], of
    # which rawpy reads the first.
    "crop_left_margin": ("sizes.raw_inset_crop.cleft", ctypes.c_ushort),
    "crop_top_margin": ("sizes.raw_inset_crop.ctop", ctypes.c_ushort),
    "crop_width": ("sizes.raw_inset_crop.cwidth", ctypes.c_ushort),
    "crop_height": ("sizes.raw_inset_crop.cheight", ctypes.c_ushort),
    "half_size": ("params.half_size", ctypes.c_int),
    "use_camera_wb": ("params.use_camera_wb", ctypes.c_int),
    "use_auto_wb": ("params.use_auto_wb", ctypes.c_int),
    "user_flip": ("params.user_flip", ctypes.c_int),
}


class _ProcessedImage(ctypes.Structure):
    # libraw_processed_image_t, a public struct of the C API.
    _fields_ = [
        ("type", ctypes.c_int),
        ("height", ctypes.c_ushort),
        ("width", ctypes.c_ushort),
        ("colors", ctypes.c_ushort),
        ("bits", ctypes.c_ushort),
        ("data_size", ctypes.c_uint),
        ("data", ctypes.c_ubyte * 1),
    ]


_DataCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int)


@functools.lru_cache(maxsize=None)
def _offsets() -> dict[str, int]:
    """offsetof() of each field, from a program the C compiler builds
    against libraw-dev's headers (raises OSError naming what is missing).
    RAWPY_STANDIN_OFFSETS names a JSON file to keep them in between
    processes (the benchmark sets it, so its import figures are not a
    compiler's)."""
    cache = os.environ.get("RAWPY_STANDIN_OFFSETS")
    if cache and os.path.exists(cache):
        with open(cache, encoding="utf-8") as f:
            return json.load(f)
    offsets = _compile_offsets()
    if cache:
        with open(cache, "w", encoding="utf-8") as f:
            json.dump(offsets, f)
    return offsets


def _compile_offsets() -> dict[str, int]:
    lines = [f'printf("{name} %zu\\n", offsetof(libraw_data_t, {member}));' for name, (member, _) in _FIELDS.items()]
    source = (
        "#include <stddef.h>\n#include <stdio.h>\n#include <libraw/libraw.h>\n"
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    with tempfile.TemporaryDirectory(prefix="rawpy-offsets-") as tmp:
        exe = os.path.join(tmp, "offsets")
        try:
            subprocess.run(["cc", "-x", "c", "-o", exe, "-"], input=source.encode(), check=True,
                           capture_output=True, timeout=60)
            out = subprocess.run([exe], check=True, capture_output=True, timeout=10).stdout.decode()
        except (OSError, subprocess.SubprocessError) as err:
            detail = getattr(err, "stderr", b"") or b""
            raise OSError(f"cannot read libraw_data_t's layout (needs cc and libraw-dev): {err} {detail.decode()[:500]}") from None
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


@functools.lru_cache(maxsize=None)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(_LIBRARY)
    lib.libraw_init.restype = ctypes.c_void_p
    lib.libraw_init.argtypes = [ctypes.c_uint]
    for name in ("libraw_open_buffer",):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.libraw_open_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    for name in ("libraw_unpack", "libraw_unpack_thumb", "libraw_dcraw_process"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_int
    for name in ("libraw_recycle", "libraw_close"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = None
    for name in ("libraw_dcraw_make_mem_image", "libraw_dcraw_make_mem_thumb"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        getattr(lib, name).restype = ctypes.POINTER(_ProcessedImage)
    lib.libraw_dcraw_clear_mem.argtypes = [ctypes.POINTER(_ProcessedImage)]
    lib.libraw_dcraw_clear_mem.restype = None
    lib.libraw_set_output_bps.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.libraw_set_dataerror_handler.argtypes = [ctypes.c_void_p, _DataCallback, ctypes.c_void_p]
    lib.libraw_strerror.argtypes = [ctypes.c_int]
    lib.libraw_strerror.restype = ctypes.c_char_p
    lib.libraw_versionNumber.restype = ctypes.c_int
    return lib


def _version() -> tuple[int, int, int]:
    number = _lib().libraw_versionNumber()
    return (number >> 16, (number >> 8) & 0xFF, number & 0xFF)


libraw_version = _version()
flags = None
_offsets()  # at import, as rawpy's own cost is: never inside a decode

# LibRaw_errors (libraw_const.h) -> the class rawpy raises for it.
_ERRORS = {
    -1: LibRawUnspecifiedError,
    -2: LibRawFileUnsupportedError,
    -3: LibRawRequestForNonexistentImageError,
    -4: LibRawOutOfOrderCallError,
    -5: LibRawNoThumbnailError,
    -6: LibRawUnsupportedThumbnailError,
    -7: LibRawInputClosedError,
    -8: LibRawNotImplementedError,
    -100007: LibRawUnsufficientMemoryError,
    -100008: LibRawDataError,
    -100009: LibRawIOError,
    -100010: LibRawCancelledByCallbackError,
    -100011: LibRawBadCropError,
    -100012: LibRawTooBigError,
    -100013: LibRawMemPoolOverflowError,
}


class Params:
    """The postprocessing parameters the function uses, with rawpy's
    keyword names and defaults; any other keyword is a TypeError."""

    def __init__(self, half_size: bool = False, use_camera_wb: bool = False, use_auto_wb: bool = False,
                 output_bps: int = 8, user_flip: int | None = None):
        if output_bps not in (8, 16):
            raise ValueError("output_bps must be 8 or 16")
        self.half_size = half_size
        self.use_camera_wb = use_camera_wb
        self.use_auto_wb = use_auto_wb
        self.output_bps = output_bps
        self.user_flip = user_flip if user_flip is not None else -1


class RawPy:
    """One LibRaw instance; see the module doc for what it offers."""

    def __init__(self):
        self._p = _lib().libraw_init(0)
        if not self._p:
            raise LibRawUnsufficientMemoryError("libraw_init failed")
        self._buffer = None
        self._unpacked = False
        self._thumb_unpacked = False
        self._data_errors = 0

        def count(data, file, offset):
            self._data_errors += 1

        self._callback = _DataCallback(count)  # kept alive as long as self
        _lib().libraw_set_dataerror_handler(self._p, self._callback, None)

    def __enter__(self) -> "RawPy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_p", None):
            _lib().libraw_close(self._p)
            self._p = None

    def close(self) -> None:
        """Release the image (the LibRaw instance stays usable, as rawpy's)."""
        _lib().libraw_recycle(self._p)
        self._buffer = None

    def open_file(self, path: str) -> None:
        self._reset()
        self._check(_lib().libraw_open_file(self._p, path.encode("utf-8")))

    def open_buffer(self, fileobj) -> None:
        self._reset()
        data = fileobj.read()
        # LibRaw reads from the bytes' own memory (no copy, as rawpy) until
        # the image is recycled, so they are kept until then.
        self._buffer = data
        self._check(_lib().libraw_open_buffer(self._p, data, len(data)))

    def set_unpack_params(self, shot_select: int = 0) -> None:
        if shot_select:
            raise NotSupportedError("shot_select is not offered by the test stand-in")

    def unpack(self) -> None:
        self._check(_lib().libraw_unpack(self._p))
        self._unpacked = True

    def unpack_thumb(self) -> None:
        self._check(_lib().libraw_unpack_thumb(self._p))
        self._thumb_unpacked = True

    @property
    def sizes(self) -> ImageSizes:
        return ImageSizes(**{name: self._get(name) for name in ImageSizes._fields})

    def extract_thumb(self) -> Thumbnail:
        if not self._thumb_unpacked:
            self.unpack_thumb()
        image = self._make_mem(_lib().libraw_dcraw_make_mem_thumb)
        try:
            if image.contents.type == ThumbFormat.BITMAP.value:
                return Thumbnail(ThumbFormat.BITMAP, _array(image))
            if image.contents.type == ThumbFormat.JPEG.value:
                return Thumbnail(ThumbFormat.JPEG, ctypes.string_at(ctypes.addressof(image.contents.data),
                                                                    image.contents.data_size))
            raise NotImplementedError(f"thumb type: {image.contents.type}")
        finally:
            _lib().libraw_dcraw_clear_mem(image)

    def dcraw_process(self, params: Params | None = None, **kw) -> None:
        if not self._unpacked:
            self.unpack()
        if params and kw:
            raise ValueError("If params is given, then no additional keywords are allowed")
        params = params or Params(**kw)
        self._set("half_size", int(params.half_size))
        self._set("use_camera_wb", int(params.use_camera_wb))
        self._set("use_auto_wb", int(params.use_auto_wb))
        self._set("user_flip", params.user_flip)
        _lib().libraw_set_output_bps(self._p, params.output_bps)
        self._check(_lib().libraw_dcraw_process(self._p))

    def dcraw_make_mem_image(self) -> numpy.ndarray:
        image = self._make_mem(_lib().libraw_dcraw_make_mem_image)
        try:
            return _array(image)
        finally:
            _lib().libraw_dcraw_clear_mem(image)

    def postprocess(self, params: Params | None = None, **kw) -> numpy.ndarray:
        self.dcraw_process(params, **kw)
        return self.dcraw_make_mem_image()

    def _reset(self) -> None:
        self._unpacked = self._thumb_unpacked = False
        self._data_errors = 0

    def _make_mem(self, make):
        code = ctypes.c_int(0)
        image = make(self._p, ctypes.byref(code))
        self._check(code.value)
        if not image:
            raise LibRawUnsufficientMemoryError("LibRaw returned no image")
        return image

    def _check(self, code: int) -> None:
        # As rawpy's handle_error: errno above zero, LibRaw's codes below,
        # then the data errors LibRaw counted without failing the call.
        if code > 0:
            raise OSError((code, os.strerror(code)))
        if code < 0:
            message = _lib().libraw_strerror(code).decode("utf-8", "replace")
            if code in _ERRORS:
                raise _ERRORS[code](message)
            raise (LibRawFatalError if code < -10000 else LibRawNonFatalError)(message)
        if self._data_errors:
            raise LibRawDataError("Data error or unsupported file format")

    def _field(self, name: str):
        ctype = _FIELDS[name][1]
        return ctype.from_address(self._p + _offsets()[name])

    def _get(self, name: str):
        return self._field(name).value

    def _set(self, name: str, value) -> None:
        self._field(name).value = value


def _array(image) -> numpy.ndarray:
    c = image.contents
    dtype = numpy.uint8 if c.bits == 8 else numpy.uint16
    raw = ctypes.string_at(ctypes.addressof(c.data), c.data_size)
    return numpy.frombuffer(raw, dtype=dtype).reshape(c.height, c.width, c.colors).copy()


def imread(pathOrFile, shot_select: int = 0) -> RawPy:  # noqa: N803 - rawpy's own parameter name
    """Open a RAW from a path or a file object, as rawpy.imread does."""
    raw = RawPy()
    if isinstance(pathOrFile, str):
        raw.open_file(pathOrFile)
    else:
        raw.open_buffer(pathOrFile if hasattr(pathOrFile, "read") else io.BytesIO(pathOrFile))
    raw.set_unpack_params(shot_select=shot_select)
    return raw
