"""The loss laws fused with a schedule's generated CUDA C: one thread per config, no table.

The arithmetic of :mod:`gpusched.laws.kernel` (the Numba kernel) in the CuPy backend's
translation-unit conventions (:mod:`gpusched.cuda_source`: the same parameters, row loads,
factorized tables and config/step sections): the multi-power law walks backwards from each
prediction step (its suffix area a running sum), the annealing law forwards once. A config
whose rates are negative or not finite is flagged by an atomic min of its index; the host
explains it with NumPy. The same text compiles with nvcc and, with an ``extern "C"``
launcher that runs every (block, thread), as host C++ (tests check it numerically that way).
"""

from __future__ import annotations

import numpy as np

from .. import codegen
from ..cuda_source import (function_name, head_params, header_include, host_loop, indent_lines,
                           launch_args, param_names, pre_rows, row_loads)

THREADS = 128

_LAW_FLAG = """
#ifndef GS_LAW_FLAG
#define GS_LAW_FLAG
// A config with a bad rate, told to the host: the lowest such index (one thread per config,
// so no warp vote: lanes past the last config have left the loop)
GS_FN void gs_law_flag(bool ok, long long c, gs_u64* bad) {
#ifdef __CUDACC__
    if (!ok) atomicMin(bad, (gs_u64)c);
#else
    if (!ok && (gs_u64)c < *bad) *bad = (gs_u64)c;
#endif
}
#endif
"""

_BODY = """    for (long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x; c < C;
         c += (long long)gridDim.x * blockDim.x) {{
{config}
        const long long r = lp_w > 1 ? c : 0;
        bool gs_ok = true;
        if (law == 0) {{
            const double L0 = lp[r], A = lp[lp_w + r], alpha = lp[2 * lp_w + r];
            const double B = lp[3 * lp_w + r], law_C = lp[4 * lp_w + r];
            const double beta = lp[5 * lp_w + r], gamma = lp[6 * lp_w + r];
            for (long long q = 0; q < n_ends; ++q) {{
                const long long e = ends[q];
                double suf = 0.0, ld = 0.0, nxt = 0.0;
#pragma unroll 1
                for (long long j = e; j >= 0; --j) {{
{rate}
                    if (j < e) {{
                        const double gap = nxt - x;
                        if (gap != 0.0 && suf > 0.0 && law_C > 0.0)
                            ld += gap * (1.0 - pow(1.0 + law_C * pow(nxt, -gamma) * suf,
                                                   -beta));
                    }}
                    suf += x;
                    nxt = x;
                }}
                out[c * n_ends + q] = L0 + A * pow(suf, -alpha) + B * ld;
            }}
        }} else {{
            const double L0 = lp[r], A = lp[lp_w + r], alpha = lp[2 * lp_w + r];
            const double law_C = lp[3 * lp_w + r], lam = lp[4 * lp_w + r];
            double s1 = 0.0, m = 0.0, s2 = 0.0, prv = 0.0;
            long long q = 0;
#pragma unroll 1
            for (long long j = 0; j <= ends[n_ends - 1]; ++j) {{
{rate_an}
                if (j > 0) {{
                    m = lam * m + (prv - x);
                    s2 += m;
                }}
                s1 += x;
                prv = x;
                while (q < n_ends && ends[q] == j) {{
                    out[c * n_ends + q] = L0 + A * pow(s1, -alpha) - law_C * s2;
                    ++q;
                }}
            }}
        }}
        gs_law_flag(gs_ok, c, bad);
    }}"""

_RATE = """const long long t = RANGE ? t0 + j * dt : steps[j];
bool gs_bad = gs_cbad;
{step}
double x = gs_bad ? (double)NAN : (double)({root});
if (f32) x = (double)(float)x;
gs_ok &= (x >= 0.0 && (bool)isfinite(x));"""

TAIL = ["long long law", "const long long* ends", "long long n_ends", "const double* lp",
        "long long lp_w", "long long f32", "double* out", "unsigned long long* bad"]


def kernel_name(plan, pre=None) -> str:
    return function_name(plan, "exact", pre) + "_law"


