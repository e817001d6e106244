"""CUDA C translation units for a plan: 2-D table and reduction kernels around the generated
element code, their launch shape and their arguments.

Kernel shape (one design for tables and reductions): configs on the grid's y axis (a
grid-stride loop past 65,535), blocks of steps on its x axis. A thread loads its config's
parameters and computes the config section (values that do not depend on the step) once,
then walks its steps; ``t`` is computed (``t0 + j * dt``) when the steps are a range, read
otherwise. A table thread computes ``16 / sizeof(OUT)`` consecutive steps per iteration and
stores them with one 16-byte store; a reduction thread folds its steps into a register,
its block folds the threads in shared memory, and the blocks of one config leave partial
results that the host folds (so 64 configs split over enough blocks still fill a GPU). The
non-finite check is one flag per thread, combined per warp into one atomic per config that
has a bad value; the host explains that config on the NumPy backend.

Why not CuPy's ElementwiseKernel/ReductionKernel (the first design): a 1-D elementwise index
is divided by the step count for every element, config-only work is redone per element and
a ReductionKernel gives each config one block at most; the generated device code is the same.

The same text compiles with nvcc (``__global__`` templates, instantiated for the launch
needed) and with g++ as host C++, where ``extern "C"`` launchers run every (block, thread)
one after the other, so the generated kernels are executed and checked without a GPU.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from . import codegen
from .keys import digest

# The one architecture list: nvcc 13.0 targets sm_75 .. sm_121 (Turing to Blackwell). The
# Dockerfile's CUDA_ARCHS must equal it.
CUDA_ARCHS = ("75", "80", "86", "89", "90", "100", "103", "120", "121")

TABLE_THREADS = 128
REDUCE_THREADS = 256
REDUCE_OPS = {"sum": 0, "min": 1, "max": 2}     # the fused reductions (mean = sum / steps)
_OUT_C = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


@functools.lru_cache(maxsize=1)
def header_include() -> str:
    """The include line every translation unit starts with, after the header's content hash
    in a comment: CuPy's on-disk kernel cache keys on the source text, not on what it
    includes, so a gpusched.cuh that changes (an upgrade) must change the text too."""
    from .kernel_cache import kernels_dir
    text = (kernels_dir() / "gpusched.cuh").read_bytes()
    return f'// gpusched.cuh {hashlib.sha256(text).hexdigest()}\n#include "gpusched.cuh"'


def function_name(plan, precision: str = "exact", pre=None) -> str:
    """The kernels' C name: the full hash of the plan's signature (graph and parameter dtypes)
    and of the factorized nodes it reads from tables, and the precision."""
    sig = digest(plan.signature) if pre is None else digest(plan.signature, pre.key)
    return "gpusched_" + sig + ("_fast" if precision == "fast" else "")


def out_ctype(dtype) -> str:
    return _OUT_C[np.dtype(dtype)]


def _ctype(entry_ctype: str, precision: str) -> str:
    return codegen.c_float(precision) if entry_ctype == "double" else entry_ctype


def _entry_params(precision):
    F = codegen.c_float(precision)
    return {   # per-config arrays with a flag m_ (1: one row per config, 0: a shared row)
        "scalar": lambda e: [f"const {_ctype(e.ctype, precision)}* P_{e.key}",
                             f"long long m_{e.key}"],
        "list": lambda e: [f"const {_ctype(e.ctype, precision)}* L_{e.key}",
                           f"const long long* N_{e.key}", f"long long k_{e.key}",
                           f"long long m_{e.key}"],
        "table": lambda e: [f"const {F}* tab{e.key}"],
        "sequence": lambda e: [f"const {F}* CP{e.key}", f"long long w{e.key}",
                              f"long long mc{e.key}"],
        "counted": lambda e: [f"const {F}* CT{e.key}", f"long long cw{e.key}",
                             f"long long mt{e.key}"],
    }


def row_loads(precision):
    F = codegen.c_float(precision)
    return {   # config c's values and rows, once per config
        "scalar": lambda e: [f"const {_ctype(e.ctype, precision)} p_{e.key} = "
                             f"P_{e.key}[m_{e.key} ? c : 0];"],
        "list": lambda e: [f"const {_ctype(e.ctype, precision)}* l_{e.key} = L_{e.key} + "
                           f"(m_{e.key} ? c : 0) * k_{e.key};",
                           f"const long long n_{e.key} = N_{e.key}[m_{e.key} ? c : 0];"],
        "table": lambda e: [],
        "sequence": lambda e: [f"const {F}* cp{e.key} = CP{e.key} + (mc{e.key} ? c : 0) * "
                              f"w{e.key};"],
        "counted": lambda e: [f"const {F}* ct{e.key} = CT{e.key} + (mt{e.key} ? c : 0) * "
                             f"cw{e.key};"],
    }


def head_params(layout, precision, pre=None) -> list[str]:
    out = ["long long C", "long long S", "const long long* steps", "long long t0",
           "long long dt", *layout.format(_entry_params(precision))]
    if pre is not None:
        out += [x for k, n in enumerate(pre.nodes)
                for x in (f"const {_pre_ctype(pre, k, precision)}* pre{k}",
                          f"const long long* PB{k}")]
    return out


def _pre_ctype(pre, k, precision) -> str:
    return "long long" if pre.arrays[k].dtype.kind == "i" else codegen.c_float(precision)


def pre_rows(pre) -> list[str]:
    """Config c's row offset in each factorized table (computed on the host: no 64-bit
    division per config here)."""
    return [f"const long long pb{k} = PB{k}[c];" for k in range(len(pre.nodes))]


def param_names(params: list[str]) -> list[str]:
    return [p.split()[-1].lstrip("*") for p in params]


def indent_lines(lines, n):
    """``lines`` indented by ``n`` spaces, preprocessor lines (``#pragma``) at the margin."""
    return "\n".join(ln if ln.startswith("#") else " " * n + ln for ln in lines)


def translation_unit(plan, layout, precision: str = "exact",
                     include: str | None = None, instantiate=(), host=(),
                     pre=None) -> str:
    """The kernels ``<name>_table<OUT, RANGE>`` and ``<name>_reduce<OUT, OP, RANGE>`` for
    ``plan`` under ``precision``; explicit instantiations ``instantiate`` (e.g.
    ``"table<float, true>"``) for nvcc, and host launchers (``extern "C"``, for g++ only) of
    the instantiations in ``host``: ``(kind, out type, op or None, range)`` tuples.
    ``pre`` (a factorized.Precomputed): its nodes are read from tables indexed by the
    config's grid axes instead of computed per config. ``include``: the text's first line
    (default :func:`header_include`)."""
    include = header_include() if include is None else include
    fn = function_name(plan, precision, pre)
    reads = {id(n): f"pre{k}[pb{k} + j]" for k, n in enumerate(pre.nodes)} if pre else None
    sec = codegen.c_sections(plan, layout, precision, reads, remember=True)
    F = sec.ctype
    head = head_params(layout, precision, pre)
    loads = layout.format(row_loads(precision)) + (pre_rows(pre) if pre else [])
    config = ["bool gs_cbad = false;", *loads, *sec.config]
    value = f"gs_bad ? (OUT)NAN : (OUT)({sec.root})"
    step = ["bool gs_bad = gs_cbad;", *sec.step]
    wide_body = _wide_body(sec, step, value)
    table_params = ",\n    ".join([*head, "OUT* out", "unsigned long long* bad"])
    reduce_params = ",\n    ".join([*head, "double* partial", "unsigned long long* bad"])
    text = f"""{include}

template <typename OUT, bool RANGE>
GS_GLOBAL void {fn}_table(
    {table_params})
{{
    constexpr int V = 16 / sizeof(OUT);                 // consecutive steps per thread
    // rows of whole 16-byte vectors (the usual case) take the hot loop: no bounds checks,
    // one wide store; other rows take a plain loop, one step at a time
    const bool wide = S % V == 0 && ((unsigned long long)out % 16) == 0;
    // each warp (the host harness's small blocks: each block) walks one stretch of a row,
    // V * lanes consecutive steps per iteration: its stores stay whole 512-byte lines, and
    // a thread's steps stay close, so remembered values (a milestone count) rarely change
    // (positions counted in vectors, so that the compiler sees every store 16-byte aligned)
    const unsigned lanes = blockDim.x % 32u == 0u ? 32u : blockDim.x;
    const long long group = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / lanes;
    const long long groups = (long long)gridDim.x * blockDim.x / lanes;
    const long long vectors = (S + V - 1) / V;
    const long long stretch = (vectors + groups * lanes - 1) / (groups * lanes) * lanes;
    const long long first = (group * stretch + threadIdx.x % lanes) * V;
    const long long stride = (long long)lanes * V;
    const long long end = gs_min(S, (group + 1) * stretch * V);
    for (long long c = blockIdx.y; c < C; c += gridDim.y) {{
{indent_lines(config, 8)}
        OUT* row = out + c * S;
        bool gs_ok = true;
        if (wide) {{
            // the vector's first step (steps a range) and its store advance by additions
            long long ta = t0 + first * dt;
            const long long ta_step = stride * dt, tv = (V - 1) * dt;
            OUT* dst = row + first;
#pragma unroll 1
            for (long long j0 = first; j0 < end; j0 += stride, ta += ta_step, dst += stride) {{
                OUT gs_v[V];
{indent_lines(wide_body, 16)}
                gs_store_wide<OUT>(dst, gs_v);
            }}
        }} else {{
#pragma unroll 1
            for (long long j0 = first; j0 < end; j0 += stride) {{
#pragma unroll 1
                for (long long j = j0; j < j0 + V && j < S; ++j) {{
                    const long long t = RANGE ? t0 + j * dt : steps[j];
{indent_lines(step, 20)}
                    row[j] = {value};
                    gs_ok &= (bool)isfinite(row[j]);
                }}
            }}
        }}
        gs_flag_config(gs_ok, c, bad);
    }}
}}

template <typename OUT, int OP, bool RANGE>
GS_GLOBAL void {fn}_reduce(
    {reduce_params})
{{
    GS_SHARED double gs_sh[1024];
    for (long long c = blockIdx.y; c < C; c += gridDim.y) {{
{indent_lines(config, 8)}
        gs_acc<OP, {F}> acc;
        bool gs_ok = true;
#pragma unroll 1
        for (long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; j < S;
             j += (long long)gridDim.x * blockDim.x) {{
            const long long t = RANGE ? t0 + j * dt : steps[j];
{indent_lines(step, 12)}
            const OUT v = {value};
            gs_ok &= (bool)isfinite(v);
            acc.add(({F})v);
        }}
        gs_flag_config(gs_ok, c, bad);
        double r;
        if (gs_block_fold<OP>(acc.get(), gs_sh, r)) partial[c * gridDim.x + blockIdx.x] = r;
    }}
}}
"""
    return text + _host_launchers(fn, head, host) + _instantiations(fn, head, instantiate)


def _wide_body(sec: codegen.CSections, step: list[str], value: str) -> list[str]:
    """The C lines that fill ``gs_v`` with the V steps from ``j0`` (``ta``: the first one's
    step when the steps are a range, ``tv``: ``(V - 1) * dt``): step by step; or, when the
    value depends on the step only through list counts of it (``sec.steady``) and the steps
    are an increasing range, once for the whole vector where every count's span covers its
    first and last step (so every step between: a count is monotone), step by step
    otherwise."""
    stepwise = ["#pragma unroll", "for (int k = 0; k < V; ++k) {",
                "    const long long j = j0 + k;",
                "    const long long t = RANGE ? ta + k * dt : steps[j];",
                *("    " + ln for ln in step),
                f"    gs_v[k] = {value};",
                "    gs_ok &= (bool)isfinite(gs_v[k]);", "}"]
    if sec.steady is None:
        return stepwise
    holds = " && ".join(f"gs_span_covers<{le}>({ms}, ta, tb)" for ms, le in sec.spans)
    return ["const long long tb = ta + tv;",
            f"if (RANGE && dt >= 0 && {holds}) {{",
            "    bool gs_bad = gs_cbad;",
            *("    " + ln for ln in sec.steady),
            f"    const OUT gs_x = {value};",
            "    for (int k = 0; k < V; ++k) gs_v[k] = gs_x;",
            "    gs_ok &= (bool)isfinite(gs_x);",
            "} else {",
            "    GS_STEPWISE_BEGIN;",
            *(ln if ln.startswith("#") else "    " + ln for ln in stepwise),
            "    GS_STEPWISE_END;",
            "}"]


# every instantiation a backend launches, as host launchers (kind, out type, op, range)
ALL_HOST = tuple((kind, o, op, ranged) for o in ("float", "double") for ranged in (True, False)
                 for kind, op in (("table", None), *(("reduce", op) for op in REDUCE_OPS)))


def host_launcher_name(fn, kind, o, op, ranged) -> str:
    return f"{fn}_host_{kind}_{op + '_' if op else ''}{o}_{'range' if ranged else 'steps'}"


def _host_launchers(fn, head, which) -> str:
    """``extern "C"`` functions that run a kernel over every (block, thread), for g++ (a
    reduction's launcher needs ``gy`` equal to the number of configs: a block's threads run
    one after the other, each for one config)."""
    if not which:
        return ""
    out = ["#ifndef __CUDACC__"]
    args = ", ".join(param_names(head))
    shape = "long long gx, long long gy, long long bx, " + ", ".join(head)
    for kind, o, op, ranged in which:
        rng = "true" if ranged else "false"
        name = host_launcher_name(fn, kind, o, op, ranged)
        if kind == "table":
            out.append(host_loop(name, f"{shape}, {o}* out, unsigned long long* bad",
                                  f"{fn}_table<{o}, {rng}>({args}, out, bad);"))
        else:
            out.append(host_loop(name, f"{shape}, double* partial, unsigned long long* bad",
                                  f"{fn}_reduce<{o}, {REDUCE_OPS[op]}, {rng}>({args}, partial, "
                                  f"bad);"))
    out.append("#endif")
    return "\n".join(out) + "\n"


def host_loop(name, params, call) -> str:
    return f"""extern "C" void {name}({params})
{{
    gridDim = gs_dim3{{(unsigned)gx, (unsigned)gy, 1u}};
    blockDim = gs_dim3{{(unsigned)bx, 1u, 1u}};
    for (unsigned y = 0; y < gridDim.y; ++y)
        for (unsigned x = 0; x < gridDim.x; ++x)
            for (unsigned i = 0; i < blockDim.x; ++i) {{
                blockIdx = gs_dim3{{x, y, 0u}};
                threadIdx = gs_dim3{{i, 0u, 0u}};
                {call}
            }}
}}
"""


def _instantiations(fn, head, instantiate) -> str:
    if not instantiate:
        return ""
    lines = ["#ifdef __CUDACC__"]
    for spec in instantiate:
        kind, targs = spec.split("<", 1)
        out = "OUT* out" if kind == "table" else "double* partial"
        o = targs.split(",")[0].strip()
        params = ", ".join([*head, out.replace("OUT", o), "unsigned long long* bad"])
        lines.append(f"template __global__ void {fn}_{kind}<{targs}({params});")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def kernel_template(plan, precision, kind, dtype, ranged, op=None, pre=None) -> str:
    """The name expression of one kernel instantiation (for NVRTC's name_expressions)."""
    o, r = out_ctype(dtype), "true" if ranged else "false"
    fn = function_name(plan, precision, pre)
    if kind == "table":
        return f"{fn}_table<{o}, {r}>"
    return f"{fn}_reduce<{o}, {REDUCE_OPS[op]}, {r}>"


# ------------------------------------------------------------------------ launch and arguments
@dataclass(frozen=True)
class Launch:
    grid: tuple           # (blocks along steps, blocks along configs)
    block: int            # threads per block

    @property
    def blocks(self) -> int:
        return self.grid[0] * self.grid[1]


def vector_steps(dtype) -> int:
    """Consecutive steps a table thread stores at once: one 16-byte vector."""
    return 16 // np.dtype(dtype).itemsize


def table_launch(n_configs: int, n_steps: int, sms: int, per_thread: int,
                 threads: int = TABLE_THREADS) -> Launch:
    """Blocks of steps per config (each thread ``per_thread`` steps per iteration): as few as
    fill the device (8 blocks per SM), so each thread walks many steps and its config
    section is paid once for them. Shared by both GPU backends and the cost model."""
    need = -(-n_steps // (threads * per_thread))
    gy = min(n_configs, 65535)
    gx = max(1, min(need, -(-8 * sms // gy)))
    return Launch((gx, gy), threads)


def table_walks(n_steps: int, launch: "Launch", per_thread: int) -> list:
    """The step positions each thread of a table launch computes, in its order (the
    ``first``/``stride``/``end`` of the table kernel): for the cost model."""
    block = launch.block
    lanes = 32 if block % 32 == 0 else block
    groups = launch.grid[0] * block // lanes
    vectors = -(-n_steps // per_thread)
    stretch = -(-vectors // (groups * lanes)) * lanes
    stride = lanes * per_thread
    walks = []
    for g in range(launch.grid[0] * block):
        first = ((g // lanes) * stretch + g % lanes) * per_thread
        end = min(n_steps, (g // lanes + 1) * stretch * per_thread)
        walks.append([j for j0 in range(first, end, stride)
                      for j in range(j0, min(j0 + per_thread, n_steps))])
    return walks


def reduce_walks(n_steps: int, launch: "Launch") -> list:
    """The step positions each thread of a reduction launch folds, in its order."""
    threads = launch.grid[0] * launch.block
    return [list(range(g, n_steps, threads)) for g in range(threads)]


def reduce_launch(n_configs: int, n_steps: int, sms: int) -> Launch:
    """A config's steps split over several blocks when there are few configs: 64 configs on
    132 SMs take 9 blocks each (576 blocks, every SM busy); at least 4 steps per thread."""
    most = max(1, -(-n_steps // (4 * REDUCE_THREADS)))
    gy = min(n_configs, 65535)
    gx = max(1, min(most, -(-4 * sms // gy)))
    return Launch((gx, gy), REDUCE_THREADS)


def step_range(steps: np.ndarray):
    """``(t0, dt)`` when the steps are an arithmetic progression, else None."""
    if steps.size == 1:
        return int(steps[0]), 1
    dt = int(steps[1]) - int(steps[0])
    if np.all(np.diff(steps) == dt):
        return int(steps[0]), dt
    return None


def sorted_rows(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each row's first ``length`` entries sorted ascending (the padding after them stays
    after them): what ``gs_span_count_sorted`` reads."""
    pad = np.nan if values.dtype.kind == "f" else np.iinfo(values.dtype).max
    filled = np.where(np.arange(values.shape[1])[None, :] < lengths[:, None], values, pad)
    return np.ascontiguousarray(np.sort(filled, axis=1))


def launch_args(plan, layout, bound, steps, precision: str, pre=None) -> list[tuple]:
    """The kernels' arguments after ``C, S, steps, t0, dt``, as ("array", ndarray) or
    ("i64", int), in the order of :func:`translation_unit`'s parameters: arrays of float
    values in the precision's type; then the factorized tables of ``pre``."""
    from .backends.inputs import kernel_inputs
    fdt = np.float32 if precision == "fast" else np.float64

    def arr(a):
        a = np.asarray(a)
        return ("array", np.ascontiguousarray(a, dtype=fdt if a.dtype.kind == "f" else a.dtype))

    out = []
    sortable = codegen.count_only_lists(plan)
    for e, arrays in kernel_inputs(plan, layout, bound, steps):
        first = arrays[0]
        per_config = ("i64", int(first.shape[0] > 1))
        if e.role == "scalar":
            out += [arr(first), per_config]
        elif e.role == "list":
            if e.key in sortable:
                first = sorted_rows(first, arrays[1])
            out += [arr(first), arr(arrays[1]), ("i64", first.shape[1]), per_config]
        elif e.role == "table":
            out.append(arr(first))
        else:               # a sequence or a counted table: rows, their width, per config
            out += [arr(first), ("i64", first.shape[1]), per_config]
    if pre is not None:
        for k, a in enumerate(pre.arrays):
            out += [arr(a), arr(pre.row_offsets(k))]
    return out
