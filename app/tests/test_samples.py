"""The self-test's samples (app/samples), decoded for real: the DNG by
Debian's LibRaw through the route's own RAW path, the JPEG by Pillow, the
HEIC by libheif's heif-convert (no pillow_heif exists here, so the HEIC's
Pillow path runs only on the fakes and on Lambda). Also: the generators
make samples like the committed ones, LibRaw's own raw-identify reads the
DNG as the tests say it is, and the self-test of a layer whose rawpy
imports but cannot decode fails, naming rawpy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest

from imaging import samples
from tests.events import APP_DIR
from tests.realimaging import RAWPY_DIR, requires_real_decoders


def identify(path: str) -> str:
    return subprocess.run(["raw-identify", "-v", path], capture_output=True, text=True, timeout=60, check=True).stdout


def heic_pixels(path: str):
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "out.png")
        subprocess.run(["heif-convert", path, png], capture_output=True, timeout=60, check=True)
        return Image.open(png).convert("RGB")


@requires_real_decoders
class SamplesTest(unittest.TestCase):
    def test_committed_samples_decode_to_the_scene(self):
        result = samples.decode_raw()
        self.assertEqual((result["ok"], result["via"]), (True, "demosaic"), result)
        self.assertIsInstance(result["ms"], float)
        jpeg = samples.decode_jpeg()
        self.assertEqual((jpeg["ok"], jpeg["via"]), (True, "PIL"))
        img = heic_pixels(os.path.join(samples.FOLDER, samples.HEIC))
        self.assertIsNone(samples._not_the_scene(img))

    def test_samples_are_small_and_as_described(self):
        sizes = {name: os.path.getsize(os.path.join(samples.FOLDER, name))
                 for name in (samples.RAW, samples.HEIC, samples.JPEG)}
        self.assertLess(max(sizes.values()), 16 * 1024, sizes)
        info = identify(os.path.join(samples.FOLDER, samples.RAW))
        self.assertRegex(info, r"Thumb size: +24 x 18")
        self.assertRegex(info, r"Full size: +64 x 48")

    def test_the_generators_make_samples_like_the_committed_ones(self):
        from tests import rawgen

        with tempfile.TemporaryDirectory() as tmp:
            rawgen.write_samples(tmp)
            for name in (samples.RAW, samples.JPEG, samples.HEIC):
                self.assertTrue(os.path.exists(os.path.join(tmp, name)), name)
            self.assertEqual(identify(os.path.join(tmp, samples.RAW)).split("Camera:", 1)[1],
                             identify(os.path.join(samples.FOLDER, samples.RAW)).split("Camera:", 1)[1])
            self.assertIsNone(samples._not_the_scene(heic_pixels(os.path.join(tmp, samples.HEIC))))

    def self_test(self, setup: str = "") -> tuple[dict, str]:
        """api.py's self-test in a fresh Debian interpreter with the rawpy
        stand-in on its path, after running setup."""
        script = (
            "import json, logging, sys\n"
            f"sys.path[:0] = [{APP_DIR!r}, {RAWPY_DIR!r}]\n"
            "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
            f"{setup}\n"
            "import api\n"
            "print(json.dumps(api.handler({'test': 'imports'}, None)))\n"
        )
        proc = subprocess.run([sys.executable, "-B", "-s", "-c", script], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "LOG_LEVEL": "INFO"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout), proc.stderr

    def test_self_test_on_real_decoders(self):
        result, logs = self.self_test()
        decode = result["decode"]
        self.assertEqual({k: (v["ok"], v["via"]) for k, v in decode.items()},
                         {"raw": (True, "demosaic"), "heic": (False, None), "jpeg": (True, "PIL")})
        self.assertIs(result["raw"], True)
        self.assertIs(result["heic"], False)  # no pillow_heif on this machine
        self.assertIs(result["ok"], False)
        self.assertEqual(sorted(result["errors"]), ["pillow_heif"])
        self.assertRegex(logs, r"RAW format support: ENABLED \(sample decoded in [0-9.]+ ms via demosaic\)")
        self.assertRegex(logs, r"JPEG decoding: OK \(sample decoded in [0-9.]+ ms via PIL\)")
        self.assertIn("HEIC format support: DISABLED (pillow_heif did not import)", logs)

    def test_a_rawpy_that_imports_but_cannot_decode_fails_the_self_test(self):
        # LibRaw is there, but refuses the file: as a LibRaw built without
        # its DNG support, or a broken one, would.
        setup = ("import rawpy\n"
                 "def refuse(*a, **k):\n    raise rawpy.LibRawFileUnsupportedError('Unsupported file format')\n"
                 "rawpy.imread = refuse\n")
        result, logs = self.self_test(setup)
        self.assertIs(result["raw"], False)
        self.assertEqual(result["decode"]["raw"], {"ok": False, "ms": None, "via": None,
                                                   "error": "not a camera RAW file LibRaw can open"})
        self.assertEqual(result["errors"]["rawpy"],
                         "RAW support disabled: the sample did not decode: not a camera RAW file LibRaw can open")
        self.assertIn("RAW format support: DISABLED (the sample did not decode: not a camera RAW file", logs)


if __name__ == "__main__":
    unittest.main()
