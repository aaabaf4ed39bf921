"""The self-test: proves the image layer is attached, every package in it
imports, and its decoders decode, so a deploy can be gated on it (the
Pulumi smoke test invokes each new function version with it before the
"live" alias moves).

Requests that run it:

- a direct invocation ``{"test": "imports"}`` (any value of "test");
- an API-shaped event whose JSON body has "test", such as the old form
  ``{"body": "{\\"test\\": \\"rawpy\\"}"}``;
- ``GET`` or ``POST /selftest`` through API Gateway.

Result of the direct form, returned as is::

    {"ok": true,
     "packages": {"PIL": "11.0.0", "rawpy": "0.24.0",
                  "pillow_heif": "0.20.0", "numpy": "2.1.3"},
     "raw": true, "heic": true, "python": "3.11.7",
     "imports": {"PIL": {"ms": 41.2, "compiled": 0, "bytecode": true}, ...},
     "decode": {"raw": {"ok": true, "ms": 12.3, "via": "demosaic"},
                "heic": {"ok": true, "ms": 3.1, "via": "pillow_heif"},
                "jpeg": {"ok": true, "ms": 0.4, "via": "PIL"}},
     "initializationType": "on-demand", "primed": []}

and when any package fails to import (a missing layer, a wheel built for
another Python or glibc, a missing shared library), or imports but lacks
its RAW or HEIC support::

    {"ok": false,
     "errors": {"rawpy": "ImportError: libraw_r.so.23: cannot open ..."},
     "packages": {...the packages that did import...},
     "raw": false, "heic": true, "python": "3.11.7"}

"packages" maps each import name to its ``__version__``. "raw" is true when
rawpy imported, reports the LibRaw it was built with
(``rawpy.libraw_version``) and decoded the RAW sample; "heic" is true when
pillow_heif imported, registered its HEIF opener with PIL
(``Image.OPEN["HEIF"]``), reports a libheif version with at least one
decoder and decoded the HEIC sample. "ok" is true only when every package
imported, both are true and the JPEG sample decoded; "errors" (present only
when not ok) names each package at fault: "<Type>: <message>" of its
import, "RAW support disabled: <why>" / "HEIC support disabled: <why>"
(why includes "the sample did not decode: ..."), or for PIL "JPEG decoding
failed: <why>". "python" is the interpreter's version.

"decode" has one entry per sample the function ships (imaging/samples.py):
{"ok", "ms" (wall time of the decode, one decimal), "via"}, and "error"
when not ok, where "ms" and "via" are null. Each sample is made a thumbnail
of by the thumbnail route's own code: the RAW one by its RAW path, in a
child process, with "via" "preview" or "demosaic" (the sample's preview is
too small for the size asked, so "demosaic", after the preview was
extracted); the HEIC and JPEG ones by its Pillow path, with "via"
"pillow_heif" and "PIL".

"initializationType" is AWS_LAMBDA_INITIALIZATION_TYPE ("on-demand",
"provisioned-concurrency", "snap-start"; null off Lambda), and "primed"
the packages init imported for the snapshot, in order (utils/snapstart.py;
[] unless "snap-start").

"imports" says where the first import of each package that imported went,
so a slow cold start can be read off it: "ms" is how long the import took
(in milliseconds, one decimal), "compiled" how many modules the
interpreter compiled from source while importing it, and "bytecode" is
true when none was, i.e. every Python module of the package came from its
.pyc. Lambda's /opt and /var/task are read-only, so a package shipped
without usable bytecode is compiled again at every cold start. Packages
are imported dependencies first (numpy before rawpy, PIL before
pillow_heif), so each figure is the package's own. The figures are those
of the package's first import in this process: a warm container reports
what its first self-test measured; after a SnapStart init, those are the
figures of the imports priming did before the snapshot. A package some
request imported before any self-test did was not measured: its three
values are null.

The API forms wrap the same result::

    {"statusCode": 200 (ok) or 500 (not ok),
     "headers": {"Content-Type": "application/json"},
     "body": json.dumps(result)}

Each package gets one log line: "<name> imported successfully (version
X) in 41.2 ms from bytecode" (or "..., 130 modules compiled from source"),
or "<name> import failed: <Type>: <message>" (with the traceback unless the
package is simply absent); then for RAW and HEIC a support line and a
format line, "RAW format support: ENABLED (sample decoded in 12.3 ms via
demosaic)" or "... DISABLED (<why>)", "JPEG decoding: OK (...)" or
"FAILED (<why>)", and a summary.

Measuring costs nothing until the self-test runs: the compile counter is
put in place only around its imports, and this module adds only
importlib.machinery (0.1 ms) and time to what the function imports.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import platform
import sys
import time
from typing import Any

from imaging import samples
from utils import snapstart
from utils.logs import get_logger

log = get_logger("selftest")

# (name in the result, module to import). PIL.Image rather than PIL: the
# package's __init__ is pure Python, and PIL.Image is what loads the
# compiled _imaging extension that a wrong wheel would break.
LAYER_PACKAGES = (
    ("PIL", "PIL.Image"),
    ("rawpy", "rawpy"),
    ("pillow_heif", "pillow_heif"),
    ("numpy", "numpy"),
)

# The order the packages are imported in: dependencies first (rawpy
# imports numpy, pillow_heif imports PIL), so the time and compiles of each
# import are that package's own, not its dependencies'.
IMPORT_ORDER = ("numpy", "PIL", "pillow_heif", "rawpy")


def layer_imports() -> list[tuple[str, str]]:
    """(name in the result, module to import) of each layer package, in
    IMPORT_ORDER: what the self-test imports, and SnapStart init primes."""
    modules = dict(LAYER_PACKAGES)
    return [(name, modules[name]) for name in IMPORT_ORDER]


# The first measured import of each package in this process: module name ->
# (the module measured, its figures). Lambda reuses a container for later
# invocations, where importing again costs nothing; they report these.
_first_imports: dict[str, tuple[Any, dict]] = {}

NOT_MEASURED = {"ms": None, "compiled": None, "bytecode": None}


def run() -> dict:
    """Import every layer package and report; see the module doc for the shape."""
    packages: dict[str, str] = {}
    errors: dict[str, str] = {}
    modules: dict[str, Any] = {}
    imports: dict[str, dict] = {}
    for name, module_name in layer_imports():
        try:
            imports[name] = import_measured(module_name)
            # The top-level module holds __version__ (PIL, not PIL.Image).
            module = sys.modules[name]
        except Exception as err:  # noqa: BLE001 - any failure is a result, not a crash
            errors[name] = _describe(err)
            # "No module named rawpy" says it all (no layer, or the wrong
            # one); any other failure gets its traceback, which names the
            # file or shared library that broke.
            missing = isinstance(err, ModuleNotFoundError) and err.name == name
            log.error("%s import failed: %s", name, errors[name], exc_info=not missing)
            continue
        modules[name] = module
        packages[name] = str(getattr(module, "__version__", "unknown"))
        log.info("%s imported successfully (version %s)%s", name, packages[name], _describe_import(imports[name]))
    # In the documented order, whatever the import order.
    packages = {name: packages[name] for name, _ in LAYER_PACKAGES if name in packages}
    imports = {name: imports[name] for name in packages}

    image = sys.modules.get("PIL.Image") if "PIL" in modules else None
    raw, raw_detail = _raw_support(modules.get("rawpy"))
    heic, heic_detail = _heic_support(modules.get("pillow_heif"), image)
    decode = samples.decode_all()
    support = {}
    for label, package, enabled, detail, sample in (
        ("RAW", "rawpy", raw, raw_detail, decode["raw"]),
        ("HEIC", "pillow_heif", heic, heic_detail, decode["heic"]),
    ):
        if enabled:
            log.info("%s support enabled: %s", label, detail)
            if not sample["ok"]:
                enabled, detail = False, f"the sample did not decode: {sample['error']}"
        else:
            log.error("%s support disabled: %s", label, detail)
        _log_decode(f"{label} format support", "ENABLED" if enabled else "DISABLED", sample, detail)
        support[label] = enabled
        # A package that imported but cannot do its job fails the test
        # too, named like an import failure so the result says what to fix.
        if not enabled and package in packages:
            errors[package] = f"{label} support disabled: {detail}"
    raw, heic = support["RAW"], support["HEIC"]
    jpeg = decode["jpeg"]
    _log_decode("JPEG decoding", "OK" if jpeg["ok"] else "FAILED", jpeg, jpeg.get("error", ""))
    if not jpeg["ok"] and "PIL" in packages:
        errors["PIL"] = f"JPEG decoding failed: {jpeg['error']}"

    ok = not errors
    result: dict[str, Any] = {"ok": ok}
    if errors:
        result["errors"] = errors
    result.update(packages=packages, raw=raw, heic=heic, python=platform.python_version(), imports=imports)
    result.update(decode=decode, initializationType=snapstart.initialization_type(), primed=list(snapstart.primed))
    if ok:
        log.info("self-test ok: %s", ", ".join(f"{k} {v}" for k, v in packages.items()))
    else:
        log.error("self-test failed: errors=%s raw=%s heic=%s", sorted(errors), raw, heic)
    return result


def _log_decode(what: str, verdict: str, sample: dict, detail: str) -> None:
    """One line per sample, as the function's CloudWatch lines read:
    "RAW format support: ENABLED (sample decoded in 12.3 ms via demosaic)"."""
    if sample["ok"]:
        log.info("%s: %s (sample decoded in %s ms via %s)", what, verdict, sample["ms"], sample["via"])
    else:
        log.error("%s: %s (%s)", what, verdict, detail)


def api_result(result: dict) -> dict:
    """Wrap a run() result as an API Gateway response: 200 when ok, else 500."""
    return {
        "statusCode": 200 if result.get("ok") else 500,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result),
    }


def api(request: Any = None) -> dict:
    """The /selftest route and the API-shaped body forms."""
    return api_result(run())


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def import_measured(module_name: str) -> dict:
    """Import module_name and return the figures of its first import in
    this process; see the module doc. Raises what the import raises."""
    loaded = sys.modules.get(module_name)
    first = _first_imports.get(module_name)
    if loaded is not None:
        # The same module object as measured: this process's first import.
        # Another one (imported by a request before any self-test): unknown.
        return dict(first[1]) if first is not None and first[0] is loaded else dict(NOT_MEASURED)
    with _CompileCounter() as compiled:
        start = time.perf_counter()
        module = importlib.import_module(module_name)
        ms = (time.perf_counter() - start) * 1000
    figures = {
        "ms": round(ms, 1),
        "compiled": len(compiled) if compiled is not None else None,
        "bytecode": not compiled if compiled is not None else None,
    }
    _first_imports[module_name] = (module, figures)
    return dict(figures)


class _CompileCounter:
    """Counts, for the with block, the modules the import system compiles
    from source: it calls SourceLoader.source_to_code only when a module
    has no valid .pyc, so wrapping it on the class that defines it counts
    real compiles for every loader built on it. Yields the list of source
    paths compiled, or None where this Python has no such method (then
    nothing is counted, and nothing is claimed)."""

    def __enter__(self) -> list | None:
        self._owner = next(
            (c for c in importlib.machinery.SourceFileLoader.__mro__ if "source_to_code" in vars(c)), None
        )
        if self._owner is None:
            return None
        self._real = vars(self._owner)["source_to_code"]
        compiled: list[str] = []
        real = self._real

        def source_to_code(loader, data, path, *args, **kwargs):
            compiled.append(str(path))
            return real(loader, data, path, *args, **kwargs)

        self._owner.source_to_code = source_to_code
        return compiled

    def __exit__(self, *exc) -> bool:
        if self._owner is not None:
            self._owner.source_to_code = self._real
        return False


def _describe_import(figures: dict) -> str:
    """The end of a package's log line: " in 41.2 ms from bytecode"."""
    if figures["ms"] is None:
        return ", loaded by an earlier request: import time not measured"
    text = f" in {figures['ms']} ms"
    n = figures["compiled"]
    if n is None:
        return text
    if n == 0:
        return text + " from bytecode"
    return text + f", {n} module{'s' if n != 1 else ''} compiled from source (no usable bytecode)"


