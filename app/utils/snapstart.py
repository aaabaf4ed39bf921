"""Lambda SnapStart: prime what the snapshot keeps, and restore uniqueness
after a restore.

With SnapStart (python3.12 and later), Lambda runs the init phase once when
a version is published, snapshots the environment and restores that
snapshot on every cold start. Whatever init loads is then already loaded.
So when AWS_LAMBDA_INITIALIZATION_TYPE is "snap-start", init() (called by
api.py as the handler module loads) primes:

- imports numpy, PIL (with pillow_heif's HEIF opener), pillow_heif and
  rawpy, the self-test's packages in its order, through its measured
  import, so the self-test later reports the figures of those imports; and
  boto3 when PHOTOS_BUCKET is set (the "s3" input's first request would
  pay for it);
- decodes the self-test's samples once (imaging/samples.py), which maps
  and warms LibRaw, libheif, libde265 and the JPEG codec. The RAW sample is
  decoded the way a request's is, in a forked child: LibRaw's OpenMP
  threads must never start in the parent, because a fork after they have
  (every RAW request forks) deadlocks the child in libgomp.

Every other initialization type ("on-demand", "provisioned-concurrency",
none off Lambda) keeps the lazy imports: a /health cold start pays nothing
for the image stack. Priming never fails init: what does not import or
decode is logged, left out of ``primed``, and reported by the self-test.

After a restore, every environment starts from the same memory, so
anything init made that must differ between environments, or that depends
on the time or identity it was made with, is remade by after_restore()
(registered with snapshot_restore_py.register_after_restore, where the
runtime has that module): ``random`` and numpy's global generator are
reseeded from the OS, and cached boto3 clients and sessions are dropped
(utils/photos.py), so credentials and connections are made fresh.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

from utils.logs import get_logger

log = get_logger("snapstart")

INIT_TYPE_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
HOOKS_MODULE = "snapshot_restore_py"

# What this process primed in init, in order; [] when it did not prime.
primed: list[str] = []


def initialization_type() -> str | None:
    """AWS_LAMBDA_INITIALIZATION_TYPE, or None where it is not set."""
    return os.environ.get(INIT_TYPE_VARIABLE) or None


def init() -> None:
    """Called once as the handler module loads; see the module doc."""
    if initialization_type() != SNAP_START:
        return
    start = time.perf_counter()
    primed[:] = prime()
    log.info("SnapStart init: primed %s in %.1f ms", ", ".join(primed) or "nothing",
             (time.perf_counter() - start) * 1000)
    register_hooks()


def prime() -> list[str]:
    """Import the layer's packages and decode the samples; the names of
    the packages primed (those that imported, boto3 included when it was
    imported for PHOTOS_BUCKET)."""
    from handlers import selftest

    done = []
    for name, module in selftest.layer_imports():
        try:
            selftest.import_measured(module)
        except Exception as err:  # noqa: BLE001 - the self-test reports it; init goes on
            log.warning("SnapStart priming: %s did not import: %s: %s", name, type(err).__name__, err)
            continue
        if name == "pillow_heif":
            try:
                sys.modules["pillow_heif"].register_heif_opener()
            except Exception as err:  # noqa: BLE001
                log.warning("SnapStart priming: pillow_heif's HEIF opener did not register: %s", err)
                continue
        done.append(name)
    if os.environ.get("PHOTOS_BUCKET"):
        try:
            importlib.import_module("boto3")
            done.append("boto3")
        except Exception as err:  # noqa: BLE001
            log.warning("SnapStart priming: boto3 did not import: %s", err)
    from imaging import samples

    results = samples.decode_all()
    for kind, result in results.items():
        if result["ok"]:
            log.info("SnapStart priming: %s sample decoded in %s ms via %s", kind, result["ms"], result["via"])
        else:
            log.warning("SnapStart priming: %s sample did not decode: %s", kind, result["error"])
    return done


def register_hooks() -> bool:
    """Register after_restore with the runtime; False where the runtime has
    no snapshot_restore_py (Python before 3.12, or not on Lambda)."""
    try:
        hooks = importlib.import_module(HOOKS_MODULE)
    except ImportError:
        log.info("SnapStart: no %s module, so no after-restore hook", HOOKS_MODULE)
        return False
    hooks.register_after_restore(after_restore)
    return True


def after_restore() -> None:
    """Make unique again what every restored environment shares; see the
    module doc. Lambda allows the hooks 10 s; this takes microseconds."""
    import random  # here, not at the top: an on-demand cold start never needs it

    from utils import photos

    random.seed()  # from os.urandom
    reseeded = ["random"]
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()  # the legacy global generator, from the OS too
        reseeded.append("numpy.random")
    dropped = photos.drop_clients()
    log.info("restored from a snapshot: reseeded %s; dropped %d cached boto3 object(s)",
             ", ".join(reseeded), dropped)
