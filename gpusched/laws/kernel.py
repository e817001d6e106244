"""The loss laws fused with a schedule's generated code: one Numba CPU kernel, no table.

The schedule's step code is written once, in ``gs_fill`` (the rates of a range of steps into
a buffer); every walk of the law calls it. Per config, the multi-power law walks the steps
backwards from each prediction step (the suffix area grows by one rate per step, so the final
loss is one pass, O(T)), in blocks (with several prediction steps, one block: the row up to
the last of them, so the schedule runs T steps and the law O(N K) terms, K the steps where
the rate changes): the block's rates first, then the steps where the rate changes gathered,
then their terms in one loop that LLVM vectorizes (:mod:`gpusched.laws.fastpow`: ``x ** y``
without a libm call, within ~1e-15 relative of it; the law's sum stays in the walk's order);
the annealing law walks forwards and records the loss at each prediction step (O(T + N)).
Configs that share the schedule's shape (:mod:`gpusched.laws.sharing`: ``base_lr`` x shape,
law constants as columns) come consecutively: the shape is walked once, and each config
scales its sums (no step code; at most one power per changing step, none where the binomial
series of :func:`gpusched.laws.walks.shared_sum` applies; summed in four lanes). The arithmetic
is :mod:`gpusched.laws.model`'s, written as a loop. A config whose rates are negative or not
finite, or whose area is 0, is flagged; the host explains it with NumPy.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .. import codegen, timing
from . import sharing
from ..engine.factorized import precompute
from ..backends.inputs import arg_names, flat_inputs, prologue, writeable
from ..backends.numba_backend import MODULE_HEADER, ON_ERROR, TARGETS, indent_text
from ..backends.scalar_helpers import ORDER, source_digest
from ..backends.workers import run_ranges
from ..kernel_cache import load_module, run_kernel
from ..keys import digest

# the rates of steps f0..f1 into rate[jj - first]: the schedule's (``shape``: its shape's);
# a bad rate flags the config. Returns the config's scale (the schedule is scale * shape).
# The schedule's step code is written here once: every walk of the law calls this.
_FILL = """gs_steps = steps[f0:f1]
gs_rates = rate[f0 - first:f1 - first]
for gs_at in range(gs_steps.shape[0]):
    j = f0 + gs_at
    t = gs_steps[gs_at]
{step}
    x = float({shape}) if shape else float({root})
    if f32:
        x = float(np.float32(x))
    if not (x >= 0.0 and math.isfinite(x)) and err[c] == 0:
        err[c] = 1
        errstep[c] = j
    gs_rates[gs_at] = x
return float({scale})"""

# per config and prediction step e, blocks of steps from e down to 0: the block's rates
# (and the one before it) into ``rate``, then backwards the suffix area and the steps where
# the rate changes (gathered), then their terms (laws/walks.py). With several prediction
# steps (``gs_whole``) the block is the whole row up to the last of them, filled once: the
# schedule's step code runs T times, not once per prediction step.
_MULTIPOWER = """for q in range(ends.shape[0]):
    suf = 0.0
    ld = 0.0
    hi = ends[q] + 1
    while hi > 0:
        if gs_whole:
            lo = gs_0
            first = gs_0
            f1 = gs_top + 1 if q == 0 else gs_0
            gs_fill(steps, c, gs_0, f1, gs_0, gs_no, f32, rate, err, errstep{args})
        else:
            lo = max(gs_0, hi - gs_block)
            first = max(gs_0, lo - 1)
            gs_fill(steps, c, first, hi, first, gs_no, f32, rate, err, errstep{args})
        n, suf, _ = gather(rate, first, lo, hi, suf, rk, ak, gk, kk, gs_0)
        if C > 0.0:
            weights(rk, ak, uk, gs_0, n, gamma)
            ld = scaled_sum(uk, gk, tk, gs_0, n, C, beta, ld, tk)
        hi = lo
    out[c, q] = L0 + A * suf ** -alpha + B * ld"""

# forwards over blocks of steps (one for a shared shape), S1 and S2 recorded at each
# prediction step (ascending)
_ANNEALING = """gs_state[:] = 0.0
lo = gs_0
while lo <= gs_top:
    hi = min(gs_top + 1, lo + gs_width)
    gs_fill(steps, c, lo, hi, lo, {shape}, f32, rate, err, errstep{args})
    annealing_walk(rate, lo, hi, lam, ends, gs_state, {s1}, {s2})
    lo = hi"""

# per config (in ``gs_order`` when shapes are shared, laws/sharing.py): a shape's lead walks
# the shape once (its row, areas, gaps, weights and series tables); a config of a shared
# shape whose scale is positive and keeps the rates finite scales them (walks.shared_sum); any
# other config walks its own schedule (and a flag it raises names its own step).
# ``gs_tails`` (the final loss of shared shapes): a shape whose row ends as the previous
# shape's row does shares its first ``gs_i0`` entries with it; the config at the same
# position in the previous shape, when it had the same scale, C and beta, summed the same
# terms in the same order, so its running sums before entry ``gs_i0`` (``tsum``: the four
# lanes of walks.shared_sum) are this config's, and only the entries after it are computed.
_CONFIG = """c = gs_order[ci] if gs_share else np.int64(ci)
r = c * (lp.shape[1] > 1)
L0 = lp[0, r]
A = lp[1, r]
alpha = lp[2, r]
if law == 0:
    B = lp[3, r]
    C = lp[4, r]
    beta = lp[5, r]
    gamma = lp[6, r]
    lam = 0.0
