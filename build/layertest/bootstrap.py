# Run by layertest as: python -S -s -E -B -c <this> OPT PATH... -- MODULE...
# OPT is the folder standing in for Lambda's /opt; each PATH goes on
# sys.path, in order, ahead of the standard library. Results go to file
# descriptor 3, one JSON object per line ({"start": MODULE} as each import
# begins, then its result), so that whatever the imported modules print on
# stdout cannot be taken for a result.
#
# -B stands in for Lambda's read-only /opt (as PYTHONDONTWRITEBYTECODE=1
# would, which -E ignores): nothing imported can leave bytecode behind, so
# a module without usable bytecode in the layer is compiled from source at
# every import, as it would be at every cold start on Lambda.
import faulthandler
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
import traceback

# Loaded before any timed import, so that every module's time excludes the
# same standard library modules (email, zipfile, csv, ... which the
# version lookups need) rather than the first module paying for them.
try:
    import importlib.metadata as metadata
except ImportError:  # pragma: no cover - every Lambda Python has it
    metadata = None

# An extension that crashes the interpreter still leaves a Python traceback.
faulthandler.enable()
os.set_inheritable(3, False)  # a subprocess started by a module must not hold the pipe open
report = os.fdopen(3, "w", encoding="utf-8")

argv = sys.argv[1:]
sep = argv.index("--")
opt = os.path.realpath(argv[0])
layer_paths, modules = argv[1:sep], argv[sep + 1:]

# -c puts the current directory first; Lambda has no such entry.
if sys.path and sys.path[0] == "":
    del sys.path[0]
# The bootstrap's own imports come before this, from the standard library,
# as the Lambda runtime's do.
sys.path[:0] = layer_paths


def under_opt(path):
    return os.path.realpath(path).startswith(opt + os.sep)


def lambda_path(path):
    # The path as Lambda would show it, /opt/..., not this run's folder.
    return "/opt" + os.path.realpath(path)[len(opt):]


# Every module the import system compiles from source goes through
# SourceLoader.source_to_code (SourceFileLoader.get_code calls it only when
# no valid .pyc was found). Wrapping it on the class that defines it counts
# real compiles, for every loader built on it, and nothing else: a .pyc
# that was used, an extension module or a namespace package is not one.
compiled = []
_compiler = next(c for c in importlib.machinery.SourceFileLoader.__mro__ if "source_to_code" in vars(c))
_source_to_code = _compiler.source_to_code


def _counting_source_to_code(self, data, path, *args, **kwargs):
    if isinstance(path, str) and under_opt(path):
        try:
            pyc = os.path.exists(importlib.util.cache_from_source(path))
        except Exception:  # e.g. no cache tag: then there is no .pyc to use
            pyc = False
        compiled.append({"module": getattr(self, "name", None) or "", "path": lambda_path(path), "pyc": pyc})
    return _source_to_code(self, data, path, *args, **kwargs)


_compiler.source_to_code = _counting_source_to_code


def emit(**fields):
    report.write(json.dumps(fields) + "\n")
    report.flush()


def in_layer(mod):
    # A namespace package has no __file__, only the folders in __path__.
    f = getattr(mod, "__file__", None)
    paths = [f] if f else list(getattr(mod, "__path__", None) or [])
    return bool(paths) and all(under_opt(p) for p in paths)


def as_version(v):
    if isinstance(v, tuple):
        return ".".join(map(str, v))
    if isinstance(v, (str, int, float)):
        return str(v)
    return None  # e.g. a __version__ submodule


_top_level_map = None


def top_level_map():
    # Import name -> distribution names, read once. packages_distributions()
    # came with Python 3.10; for 3.9 the same map is built from each
    # distribution's top_level.txt, else the first part of its RECORD paths.
    global _top_level_map
    if _top_level_map is not None:
        return _top_level_map
    _top_level_map = {}
    if metadata is None:
        return _top_level_map
    try:
        if hasattr(metadata, "packages_distributions"):
            _top_level_map = metadata.packages_distributions()
            return _top_level_map
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            tops = (dist.read_text("top_level.txt") or "").split() or inferred_top_level(dist)
            for top in tops:
                _top_level_map.setdefault(top, []).append(name)
    except Exception:
        pass
    return _top_level_map


def module_name(filename):
    # "six.py" -> "six", "fast.cpython-39-x86_64-linux-gnu.so" -> "fast".
    for suffix in sorted(importlib.machinery.all_suffixes(), key=len, reverse=True):
        if filename.endswith(suffix):
            return filename[:-len(suffix)]
    return None


def inferred_top_level(dist):
    # As packages_distributions() does for a wheel without top_level.txt:
    # the folder of each file in its RECORD, or a top-level module's name.
    tops = set()
    for f in dist.files or []:
        parts = str(f).split("/")
        top = parts[0] if len(parts) > 1 else module_name(parts[0])
        if top and "." not in top:
            tops.add(top)
    return sorted(tops)


def distribution_of(name, mod):
    # The distribution that installed the module's top-level package:
    # "numpy==2.1.3", or None. Where several share a top-level name (a
    # namespace package), the one whose RECORD lists the module's file.
    if metadata is None:
        return None
    top = name.partition(".")[0]
    candidates = list(dict.fromkeys(top_level_map().get(top) or [top]))
    found = []
    for candidate in candidates:
        try:
            found.append(metadata.distribution(candidate))
        except Exception:
            continue
    if not found:
        return None
    chosen = found[0]
    origin = getattr(mod, "__file__", None)
    if len(found) > 1 and origin:
        origin = os.path.realpath(origin)
        for dist in found:
            try:
                if any(os.path.realpath(str(dist.locate_file(f))) == origin for f in dist.files or []):
                    chosen = dist
                    break
            except Exception:
                continue
    try:
        return "%s==%s" % (chosen.metadata["Name"], chosen.version)
    except Exception:
        return None


def version_of(name, mod, dist):
    # The module's own __version__, else the distribution that installed
    # its top-level package, else that package's __version__ (numpy.linalg
    # is numpy's version).
    v = as_version(getattr(mod, "__version__", None))
    if v is not None:
        return v
    if dist is not None:
        return dist.partition("==")[2]
    top = name.partition(".")[0]
    v = as_version(getattr(sys.modules.get(top), "__version__", None))
    return "-" if v is None else v


def finish(code):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    report.close()
    # Skips interpreter shutdown: a module's non-daemon thread or atexit
    # hook must not hang or change the outcome of the test.
    os._exit(code)


for name in modules:
    # Said first, so that a test that runs out of time names the module
    # whose import did not end.
    emit(start=name)
    del compiled[:]
    start = time.perf_counter()
    try:
        mod = importlib.import_module(name)
    except BaseException as e:
        summary = traceback.format_exception_only(type(e), e)[-1].strip()
        emit(module=name, ok=False, error=summary, traceback=traceback.format_exc())
        finish(1)
    ms = (time.perf_counter() - start) * 1000
    # What this import compiled, before the lookups below can add to it.
    done = list(compiled)
    dist = distribution_of(name, mod)
    emit(module=name, ok=True, version=version_of(name, mod, dist), dist=dist,
         inLayer=in_layer(mod), ms=ms, compiled=done)
finish(0)