def law_unit(plan, layout, pre=None, include: str | None = None,
             host: bool = False, instantiate=()) -> str:
    """The kernel ``<name>_law<RANGE>`` (exact precision: float64 arithmetic); with ``host``,
    its host launchers ``<name>_law_host_{range,steps}`` (g++); ``instantiate``: the RANGE
    values to instantiate for nvcc (``("true",)``)."""
    include = header_include() if include is None else include
    fn = kernel_name(plan, pre)
    reads = {id(n): f"pre{k}[pb{k} + j]" for k, n in enumerate(pre.nodes)} if pre else None
    sec = codegen.c_sections(plan, layout, "exact", reads)
    head = head_params(layout, "exact", pre)
    loads = layout.format(row_loads("exact")) + (pre_rows(pre) if pre else [])
    config = ["bool gs_cbad = false;", *loads, *sec.config]
    rate = _RATE.format(step="\n".join(sec.step), root=sec.root).split("\n")
    body = _BODY.format(config=indent_lines(config, 8), rate=indent_lines(rate, 20),
                        rate_an=indent_lines(rate, 16))
    params = ",\n    ".join([*head, *TAIL])
    text = f"""{include}
{_LAW_FLAG}
template <bool RANGE>
GS_GLOBAL void {fn}(
    {params})
{{
{body}
}}
"""
    if instantiate:
        text += "#ifdef __CUDACC__\n" + "".join(
            f"template __global__ void {fn}<{r}>({', '.join([*head, *TAIL])});\n"
            for r in instantiate) + "#endif\n"
    if host:
        args = ", ".join(param_names([*head, *TAIL]))
        shape = "long long gx, long long gy, long long bx, " + ", ".join([*head, *TAIL])
        text += "#ifndef __CUDACC__\n"
        for ranged in (True, False):
            name = f"{fn}_host_{'range' if ranged else 'steps'}"
            text += host_loop(name, shape, f"{fn}<{'true' if ranged else 'false'}>({args});")
        text += "#endif\n"
    return text


def launch(n_configs: int, sms: int) -> tuple:
    """(blocks, threads): one thread per config, at least one block per SM when there are
    configs for it."""
    return max(1, -(-n_configs // THREADS)), THREADS


def arguments(plan, layout, bound, steps, pre, law_code, ends, const, f32):
    """Host-side arguments after the launch head ``C, S, steps, t0, dt``: the kernel inputs
    (as :func:`gpusched.cuda_source.launch_args`), then the law's."""
    rest = launch_args(plan, layout, bound, steps, "exact", pre)
    tail = [("i64", law_code), ("array", np.ascontiguousarray(ends, dtype=np.int64)),
            ("i64", ends.size), ("array", np.ascontiguousarray(const, dtype=np.float64)),
            ("i64", const.shape[1]), ("i64", int(f32))]
    return rest + tail


def run_cupy(plan, bound, steps, law_code, ends, const, f32, work_limit):
    """The fused kernel on the CuPy backend: (predictions (n, len(ends)) on the host, the
    lowest flagged config or None)."""
    import cupy
    from ..backends import cupy_backend as cb
    from ..engine.factorized import precompute
    layout = codegen.Layout.of(plan, bound.dtypes)
    pre = precompute(plan, bound, steps, work_limit)
    ranged, head = cb.launch_head(bound, steps, cupy)
    template = f"{kernel_name(plan, pre)}<{'true' if ranged else 'false'}>"
    kernel = cb.compiled((plan.signature, "law", template),
                         lambda: law_unit(plan, layout, pre, host=True), template)
    rest = arguments(plan, layout, bound, steps, pre, law_code, ends, const, f32)
    out = cupy.empty((bound.n, ends.size), dtype=np.float64)
    bad = cupy.full(1, cb.NO_BAD, dtype=cupy.uint64)
    blocks, threads = launch(bound.n, cb.sms())
    kernel((blocks,), (threads,),
           (*head, *[cupy.asarray(v) if kind == "array" else np.int64(v) for kind, v in rest],
            out, bad))
    first = int(bad.get()[0])
    return np.asarray(out.get()), (None if first == cb.NO_BAD else first)
