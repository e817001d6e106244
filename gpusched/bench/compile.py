"""Cold compile per catalog entry, and the calibration of ``backend="auto"``.

    python -m gpusched.bench.compile [--entries N] [--twins] [--out DIR]

Each entry of ``gpusched.examples.check_catalog()`` (with ``--twins``, also every twin case
of the test suite's catalog, from a source checkout) is evaluated, a table then a mean
reduction (400 steps) with ``backend="numba"``, in one fresh process whose kernel cache is an
empty temporary folder: every entry pays its code generation and Numba compile once (the
table and the reduction share one kernel). What a process pays once whatever it compiles,
Numba's start and the scalar helpers kernels call (list searches, Philox, floor...), is timed
first and reported apart. For each entry it also records the plan's size,
the generated source's lines, and the NumPy and (warm, one thread) Numba times of a larger
job, from which it fits the constants of :mod:`gpusched.auto` (printed; copy them there).
Prints the time per entry, the median and the max; ``--out`` also writes ``compile.json``.
Speed is measured here, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_CHILD = r"""
import json, sys, time, warnings
import numpy as np
import gpusched as gs
from gpusched import api, auto, codegen
from gpusched.backends.numba_backend import module_source
from gpusched.examples import check_catalog
warnings.simplefilter("ignore")
entries = check_catalog()[:int(sys.argv[1])]
if sys.argv[2] == "1":
    sys.path.insert(0, sys.argv[3])
    from catalog_cases import build, cases
    for cid, lib, name, kw in cases(with_metrics=False):
        entries.append((cid, build(lib, name, kw), None))
gs.evaluate(gs.schedule(lambda t, a: a * t), gs.grid(a=[1.0]), steps=2, backend="numba")
# the helpers kernels call (list searches, Philox, floor...) compile once per process, like
# Numba's own start: both are timed here, apart from the entries
t0 = time.perf_counter()
gs.evaluate(gs.schedule(lambda t, l, f, s: gs.take(l, gs.count_le(l, t)) + gs.count_lt(l, t)
                        + gs.count_cumsum_le(l, t) + gs.sum_first(l, t) + gs.prod_first(f, t)
                        + gs.random_uniform(s, t) + gs.random_below(5, s, t)
                        + gs.floor(t / 3.0) + gs.ceil(t / 7.0) + gs.minimum(t, 3)
                        + gs.maximum(t / 2.0, 1.0) + gs.minimum(t / 2.0, 9.0)
                        + gs.maximum(t, 2)),
            gs.trials(l=[[1, 5], [2]], f=[[0.5, 0.25], [2.0]], s=[1, 2]), steps=3,
            backend="numba")
