# Run by layertest as: python -S -s -E -B -c <this> OPT PATH... -- MODULE...
# OPT is the folder standing in for Lambda's /opt; each PATH goes on
# sys.path, in order, ahead of the standard library. Results go to file
# descriptor 3, one JSON object per line, so that whatever the imported
# modules print on stdout cannot be taken for a result.
import faulthandler
import importlib
import json
import os
import sys
import traceback

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


def emit(**fields):
    report.write(json.dumps(fields) + "\n")
    report.flush()


def in_layer(mod):
    # A namespace package has no __file__, only the folders in __path__.
    f = getattr(mod, "__file__", None)
    paths = [f] if f else list(getattr(mod, "__path__", None) or [])
    return bool(paths) and all(
        os.path.realpath(p).startswith(opt + os.sep) for p in paths)


def as_version(v):
    if isinstance(v, tuple):
        return ".".join(map(str, v))
    if isinstance(v, (str, int, float)):
        return str(v)
    return None  # e.g. a __version__ submodule


def version_of(name, mod):
    # The module's own __version__, else the distribution that installed
    # its top-level package, else that package's __version__ (numpy.linalg
    # is numpy's version).
    v = as_version(getattr(mod, "__version__", None))
    if v is not None:
        return v
    top = name.partition(".")[0]
    try:
        import importlib.metadata as md
        dists = md.packages_distributions().get(top) or [top]
        return md.version(dists[0])
    except Exception:
        pass
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
    try:
        mod = importlib.import_module(name)
    except BaseException as e:
        summary = traceback.format_exception_only(type(e), e)[-1].strip()
        emit(module=name, ok=False, error=summary, traceback=traceback.format_exc())
        finish(1)
    emit(module=name, ok=True, version=version_of(name, mod), inLayer=in_layer(mod))
finish(0)
