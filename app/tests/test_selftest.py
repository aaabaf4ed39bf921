"""The self-test: the request forms that run it, its result shape (which the
Pulumi smoke test parses) and its log lines."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import unittest

import api
from handlers import selftest
from tests import disklayer
from tests.events import APP_DIR, body_json, http_v2, rest_v1
from tests.fakes import VERSIONS, fake_layer

LIBRAW_MISSING = ImportError("libraw_r.so.23: cannot open shared object file: No such file or directory")


class Milliseconds:
    """Equal to an import time as the result gives it: a float of
    milliseconds, not negative, rounded to one decimal."""

    def __eq__(self, other):
        return isinstance(other, float) and other >= 0 and round(other, 1) == other

    def __repr__(self):
        return "<milliseconds>"


# The fake layer's modules are served by a finder, with no source to
# compile: each import is measured and compiles nothing.
FAKE_IMPORT = {"ms": Milliseconds(), "compiled": 0, "bytecode": True}


# The samples decode through the fakes: the RAW one by a demosaic (the fake
# rawpy's file has no usable preview), each in a measured time.
DECODED = {
    "raw": {"ok": True, "ms": Milliseconds(), "via": "demosaic"},
    "heic": {"ok": True, "ms": Milliseconds(), "via": "pillow_heif"},
    "jpeg": {"ok": True, "ms": Milliseconds(), "via": "PIL"},
}
FIELDS = ["ok", "packages", "raw", "heic", "python", "imports", "decode", "initializationType", "primed"]


def expected_success() -> dict:
    return {"ok": True, "packages": dict(VERSIONS), "raw": True, "heic": True, "python": platform.python_version(),
            "imports": {name: FAKE_IMPORT for name in VERSIONS}, "decode": DECODED,
            "initializationType": None, "primed": []}


class DirectFormTest(unittest.TestCase):
    def test_success_has_exactly_the_documented_shape(self):
        with fake_layer():
            result = api.handler({"test": "imports"}, None)
        self.assertEqual(result, expected_success())
        # New fields come last, so the fields that were there keep their place.
        self.assertEqual(list(result), FIELDS)
        self.assertEqual(list(result["packages"]), ["PIL", "rawpy", "pillow_heif", "numpy"])
        self.assertEqual(list(result["imports"]), ["PIL", "rawpy", "pillow_heif", "numpy"])
        # The smoke test reads the result as JSON.
        self.assertEqual(json.loads(json.dumps(result)), result)

    def test_success_logs_one_line_per_package(self):
        with fake_layer(), self.assertLogs("galerly", "INFO") as logs:
            api.handler({"test": "imports"}, None)
        messages = [r.getMessage() for r in logs.records]
        for name, version in VERSIONS.items():
            lines = [m for m in messages if m.startswith(name + " ")]
            self.assertEqual(len(lines), 1, messages)
            self.assertRegex(lines[0], "^" + re.escape(f"{name} imported successfully (version {version}) in ")
                             + r"[0-9]+\.[0-9] ms from bytecode$")
        self.assertIn("RAW support enabled: LibRaw 0.21.3, flags: LCMS, OPENMP", messages)
        self.assertIn("HEIC support enabled: libheif 1.18.2, decoders: libde265", messages)

    def test_any_value_of_test_runs_it(self):
        for value in ("imports", "rawpy", True):
            with self.subTest(value=value), fake_layer():
                self.assertEqual(api.handler({"test": value}, None), expected_success())

    def test_an_import_failure_names_the_package(self):
        cases = [
            # (module that fails, the exception, result name, raw, heic)
            ("rawpy", LIBRAW_MISSING, "rawpy", False, True),
            ("pillow_heif", ImportError("libheif.so.1: cannot open shared object file"), "pillow_heif", True, False),
            ("numpy", OSError("libopenblas64_p-r0.3.27.so: cannot open shared object file"), "numpy", True, True),
            # PIL imports but its compiled core does not (a wheel for another glibc).
            # Without PIL no RAW sample becomes a thumbnail either.
            ("PIL.Image", ImportError("/lib64/libc.so.6: version `GLIBC_2.34' not found"), "PIL", False, False),
        ]
        for module, err, name, raw, heic in cases:
            with self.subTest(module=module), fake_layer(fail={module: err}):
                with self.assertLogs("galerly", "INFO") as logs:
                    result = api.handler({"test": "imports"}, None)
                want = f"{type(err).__name__}: {err}"
                self.assertIs(result["ok"], False)
                self.assertEqual(result["errors"][name], want)
                self.assertEqual(list(result), FIELDS[:1] + ["errors"] + FIELDS[1:])
                self.assertNotIn(name, result["packages"])
                self.assertEqual(
                    result["packages"], {k: v for k, v in VERSIONS.items() if k != name}
                )
                # Figures for the packages that imported, none for the one that failed.
                self.assertEqual(result["imports"], {k: FAKE_IMPORT for k in result["packages"]})
                self.assertEqual((result["raw"], result["heic"]), (raw, heic))
                failed = [r for r in logs.records if r.getMessage() == f"{name} import failed: {want}"]
                self.assertEqual(len(failed), 1, [r.getMessage() for r in logs.records])
                self.assertEqual(failed[0].levelname, "ERROR")
                # Not a plain "not installed": the traceback shows what broke.
                self.assertIsNotNone(failed[0].exc_info)

    def test_a_package_without_its_support_fails_the_test(self):
        def no_libraw(layer):
            layer.rawpy.libraw_version = None

        def opener_not_registered(layer):
            layer.pillow_heif.register_heif_opener = lambda **kw: None

        def no_decoders(layer):
            layer.pillow_heif.libheif_info = lambda: {"libheif": "1.18.2", "decoders": {}}

        def broken_libheif(layer):
            def fail():
                raise RuntimeError("libheif: plugin load failed")

            layer.pillow_heif.libheif_version = fail

        cases = [
            (no_libraw, "rawpy", "RAW support disabled: rawpy reports no LibRaw version", False, True),
            (opener_not_registered, "pillow_heif",
             "HEIC support disabled: pillow_heif.register_heif_opener() did not register HEIF with PIL", True, False),
            (no_decoders, "pillow_heif", "HEIC support disabled: libheif 1.18.2 has no decoders", True, False),
            (broken_libheif, "pillow_heif",
             "HEIC support disabled: pillow_heif is broken: RuntimeError: libheif: plugin load failed", True, False),
        ]
        for breaks, name, error, raw, heic in cases:
            with self.subTest(breaks.__name__), fake_layer() as layer:
                breaks(layer)
                with self.assertLogs("galerly", "INFO"):
                    result = api.handler({"test": "imports"}, None)
                self.assertIs(result["ok"], False)
                self.assertEqual(result["errors"], {name: error})
                self.assertEqual(result["packages"], VERSIONS)
                self.assertEqual((result["raw"], result["heic"]), (raw, heic))


    def test_the_samples_go_through_the_thumbnail_routes_code(self):
        # Not only a decode: the HEIC and JPEG samples are made thumbnails
        # of as a request's upload is (imaging/pil.py), so a Pillow that
        # decodes but cannot make the route's thumbnail fails the test.
        def broken(image, **kw):
            raise OSError("exif_transpose is broken")

        with fake_layer() as layer, self.assertLogs("galerly", "INFO"):
            layer.ImageOps.exif_transpose = broken
            result = api.handler({"test": "imports"}, None)
        self.assertIs(result["ok"], False)
        failed = {"ok": False, "ms": None, "via": None, "error": "OSError: exif_transpose is broken"}
        self.assertEqual(result["decode"], {"raw": DECODED["raw"], "heic": failed, "jpeg": failed})
        self.assertEqual(result["errors"], {
            "PIL": "JPEG decoding failed: OSError: exif_transpose is broken",
            "pillow_heif": "HEIC support disabled: the sample did not decode: OSError: exif_transpose is broken",
        })

class APIFormTest(unittest.TestCase):
    def test_every_api_form_wraps_the_direct_result(self):
        events = {
            "old body form": {"body": json.dumps({"test": "rawpy"})},
            "old body form, base64": {"body": "eyJ0ZXN0IjogInJhd3B5In0=", "isBase64Encoded": True},
            "POST /selftest with a test body, HTTP API": http_v2("POST", "/selftest", {"test": "imports"}),
            "GET /selftest, HTTP API": http_v2("GET", "/selftest"),
            "POST /selftest, REST API": rest_v1("POST", "/selftest"),
        }
        for label, event in events.items():
            with self.subTest(label), fake_layer():
                response = api.handler(event, None)
                self.assertEqual(response["statusCode"], 200)
                self.assertEqual(response["headers"], {"Content-Type": "application/json"})
                self.assertEqual(set(response), {"statusCode", "headers", "body"})
                self.assertEqual(body_json(response), expected_success())

    def test_a_test_body_on_another_route_is_that_routes_request(self):
        # Clients of real routes cannot turn a request into a diagnostic.
        for label, event, status in [
            ("GET /health", http_v2("GET", "/health", {"test": "imports"}), 200),
            ("POST /health", http_v2("POST", "/health", {"test": "imports"}), 405),
        ]:
            with self.subTest(label), fake_layer(), self.assertLogs("galerly", "INFO"):
                response = api.handler(event, None)
                self.assertEqual(response["statusCode"], status)
                self.assertNotIn("packages", body_json(response))

    def test_a_failure_is_a_500_naming_the_package(self):
        with fake_layer(fail={"rawpy": LIBRAW_MISSING}), self.assertLogs("galerly", "INFO"):
            response = api.handler({"body": json.dumps({"test": "rawpy"})}, None)
        self.assertEqual(response["statusCode"], 500)
        result = body_json(response)
        self.assertIs(result["ok"], False)
        self.assertEqual(result["errors"], {"rawpy": f"ImportError: {LIBRAW_MISSING}"})
        self.assertIs(result["raw"], False)

    def test_api_result_status_follows_ok(self):
        self.assertEqual(selftest.api_result({"ok": True})["statusCode"], 200)
        self.assertEqual(selftest.api_result({"ok": False, "errors": {"numpy": "x"}})["statusCode"], 500)


class ImportFiguresTest(unittest.TestCase):
    """The real import system on a stand-in layer of real files
    (tests/disklayer.py), in a fresh interpreter with -B, as Lambda's
    read-only /opt: each package's import time, and how many of its modules
    were compiled from source, with and without the layer's bytecode."""

    def self_tests(self, bytecode: bool, before: str = "") -> list[dict]:
        """Two self-tests in one fresh interpreter, after running before."""
        with tempfile.TemporaryDirectory() as layer:
            disklayer.write(layer, bytecode)
            script = (
                "import json, sys\n"
                f"sys.path[:0] = [{APP_DIR!r}, {layer!r}]\n"
                f"{before}\n"
                "from handlers import selftest\n"
                "print(json.dumps([selftest.run(), selftest.run()]))\n"
            )
            # -I: no PYTHONPYCACHEPREFIX, which would send the interpreter
            # looking for bytecode elsewhere than beside the sources.
            proc = subprocess.run(
                [sys.executable, "-I", "-B", "-S", "-c", script], capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(proc.returncode, 0, proc.stderr)
            # -B: nothing was written beside the sources, as on Lambda.
            written = [n for _, _, files in os.walk(layer) for n in files if n.endswith(".pyc")]
            self.assertEqual(len(written), len(disklayer.SOURCES) if bytecode else 0, written)
        return json.loads(proc.stdout)

    def test_bytecode_used_or_compiled(self):
        for bytecode in (True, False):
            with self.subTest(bytecode=bytecode):
                first, again = self.self_tests(bytecode)
                self.assertIs(first["ok"], True, first)
                self.assertEqual(first["packages"], VERSIONS)
                for name, compiled in disklayer.COMPILED_WITHOUT_BYTECODE.items():
                    want = {"ms": Milliseconds(), "compiled": 0 if bytecode else compiled, "bytecode": bytecode}
                    self.assertEqual(first["imports"][name], want, name)
                    self.assertGreater(first["imports"][name]["ms"], 0, name)
                # A warm container reports the figures of its first import,
                # not the nothing a second import costs.
                self.assertEqual(again["imports"], first["imports"])

    def test_a_package_loaded_before_any_self_test_is_not_measured(self):
        first, again = self.self_tests(False, before="import PIL.Image")
        unknown = {"ms": None, "compiled": None, "bytecode": None}
        self.assertEqual(first["imports"]["PIL"], unknown)
        self.assertEqual(again["imports"]["PIL"], unknown)
        # pillow_heif's import finds PIL loaded and compiles its own modules only.
        self.assertEqual(first["imports"]["pillow_heif"], {"ms": Milliseconds(), "compiled": 2, "bytecode": False})
        self.assertIs(first["ok"], True)

    def test_log_lines_say_what_was_compiled(self):
        with tempfile.TemporaryDirectory() as layer:
            disklayer.write(layer, False)
            proc = subprocess.run(
                [sys.executable, "-I", "-B", "-S", "-c",
                 f"import sys; sys.path[:0] = [{APP_DIR!r}, {layer!r}]; import logging; logging.basicConfig();"
                 "from handlers import selftest; selftest.run()"],
                capture_output=True, text=True, timeout=120,
            )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stderr, r"numpy imported successfully \(version 2\.1\.3\) in [0-9.]+ ms, "
                                      r"2 modules compiled from source \(no usable bytecode\)")
        self.assertRegex(proc.stderr, r"rawpy imported successfully \(version 0\.24\.0\) in [0-9.]+ ms, "
                                      r"1 module compiled from source \(no usable bytecode\)")