helpers_s = time.perf_counter() - t0
rows = []
for label, s, g in entries:
    t0 = time.perf_counter()
    gs.evaluate(s, g, steps=400, backend="numba")
    compile_s = gs.last_call().compile_s
    gs.reduce(s, g, steps=400, op="mean", backend="numba")
    cold = time.perf_counter() - t0
    compile_s += gs.last_call().compile_s
    _, grid, steps, _, bound, plan = api.prepare(s, g, 400, "float32")
    src = module_source(plan, codegen.Layout.of(plan, bound.dtypes), plan.signature)
    # a larger job for the per-element costs: NumPy, and Numba on one thread
    n_steps = max(2000, 2_000_000 // bound.n)
    try:
        gs.reduce(s, g, steps=n_steps, op="mean", backend="numpy")
    except ValueError:          # metric-driven: steps bounded by the metric series
        n_steps = 400
    times = {}
    for be in ("numpy", "numba"):
        gs.reduce(s, g, steps=n_steps, op="mean", backend=be)
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            gs.reduce(s, g, steps=n_steps, op="mean", backend=be)
            best = min(best, time.perf_counter() - t0)
        times[be] = best
    rows.append(dict(label=label, cold_s=cold, compile_s=compile_s, nodes=len(plan.nodes),
                     operations=auto.step_operations(plan),
                     lines=src.count("\n"), pairs=bound.n * n_steps, numpy_s=times["numpy"],
                     numba_s=times["numba"]))
print(json.dumps({"rows": rows, "helpers_s": helpers_s}))
"""

_START = r"""
import time
t0 = time.perf_counter()
import numba
@numba.njit(cache=True)
def f(x):
    return x + 1
f(1)
print(time.perf_counter() - t0)
"""


def measure(entries: int, twins: bool) -> dict:
    test_dir = Path(__file__).resolve().parents[2] / "tests"
    if twins and not (test_dir / "catalog_cases.py").is_file():
        raise SystemExit("--twins reads tests/catalog_cases.py: run it from a source checkout")
    tests = str(test_dir)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, GPUSCHED_CACHE_DIR=cache, GPUSCHED_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", _CHILD, str(entries), str(int(twins)),
                              tests], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def numba_start() -> float:
    """Importing Numba and one cached call in a fresh process (the second of two runs)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "start.py"
        path.write_text(_START)
        subprocess.run([sys.executable, str(path)], check=True, capture_output=True)
        out = subprocess.run([sys.executable, str(path)], check=True, capture_output=True,
                             text=True)
    return float(out.stdout.strip())


def fit(rows: list, start_s: float) -> dict:
    """The constants of gpusched.auto from the measured rows: medians of the per-operation
    costs (metric-driven entries, bounded to a few hundred steps, left out), and a line
    through the compile times (graphs compiled earlier in the run, free, left out)."""
    timed = [r for r in rows if r["pairs"] > 100_000 and r["operations"]]
    per_op = {be: float(np.median([r[be + "_s"] / r["pairs"] / r["operations"] * 1e9
                                   for r in timed])) for be in ("numpy", "numba")}
    fresh = [r for r in rows if r["compile_s"] > 0.05]
    b, a = np.polyfit([r["nodes"] for r in fresh], [r["compile_s"] for r in fresh], 1)
    return {"NUMPY_NS": round(per_op["numpy"], 2), "NUMBA_NS": round(per_op["numba"], 2),
            "START_S": round(start_s, 2), "COMPILE_S": (round(float(a), 3), round(float(b), 4))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=1000, help="first N check-catalog entries")
    ap.add_argument("--twins", action="store_true",
                    help="also every twin case of tests/catalog_cases.py (source checkout)")
    ap.add_argument("--out", help="folder for compile.json")
    args = ap.parse_args(argv)
    measured = measure(args.entries, args.twins)
    rows, helpers_s = measured["rows"], measured["helpers_s"]
    start_s = numba_start()
    print(f"{'entry':45s} {'cold s':>7s} {'compile':>7s} {'nodes':>5s} {'lines':>5s} "
          f"{'numpy ns/el':>11s} {'numba ns/el':>11s}")
    for r in rows:
        print(f"{r['label']:45s} {r['cold_s']:7.2f} {r['compile_s']:7.2f} {r['nodes']:5d} "
              f"{r['lines']:5d} {r['numpy_s'] / r['pairs'] * 1e9:11.2f} "
              f"{r['numba_s'] / r['pairs'] * 1e9:11.2f}")
    cold = sorted(r["cold_s"] for r in rows)
    lines = sorted(r["lines"] for r in rows)
    median = cold[len(cold) // 2]
    print(f"{len(rows)} entries: cold table + reduce median {median:.2f} s, max {cold[-1]:.2f} s,"
          f" total {sum(cold):.1f} s; generated lines median {lines[len(lines) // 2]}, max "
          f"{lines[-1]}; once per process: Numba's start {start_s:.2f} s, the helpers "
          f"{helpers_s:.2f} s")
    constants = fit(rows, start_s)
    print("gpusched/auto.py constants from this run:",
          ", ".join(f"{k} = {v!r}" for k, v in constants.items()))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "compile.json"), "w") as f:
            json.dump({"rows": rows, "median": median, "max": cold[-1], "auto": constants,
                       "helpers_s": helpers_s, "numba_start_s": start_s,
                       "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
