"""SnapStart: a "snap-start" init primes the image stack and registers the
after-restore hook; any other init primes nothing, so a /health cold start
imports none of the image stack; the hook reseeds the random generators
and drops cached boto3 clients. The runtime's snapshot_restore_py is
faked only by its absence or by a minimal stand-in that records what is
registered with it (Lambda's is not installable here)."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import types
import unittest
from unittest import mock

from tests import disklayer
from tests.events import APP_DIR
from tests.fakes import fake_layer
from utils import photos, snapstart

IMAGE_STACK = ["PIL", "PIL.Image", "numpy", "pillow_heif", "rawpy", "boto3", "imaging.raw", "imaging.samples"]

# A stand-in for the runtime's module: the two registration functions,
# recording what they are given.
HOOKS_STANDIN = (
    "before, after = [], []\n"
    "def register_before_snapshot(func, *args, **kwargs):\n    before.append(func)\n    return func\n"
    "def register_after_restore(func, *args, **kwargs):\n    after.append(func)\n    return func\n"
)


def cold_start(init_type: str | None, *, hooks: bool, then: str, env: dict | None = None,
               path: str | None = None) -> dict:
    """Load api.py in a fresh interpreter, as Lambda's init does, with the
    disk stand-in layer (tests/disklayer.py) and path on sys.path, then run
    `then` (which sets `out`); returns out, what was imported, and the logs."""
    with tempfile.TemporaryDirectory() as layer:
        disklayer.write(layer, bytecode=False)
        if hooks:
            with open(os.path.join(layer, "snapshot_restore_py.py"), "w") as f:
                f.write(HOOKS_STANDIN)
        script = (
            "import json, logging, sys\n"
            f"sys.path[:0] = [{APP_DIR!r}, {layer!r}]\n"
            f"sys.path += {[path] if path else []!r}\n"
            "logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
            "import api\n"
            "out = {}\n"
            f"{then}\n"
            f"out['loaded'] = [m for m in {IMAGE_STACK!r} if m in sys.modules]\n"
            "print(json.dumps(out))\n"
        )
        environ = {k: v for k, v in os.environ.items() if k not in (snapstart.INIT_TYPE_VARIABLE, "PHOTOS_BUCKET")}
        if init_type is not None:
            environ[snapstart.INIT_TYPE_VARIABLE] = init_type
        environ.update(env or {})
        proc = subprocess.run([sys.executable, "-I", "-B", "-S", "-c", script], capture_output=True, text=True,
                              timeout=120, env=environ)
    if proc.returncode != 0:
        raise AssertionError(proc.stderr)
    out = json.loads(proc.stdout)
    out["logs"] = proc.stderr
    return out


HEALTH = ("out['health'] = api.handler({'rawPath': '/health', 'requestContext': "
          "{'http': {'method': 'GET'}, 'stage': '$default'}}, None)['statusCode']")
SELFTEST = ("r = api.handler({'test': 'imports'}, None)\n"
            "out['selftest'] = {k: r[k] for k in ('ok', 'initializationType', 'primed', 'imports')}")
HOOKS = "import snapshot_restore_py as h\nout['after'] = [f.__module__ + '.' + f.__name__ for f in h.after]"


class InitTypeTest(unittest.TestCase):
    def test_on_demand_primes_nothing_and_health_imports_no_image_stack(self):
        for init_type in ("on-demand", "provisioned-concurrency", None):
            with self.subTest(init_type=init_type):
                out = cold_start(init_type, hooks=True, then=HEALTH + "\n" + HOOKS)
                self.assertEqual(out["health"], 200)
                self.assertEqual(out["loaded"], [])
                self.assertEqual(out["after"], [], "no hooks outside SnapStart")

    def test_snap_start_primes_and_registers_the_hook(self):
        out = cold_start("snap-start", hooks=True, then=HOOKS + "\n" + SELFTEST)
        self.assertEqual(out["after"], ["utils.snapstart.after_restore"])
        for module in ("PIL.Image", "numpy", "pillow_heif", "rawpy", "imaging.raw", "imaging.samples"):
            self.assertIn(module, out["loaded"])
        selftest = out["selftest"]
        self.assertEqual((selftest["ok"], selftest["initializationType"]), (True, "snap-start"))
        self.assertEqual(selftest["primed"], ["numpy", "PIL", "pillow_heif", "rawpy"])
        # The self-test reports the imports priming measured, before the snapshot.
        for name, figures in selftest["imports"].items():
            self.assertIsInstance(figures["ms"], float, name)
        self.assertRegex(out["logs"], r"SnapStart init: primed numpy, PIL, pillow_heif, rawpy in [0-9.]+ ms")
        self.assertRegex(out["logs"], r"SnapStart priming: raw sample decoded in [0-9.]+ ms via demosaic")

    def test_snap_start_without_the_runtime_module(self):
        out = cold_start("snap-start", hooks=False, then=SELFTEST)
        self.assertEqual(out["selftest"]["primed"], ["numpy", "PIL", "pillow_heif", "rawpy"])
        self.assertIn("SnapStart: no snapshot_restore_py module, so no after-restore hook", out["logs"])

    @unittest.skipUnless(importlib.util.find_spec("boto3"), "boto3 is not installed for this interpreter")
    def test_snap_start_with_a_photos_bucket_primes_boto3(self):
        # -I -S hides site-packages, where boto3 lives: pass its folder on.
        site = os.path.dirname(os.path.dirname(importlib.util.find_spec("boto3").origin))
        out = cold_start("snap-start", hooks=False, env={"PHOTOS_BUCKET": "photos"}, path=site, then=SELFTEST)
        self.assertEqual(out["selftest"]["primed"], ["numpy", "PIL", "pillow_heif", "rawpy", "boto3"])


class PrimingTest(unittest.TestCase):
    """In process, on the in-memory fakes."""

    def test_a_package_that_does_not_import_is_left_out_and_init_goes_on(self):
        env = {snapstart.INIT_TYPE_VARIABLE: "snap-start"}
        with fake_layer(fail={"rawpy": ImportError("libraw_r.so.23: cannot open shared object file")}), \
                mock.patch.dict(os.environ, env), mock.patch.object(snapstart, "primed", []), \
                mock.patch.dict(sys.modules, {"snapshot_restore_py": None}), \
                self.assertLogs("galerly", "INFO") as logs:
            snapstart.init()
            self.assertEqual(snapstart.primed, ["numpy", "PIL", "pillow_heif"])
        text = "\n".join(logs.output)
        self.assertIn("SnapStart priming: rawpy did not import: ImportError: libraw_r.so.23", text)
        self.assertIn("SnapStart priming: raw sample did not decode", text)


class AfterRestoreTest(unittest.TestCase):
    def test_reseeds_and_drops_clients(self):
        numpy_random = types.SimpleNamespace(seeded=0)
        numpy_random.seed = lambda: setattr(numpy_random, "seeded", numpy_random.seeded + 1)
        random.seed(1234)  # as if init had drawn from a generator the snapshot keeps
        snapshot_state = random.getstate()
        with mock.patch.dict(photos._cache, {"session": object(), "client": object()}, clear=True), \
                mock.patch.dict(sys.modules, {"numpy.random": numpy_random}), \
                self.assertLogs("galerly", "INFO") as logs:
            snapstart.after_restore()
            self.assertEqual(photos._cache, {})
        self.assertNotEqual(random.getstate(), snapshot_state)
        self.assertEqual(numpy_random.seeded, 1)
        self.assertIn("restored from a snapshot: reseeded random, numpy.random; dropped 2 cached boto3 object(s)",
                      logs.output[-1])

    def test_two_restores_of_one_snapshot_draw_different_numbers(self):
        random.seed(99)
        snapshot_state = random.getstate()
        draws = []
        for _ in range(2):
            random.setstate(snapshot_state)  # each environment restores the same memory
            with self.assertLogs("galerly", "INFO"):
                snapstart.after_restore()
            draws.append(random.random())
        self.assertNotEqual(draws[0], draws[1])


if __name__ == "__main__":
    unittest.main()
