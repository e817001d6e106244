"""The loss laws fused with a schedule's generated code: one Numba CPU kernel, no table.

Per config, the multi-power law walks the steps backwards from each prediction step (the
suffix area grows by one rate per step, so the final loss is one pass, O(T)), in blocks
(with several prediction steps, one block: the row up to the last of them, so the schedule
runs T steps and the law O(N K) terms, K the steps where the rate changes): the block's
rates first, then the steps where the rate changes gathered, then their terms
in one loop that LLVM vectorizes (:mod:`gpusched.laws.fastpow`: ``x ** y`` without a libm
call, within ~1e-15 relative of it; the law's sum stays in the walk's order); the annealing
law walks forwards once and records the loss at each prediction step (O(T + N)). The
arithmetic is :mod:`gpusched.laws.model`'s, written as a loop. A config whose rates are
negative or not finite, or whose area is 0, is flagged; the host explains it with NumPy.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .. import codegen, timing
from ..engine.factorized import precompute
from ..backends.inputs import arg_names, flat_inputs, prologue, writeable
from ..backends.numba_backend import MODULE_HEADER, ON_ERROR, TARGETS, indent_text
from ..backends.scalar_helpers import ORDER, source_digest
from ..backends.workers import run_ranges
from ..kernel_cache import load_module, run_kernel
from ..keys import digest

# the value at step j, as the table would hold it; a bad rate flags the config
_RATE = """x = float({root})
if f32:
    x = float(np.float32(x))
