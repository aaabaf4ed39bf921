"""Synthetic camera RAW files (DNG) for the tests, the benchmark and the
self-test's shipped sample, written with tifffile, numpy and Pillow.

A DNG here is what a camera's is, in small: IFD0 holds a reduced-size RGB
thumbnail, the DNG tags (version, camera make and model, colour matrix, as
shot white balance) and the Orientation; its SubIFDs hold the Bayer mosaic
(RGGB, 12-bit values in 16-bit samples, with CFA tags, black and white
levels) and, optionally, a larger JPEG preview, as cameras embed one.

The scene is chosen so orientation can be read off any decoded result: the
top third of the sensor is red, the rest blue. Where the red band ends up in
a thumbnail says which way it was turned (see red_side()).

tifffile writes JPEG only through imagecodecs, which is not installed here;
the preview is encoded with Pillow and written as one pre-encoded strip,
after a placeholder encoder is registered for compression 7 (tifffile asks
for an encoder before it looks at the data, and never calls this one).

Needs /usr/bin/python3 with Debian's python3-numpy, python3-tifffile and
python3-pil. ``python3 -m tests.rawgen DIR`` (from app/) writes the
function's samples (see write_samples).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy
import tifffile
from PIL import Image

# XYZ (D65) -> linear sRGB: as the DNG's ColorMatrix1, it makes the camera's
# RGB linear sRGB, so red stays red through LibRaw's colour conversion.
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))
WHITE_LEVEL = 4095
RED = (230, 30, 30)
BLUE = (30, 60, 220)


@dataclass
class Spec:
    """What one synthetic DNG holds."""

    width: int = 64
    height: int = 48
    orientation: int = 1
    """TIFF Orientation of the RAW (IFD0), 1 to 8."""
    preview: tuple[int, int] | None = (48, 36)
    """Size of the JPEG preview in a SubIFD (before orientation), or None."""
    preview_orientation: int | None = None
    """EXIF Orientation inside the preview JPEG itself, or None for no EXIF."""
    preview_exif_camera: tuple[str, str] | None = None
    """(Make, Model) in the preview's own EXIF, or None."""
    camera: tuple[str, str] | None = ("Galerly", "Synthetic DNG")
    """(Make, Model) in the RAW's IFD0, or None to leave both tags out."""
    thumbnail: bool = True
    """An uncompressed RGB thumbnail in IFD0 (1/8 of the sensor)."""
    jpeg_quality: int = 85


def scene(width: int, height: int) -> numpy.ndarray:
    """The picture on the sensor, (height, width, 3) uint8: top third red."""
    rgb = numpy.empty((height, width, 3), numpy.uint8)
    rgb[:] = BLUE
    rgb[: _red_rows(height)] = RED
    return rgb


def _red_rows(height: int) -> int:
    return max(1, height // 3)


def mosaic(width: int, height: int) -> numpy.ndarray:
    """An RGGB Bayer mosaic of the scene, 12-bit linear values in uint16.
    Built a row colour at a time, so a 61 MP sensor costs its 122 MB and
    no more."""
    cfa = numpy.empty((height, width), numpy.uint16)
    red_rows = _red_rows(height)
    for rows, color in ((slice(0, red_rows), RED), (slice(red_rows, height), BLUE)):
        r, g, b = (round((c / 255.0) ** 2.2 * WHITE_LEVEL) for c in color)
        band = cfa[rows]
        first = rows.start  # the band's first row decides which rows are R/G and G/B
        even, odd = (slice(0, None, 2), slice(1, None, 2)) if first % 2 == 0 else (slice(1, None, 2), slice(0, None, 2))
        band[even, 0::2], band[even, 1::2] = r, g
        band[odd, 0::2], band[odd, 1::2] = g, b
    return cfa


def jpeg(rgb: numpy.ndarray, size: tuple[int, int], *, orientation: int | None = None,
         camera: tuple[str, str] | None = None, quality: int = 85) -> bytes:
    """rgb resized to size as a baseline JPEG, with an EXIF block holding
    orientation and camera when given."""
    img = Image.fromarray(rgb)
    if img.size != tuple(size):
        img = img.resize(size, Image.BILINEAR)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if camera is not None:
        exif[0x010F], exif[0x0110] = camera
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes() if len(exif) else b"")
    return out.getvalue()


def _allow_preencoded_jpeg() -> None:
    # The mapping tifffile looks encoders up in; see the module doc.
    codecs = tifffile.TIFF.COMPRESSORS._codecs  # noqa: SLF001 - documented tifffile internals, test-only

    def placeholder(data, **kwargs):
        raise RuntimeError("the JPEG preview is written pre-encoded; nothing should encode it")

    codecs.setdefault(7, placeholder)


