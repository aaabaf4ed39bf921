"""Stand-ins for the image layer's packages (PIL, rawpy, pillow_heif,
numpy), which are not installed where the unit tests run.

fake_layer() makes them importable for a with block, through the real
import machinery (a finder on sys.meta_path), as a layer's are: the code
under test imports them itself, the first time it needs them. It can make
any of them fail to import with a given exception, as a broken layer would. The fake
PIL follows Pillow where the function relies on it: Image.open tries only
the formats it is given and raises KeyError for one not registered (as
Pillow does), reads the real header of a PNG made by png() below (and the
size of a real JPEG or HEIC, such as the function's samples), never
enlarges in thumbnail(), and refuses to write an image with alpha as JPEG.

No fake decodes pixels: getpixel() answers with the samples' scene (top
third red, the rest blue, as tests/rawgen.py draws it) for any image, so the
self-test's logic runs here; real decoding is tested on Debian's Pillow and
LibRaw (tests/test_raw.py, tests/test_samples.py). The fake rawpy treats any
TIFF as a RAW like the shipped sample (64x48, flip 0, no usable preview):
postprocess() gives a 32x24 "array" that Image.fromarray() accepts; any
other bytes are LibRawFileUnsupportedError, as LibRaw says of them.
"""

from __future__ import annotations

import contextlib
import enum
import importlib.abc
import importlib.util
import struct
import sys
import types
import zlib
from typing import Iterator
from unittest import mock

from tests.libraw_ctypes import rawpy_types

LAYER_TOP_LEVEL = ("PIL", "rawpy", "pillow_heif", "numpy")

VERSIONS = {"PIL": "11.0.0", "rawpy": "0.24.0", "pillow_heif": "0.20.0", "numpy": "2.1.3"}