if not (x >= 0.0 and math.isfinite(x)) and err[c] == 0:
    err[c] = 1
    errstep[c] = j"""

# per config and prediction step e, blocks of steps from e down to 0: the block's rates
# (and the one before it) into ``rate``, then backwards the suffix area and the steps where
# the rate changes (gathered), then their terms in one vectorized loop (fastpow), then summed
# in the walk's order; a term fastpow does not cover is redone with ``**``. With several
# prediction steps (``gs_whole``) the block is the whole row up to the last of them, filled
# once: the schedule's step code runs T times, not once per prediction step.
_MULTIPOWER = """L0 = lp[0, r]
A = lp[1, r]
alpha = lp[2, r]
B = lp[3, r]
C = lp[4, r]
beta = lp[5, r]
gamma = lp[6, r]
for q in range(ends.shape[0]):
    e = ends[q]
    suf = 0.0
    ld = 0.0
    hi = e + 1
    while hi > 0:
        if gs_whole:
            lo = 0
            first = 0
            f0 = 0
            f1 = gs_top + 1 if q == 0 else 0
        else:
            lo = max(0, hi - gs_block)
            first = max(0, lo - 1)
            f0 = first
            f1 = hi
        for jj in range(f0, f1):
            j = jj
            t = steps[j]
{step}
{rate}
            rate[jj - first] = x
        n = 0
        for k in range(hi - 1, lo - 1, -1):
            x = rate[k - first]
            suf += x
            if k > 0:
                gap = x - rate[k - 1 - first]
                if gap != 0.0 and suf > 0.0:
                    rk[n] = x
                    ak[n] = suf
                    gk[n] = gap
                    n += 1
        if C > 0.0 and n > 0:
            multipower_terms(rk, ak, gk, tk, n, C, beta, gamma)
            for i in range(n):
                term = tk[i]
                if term != term:
                    term = gk[i] * (1.0 - (1.0 + C * rk[i] ** -gamma * ak[i]) ** -beta)
                ld += term
        hi = lo
    out[c, q] = L0 + A * suf ** -alpha + B * ld"""

_ANNEALING = """L0 = lp[0, r]
A = lp[1, r]
alpha = lp[2, r]
C = lp[3, r]
lam = lp[4, r]
s1 = 0.0
m = 0.0
s2 = 0.0
prv = 0.0
q = 0
for jj in range(0, ends[ends.shape[0] - 1] + 1):
    j = jj
    t = steps[j]
{step}
{rate}
    if jj > 0:
        m = lam * m + (prv - x)
        s2 += m
    s1 += x
    prv = x
    while q < ends.shape[0] and ends[q] == jj:
        out[c, q] = L0 + A * s1 ** -alpha - C * s2
        q += 1"""


BLOCK = 2048        # steps per block of the multi-power walk (its scratch: 5 x 16 KiB)
ROW_LIMIT = 1 << 18     # several prediction steps below it: the whole row at once (<= 10 MiB)


def _fastpow_digest() -> str:
    """sha256 of fastpow.py, written in the generated module's text (as the helpers' digest:
    Numba's on-disk cache tracks only the module's own file)."""
    from pathlib import Path
    from . import fastpow
    return hashlib.sha256(Path(fastpow.__file__).read_bytes()).hexdigest()


def module_source(plan, layout, sig: str, pre=None) -> str:
    """``gs_law(steps, law, ends, f32, lp, out, err, errstep, c0, c1, inputs...)``: the
    predicted loss of configs ``c0..c1`` at steps ``ends`` (ascending for the annealing law)
    into ``out``; ``lp`` holds the law's constants, one column per config (or one shared);
    ``pre`` (a factorized.Precomputed) makes the kernel read those nodes from tables."""
    imports, jit, deco, loop, _, _ = TARGETS["cpu"]
    cfg, stp, root = codegen.python_sections(plan, layout, ON_ERROR["cpu"],
                                             pre.reads(plan) if pre else None, remember=True)
    rate = _RATE.format(root=root)
    multipower = _MULTIPOWER.format(step=indent_text(stp, 12), rate=indent_text(rate, 12))
    annealing = _ANNEALING.format(step=indent_text(stp, 4), rate=indent_text(rate, 4))
    laws = "\n".join(["if law == 0:", indent_text(multipower, 4), "else:",
                      indent_text(annealing, 4)]).split("\n")
    args = "".join(", " + a for a in arg_names(layout) + (pre.arg_names() if pre else []))
    body = (prologue(layout) + (pre.prologue() if pre else []) + ["j = -1"] + cfg
            + ["r = c * (lp.shape[1] > 1)"] + laws)
    helpers = "\n".join(f"{h} = _h.{h}" for h in ORDER)
    scratch = "\n".join([
        f"gs_block = {BLOCK}", "gs_top = 0", "for gs_q in range(ends.shape[0]):",
        "    gs_top = max(gs_top, ends[gs_q])",
        f"gs_whole = law == 0 and ends.shape[0] > 1 and gs_top < {ROW_LIMIT}",
        "gs_width = gs_top + 1 if gs_whole else gs_block", "rate = np.empty(gs_width + 1)"]
        + [f"{a} = np.empty(gs_width)" for a in ("rk", "ak", "gk", "tk")])
    return (MODULE_HEADER.format(sig=sig, imports=imports, jit=jit, target="cpu", helpers=helpers,
                                 helpers_digest=source_digest())
            + f"# fastpow {_fastpow_digest()}\nfrom gpusched.laws.fastpow import multipower_terms\n"
            + f"\n\n{deco}\ndef gs_law(steps, law, ends, f32, lp, out, err, errstep, gs_c0, "
            f"gs_c1{args}):\n{indent_text(scratch, 4)}\n"
            f"{indent_text(loop, 4)}\n{indent_text(body, 8)}\n")


def run(plan, bound, steps, law_code: int, ends, f32: bool, const, work_limit: int,
        pre=False) -> tuple:
    """(predictions (n, len(ends)) float64, error flags, flagged steps). On a cartesian grid,
    the expensive step-dependent sub-expressions come from factorized tables, as in the
    Numba backend's kernels (``pre``: those tables, when already built; False: build them
    within ``work_limit`` bytes)."""
    if pre is False:
        pre = precompute(plan, bound, steps, work_limit)
    layout = codegen.Layout.of(plan, bound.dtypes)
    args = flat_inputs(plan, layout, bound, steps) + (pre.args() if pre else [])
    steps = writeable(steps)
    out = np.empty((bound.n, ends.size), dtype=np.float64)
    err = np.zeros(bound.n, dtype=np.int64)
    errstep = np.full(bound.n, -1, dtype=np.int64)
    name = "law_" + digest("law", plan.signature, pre.key if pre else None, BLOCK, ROW_LIMIT)

    def load():
        with timing.compiling():
            return load_module(name, lambda: module_source(plan, layout, plan.signature, pre),
                               "numba")

    def launch(mod):
        def kernel(c0, c1):
            mod.gs_law(steps, law_code, ends, f32, const, out, err, errstep, c0, c1, *args)
        with timing.compiling():        # no configs: compiles or loads, computes nothing
            kernel(0, 0)
        run_ranges(kernel, bound.n, steps.size * ends.size)
    run_kernel(load, launch)
    return out, err, errstep
