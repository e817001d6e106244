"""W5: screening a WSD family by the multi-power law's predicted final loss.

    python -m gpusched.bench.laws [--quick] [--out DIR]
    python -m gpusched.bench.laws --fit ../shared/reference/loss-curves

``--fit``: the multi-power law fitted by ``gs.laws.fit`` (both methods) on each model's three
training curves, its held-out metrics beside the published fit's (``fit-<model>`` records).

100,000+ configs (decay length x decay shape x peak x warmup) at 24,000 steps, law constants of
the reference's 100M fit. Reported: (config, step) terms per second of each gpusched backend
and of two peers in the same run: the reference code's algorithm transcribed in NumPy, one
schedule at a time (``lr_sum[s] - lr_sum[:s]`` suffix sums, as its ``evaluate``), and the
whole law vectorized over a (configs x steps) NumPy table, as a user would write it. Both
peers are handed the rates ready made (their table is not timed); gpusched's figures include
evaluating the schedule. Slow paths run a sample of the configs; the terms/s are comparable.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import gpusched as gs

STEPS = 24_000
REPEAT = 3          # every row: the best of 3 timed runs (after a warm one for gpusched)
LAW_100M = dict(L0=2.6514477, A=0.60115152, alpha=0.45295811, B=437.9464276, C=2.13245612,
                beta=0.59785199, gamma=0.65523644)


def wsd_family(n_decay=40, n_peak=25, n_warmup=34):
    """The W5 schedule and grid: transformers' WSD to 10 % of the peak."""
    from ..compat.transformers import get_wsd_schedule
    sched = get_wsd_schedule(num_training_steps=STEPS, min_lr_ratio=0.1)
    grid = gs.grid(num_decay_steps=np.linspace(500, 16_000, n_decay).astype(int),
                   decay_type=["linear", "cosine", "1-sqrt"],
                   base_lr=np.geomspace(1e-4, 1e-3, n_peak),
                   num_warmup_steps=np.linspace(100, 3400, n_warmup).astype(int))
    return sched, grid


def reference_loop(table, p) -> np.ndarray:
    """The reference's evaluation, one schedule at a time, at the last step."""
    out = np.empty(table.shape[0])
    s = table.shape[1] - 1
    for i, lrs in enumerate(table):
        lr_sum = np.cumsum(lrs)
        lr_gap = np.zeros(len(lrs))
        lr_gap[1:] = np.diff(lrs)
        with np.errstate(all="ignore"):
            ld: float = np.sum(lr_gap[1:s + 1] * (1 - (1 + p["C"] * lrs[1:s + 1] ** (
                -p["gamma"]) * (lr_sum[s] - lr_sum[:s])) ** (-p["beta"])))
        out[i] = p["L0"] + p["A"] * lr_sum[s] ** (-p["alpha"]) + p["B"] * ld
    return out


def vectorized(table, p) -> np.ndarray:
    """The law over a whole (configs x steps) table at once."""
    lr_sum = np.cumsum(table, axis=1)
    suffix = lr_sum[:, -1:] - lr_sum[:, :-1]                   # sum eta[k..T-1], k = 1..
    gap = np.diff(table, axis=1)
    with np.errstate(all="ignore"):
        g = 1 - (1 + p["C"] * table[:, 1:] ** (-p["gamma"]) * suffix) ** (-p["beta"])
    ld = np.sum(np.where(gap != 0, gap * g, 0.0), axis=1)
    return p["L0"] + p["A"] * lr_sum[:, -1] ** (-p["alpha"]) + p["B"] * ld


