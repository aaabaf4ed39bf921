#!/usr/bin/python3
"""bench/app_images.py - the app's image costs, measured (bench/run calls it).

Run with Debian's /usr/bin/python3 (python3-pil, python3-numpy,
python3-tifffile, libraw20, libraw-dev, rawtran-doc): rawpy is the tests'
ctypes stand-in over Debian's LibRaw 0.20.2 (app/tests/libraw_ctypes), not
rawpy's wheel with its bundled LibRaw, so absolute decode times are this
LibRaw's on this machine. Each figure is the median of --runs runs.

1. RAW decodes, through the route's own path (imaging/raw.decode: a forked
   child under the limits a 1,024 MB function gets), on the real Canon EOS
   30D CR2 (8.2 MP) and synthetic DNGs of 24 MP (6000x4000) and 61 MP
   (9504x6336) with a 1620x1080 JPEG preview, as cameras embed:
     preview   size 256: the embedded preview, decoded at a reduced DCT scale
     demosaic  size 2048: larger than the preview, so a half-size demosaic
   ms is the wall time of raw.decode (fork, decode, thumbnail, answer);
   child-MB is the decoding child's peak RSS (getrusage of the reaped
   child, which includes what it shares with the parent: the input bytes
   and the imported libraries); growth-MB is its peak address space less
   what it inherited (what RLIMIT_AS limits); limit-MB that limit for a
   1,024 MB function holding this parent's resident memory.

2. Priming (issue 16): in fresh interpreters, the time to load api.py as
   Lambda's init does, with AWS_LAMBDA_INITIALIZATION_TYPE=snap-start
   (imports numpy, PIL, rawpy and decodes the samples) and with on-demand
   (lazy: nothing), and the first thumbnail request after each: a 1.5 MP
   JPEG upload and the CR2's preview. "moved" is what priming takes out of
   a cold first request. This is the import-and-warm-up cost a SnapStart
   snapshot would keep, measured here: it is not a Lambda figure, which
   also has the restore itself and Lambda's CPU share (0.58 vCPU at 1,024
   MB). pillow_heif is not installed here, so HEIC's part is missing from
   both sides.

    /usr/bin/python3 -B bench/app_images.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP = os.path.join(ROOT, "app")
STANDIN = os.path.join(APP, "tests", "libraw_ctypes")
CR2 = "/usr/share/doc/rawtran/IMG_5952.CR2"
FUNCTION_MB = 1024
MB = 2**20


def decode_case(path: str, size: int, runs: int) -> dict:
    """One decode, measured in a fresh interpreter per run (so each child's
    peak RSS is its own); the medians."""
    samples = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-B", "-s", __file__, "--decode-one", path, str(size)],
                              capture_output=True, text=True, timeout=600, env=_env())
        if proc.returncode != 0:
            raise SystemExit(f"decoding {path} at {size} failed:\n{proc.stderr}")
        samples.append(json.loads(proc.stdout))
    out = {k: statistics.median(s[k] for s in samples) for k in ("ms", "child_mb", "growth_mb", "limit_mb")}
    out["via"] = samples[0]["via"]
    return out


def decode_one(path: str, size: int) -> None:
    """In this process: read the file, decode once through raw.decode with
    the child reporting its address-space peak, print the figures."""
    sys.path[:0] = [APP, STANDIN]
    import rawpy  # noqa: F401 - imported before the fork, as the route does

    from imaging import isolate, raw

    with open(path, "rb") as f:
        data = f.read()
    limits = raw.limits(function_mb=FUNCTION_MB)
    real_thumbnail = raw.thumbnail

    def measured(*args):
        before = _status("VmSize")
        meta, payload = real_thumbnail(*args)
        meta["growth"] = _status("VmPeak") - before
        return meta, payload

    raw.thumbnail = measured
    start = time.perf_counter()
    meta, _ = raw.decode(data, size, max_preview_pixels=60_000_000, limits_=limits)
    ms = (time.perf_counter() - start) * 1000
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"ms": ms, "via": meta["source"]["raw"]["via"], "child_mb": child_kb / 1024,
                      "growth_mb": meta["growth"] / MB, "limit_mb": limits.memory / MB}))


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def priming(runs: int) -> dict:
    """Init and first-request times, snap-start against on-demand."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1500, 1000), "green").save(buf, "JPEG", quality=90)
    jpeg = base64.b64encode(buf.getvalue()).decode()
    figures = {}
    for init_type in ("snap-start", "on-demand"):
        rows = []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-B", "-s", __file__, "--cold-start", init_type],
                                  input=jpeg, capture_output=True, text=True, timeout=600, env=_env())
            if proc.returncode != 0:
                raise SystemExit(f"cold start ({init_type}) failed:\n{proc.stderr}")
            rows.append(json.loads(proc.stdout))
        figures[init_type] = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "primed"}
        figures[init_type]["primed"] = rows[0]["primed"]
    return figures