def _srational(values) -> list[int]:
    out: list[int] = []
    for v in values:
        out += [round(v * 10000), 10000]
    return out


def dng(spec: Spec | None = None, **kw) -> bytes:
    """A DNG as bytes; see Spec for the knobs (keywords override spec's)."""
    spec = Spec(**{**(spec.__dict__ if spec else {}), **kw})
    if spec.width % 2 or spec.height % 2:
        raise ValueError("a Bayer mosaic needs an even width and height")
    _allow_preencoded_jpeg()
    subifds = 1 + (spec.preview is not None)
    ifd0 = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "Galerly Synthetic", True),  # UniqueCameraModel
        (274, "H", 1, spec.orientation, True),  # Orientation
        (50721, "2i", 9, _srational(v for row in XYZ_TO_SRGB for v in row), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
    ]
    if spec.camera is not None:
        ifd0 += [(271, "s", 0, spec.camera[0], True), (272, "s", 0, spec.camera[1], True)]
    out = io.BytesIO()
    with tifffile.TiffWriter(out) as tif:
        if spec.thumbnail:
            small = scene(spec.width // 8, spec.height // 8)
        else:
            # DNG wants an IFD0; without a thumbnail it is a 1x1 stub.
            small = numpy.zeros((1, 1, 3), numpy.uint8)
        tif.write(small, photometric="rgb", subfiletype=1, subifds=subifds, extratags=ifd0, metadata=None)
        tif.write(
            mosaic(spec.width, spec.height),
            photometric=32803,  # CFA
            subfiletype=0,
            extratags=[
                (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
                (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: RGGB
                (50710, "B", 3, (0, 1, 2), True),  # CFAPlaneColor
                (50711, "H", 1, 1, True),  # CFALayout: rectangular
                (50714, "H", 1, 0, True),  # BlackLevel
                (50717, "H", 1, WHITE_LEVEL, True),  # WhiteLevel
            ],
            metadata=None,
        )
        if spec.preview is not None:
            w, h = spec.preview
            data = jpeg(scene(w, h), (w, h), orientation=spec.preview_orientation, camera=spec.preview_exif_camera,
                        quality=spec.jpeg_quality)
            tif.write(iter([data]), shape=(h, w, 3), dtype=numpy.uint8, photometric="ycbcr",
                      compression=7, subsampling=(2, 2), rowsperstrip=h, subfiletype=1, metadata=None)
    return out.getvalue()


def red_side(img: Image.Image) -> str:
    """Which edge of an image of the scene the red band lies along:
    "top", "bottom", "left" or "right" (after whatever turned it)."""
    a = numpy.asarray(img.convert("RGB"), numpy.int32)
    redness = a[..., 0] - a[..., 2]
    edges = {
        "top": redness[: max(1, a.shape[0] // 6)].mean(),
        "bottom": redness[-max(1, a.shape[0] // 6):].mean(),
        "left": redness[:, : max(1, a.shape[1] // 6)].mean(),
        "right": redness[:, -max(1, a.shape[1] // 6):].mean(),
    }
    return max(edges, key=edges.get)


# The function's self-test samples (app/samples/, see imaging/samples.py): a
# DNG of a few KB whose JPEG preview is smaller than its half-size demosaic,
# so the self-test's decode extracts the preview, finds it too small and
# demosaics (both of LibRaw's paths run); a JPEG and a HEIC of the same
# scene at the demosaic's size.
SAMPLE_DNG = Spec(width=64, height=48, preview=(24, 18), jpeg_quality=60)
SAMPLE_SIZE = (32, 24)


def write_samples(folder: str) -> list[str]:
    """Write sample.dng, sample.jpg and sample.heic into folder; returns
    their paths. The HEIC is encoded by libheif's heif-enc
    (libheif-examples), from a PNG of the scene."""
    os.makedirs(folder, exist_ok=True)
    small = numpy.asarray(Image.fromarray(scene(64, 48)).resize(SAMPLE_SIZE, Image.BILINEAR))
    files = {
        "sample.dng": dng(SAMPLE_DNG),
        "sample.jpg": jpeg(small, SAMPLE_SIZE, quality=60),
    }
    written = []
    for name, data in files.items():
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        written.append(path)
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "scene.png")
        Image.fromarray(small).save(png)
        heic = os.path.join(folder, "sample.heic")
        subprocess.run(["heif-enc", "--quality", "50", "-o", heic, png], check=True, capture_output=True, timeout=60)
        written.append(heic)
    return written


if __name__ == "__main__":
    for path in write_samples(sys.argv[1]):
        print(path, os.path.getsize(path))