def png(width: int, height: int, *, alpha: bool = False, truncated: bool = False) -> bytes:
    """A real PNG file of one colour (Pillow opens it too). truncated cuts
    it after the header, so only decoding the pixels finds the damage."""
    color_type, channels = (6, 4) if alpha else (2, 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    if truncated:
        return header
    row = b"\x00" + bytes([200, 120, 40, 255][:channels]) * width
    return header + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")


class FakeImage:
    """The part of PIL.Image.Image the function uses."""

    def __init__(self, fmt, size, mode, info=None, data=b""):
        self.format = fmt
        self.size = tuple(size)
        self.mode = mode
        self.info = dict(info or {})
        self._data = data

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def load(self):
        # Pillow decodes lazily: a truncated file passes open() and fails here.
        truncated = {"PNG": b"IEND" not in self._data, "JPEG": not self._data.endswith(b"\xff\xd9")}
        if truncated.get(self.format):
            raise OSError("image file is truncated")

    def draft(self, mode, size):
        return None

    def getpixel(self, xy):
        # The samples' scene (see the module doc): top third red.
        return SCENE_RED if xy[1] < self.height / 3 else SCENE_BLUE

    def transpose(self, method):
        turned = method in (Transpose.ROTATE_90, Transpose.ROTATE_270, Transpose.TRANSPOSE, Transpose.TRANSVERSE)
        size = (self.height, self.width) if turned else self.size
        self.transposed = method
        return FakeImage(self.format, size, self.mode, self.info, self._data)

    def thumbnail(self, box):
        self.load()
        width, height = self.size
        if width <= box[0] and height <= box[1]:
            return
        scale = min(box[0] / width, box[1] / height)
        self.size = (max(1, round(width * scale)), max(1, round(height * scale)))

    def convert(self, mode):
        return FakeImage(self.format, self.size, mode, self.info, self._data)

    def copy(self):
        return FakeImage(self.format, self.size, self.mode, self.info, self._data)

    def save(self, fp, format=None, **params):
        if format == "JPEG" and self.mode not in ("RGB", "L", "CMYK"):
            raise OSError(f"cannot write mode {self.mode} as JPEG")
        fp.write(f"{format} {self.width}x{self.height} {self.mode}".encode())


SCENE_RED = (230, 30, 30)
SCENE_BLUE = (30, 60, 220)


class Transpose(enum.IntEnum):
    """PIL.Image.Transpose's members and values."""

    FLIP_LEFT_RIGHT = 0
    FLIP_TOP_BOTTOM = 1
    ROTATE_90 = 2
    ROTATE_180 = 3
    ROTATE_270 = 4
    TRANSPOSE = 5
    TRANSVERSE = 6


class FakeArray:
    """What the fake rawpy's postprocess() returns: an array's shape and size."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.ndim = len(self.shape)
        self.size = self.shape[0] * self.shape[1] * self.shape[2]

    def squeeze(self, axis):
        return FakeArray(self.shape[:2] + (1,))


def _jpeg_open(data: bytes) -> FakeImage:
    """A real JPEG's size from its SOF segment, or what FakeImage.save
    wrote ("JPEG 32x24 RGB"); SyntaxError when it has neither."""
    if data.startswith(b"JPEG "):
        size, mode = data[5:].decode().split()
        width, height = map(int, size.split("x"))
        return FakeImage("JPEG", (width, height), mode, data=data + b"\xff\xd9")
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return FakeImage("JPEG", (width, height), "RGB", data=data)
        pos += 2 + length
    raise SyntaxError("the fake PIL found no JPEG frame header")


def _heif_open(data: bytes) -> FakeImage:
    """A real HEIC's size from its last ispe box (the primary image's in
    what heif-enc writes; the first is its coded 64x64 tile); SyntaxError
    when it has none."""
    at = data.rfind(b"ispe")
    if at < 0 or len(data) < at + 16:
        raise SyntaxError("the fake PIL found no HEIF image size")
    width, height = struct.unpack(">II", data[at + 8:at + 16])
    return FakeImage("HEIF", (width, height), "RGB", data=data)


def _png_accept(prefix: bytes) -> bool:
    return prefix[:8] == b"\x89PNG\r\n\x1a\n"


def _png_open(data: bytes) -> FakeImage:
    width, height, _depth, color_type = struct.unpack(">IIBB", data[16:26])
    mode = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}[color_type]
    return FakeImage("PNG", (width, height), mode, data=data)


def _unreadable(kind: str):
    def factory(data: bytes):
        # Pillow treats SyntaxError from a plugin as "not this format".
        raise SyntaxError(f"the fake PIL reads no {kind} pixels")

    return factory


class FakeLayer:
    """The fake modules of one fake_layer() block, for tests to adjust."""

    def __init__(self):
        self.PIL = types.ModuleType("PIL")
        self.PIL.__version__ = VERSIONS["PIL"]
        self.PIL.__path__ = []  # a package, so PIL.Image is looked up under it

        class UnidentifiedImageError(OSError):
            pass

        class DecompressionBombError(Exception):
            pass

        self.PIL.UnidentifiedImageError = UnidentifiedImageError
        self.Image = types.ModuleType("PIL.Image")
        self.Image.OPEN = {
            "PNG": (_png_open, _png_accept),
            "JPEG": (_jpeg_open, lambda p: p[:3] == b"\xff\xd8\xff" or p[:5] == b"JPEG "),
            "WEBP": (_unreadable("WEBP"), lambda p: p[:4] == b"RIFF" and p[8:12] == b"WEBP"),
        }
        self.Image.DecompressionBombError = DecompressionBombError
        self.Image.UnidentifiedImageError = UnidentifiedImageError
        self.opened_formats: list[list[str]] = []

        def open_(fp, mode="r", formats=None):
            data = fp.read()
            formats = list(self.Image.OPEN) if formats is None else list(formats)
            self.opened_formats.append(formats)
            for fmt in formats:
                factory, accept = self.Image.OPEN[fmt.upper()]  # KeyError, as Pillow
                if accept(data[:16]):
                    try:
                        return factory(data)
                    except SyntaxError:
                        continue
            raise UnidentifiedImageError(f"cannot identify image file {fp!r}")

        self.Image.open = open_
        self.Image.Transpose = Transpose
        self.Image.fromarray = lambda array: FakeImage(None, (array.shape[1], array.shape[0]), "RGB")
        self.ImageOps = types.ModuleType("PIL.ImageOps")
        self.ImageOps.exif_transpose = lambda image, **kw: image.copy()
        self.PIL.Image = self.Image
        self.PIL.ImageOps = self.ImageOps

        self.rawpy = types.ModuleType("rawpy")
        self.rawpy.__version__ = VERSIONS["rawpy"]
        self.rawpy.libraw_version = (0, 21, 3)
        self.rawpy.flags = {"DEMOSAIC_PACK_GPL2": False, "LCMS": True, "OPENMP": True}
        _fake_rawpy_api(self.rawpy)

        self.pillow_heif = types.ModuleType("pillow_heif")
        self.pillow_heif.__version__ = VERSIONS["pillow_heif"]
        self.pillow_heif.libheif_version = lambda: "1.18.2"
        self.pillow_heif.libheif_info = lambda: {
            "libheif": "1.18.2",
            "HEIF": "x265 HEVC encoder",
            "AVIF": "",
            "encoders": {"x265": "x265 HEVC encoder"},
            "decoders": {"libde265": "libde265 HEVC decoder"},
        }

        def register_heif_opener(**options):
            # As pillow_heif: registers with the PIL.Image it imported.
            self.Image.OPEN["HEIF"] = (
                _heif_open,
                lambda p: p[4:8] == b"ftyp" and p[8:12] in (b"heic", b"heix", b"mif1"),
            )

        self.pillow_heif.register_heif_opener = register_heif_opener

        self.numpy = types.ModuleType("numpy")
        self.numpy.__version__ = VERSIONS["numpy"]

    def modules(self) -> dict[str, types.ModuleType]:
        return {
            "PIL": self.PIL,
            "PIL.Image": self.Image,
            "PIL.ImageOps": self.ImageOps,
            "rawpy": self.rawpy,
            "pillow_heif": self.pillow_heif,
            "numpy": self.numpy,
        }


def _fake_rawpy_api(rawpy: types.ModuleType) -> None:
    """The part of rawpy's API the function uses; see the module doc."""
    # rawpy's own classes (LibRawError and the rest, ThumbFormat, ...),
    # shared with the ctypes stand-in.
    vars(rawpy).update({name: v for name, v in vars(rawpy_types).items() if isinstance(v, type)})

    sizes = types.SimpleNamespace(raw_width=64, raw_height=48, width=64, height=48, flip=0)

    class RawPy:
        def __init__(self, data: bytes):
            if data[:4] not in (b"II*\x00", b"MM\x00*"):
                raise rawpy_types.LibRawFileUnsupportedError("Unsupported file format or not RAW file")
            self.sizes = sizes

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

        def extract_thumb(self):
            raise rawpy_types.LibRawNoThumbnailError("No thumbnail in file")

        def postprocess(self, **params):
            rawpy.postprocessed.append(params)
            return FakeArray((sizes.height // 2, sizes.width // 2, 3))

    rawpy.postprocessed = []
    rawpy.imread = lambda fileobj, shot_select=0: RawPy(fileobj.read())


class _FakeImports(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the fake modules to the import system, and makes importing
    each module named in errors raise the given exception."""

    def __init__(self, modules: dict[str, types.ModuleType], errors: dict[str, BaseException]):
        self.modules = modules
        self.errors = errors

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.errors or fullname in self.modules:
            module = self.modules.get(fullname)
            is_package = module is not None and hasattr(module, "__path__")
            return importlib.util.spec_from_loader(fullname, self, is_package=is_package)
        return None

    def create_module(self, spec):
        return None if spec.name in self.errors else self.modules[spec.name]

    def exec_module(self, module):
        if module.__name__ in self.errors:
            raise self.errors[module.__name__]


_decoding: list[FakeLayer] = []


def decoding() -> FakeLayer:
    """One FakeLayer, with the HEIF opener registered, whose decoding
    (Image.open, Image.fromarray, rawpy.imread, ...) tests/disklayer.py's
    packages lend."""
    if not _decoding:
        layer = FakeLayer()
        layer.pillow_heif.register_heif_opener()
        _decoding.append(layer)
    return _decoding[0]


@contextlib.contextmanager
def fake_layer(fail: dict[str, BaseException] | None = None) -> Iterator[FakeLayer]:
    """Install the fake layer for the block; fail maps a module name
    ("rawpy", or "PIL.Image" for a package whose extension is broken) to the
    exception importing it raises. Real modules of those names, if any are
    installed, are hidden for the block and restored after it."""
    fail = dict(fail or {})
    layer = FakeLayer()
    served = {}
    for name, module in layer.modules().items():
        if not any(name == f or name.startswith(f + ".") for f in fail):
            served[name] = module
        elif "." in name:
            # The import system binds a submodule as an attribute of its
            # package only when it loads; a failed one is not there.
            parent, _, child = name.rpartition(".")
            delattr(layer.modules()[parent], child)
    with mock.patch.dict(sys.modules), mock.patch.object(sys, "meta_path", [_FakeImports(served, fail), *sys.meta_path]):
        for name in list(sys.modules):
            if name.split(".")[0] in LAYER_TOP_LEVEL:
                del sys.modules[name]
        yield layer