else:
    C = lp[3, r]
    lam = lp[4, r]
    B = 0.0
    beta = 0.0
    gamma = 0.0
scaled = False
if gs_share:
    if ci == gs_c0 or gs_lead[ci] != 0:
        if law == 0:
            gs_fill(steps, c, gs_0, gs_top + 1, gs_0, gs_yes, gs_no, rate, err, errstep{args})
            gs_m, gmax = shape_walk(rate, ends, rk, ak, gg, kk, gbeg, gend, gsum)
        else:
{shape_an}
            gmax = np.max(rate[:gs_top + 1])
        gbad = err[c] != 0
        err[c] = 0
        errstep[c] = -1
        gs_i0 = gs_0
        if gs_tails:
            if not gbad:
                gs_i0 = tail_lead(rate, prow, kk, gend[0], gs_top,
                                  gs_pvalid and gamma == gs_pgamma, tscale, ci - gs_first)
                gs_pgamma = gamma
            gs_pvalid = not gbad
        if law == 0 and not gbad:
            # the common entries' weights are the previous shape's, already in gu (and their
            # series tables, when they were made for this beta)
            weights(rk, ak, gu, gs_i0, gs_m, gamma)
            series_tables(gu, ser, gs_i0 if beta == gs_sbeta else gs_0, gs_m, beta)
            gs_sbeta = beta
        gs_first = ci
    if not gbad:
        gs_s = gs_fill(steps, c, gs_0, gs_0, gs_0, gs_yes, gs_no, rate, err, errstep{args})
        if err[c] == 0 and gs_s > 0.0 and math.isfinite(gs_s * gmax):
            scaled = True
        err[c] = 0
        errstep[c] = -1
if scaled:
    if law == 0:
        cs = C * gs_s ** (1.0 - gamma)
        if gs_tails:
            ld = tail_sum(gu, gg, tk, gs_i0, gend[0], gs_s, cs, C, beta, ci - gs_first, tsum,
                          tscale, tC, tbeta, ser, gs_sbeta)
            out[c, 0] = L0 + A * (gs_s * gsum[0]) ** -alpha + B * (gs_s * ld)
        else:
            for q in range(ends.shape[0]):
                ld = shared_sum(gu, gg, tk, gbeg[q], gend[q], cs, beta, gs_no, tk, ser,
                                gs_sbeta)
                out[c, q] = L0 + A * (gs_s * gsum[q]) ** -alpha + B * (gs_s * ld)
    else:
        for q in range(ends.shape[0]):
            out[c, q] = L0 + A * (gs_s * gsum[q]) ** -alpha - C * (gs_s * gs2[q])
