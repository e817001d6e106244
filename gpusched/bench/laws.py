"""W5: screening a WSD family by the multi-power law's predicted final loss.

    python -m gpusched.bench.laws [--quick] [--out DIR]

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
LAW_100M = dict(L0=2.6514477, A=0.60115152, alpha=0.45295811, B=437.9464276, C=2.13245612,
                beta=0.59785199, gamma=0.65523644)


def wsd_family(n_decay=40, n_peak=25, n_warmup=34):
    """The W5 schedule and grid: transformers' WSD to 10 % of the peak."""
    sched = gs.compat.transformers.get_wsd_schedule(num_training_steps=STEPS, min_lr_ratio=0.1)
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
            ld = np.sum(lr_gap[1:s + 1] * (1 - (1 + p["C"] * lrs[1:s + 1] ** (-p["gamma"]) * (
                lr_sum[s] - lr_sum[:s])) ** (-p["beta"])))
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
    ref_t, ref = _best(lambda: reference_loop(table, LAW_100M), 1)
    rows.append(("peer: reference algorithm, NumPy, per schedule", len(sample), ref_t))
    vec_t, vec = _best(lambda: vectorized(table, LAW_100M), 2)
    rows.append(("peer: NumPy vectorized over a table", len(sample), vec_t))
    np.testing.assert_allclose(vec, ref, rtol=1e-10)
    backends = [b for b, (ok, _) in gs.backends.available_backends().items() if ok]
    for b in backends:
        full = b != "numpy"
        g = grid if full else sample
        gs.predict_loss(sched, g, steps=STEPS, law=law, backend=b)    # compile, warm
        t, got = _best(lambda: gs.predict_loss(sched, g, steps=STEPS, law=law, backend=b),
                       1 if full else 2)
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


def markdown(res: dict) -> str:
    lines = [f"# W5: multi-power law, final loss of {res['configs']:,} WSD configs x "
             f"{res['steps']:,} steps", "", "`python -m gpusched.bench.laws` on this machine, "
             "one run; " + res["check"] + ".", "",
             "| what | configs timed | seconds | terms/s | x reference loop |",
             "|---|---:|---:|---:|---:|"]
    for r in res["rows"]:
        lines.append(f"| {r['what']} | {r['configs']:,} | {r['seconds']:.3f} | "
                     f"{r['terms_per_s']:.3g} | {r['x_reference']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gpusched.bench.laws", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small grid (a smoke run)")
    ap.add_argument("--out", help="folder for loss-laws.json/.md (default: a temporary one)")
    args = ap.parse_args(argv)
    res = run(args.quick)
    out = Path(args.out or tempfile.mkdtemp(prefix="gpusched-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "loss-laws.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "loss-laws.md").write_text(markdown(res))
    print(markdown(res))
    print(f"wrote {out / 'loss-laws.json'} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
