"""gpusched benchmarks: the standard workloads (W1 .. W4) on every usable backend and on the peers.

    gpusched bench [--quick] [--backends numpy,numba] [--peers numpy,jax,optax,torch]
                   [--out DIR]
    python -m gpusched.bench [same options]

Prints a markdown table and writes <machine>.json and .md to ``--out`` (default: a new
temporary folder, never the source tree; the committed results are refreshed with ``--out
bench/results`` from a checkout): elements (config x
step pairs) per second in steady state (best of a few runs, after a first call that
generates and compiles the kernel), the ratio of gpusched's best backend to each peer, and for
table workloads the fraction of the machine's memory-write bandwidth, measured in the same run.
Start-up (import, first call with a cold and with a warm kernel cache) is measured in fresh
processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gpusched as gs
from gpusched.backends import available_backends

from . import peers as P
from .workloads import workloads



def machine_name(gpu: bool = False) -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:40]
    name = f"cpu-{os.cpu_count()}core-{slug}"
    gname = _or_none(gpu_name) if gpu else None
    if gname:
        gslug = re.sub(r"[^a-z0-9]+", "-", gname.split(",")[0].lower()).strip("-")
        name = f"gpu-{gslug}-{name}"
    return name


GPU_BACKENDS = ("cupy", "numba-cuda")


def write_bandwidth(gpu: bool = False) -> float:
    """Bytes per second of filling a float32 array: 256 MiB on the host, 1 GiB on the device
    (with CuPy; a launch is microseconds, small against a 1 GiB fill)."""
    if gpu:
        import cupy
        a = cupy.empty(2 ** 28, dtype=cupy.float32)
        best = float("inf")
        for _ in range(5):
            cupy.cuda.Device().synchronize()
            t0 = time.perf_counter()
            a.fill(1.0)
            cupy.cuda.Device().synchronize()
            best = min(best, time.perf_counter() - t0)
        return a.nbytes / best
    a = np.empty(2 ** 26, dtype=np.float32)
    a.fill(0.0)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        a.fill(1.0)
        best = min(best, time.perf_counter() - t0)
    return a.nbytes / best


def _or_none(fn, *args):
    """``fn(*args)``, or None with the reason on stderr (CuPy missing, say)."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - a missing figure must not stop the run
        print(f"{fn.__name__}: {type(err).__name__}: {err}", file=sys.stderr)
        return None


def gpu_name() -> str:
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return (name.decode() if isinstance(name, bytes) else name) + \
        f", {props['totalGlobalMem'] / 2 ** 30:.0f} GiB, CUDA runtime " \
        f"{cupy.cuda.runtime.runtimeGetVersion()}, CuPy {cupy.__version__}"


_FIRST_CALL = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np, gpusched as gs
t1 = time.perf_counter()
s = gs.schedule(lambda t, peak, w: gs.where(t < w, peak * t / w,
                                            peak * 0.5 * (1 + gs.cos(gs.pi * t / 1000))))
gs.evaluate(s, gs.grid(peak=[0.1, 0.2], w=[10, 20]), steps=100, backend=sys.argv[1])
print(t1 - t0, time.perf_counter() - t1)
"""


# the same measurement for Numba alone: a one-line @njit(cache=True) function in a module
# file (Numba caches only those), imported and called once
_NUMBA_ALONE = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import numba_alone
numba_alone.f(np.arange(3.0))
print(t1 - t0, time.perf_counter() - t1)
"""
_NUMBA_MODULE = """from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x * 2.0\n"""


def startup(backends) -> dict:
    """Import time and first-call time (cold, then warm kernel cache), each in a fresh
    process; for Numba also the floor that Numba itself sets (importing it and calling one
    cached function: its CPU target starts, and it imports SciPy's BLAS when SciPy is there)."""
    out = {}
    if "numba" in backends:
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "numba_alone.py").write_text(_NUMBA_MODULE)
            env = dict(os.environ, NUMBA_CACHE_DIR=folder)
            runs = [[float(x) for x in subprocess.run(
                [sys.executable, "-c", _NUMBA_ALONE, folder], env=env, capture_output=True,
                text=True, check=True).stdout.split()] for _ in range(2)]
        out["numba alone (reference)"] = {"import_s": min(runs[0][0], runs[1][0]),
                                          "first_call_cold_cache_s": runs[0][1],
                                          "first_call_warm_cache_s": runs[1][1]}
    for be in backends:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, GPUSCHED_CACHE_DIR=cache)
            runs = []
            for _ in range(2):   # cold cache, then warm cache
                res = subprocess.run([sys.executable, "-c", _FIRST_CALL, be], env=env,
                                     capture_output=True, text=True, check=True)
                runs.append([float(x) for x in res.stdout.split()])
        out[be] = {"import_s": min(runs[0][0], runs[1][0]), "first_call_cold_cache_s": runs[0][1],
                   "first_call_warm_cache_s": runs[1][1]}
    return out


