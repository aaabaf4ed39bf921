"""The self-test: the request forms that run it, its result shape (which the
Pulumi smoke test parses) and its log lines."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import unittest

import api
from handlers import selftest
from tests.events import APP_DIR, body_json, http_v2, rest_v1
from tests.fakes import VERSIONS, fake_layer

LIBRAW_MISSING = ImportError("libraw_r.so.23: cannot open shared object file: No such file or directory")


def expected_success() -> dict:
    return {"ok": True, "packages": dict(VERSIONS), "raw": True, "heic": True, "python": platform.python_version()}


class DirectFormTest(unittest.TestCase):
    def test_success_has_exactly_the_documented_shape(self):
        with fake_layer():
            result = api.handler({"test": "imports"}, None)
        self.assertEqual(result, expected_success())
        self.assertEqual(list(result), ["ok", "packages", "raw", "heic", "python"])
        self.assertEqual(list(result["packages"]), ["PIL", "rawpy", "pillow_heif", "numpy"])
        # The smoke test reads the result as JSON.
        self.assertEqual(json.loads(json.dumps(result)), result)

    def test_success_logs_one_line_per_package(self):
        with fake_layer(), self.assertLogs("galerly", "INFO") as logs:
            api.handler({"test": "imports"}, None)
        messages = [r.getMessage() for r in logs.records]
        for name, version in VERSIONS.items():
            lines = [m for m in messages if m.startswith(name + " ")]
            self.assertEqual(lines, [f"{name} imported successfully (version {version})"], messages)
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
            ("PIL.Image", ImportError("/lib64/libc.so.6: version `GLIBC_2.34' not found"), "PIL", True, False),
        ]
        for module, err, name, raw, heic in cases:
            with self.subTest(module=module), fake_layer(fail={module: err}):
                with self.assertLogs("galerly", "INFO") as logs:
                    result = api.handler({"test": "imports"}, None)
                want = f"{type(err).__name__}: {err}"
                self.assertIs(result["ok"], False)
                self.assertEqual(result["errors"][name], want)
                self.assertEqual(list(result), ["ok", "errors", "packages", "raw", "heic", "python"])
                self.assertNotIn(name, result["packages"])
                self.assertEqual(
                    result["packages"], {k: v for k, v in VERSIONS.items() if k != name}
                )
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