def _raw_support(rawpy: Any) -> tuple[bool, str]:
    if rawpy is None:
        return False, "rawpy did not import"
    version = getattr(rawpy, "libraw_version", None)
    if not version:
        return False, "rawpy reports no LibRaw version"
    libraw = ".".join(str(part) for part in version)
    # flags is None when LibRaw was built without its feature flags.
    flags = getattr(rawpy, "flags", None) or {}
    enabled = sorted(k for k, v in flags.items() if v)
    return True, f"LibRaw {libraw}, flags: {', '.join(enabled) or 'none'}"


def _heic_support(pillow_heif: Any, image: Any) -> tuple[bool, str]:
    if pillow_heif is None:
        return False, "pillow_heif did not import"
    if image is None:
        return False, "PIL did not import, so there is nothing to register a HEIF opener with"
    try:
        pillow_heif.register_heif_opener()
        libheif = pillow_heif.libheif_version()
        info = pillow_heif.libheif_info()
    except Exception as err:  # noqa: BLE001 - a broken libheif is a result
        return False, f"pillow_heif is broken: {_describe(err)}"
    if "HEIF" not in getattr(image, "OPEN", {}):
        return False, "pillow_heif.register_heif_opener() did not register HEIF with PIL"
    if not libheif:
        return False, "pillow_heif reports no libheif version"
    decoders = info.get("decoders") if isinstance(info, dict) else None
    # Older pillow_heif releases have no "decoders" key; only an empty one
    # says libheif was built unable to decode anything.
    if decoders is not None and not decoders:
        return False, f"libheif {libheif} has no decoders"
    names = ", ".join(sorted(decoders)) if decoders else "not listed"
    return True, f"libheif {libheif}, decoders: {names}"
