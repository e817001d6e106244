"""``python -m gpusched.bench.precision``: the error of ``precision="fast"`` against
``"exact"``, per catalog entry, written as docs/precision.md.

The fast kernels (float32 arithmetic, float libm functions) are built as host C++ and run
over every (block, thread) like the check-kernels gate; their float32 tables over steps
0..3999 are compared with the exact float64 values of the NumPy backend. Entries: the kernel
gate's catalog (every family, compositions, lambdas) and, in a checkout, every twin case of
tests/catalog_cases.py (one config each). Host libm's float functions are correctly rounded
or within 1 ulp; CUDA's (cosf, expf, powf ...) are within 1-4 ulp (CUDA C++ Programming
Guide, "Mathematical Functions"), so on a GPU the errors below can grow by a few float32
ulps (a few 1e-7 of the value).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def entries(with_twins: bool = True) -> list:
    from ..examples import check_catalog
    out = list(check_catalog())
    root = Path(__file__).resolve().parents[2]
    if with_twins and (root / "tests" / "catalog_cases.py").is_file():
        sys.path.insert(0, str(root / "tests"))
        try:
            import catalog_cases
            import gpusched as gs
            for cid, lib, name, kw in catalog_cases.cases(with_metrics=False):
                out.append((cid, getattr(getattr(gs.compat, lib), name)(**kw), None))
        finally:
            sys.path.remove(str(root / "tests"))
    return out


def measure(with_twins: bool = True):
    from ..kernel_check import fast_errors, units
    return fast_errors(units(entries(with_twins)), Path(tempfile.mkdtemp()))


def markdown(errors) -> str:
    worst_scaled = max(e.max_scaled for e in errors)
    flips = sum(e.flips for e in errors)
    total = sum(e.elements for e in errors)
    lines = [
        "# Precision: `exact` and `fast`", "",
        "`precision=\"exact\"` (the default) computes in float64 and rounds once to the "
        "table's dtype: the NumPy backend's numbers on every backend. `precision=\"fast\"` "
        "(GPU kernels of the `cupy` backend, `dtype=\"float32\"` only) computes in float32 with "
        "the float libm functions and no FP64 instruction: on GPUs whose FP64 runs at 1/64 of "
        "FP32 (L4, RTX 4090, RTX 5090) it is what reaches the memory-bandwidth limit "
        "(`bench/results/gpu-model.md`). Backends without a fast path compute `exact`.", "",
        "Measured by `python -m gpusched.bench.precision` (fast float32 tables over steps "
        "0..3999, built as host C++ and run over every block and thread, against the exact "
        "float64 values):", "",
        f"- {len(errors)} catalog entries and twin cases, {total:,} values;",
        f"- largest error: {worst_scaled:.2e} of the config's largest value (columns "
        "*scaled* and *absolute*);",
        f"- {flips} values ({flips / total:.4%}) land on the other side of a step boundary "
        "(*flips*: the float32 rounding of `t / T`, a log-based cycle count or a float `//` "
        "puts the step in the neighbouring piece, so the value is that of the next or "
        "previous piece for that one step).", "",
        "*relative* is the largest error relative to the exact value, over values at least "
        "1e-6 of the config's largest (near the zeros of a cosine the relative error of any "
        "float32 computation is large while the absolute error stays ~1e-8). On a GPU, "
        "CUDA's float functions (1-4 ulp) can add a few 1e-7 of the value.", "",
        "| entry | values | scaled | absolute | relative | flips |", "|---|---|---|---|---|---|"]
    for e in errors:
        lines.append(f"| {e.label} | {e.elements:,} | {e.max_scaled:.1e} | {e.max_abs:.1e} | "
                     f"{e.max_rel:.1e} | {e.flips} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpusched.bench.precision",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="docs/precision.md", help="the markdown file to write")
    args = p.parse_args(argv)
    Path(args.out).write_text(markdown(measure()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