elif law == 0:
    if gs_tails:
        tscale[ci - gs_first] = np.nan
{unshared_mp}
else:
{unshared_an}
    for q in range(ends.shape[0]):
        out[c, q] = L0 + A * asum[q] ** -alpha - C * as2[q]"""


BLOCK = 2048        # steps per block of the multi-power walk (its scratch: 5 x 16 KiB)
ROW_LIMIT = 1 << 18     # several prediction steps below it: the whole row at once (<= 10 MiB)


def _helpers_digest() -> str:
    """sha256 of fastpow.py and walks.py, written in the generated module's text (as the
    helpers' digest: Numba's on-disk cache tracks only the module's own file)."""
    from pathlib import Path
    from . import fastpow, walks
    return hashlib.sha256(b"".join(Path(str(m.__file__)).read_bytes()
                                   for m in (fastpow, walks))).hexdigest()


def module_source(plan, layout, sig: str, pre=None) -> str:
    """``gs_law(steps, law, ends, f32, lp, out, err, errstep, gs_order, gs_lead, c0, c1,
    inputs...)``: the predicted loss of configs ``c0..c1`` at steps ``ends`` (ascending for
    the annealing law) into ``out``; ``lp`` holds the law's constants, one column per config
    (or one shared); ``gs_order``/``gs_lead`` (empty: none) the configs in groups sharing a
    shape (laws/sharing.py); ``pre`` (a factorized.Precomputed) makes the kernel read those
    nodes from tables. ``gs_fill`` runs the schedule's code, for every walk."""
    imports, jit, deco, _, _, _ = TARGETS["cpu"]
    cfg, stp, root = codegen.python_sections(plan, layout, ON_ERROR["cpu"],
                                             pre.reads(plan) if pre else None, remember=True)
    cut = sharing.split(plan)
    names = arg_names(layout) + (pre.arg_names() if pre else [])
    args = "".join(", " + a for a in names)
    fill = (prologue(layout) + (pre.prologue() if pre else []) + ["j = -1"] + cfg
            + _FILL.format(step=indent_text(stp, 4), shape=cut.shape, root=root,
                           scale=cut.scale).split("\n"))
    codegen.check_generated_python(fill)
    body = _CONFIG.format(
        args=args,
        shape_an=indent_text(_ANNEALING.format(args=args, shape="gs_yes", s1="gsum",
                                               s2="gs2"), 12),
        unshared_mp=indent_text(_MULTIPOWER.format(args=args), 4),
        unshared_an=indent_text(_ANNEALING.format(args=args, shape="gs_no", s1="asum",
                                                  s2="as2"), 4))
    helpers = "\n".join(f"{h} = _h.{h}" for h in ORDER)
    scratch = "\n".join([
        # variables, not literals: each literal argument would compile gs_fill once more
        "gs_0 = np.int64(0)", "gs_yes = np.bool_(True)", "gs_no = np.bool_(False)",
        f"gs_block = {BLOCK}", "gs_top = gs_0", "for gs_q in range(ends.shape[0]):",
        "    gs_top = max(gs_top, ends[gs_q])",
        "gs_share = gs_lead.shape[0] > 0",
        f"gs_whole = gs_share or (law == 0 and ends.shape[0] > 1 and gs_top < {ROW_LIMIT})",
        "gs_width = gs_top + 1 if gs_whole else gs_block",
        "gs_entries = (gs_top + 1) * ends.shape[0] if gs_share else gs_width",
        "rate = np.empty(gs_width + 1)"]
        # rk, ak: a walk's gathered steps (a shared shape's: every prediction step's); tk: its
        # terms; gk, uk: a config's own block; gu, gg: the shared shape's weights and gaps
        + [f"{a} = np.empty(max(gs_width, gs_entries))" for a in ("rk", "ak", "tk")]
        + [f"{a} = np.empty(gs_width)" for a in ("gk", "uk")]
        + [f"{a} = np.empty(gs_entries if gs_share else 0)" for a in ("gu", "gg")]
        + ["ser = np.empty((3, gs_entries if gs_share else 0))", "gs_sbeta = np.nan"]
        + [f"{a} = np.empty(ends.shape[0])" for a in ("gsum", "gs2", "asum", "as2")]
        + [f"{a} = np.zeros(ends.shape[0], dtype=np.int64)" for a in ("gbeg", "gend")]
        + ["kk = np.empty(max(gs_width, gs_entries), dtype=np.int64)",
           "gmax = 0.0", "gbad = True", "gs_s = 1.0", "gs_state = np.zeros(5)",
           # tails: the previous shape's row, and per position in a shape the running sums
           # of its config and the scale, C and beta they were summed with
           "gs_tails = gs_share and law == 0 and ends.shape[0] == 1 and gs_tail > 0",
           "gs_tw = gs_tail if gs_tails else 0",
           "prow = np.empty(gs_top + 1 if gs_tails else 0)",
           "tsum = np.empty((gs_tw, gs_top + 1 if gs_tails else 0))",
           "tscale = np.full(gs_tw, np.nan)", "tC = np.empty(gs_tw)", "tbeta = np.empty(gs_tw)",
           "gs_pvalid = False", "gs_pgamma = 0.0", "gs_i0 = gs_0", "gs_first = gs_c0",
           "gs_m = gs_0"])
    return (MODULE_HEADER.format(sig=sig, imports=imports, jit=jit, target="cpu", helpers=helpers,
                                 helpers_digest=source_digest())
            + f"# fastpow, walks {_helpers_digest()}\n"
            + "from gpusched.laws.walks import (annealing_walk, gather, scaled_sum,\n"
            "    series_tables, shape_walk, shared_sum, tail_lead, tail_sum, weights)\n"
            + f"\n\n{deco}\ndef gs_fill(steps, c, f0, f1, first, shape, f32, rate, err, "
            f"errstep{args}):\n{indent_text(fill, 4)}\n"
            + f"\n\n{deco}\ndef gs_law(steps, law, ends, f32, lp, out, err, errstep, gs_order, "
            f"gs_lead, gs_tail, gs_c0, gs_c1{args}):\n{indent_text(scratch, 4)}\n"
            f"    for ci in range(gs_c0, gs_c1):\n{indent_text(body, 8)}\n")