def latency(backends, calls: int = 300) -> dict:
    """Per-call cost of small calls, as sweep tools and training loops make them (median over
    ``calls``, after warm-up calls): a 1-config x 1,000-step table and mean with each backend,
    then with ``auto`` once the others have run (warm: Numba imported and the kernel
    compiled, as in a sweep's long-running process), and one value, ``schedule(t)``."""
    from ..compat.torch import OneCycleLR
    s = OneCycleLR(max_lr=0.1, total_steps=1000)
    g = gs.grid(pct_start=[0.25])

    def median(fn):
        for _ in range(5):
            fn()
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times))
    out = {}
    cpu = [b for b in backends if b not in GPU_BACKENDS]
    for be in cpu + ["auto"]:
        # auto last: warm, as in a sweep tool's long-running process (the kernel compiled or
        # cached, so its ski rental has settled on the faster backend)
        out[f"evaluate 1 x 1000, {be}"] = median(
            lambda: gs.evaluate(s, g, steps=1000, backend=be))
        out[f"reduce mean 1 x 1000, {be}"] = median(
            lambda: gs.reduce(s, g, steps=1000, backend=be))
    out["schedule(t), one value"] = median(lambda: s(317))
    return out


def synchronize(backend: str) -> None:
    """Wait for the device (GPU backends return before their work is surely done)."""
    if backend == "cupy":
        import cupy
        cupy.cuda.Device().synchronize()
    elif backend == "numba-cuda":
        from numba import cuda
        cuda.synchronize()


