"""A stand-in image layer written to disk as real files, for tests that
import it the way the function imports the real one: through the real
import system, from source or from bytecode.

Each package has more than one module, and the dependencies are the real
layer's (rawpy imports numpy, pillow_heif imports PIL.Image), so the
compile counts say which import compiled what:

    numpy        numpy/__init__.py, numpy/core.py                2 modules
    PIL          PIL/__init__.py, PIL/Image.py                   2 modules
    pillow_heif  pillow_heif/__init__.py, pillow_heif/_lib.py    2 modules
    rawpy        rawpy/__init__.py (and numpy, already imported)  1 module

With bytecode=True each source also gets the .pyc a layer with bytecode
ships: PEP 552 unchecked-hash, at __pycache__/NAME.<cache tag>.pyc, with
the run-time path /opt/python/... as its code's filename, compiled by this
interpreter (so run it with the one that will import it).

PIL.Image, PIL.ImageOps and rawpy decode the self-test's samples through
the in-memory fakes (tests/fakes.py), fetched only when first used;
PIL.ImageOps is imported only then, not by the self-test's measured imports.

    python -m tests.disklayer DIR [--bytecode]   (from app/) writes it to DIR
"""

from __future__ import annotations

import os
import py_compile
import sys

from tests.fakes import VERSIONS

# Modules each package's import compiles when it has no bytecode, in the
# self-test's import order (dependencies first).
COMPILED_WITHOUT_BYTECODE = {"numpy": 2, "PIL": 2, "pillow_heif": 2, "rawpy": 1}

# What the self-test's sample decodes use (PIL.Image.open, rawpy.imread, ...)
# comes from the in-memory fakes, looked up on first use (PEP 562), so an
# import compiles only the files listed above and the figures stay exact.
_DECODING = (
    "def __getattr__(name):\n"
    "    from tests.fakes import decoding\n"
    "    return getattr(decoding().modules()[__name__], name)\n"
)

SOURCES = {
    "numpy/__init__.py": f"from numpy import core\n__version__ = {VERSIONS['numpy']!r}\n",
    "numpy/core.py": "ndarray = list\n",
    "PIL/__init__.py": f"__version__ = {VERSIONS['PIL']!r}\n",
    "PIL/Image.py": "OPEN = {'PNG': None, 'JPEG': None}\n" + _DECODING,
    "PIL/ImageOps.py": _DECODING,
    "pillow_heif/__init__.py": (
        f"from PIL import Image\nfrom pillow_heif._lib import libheif_version, libheif_info\n"
        f"__version__ = {VERSIONS['pillow_heif']!r}\n"
        "def register_heif_opener(**options):\n    Image.OPEN['HEIF'] = None\n"
    ),
    "pillow_heif/_lib.py": (
        "def libheif_version():\n    return '1.18.2'\n"
        "def libheif_info():\n    return {'libheif': '1.18.2', 'decoders': {'libde265': 'libde265 HEVC decoder'}}\n"
    ),
    "rawpy/__init__.py": (
        f"import numpy\n__version__ = {VERSIONS['rawpy']!r}\n"
        "libraw_version = (0, 21, 3)\nflags = {'LCMS': True}\n" + _DECODING
    ),
}


def write(root: str, bytecode: bool) -> None:
    """Write the stand-in layer's packages into root (a sys.path entry)."""
    for rel, text in SOURCES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        if bytecode:
            # Beside the source, as in the layer: not where a pycache
            # prefix (PYTHONPYCACHEPREFIX, set while testing) would put it.
            folder, name = os.path.split(path)
            cfile = os.path.join(folder, "__pycache__", f"{name[:-3]}.{sys.implementation.cache_tag}.pyc")
            py_compile.compile(
                path,
                cfile=cfile,
                dfile="/opt/python/" + rel,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )


if __name__ == "__main__":
    write(sys.argv[1], "--bytecode" in sys.argv[2:])
