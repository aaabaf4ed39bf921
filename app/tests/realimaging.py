"""What the tests with real decoders need, and a skip when it is missing.

They run under Debian's /usr/bin/python3 (app_test.go starts them there):
its python3-pil, python3-numpy and python3-tifffile, LibRaw (libraw20,
libraw-dev for the struct layout, libraw-bin's raw-identify), libheif's
heif-convert (libheif-examples), and a real Canon EOS 30D raw file from
rawtran-doc. rawpy itself is tests/libraw_ctypes/rawpy.py, put first on
sys.path by use_rawpy_over_libraw(). Under the pyenv interpreters, which
have none of this, the tests skip; app_test.go fails when they skip where
they must run.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import os
import shutil
import sys
import unittest

CR2 = "/usr/share/doc/rawtran/IMG_5952.CR2"
RAWPY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libraw_ctypes")


def missing() -> list[str]:
    """What this interpreter and machine lack for the real-decoder tests."""
    lacks = [f"python module {m}" for m in ("numpy", "PIL", "tifffile") if importlib.util.find_spec(m) is None]
    try:
        ctypes.CDLL("libraw_r.so.20")
    except OSError:
        lacks.append("libraw_r.so.20 (libraw20)")
    if not os.path.exists("/usr/include/libraw/libraw.h"):
        lacks.append("libraw.h (libraw-dev)")
    for tool, package in (("cc", "gcc"), ("raw-identify", "libraw-bin"), ("heif-convert", "libheif-examples"),
                          ("heif-enc", "libheif-examples")):
        if shutil.which(tool) is None:
            lacks.append(f"{tool} ({package})")
    if not os.path.exists(CR2):
        lacks.append(f"{CR2} (rawtran-doc)")
    return lacks


def use_rawpy_over_libraw() -> None:
    """Make ``import rawpy`` load the ctypes stand-in (idempotent)."""
    if RAWPY_DIR not in sys.path:
        sys.path.insert(0, RAWPY_DIR)


def requires_real_decoders(cls):
    """Skip the TestCase class unless everything real is here; otherwise
    put the stand-in rawpy on sys.path for it."""
    lacks = missing()
    if lacks:
        return unittest.skip("real decoders missing: " + ", ".join(lacks))(cls)
    use_rawpy_over_libraw()
    return cls


def read_cr2() -> bytes:
    with open(CR2, "rb") as f:
        return f.read()