def cold_start(init_type: str) -> None:
    """In this fresh process: load api.py as Lambda's init does, then one
    JPEG thumbnail request and one RAW (the CR2's preview, read into the
    request path directly since 7.5 MB exceeds a request)."""
    jpeg = sys.stdin.read()
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = init_type
    sys.path[:0] = [APP, STANDIN]
    start = time.perf_counter()
    import api

    init_ms = (time.perf_counter() - start) * 1000
    from utils import snapstart

    event = {"rawPath": "/images/thumbnail", "requestContext": {"http": {"method": "POST"}, "stage": "$default"},
             "headers": {"content-type": "application/json"}, "body": json.dumps({"image": jpeg, "size": 256})}
    start = time.perf_counter()
    response = api.handler(event, None)
    jpeg_ms = (time.perf_counter() - start) * 1000
    assert response["statusCode"] == 200, response
    from imaging import raw

    with open(CR2, "rb") as f:
        data = f.read()
    start = time.perf_counter()
    raw.decode(data, 256, max_preview_pixels=60_000_000)
    raw_ms = (time.perf_counter() - start) * 1000
    print(json.dumps({"init_ms": init_ms, "first_jpeg_ms": jpeg_ms, "first_raw_ms": raw_ms,
                      "primed": snapstart.primed}))


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
    env.update(RAWPY_STANDIN_OFFSETS=_OFFSETS, LOG_LEVEL="WARNING", PYTHONPATH="")
    return env


_OFFSETS = os.path.join(tempfile.gettempdir(), f"rawpy-standin-offsets-{os.getuid()}.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the CR2 and the 24 MP DNG only, 3 runs")
    parser.add_argument("--decode-one", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--cold-start", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decode_one:
        return decode_one(args.decode_one[0], int(args.decode_one[1]))
    if args.cold_start:
        return cold_start(args.cold_start)
    runs = 3 if args.quick else args.runs

    sys.path[:0] = [APP, STANDIN]
    os.environ["RAWPY_STANDIN_OFFSETS"] = _OFFSETS
    from tests import rawgen

    terminal = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        files = [("Canon EOS 30D CR2, 8.2 MP", CR2)]
        sizes = [("24 MP DNG", 6000, 4000)] + ([] if args.quick else [("61 MP DNG", 9504, 6336)])
        for label, w, h in sizes:
            if terminal:
                print(f"writing the {label} ...", file=sys.stderr)
            path = os.path.join(tmp, f"{w}x{h}.dng")
            with open(path, "wb") as f:
                f.write(rawgen.dng(width=w, height=h, preview=(1620, 1080)))
            files.append((f"synthetic {label} ({os.path.getsize(path) / MB:.0f} MB)", path))
        print(f"RAW decodes through raw.decode, limits of a {FUNCTION_MB} MB function, median of {runs}:")
        print(f"{'file':44} {'via':9} {'ms':>8} {'child-MB':>9} {'growth-MB':>10} {'limit-MB':>9}")
        for label, path in files:
            for size in (256, 2048):
                if terminal:
                    print(f"decoding {label} at {size} ...", file=sys.stderr)
                r = decode_case(path, size, runs)
                print(f"{label:44} {r['via']:9} {r['ms']:8.0f} {r['child_mb']:9.0f} {r['growth_mb']:10.0f} "
                      f"{r['limit_mb']:9.0f}")

    print(f"\nPriming: fresh interpreter, load api.py, then the first requests; median of {runs}:")
    figures = priming(runs)
    print(f"{'init type':12} {'init-ms':>8} {'1st-JPEG-ms':>12} {'1st-RAW-ms':>11}  primed")
    for init_type, f in figures.items():
        print(f"{init_type:12} {f['init_ms']:8.1f} {f['first_jpeg_ms']:12.1f} {f['first_raw_ms']:11.1f}  "
              f"{', '.join(f['primed']) or '-'}")
    snap, lazy = figures["snap-start"], figures["on-demand"]
    moved = (lazy["first_jpeg_ms"] + lazy["first_raw_ms"]) - (snap["first_jpeg_ms"] + snap["first_raw_ms"])
    print(f"priming keeps {snap['init_ms'] - lazy['init_ms']:.1f} ms of imports and warm-up in init "
          f"(what a snapshot would hold) and takes {moved:.1f} ms out of the first JPEG + RAW requests")


if __name__ == "__main__":
    main()