def time_gpusched(w, backend: str, repeat: int, to_host: bool = False) -> dict:
    """Steady-state time of one call. A GPU backend's table stays on the device (where the
    next kernel or a DLPack consumer reads it) unless ``to_host``: then the copy counts."""
    call = (lambda: gs.evaluate(w.schedule, w.grid, steps=w.steps, backend=backend,
                                progress=False)) if w.kind == "table" else \
        (lambda: gs.reduce(w.schedule, w.grid, steps=w.steps, op="mean", backend=backend,
                           progress=False))
    device = backend in GPU_BACKENDS

    def once():
        out = call()
        if to_host or not device:
            gs.to_numpy(out)
        synchronize(backend)
        del out                 # its memory returns to the pool before the next call

    t0 = time.perf_counter()
    once()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    n = len(w.grid) * w.steps
    return {"elements": n, "seconds": min(times), "rate": n / min(times), "first_call_s": first,
            "all_seconds": times, "device": "gpu" if device else "cpu"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="gpusched bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--backends", help="comma-separated (default: every usable one)")
    ap.add_argument("--peers", default="numpy,jax,optax,torch,transformers")
    ap.add_argument("--workloads", help="comma-separated names, e.g. W1,W2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="folder for <machine>.json and .md (default: a new "
                    "temporary folder)")
    args = ap.parse_args(argv)

    usable = [n for n, (ok, _) in available_backends().items() if ok]
    backends = args.backends.split(",") if args.backends else usable
    gpu = any(available_backends()[b][1] == "" and b in GPU_BACKENDS for b in backends)
    wanted = set(args.workloads.split(",")) if args.workloads else None
    peer_names = [p for p in args.peers.split(",") if p]

    result = {"machine": machine_name(gpu), "python": platform.python_version(),
              "numpy": np.__version__, "gpusched": gs.__version__, "quick": args.quick,
              "cpu_count": os.cpu_count(), "backends": backends,
              "write_bandwidth_bytes_per_s": write_bandwidth(),
              "device_write_bandwidth_bytes_per_s": _or_none(write_bandwidth, True) if gpu
              else None,
              "gpu": _or_none(gpu_name) if gpu else None,
              "startup": startup(["auto"] + backends),
              "latency": latency(backends, 30 if args.quick else 300),
              "rows": []}
    for w in workloads(args.quick, gpu=gpu):
        if wanted and w.name not in wanted:
            continue
        for be in backends:
            if w.gpu_only and be not in GPU_BACKENDS:
                continue
            runs = [("", False)] + ([(" + copy to host", True)]
                                    if be in GPU_BACKENDS and w.kind == "table" else [])
            for label, to_host in runs:
                r = time_gpusched(w, be, args.repeat, to_host)
                result["rows"].append({"workload": w.name, "title": w.title,
                                       "runner": f"gpusched {be}{label}", **r})
                print(f"{w.name:4s} gpusched {be + label:10s} {r['rate'] / 1e6:10.1f} M/s "
                      f"(first call {r['first_call_s']:.2f} s)", file=sys.stderr)
        peer_table = P.TABLE_PEERS if w.kind == "table" else P.REDUCE_PEERS
        if w.params:
            for name in peer_names:
                fn = peer_table.get(name)
                if fn is None or (w.gpu_only and name not in P.DEVICE_PEERS):
                    continue
                try:
                    n, dt, note = fn(w.params, w.steps)
                except P.Skip as why:
                    result["rows"].append({"workload": w.name, "runner": f"peer {name}",
                                           "skipped": str(why)})
                    continue
                result["rows"].append({"workload": w.name, "title": w.title,
                                       "runner": f"peer {name}", "elements": n, "seconds": dt,
                                       "rate": n / dt, "note": note,
                                       "device": P.device_of(name)})
                print(f"{w.name:4s} peer {name:14s} {_rate(n / dt):>10s} M/s ({note})",
                      file=sys.stderr)
    md = markdown(result)
    print(md)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gpusched-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    stem = result["machine"] + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(md)
    print(f"\nwrote {out / stem}.json and .md", file=sys.stderr)
    return 0


def _rate(per_s: float) -> str:
    m = per_s / 1e6
    return f"{m:,.1f}" if m >= 1 else f"{m:.4f}"


def markdown(result) -> str:
    bw = result["write_bandwidth_bytes_per_s"]
    dbw = result.get("device_write_bandwidth_bytes_per_s")
    gpu = f" GPU: {result['gpu']}." if result.get("gpu") else ""
    lines = [f"Machine: {result['machine']} ({result['cpu_count']} CPUs), Python "
             f"{result['python']}, NumPy {result['numpy']}, gpusched {result['gpusched']}"
             f"{' (quick sizes)' if result['quick'] else ''}.{gpu} Memory-write bandwidth "
             f"(filling 256 MiB): {bw / 1e9:.2f} GB/s = {bw / 4 / 1e6:.0f} M float32/s."
             + (f" Device memory-write bandwidth (CuPy filling 1 GiB): {dbw / 1e9:.1f} GB/s = "
                f"{dbw / 4 / 1e6:,.0f} M float32/s." if dbw else ""), "",
             "| workload | runner | M elements/s | best gpusched / this "
             "| float32 write bandwidth used | note |",
             "|---|---|---:|---:|---:|---|"]
    best: dict = {}
    for r in result["rows"]:
        if r["runner"].startswith("gpusched") and "rate" in r:
            best[r["workload"]] = max(best.get(r["workload"], 0), r["rate"])
    for r in result["rows"]:
        if "rate" not in r:
            lines.append(f"| {r['workload']} | {r['runner']} | — | — | — | "
                         f"skipped: {r['skipped']} |")
            continue
        ratio = best[r["workload"]] / r["rate"]
        table = r.get("title", "").startswith("table")
        limit = dbw if r.get("device") == "gpu" and dbw else bw   # of the device it ran on
        frac = f"{r['rate'] * 4 / limit:.0%}" if table else ""
        note = r.get("note", f"first call {r.get('first_call_s', 0):.2f} s")
        lines.append(f"| {r['workload']} {r.get('title', '')} | {r['runner']} | "
                     f"{_rate(r['rate'])} | {ratio:,.2f}x | {frac} | {note} |")
    lines += ["", "| backend | import gpusched (numpy for the reference) "
              "| first call, cold kernel cache | first call, warm cache |",
              "|---|---:|---:|---:|"]
    for be, s in result["startup"].items():
        lines.append(f"| {be} | {s['import_s']:.3f} s | {s['first_call_cold_cache_s']:.3f} s | "
                     f"{s['first_call_warm_cache_s']:.3f} s |")
    if result.get("latency"):
        lines += ["", "| per-call latency (warm, median) | time |", "|---|---:|"]
        lines += [f"| {k} | {v * 1e6:,.0f} us |" for k, v in result["latency"].items()]
        if result.get("latency_run"):
            lines += ["", result["latency_run"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