def _best(fn, repeat):
    best, value = np.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def run(quick: bool = False) -> dict:
    sched, grid = wsd_family(*((4, 3, 3) if quick else (40, 25, 34)))
    law = gs.laws.MultiPower(**LAW_100M)
    n = len(grid)
    sample = gs.trials(**{k: [grid[i][k] for i in range(0, n, max(1, n // 200))]
                          for k in grid.names})
    rows, check = [], None
    table = gs.evaluate(sched, sample, steps=STEPS, dtype="float64", backend="numpy")
    ref_t, ref = _best(lambda: reference_loop(table, LAW_100M), REPEAT)
    rows.append(("peer: reference algorithm, NumPy, per schedule", len(sample), ref_t))
    vec_t, vec = _best(lambda: vectorized(table, LAW_100M), REPEAT)
    rows.append(("peer: NumPy vectorized over a table", len(sample), vec_t))
    np.testing.assert_allclose(vec, ref, rtol=1e-10)
    backends = [b for b, (ok, _) in gs.backends.available_backends().items() if ok]
    for b in backends:
        full = b != "numpy"
        g = grid if full else sample
        gs.predict_loss(sched, g, steps=STEPS, law=law, backend=b)    # compile, warm
        t, got = _best(lambda: gs.predict_loss(sched, g, steps=STEPS, law=law, backend=b),
                       REPEAT)
        rows.append((f"gpusched {b}", len(g), t))
        mine = got if not full else gs.predict_loss(sched, sample, steps=STEPS, law=law,
                                                    backend=b)
        np.testing.assert_allclose(mine, ref, rtol=1e-10)
        check = "every backend equals the reference algorithm to 1e-10 on the sample"
    ref_rate = len(sample) * STEPS / ref_t
    result = {"workload": "W5", "configs": n, "steps": STEPS, "law": LAW_100M, "check": check,
              "rows": [{"what": w, "configs": c, "seconds": s, "terms_per_s": c * STEPS / s,
                        "x_reference": c * STEPS / s / ref_rate} for w, c, s in rows]}
    return result


def project_gpu(quick: bool = False) -> list:
    """W5 on the GPUs of the cost model (gpusched.bench.gpu_model): the fused law kernel as
    the CuPy backend compiles it (factorized tables as for the whole grid), its hot loop
    counted per (config, step) term from the SASS nvcc emits. A projection, not a
    measurement. The loop is counted whole, as if every step changed the rate (the pow
    calls are on a branch taken only there): an upper bound on the work per term."""
    from . import gpu_model as M
    from ..api import prepare
    from .. import codegen
    from ..engine.factorized import precompute
    from ..laws import cuda
    sched, grid = wsd_family(*((4, 3, 3) if quick else (40, 25, 34)))
    _, _, steps, _, bound, plan = prepare(sched, grid, STEPS, "float64")
    pre = precompute(plan, bound, steps, 2 ** 30)
    layout = codegen.Layout.of(plan, bound.dtypes)
    src = cuda.law_unit(plan, layout, pre, instantiate=("true",))
    out = []
    for gpu in M.GPUS:
        counts = M.compile_and_count(src, gpu.sm, "law", 1, 1, float(STEPS))
        nbytes = 8.0 * len(pre.nodes) if pre else 0.0       # table reads, at most
        bound_by, eps, _ = M.project(counts, gpu, nbytes)
        per = counts.per_element
        out.append({"gpu": gpu.name, "sm": f"sm_{gpu.sm}",
                    "instructions_per_term": round(sum(per.values()), 1),
                    "fp64_per_term": round(per.get("fp64", 0.0), 1),
                    "calls_per_term": round(per.get("call", 0.0), 2),
                    "registers": counts.registers, "spills": counts.spills,
                    "bound": bound_by, "projected_terms_per_s": float(f"{eps:.3g}")})
    return out


def markdown(res: dict) -> str:
    lines = [f"# W5: multi-power law, final loss of {res['configs']:,} WSD configs x "
             f"{res['steps']:,} steps", "", "`python -m gpusched.bench.laws` on this machine, "
             f"one run, each row the best of {REPEAT} timings; " + res["check"] + ".", "",
             "| what | configs timed | seconds | terms/s | x reference loop |",
             "|---|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['what']} | {r['configs']:,} | {r['seconds']:.3f} | "
                     f"{r['terms_per_s']:.3g} | {r['x_reference']:.1f} |")
    if res.get("gpu_projection"):
        lines += ["", "Projected, not measured (no GPU was used): the fused CUDA kernel "
                  "(`gpusched/laws/cuda.py`) for this grid, compiled by nvcc, its loop counted "
                  "per term from the SASS (`gpusched.bench.gpu_model`), as if every step "
                  "changed the rate.", "",
                  "| GPU | arch | instructions/term | FP64/term | calls/term | registers | "
                  "bound | projected terms/s |", "|---|---|---:|---:|---:|---:|---|---:|"]
        for g in res["gpu_projection"]:
            lines.append(f"| {g['gpu']} | {g['sm']} | {g['instructions_per_term']} | "
                         f"{g['fp64_per_term']} | {g['calls_per_term']} | {g['registers']} | "
                         f"{g['bound']} | {g['projected_terms_per_s']:.3g} |")
    return "\n".join(lines) + "\n"


PUBLISHED = {
    "25M": ([3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013,
             0.64142257], dict(R2=0.9988, MAE=0.00376, RMSE=0.00465, PredE=0.00110,
                               WorstE=0.00409)),
    "100M": ([2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199,
              0.65523644], dict(R2=0.9983, MAE=0.00435, RMSE=0.00592, PredE=0.00142,
                                WorstE=0.00583)),
}
TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")


def reference_lrs(name: str, peak=3e-4, end=3e-5, warmup=2160) -> np.ndarray:
    """Every step's rate of a reference curve (loss-laws.md): np.linspace warmup, then cosine,
    constant, WSD (exponential or linear decay from step D) or a step at 8000."""
    kind, *rest = name.split("_")
    T = 16000 if kind == "wsdcon" else int(rest[-1])
    t: np.ndarray = np.arange(T, dtype=np.float64)
    eta = np.full(T, peak)
    if kind == "cosine":
        eta = end + 0.5 * (peak - end) * (1 + np.cos(np.pi * (t - warmup) / (T - warmup)))
    elif kind in ("wsd", "wsdld"):
        D = int(rest[0])
        x = (t - D) / (T - D)
        eta = np.where(t < D, peak, peak ** (1 - x) * end ** x if kind == "wsd"
                       else peak + (end - peak) * x)
    elif kind == "wsdcon":
        eta = np.where(t < 8000, peak, int(rest[0]) * 1e-5)
    eta[:warmup] = np.linspace(0, peak, warmup)
    return eta


def fit_reference(folder) -> list:
    records = []
    for model, (published, published_test) in PUBLISHED.items():
        curves = gs.laws.read_curves(Path(folder) / model)
        runs = {k: c.run(reference_lrs(k)) for k, c in curves.items()}
        test = {k: r for k, r in runs.items() if k not in TRAIN}
        rows: list[tuple[str, list[float], float | None]] = [("published", published, None)]
        for method in ("adam", "lbfgs"):
            t = time.perf_counter()
            law = gs.laws.fit(gs.laws.MultiPower, runs, train=list(TRAIN), method=method)
            rows.append((f"gs.laws.fit method={method}", list(law.constants().values()),
                         time.perf_counter() - t))
        for what, constants, seconds in rows:
            law = gs.laws.MultiPower(*constants)
            records.append({"model": model, "what": what, "constants": constants,
                            "seconds": seconds,
                            "held_out": gs.laws.metrics(law, test)["mean"],
                            "published_held_out": published_test})
    return records


def fit_markdown(records) -> str:
    lines = ["# The multi-power law fitted on the reference's training curves", "",
             "`python -m gpusched.bench.laws --fit ../shared/reference/loss-curves`; held-out "
             "metrics, means over the 6 test curves (published: the README's figures).", "",
             "| model | constants | fit s | R2 | MAE | RMSE | PredE | WorstE |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in records:
        m = r["held_out"]
        lines.append(f"| {r['model']} | {r['what']} | "
                     f"{'' if r['seconds'] is None else format(r['seconds'], '.1f')} | "
                     f"{m['R2']:.5f} | {m['MAE']:.5f} | {m['RMSE']:.5f} | {m['PredE']:.5f} | "
                     f"{m['WorstE']:.5f} |")
    for model, (_, pub) in PUBLISHED.items():
        lines.append(f"| {model} | published metrics | | {pub['R2']} | {pub['MAE']} | "
                     f"{pub['RMSE']} | {pub['PredE']} | {pub['WorstE']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gpusched.bench.laws", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small grid (a smoke run)")
    ap.add_argument("--out", help="folder for loss-laws.json/.md (default: a temporary one)")
    ap.add_argument("--project-only", action="store_true",
                    help="only the GPU projection (needs nvcc, cuobjdump, nvdisasm)")
    ap.add_argument("--fit", metavar="FOLDER", help="fit the reference curves in FOLDER "
                    "(25M/, 100M/) instead; writes loss-law-fits.json/.md")
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="gpusched-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.fit:
        records = fit_reference(args.fit)
        (out / "loss-law-fits.json").write_text(json.dumps(records, indent=2) + "\n")
        (out / "loss-law-fits.md").write_text(fit_markdown(records))
        print(fit_markdown(records))
        print(f"wrote {out / 'loss-law-fits.json'} and .md")
        return 0
    if args.project_only:
        path = out / "loss-laws.json"
        res = json.loads(path.read_text()) if path.exists() else {"rows": []}
    else:
        res = run(args.quick)
    from .gpu_model import tool
    if tool("nvcc") and tool("cuobjdump") and tool("nvdisasm"):
        res["gpu_projection"] = project_gpu(args.quick)
    (out / "loss-laws.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "loss-laws.md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {out / 'loss-laws.json'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