def module_name(plan, pre) -> str:
    """The generated law module's name (``pre``: the factorized tables it reads, or None)."""
    return "law_" + digest("law", plan.signature, pre.key if pre else None, BLOCK, ROW_LIMIT)


def state(plan, pre) -> str:
    """``"process"``, ``"disk"`` or ``"none"``: what the law kernel costs before it computes
    (nothing, a cache load, a compile)."""
    from ..kernel_cache import kernel_state
    return kernel_state(module_name(plan, pre), "numba", "gs_law")


def run(plan, bound, steps, law_code: int, ends, f32: bool, const, work_limit: int,
        pre=False, shared=False) -> tuple:
    """(predictions (n, len(ends)) float64, error flags, flagged steps). On a cartesian grid,
    the expensive step-dependent sub-expressions come from factorized tables, as in the
    Numba backend's kernels (``pre``: those tables, when already built; False: build them
    within ``work_limit`` bytes). ``shared``: ``sharing.groups``' answer (False: ask)."""
    if pre is False:
        pre = precompute(plan, bound, steps, work_limit)
    layout = codegen.Layout.of(plan, bound.dtypes)
    args = flat_inputs(plan, layout, bound, steps) + (pre.args() if pre else [])
    steps = writeable(steps)
    out = np.empty((bound.n, ends.size), dtype=np.float64)
    err = np.zeros(bound.n, dtype=np.int64)
    errstep = np.full(bound.n, -1, dtype=np.int64)
    if shared is False:
        shared = sharing.groups(plan, bound, const, law_code, f32,
                                (int(ends.max()) + 1) * ends.size)
    order, lead = shared if shared else (np.zeros(0, np.int64), np.zeros(0, np.int8))
    tail = sharing.tail_positions(lead, int(ends.max()) + 1) if ends.size == 1 else 0
    name = module_name(plan, pre)

    def load():
        with timing.compiling():
            return load_module(name, lambda: module_source(plan, layout, plan.signature, pre),
                               "numba")

    def launch(mod):
        def kernel(c0, c1):
            mod.gs_law(steps, law_code, ends, f32, const, out, err, errstep, order, lead, tail,
                       c0, c1, *args)
        with timing.compiling():        # no configs: compiles or loads, computes nothing
            kernel(0, 0)
        run_ranges(kernel, bound.n, steps.size * ends.size)
    run_kernel(load, launch)
    return out, err, errstep