class WithoutALayerTest(unittest.TestCase):
    """The real thing, no fakes: an interpreter without site-packages (-S)
    is a function with no layer attached, on any machine."""

    def run_api(self, event: dict) -> tuple[int, dict, str]:
        proc = subprocess.run(
            [sys.executable, "-B", "-S", "api.py", json.dumps(event)],
            cwd=APP_DIR, capture_output=True, text=True, timeout=120,
        )
        return proc.returncode, json.loads(proc.stdout), proc.stderr

    def test_direct_form_fails_naming_every_package(self):
        code, result, logs = self.run_api({"test": "imports"})
        self.assertEqual(code, 1)
        self.assertIs(result["ok"], False)
        self.assertEqual(
            result["errors"],
            {name: f"ModuleNotFoundError: No module named '{name}'" for name in VERSIONS},
        )
        self.assertEqual(result["packages"], {})
        self.assertEqual(result["imports"], {})
        self.assertEqual((result["raw"], result["heic"]), (False, False))
        self.assertEqual(result["python"], platform.python_version())
        for name in VERSIONS:
            self.assertIn(f"{name} import failed: ModuleNotFoundError", logs)

    def test_old_body_form_is_a_500(self):
        code, response, _ = self.run_api({"body": json.dumps({"test": "rawpy"})})
        self.assertEqual(code, 1)
        self.assertEqual(response["statusCode"], 500)
        self.assertEqual(sorted(body_json(response)["errors"]), sorted(VERSIONS))


if __name__ == "__main__":
    unittest.main()
