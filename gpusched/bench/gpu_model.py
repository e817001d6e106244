"""``python -m bench.gpu_model``: GPU speed projected from the machine code nvcc emits.

For each standard workload (W1, W1L, W2, W3a, W3b, W3c, W4) and precision (exact, fast) it
generates the CuPy backend's kernel (the 2-D table or reduction kernel of
gpusched/cuda_source.py, the instantiation a float32 call on a step range launches),
compiles it with nvcc for sm_90, sm_89 and sm_120 (``--resource-usage`` gives registers and
spills), disassembles it with ``cuobjdump -sass`` and counts the instructions of the hot loop
(the step loop; inner list loops weighted by their trip count) by class, divided by the
elements one iteration computes, plus the per-thread config work spread over the thread's
steps. A roofline per GPU then takes the slowest of: instruction issue, each pipe (FP32,
FP64, MUFU, integer, conversions, load/store) at its published per-SM rate, and DRAM
bandwidth for the bytes written. It writes ``gpu-model.json`` (one record per workload x
precision x backend x GPU) and ``gpu-model.md``.

Everything here is a **projection**: it assumes enough warps to hide latency, sustained boost
clocks and no pipe contention beyond the counts; a GPU run (bench/gpu_run.sh) replaces it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from typing import Any
from dataclasses import asdict, dataclass
from pathlib import Path

from . import sass as S

# Per-SM results per clock (CUDA C++ Programming Guide, "Arithmetic Instructions" throughput
# table, compute capabilities 8.9, 9.0, 12.0) and the issue rate (4 schedulers x 1 warp
# instruction per clock = 128 thread instructions). Loads/stores: one warp instruction per
# clock per SM (32). 64-bit integer and uniform instructions take an integer issue slot.
PIPES = {
    "90": {"fp32": 128, "fp64": 64, "mufu": 16, "int": 64, "conversion": 16, "lsu": 32},
    "89": {"fp32": 128, "fp64": 2, "mufu": 16, "int": 64, "conversion": 16, "lsu": 32},
    "120": {"fp32": 128, "fp64": 2, "mufu": 16, "int": 64, "conversion": 16, "lsu": 32},
}
ISSUE = 128


@dataclass(frozen=True)
class Gpu:
    name: str
    sm: str              # the architecture its kernels compile for
    sms: int
    clock_ghz: float     # boost clock
    bandwidth: float     # DRAM bytes/s
    source: str


# SM counts, boost clocks and memory bandwidth from the vendor's data sheets
GPUS = (
    Gpu("H100 SXM", "90", 132, 1.98, 3.35e12, "NVIDIA H100 Tensor Core GPU datasheet / "
        "Hopper architecture whitepaper (132 SMs, 1.98 GHz, HBM3 3.35 TB/s)"),
    Gpu("H200", "90", 132, 1.98, 4.8e12, "NVIDIA H200 datasheet (H100's GH100 die, HBM3e "
        "4.8 TB/s)"),
    Gpu("L4", "89", 58, 2.04, 300e9, "NVIDIA L4 datasheet (58 SMs, 2.04 GHz boost, GDDR6 "
        "300 GB/s)"),
    Gpu("RTX 4090", "89", 128, 2.52, 1008e9, "NVIDIA Ada Lovelace architecture whitepaper "
        "(128 SMs, 2.52 GHz boost, 1008 GB/s)"),
    Gpu("RTX 5090", "120", 170, 2.41, 1792e9, "NVIDIA RTX Blackwell GPU architecture "
        "whitepaper (170 SMs, 2.41 GHz boost, 1792 GB/s)"),
)
ARCHS = ("90", "89", "120")
_PIPE_OF = {"fp32": "fp32", "fp64": "fp64", "mufu": "mufu", "int": "int", "int64": "int",
            "uniform": "int", "conversion": "conversion", "local": "lsu"}


def tool(name: str) -> str | None:
    """nvcc / cuobjdump: on PATH, in /usr/local/cuda/bin, or from the nvidia-cuda-cuobjdump
    wheel (``nvidia/cu13/bin``)."""
    found = shutil.which(name) or next((str(p) for p in [Path("/usr/local/cuda/bin") / name]
                                        if p.exists()), None)
    if found:
        return found
    try:
        import nvidia
        for base in nvidia.__path__:
            for p in Path(base).glob(f"*/bin/{name}"):
                return str(p)
    except ImportError:
        pass
    return None


@dataclass
class KernelCounts:
    """One compiled kernel: instructions per element by class, registers, spills."""

    per_element: dict
    registers: int
    spills: int
    elements_per_iteration: int
    hot_instructions: int
    rare_per_element: float = 0.0   # slow-path instructions left out (see sass.rare_addresses)
    refresh_fraction: float = 0.0   # steps that recompute a remembered value
    stepwise_fraction: float = 1.0  # vectors computed step by step (see stepwise markers)


def _disassemble(cubin: Path, usage: str, kind, per_iter, list_length, steps_per_thread,
                 refresh: float = 1.0, stepwise: float = 1.0):
    # cuobjdump runs nvdisasm: found on PATH (the wheels put both in nvidia/cu13/bin)
    nvdisasm = tool("nvdisasm")
    env = dict(os.environ)
    if nvdisasm:
        env["PATH"] = os.path.dirname(nvdisasm) + os.pathsep + env.get("PATH", "")
    cuobjdump = tool("cuobjdump")
    if cuobjdump is None:
        raise RuntimeError("cuobjdump not found: pip install nvidia-cuda-cuobjdump")
    proc = subprocess.run([cuobjdump, "-sass", str(cubin)], capture_output=True,
                          text=True, env=env)
    if proc.returncode:
        raise RuntimeError(f"cuobjdump failed: {proc.stderr.strip()[-500:]}")
    listing = proc.stdout
    fns = {n: c for n, c in S.functions(listing).items()
           if "_table" in n or "_reduce" in n or "_law" in n}
    if len(fns) != 1:
        raise RuntimeError(f"expected one kernel in the cubin, found {sorted(fns)}")
    name, code = next(iter(fns.items()))
    return _count_kernel(code, kind, per_iter, list_length, steps_per_thread,
                         _registers(usage, name), _spills(usage, name), refresh, stepwise)


def numba_cuda_counts(plan, layout, bound, pre, n_steps: int, arch: str, kind: str,
                      list_length: int, steps_per_thread: float,
                      workdir: Path | None = None) -> KernelCounts:
    """The Numba CUDA backend's kernel (``gs_table`` or ``gs_reduce`` of its generated
    module), compiled to PTX by Numba (NVVM) for ``sm_<arch>``, then by ptxas."""
    import numpy as np
    from numba import cuda, typeof

    from ..backends.inputs import flat_inputs
    from ..backends.numba_backend import module_source
    from ..kernel_cache import load_module
    from ..keys import digest
    ptxas = tool("ptxas")
    if not ptxas:
        raise RuntimeError("the GPU cost model needs ptxas (the CUDA toolkit)")
    name = "model_" + digest("model", plan.signature, pre.key if pre else None)
    mod = load_module(name, lambda: module_source(plan, layout, plan.signature, "cuda", pre),
                      "numba")
    steps: Any = np.arange(n_steps, dtype=np.int64)
    inputs = flat_inputs(plan, layout, bound, steps) + (pre.args() if pre else [])
    i64: Any = np.zeros(1, dtype=np.int64)
    rng = [np.int64(0), np.int64(1), True, np.int64(n_steps)]
    if kind == "table":
        fn, args = mod.gs_table, [steps[:1], np.zeros((1, 1), np.float32), i64, i64, *rng]
    else:
        fn, args = mod.gs_reduce, [steps[:1], np.zeros((1, 1)), np.zeros((1, 1), np.int64),
                                   np.int64(0), True, 0.0, i64, i64, *rng]
    sig = tuple(typeof(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a)
                for a in [*args, *inputs])
    cc = (int(arch[:-1]), int(arch[-1]))
    ptx, _ = cuda.compile_ptx(fn.py_func, sig, cc=cc)
    work = workdir or Path(tempfile.mkdtemp(prefix="gpusched-model-"))
    (work / "n.ptx").write_text(ptx)
    cubin = work / f"n_{arch}.cubin"
    proc = subprocess.run([ptxas, f"-arch=sm_{arch}", "--verbose", str(work / "n.ptx"), "-o",
                           str(cubin)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    return _disassemble(cubin, proc.stdout + proc.stderr, kind, None, list_length,
                        steps_per_thread)


def compile_and_count(source: str, arch: str, kind: str, elements_per_iteration: int,
                      list_length: int = 1, steps_per_thread: float = 1.0,
                      workdir: Path | None = None, refresh: float = 1.0,
                      stepwise: float = 1.0) -> KernelCounts:
    """Compile ``source`` (one kernel) for ``sm_<arch>``, count its hot loop per element.

    ``kind`` "table": the hot loop is the innermost loop with a store (the one with the
    widest store where the compiler made several copies); "reduce": the largest loop with no
    barrier. Loops inside it run ``list_length / loads per iteration`` times. The config
    work (the enclosing loop's other instructions) is spread over ``steps_per_thread``.
    Recomputations of remembered values (out-of-line ``GS_COLD`` functions, marked for the
    model by ``GS_MODEL_MARK_COLD``) count at ``refresh``, the fraction of steps that run
    them (:func:`refresh_fraction`; 1: as if every step did); a table kernel's step-by-step
    path for vectors whose remembered counts change (between triggers 6 and 5,
    ``GS_STEPWISE_BEGIN``/``END``) counts at ``stepwise`` (:func:`refresh_fraction` with
    ``per_vector``), the vector-at-once path beside it in full."""
    nvcc, cuobjdump = tool("nvcc"), tool("cuobjdump")
    if not nvcc or not cuobjdump or not tool("nvdisasm"):
        raise RuntimeError("the GPU cost model needs nvcc, cuobjdump and nvdisasm "
                           "(pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)")
    key = (source, arch)
    if key not in _compiled:          # GPUs of one architecture share the machine code
        from ..kernel_cache import kernels_dir
        work = workdir or Path(tempfile.mkdtemp(prefix="gpusched-model-"))
        src, cubin = work / f"k_{arch}.cu", work / f"k_{arch}.cubin"
        src.write_text(source)
        proc = subprocess.run([nvcc, "-cubin", f"-arch=sm_{arch}", "-std=c++17",
                               "-DGS_MODEL_MARK_COLD", f"-I{kernels_dir()}",
                               "--resource-usage", str(src), "-o", str(cubin)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        _compiled[key] = (cubin, proc.stdout + proc.stderr)
    cubin, usage = _compiled[key]
    return _disassemble(cubin, usage, kind, elements_per_iteration, list_length,
                        steps_per_thread, refresh, stepwise)


_compiled: dict = {}     # (source, arch) -> (cubin, ptxas report)


def refresh_fraction(plan, bound, n_steps: int, kind: str, launch, per_iter: int,
                     per_vector: bool = False) -> float:
    """The cost of a launch's recomputations of remembered values, as the fraction of its
    (config, step) evaluations that would cost as much if each ran them once. A thread walks
    its steps in kernel order (cuda_source.table_walks / reduce_walks) and recomputes when a
    remembered list count or an input of a remembered operation differs from its previous
    step of that config (and at its first step). A warp runs the recomputation once for all
    its lanes that need it at the same point of their walks, and that costs 32 lanes' issue
    slots however few need it: so each (warp, walk position) where any lane recomputes
    counts 32. An upper bound: every recomputation is charged all of them. Values from the
    NumPy backend's interpreter. ``per_vector`` (a table kernel's vectors of ``per_iter``
    steps): the fraction of steps in vectors that some lane of their warp computes step by
    step, because one of its remembered values changes within the vector or since the
    thread's previous one (or it is the thread's first)."""
    import numpy as np

    from .. import codegen
    from ..engine.host_tables import per_config_names
    from ..engine.interpreter import Env, run
    from ..cuda_source import reduce_walks, table_walks
    triggers = codegen.remembered_triggers(plan)
    if not triggers:
        return 0.0
    walks = table_walks(n_steps, launch, per_iter) if kind == "table" else \
        reduce_walks(n_steps, launch)
    warp = 32
    width = max(len(w) for w in walks)
    walks += [[]] * (-len(walks) % warp)
    pos = np.full((len(walks), width), -1)
    for g, w in enumerate(walks):
        pos[g, :len(w)] = w
    live = pos >= 0
    steps: Any = np.arange(n_steps, dtype=np.int64)
    events = 0
    with np.errstate(all="ignore"):
        for c0 in range(0, bound.n, 64):
            part = bound.rows(c0, min(bound.n, c0 + 64))
            env = Env(part, steps[None, :], c0, {"max_step": n_steps - 1,
                                                  "per_config": per_config_names(part)})
            values = run(plan, plan.nodes, {}, env, keep=plan.nodes)
            miss = np.zeros((part.n, *pos.shape), bool)
            miss[:, :, 0] = True                        # a thread's first step
            for n in triggers:
                v = np.broadcast_to(values[id(n)], (part.n, n_steps))[:, np.maximum(pos, 0)]
                miss[:, :, 1:] |= ~(v[:, :, 1:] == v[:, :, :-1])
            miss &= live
            if per_vector:          # whole vectors: the walk lists each one's steps in a row
                cut = width - width % per_iter
                miss = miss[:, :, :cut].reshape(part.n, miss.shape[1], -1, per_iter).any(axis=3)
            per_warp = miss.reshape(part.n, -1, warp, miss.shape[2]).any(axis=2)
            events += int(per_warp.sum())
    return events * warp * (per_iter if per_vector else 1) / (bound.n * n_steps)


def _registers(usage: str, name: str) -> int:
    block = usage[usage.find(name):] if name in usage else usage
    m = re.search(r"Used (\d+) registers", block)
    return int(m.group(1)) if m else -1


def _spills(usage: str, name: str) -> int:
    block = usage[usage.find(name):] if name in usage else usage
    m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", block)
    return int(m.group(1)) + int(m.group(2)) if m else -1


def _inner_loop_trips(code, lps, hot, list_length) -> dict:
    """Times each instruction of the list-scan loops inside the hot loop runs per iteration of
    it. nvcc unrolls a scan over ``n`` entries into loops of decreasing width (16 loads per
    iteration, then 4, then straight-line code): a group of consecutive loops of decreasing
    width shares the list, each running ``remaining // width`` times."""
    inner = sorted((lp for lp in lps if hot.contains(lp)
                    and not any(o.contains(lp) and hot.contains(o) for o in lps)),
                   key=lambda lp: lp.start)
    weights, remaining, last = {}, list_length, None
    for lp in inner:
        width = max(1, sum(1 for i in lp.body(code) if i.base == "LDG"))
        if last is None or width >= last:        # a new scan starts
            remaining = list_length
        trips = remaining // width
        remaining -= trips * width
        last = width
        for i in lp.body(code):
            weights[i.address] = trips
    return weights


def _count_kernel(code, kind, per_iter, list_length, steps_per_thread, regs, spills,
                  refresh: float = 1.0, stepwise: float = 1.0):
    """``per_iter`` None: Numba's kernels, where LLVM unrolls and unswitches the step loop;
    the elements of an iteration are counted from the code: a float32 table's 4-byte stores,
    a float32 reduction's float64 -> float32 roundings (one per element)."""
    lps = S.loops(code)
    has = lambda lp, pred: any(pred(i) for i in lp.body(code))   # noqa: E731
    n_of = lambda lp, pred: sum(1 for i in lp.body(code) if pred(i))   # noqa: E731
    store32 = lambda i: i.opcode.startswith("STG") and S.classify(i) == "STG.32"  # noqa: E731
    round32 = lambda i: i.opcode.startswith("F2F.F32.F64")   # noqa: E731
    if kind == "table":
        stores = [lp for lp in lps if has(lp, lambda i: i.base == "STG")]
        inner = [lp for lp in stores if not any(lp.contains(o) for o in stores)]
        hot = max(inner, key=lambda lp: (has(lp, lambda i: i.opcode.startswith("STG") and
                                             ".128" in i.opcode), lp.end - lp.start))
        if per_iter is None:
            per_iter = max(1, n_of(hot, store32))
    elif kind == "law":     # the loss laws' step loop: the innermost loop with FP64 work
        inner = [lp for lp in lps if not any(lp.contains(o) and o is not lp for o in lps)]
        hot = max(inner, key=lambda lp: (n_of(lp, lambda i: S.classify(i) == "fp64"),
                                         lp.end - lp.start))
        per_iter = per_iter or 1
    else:   # the step loop: no barrier, and the floating-point work (a config prologue's
        # loops are integer only)
        free = [lp for lp in lps if not has(lp, lambda i: i.base == "BAR")]
        fp = lambda lp: sum(S.classify(i) in ("fp32", "fp64")   # noqa: E731
                            for i in lp.body(code))
        if per_iter is None:
            hot = max(free, key=lambda lp: (n_of(lp, round32), lp.end - lp.start))
            per_iter = max(1, n_of(hot, round32))
        else:
            hot = max(free, key=lambda lp: (fp(lp) > 0, lp.end - lp.start))
    weights = _inner_loop_trips(code, lps, hot, list_length)
    body = hot.body(code)
    rare = S.rare_addresses(code, body)
    # the subroutines every element calls (double pow's core) count where they are called
    counted, weights = S.with_callees(code, [i for i in body if i.address not in rare],
                                      weights)
    region = S.marked_region(body, 0x40, 0x20)    # the step-by-step path, if there is one
    for i in counted:
        if i.address in region:
            weights[i.address] = weights.get(i.address, 1) * stepwise
    hot_counts = S.count(counted, weights)
    cold_counts, cold_sites = _cold_counts(code, lps, body, list_length)
    rare_count = S.count([i for i in body if i.address in rare - cold_sites])
    outer = [lp for lp in lps if lp.contains(hot)]
    config = min(outer, key=lambda lp: lp.end - lp.start) if outer else None
    per = {k: v / per_iter for k, v in hot_counts.items()}
    for k, v in cold_counts.items():      # recomputations, at the steps that run them
        per[k] = per.get(k, 0.0) + refresh * v / per_iter
    if config is not None:                # the config section, once per thread and config
        copies = [lp for lp in lps if config.contains(lp) and not any(
            o.contains(lp) and config.contains(o) for o in lps)]
        inside = {i.address for lp in copies for i in lp.body(code)}
        rest = S.count([i for i in config.body(code) if i.address not in inside])
        for k, v in rest.items():
            per[k] = per.get(k, 0.0) + v / max(1.0, steps_per_thread)
    return KernelCounts(per, regs, spills, per_iter, sum(hot_counts.values()),
                        sum(rare_count.values()) / per_iter, refresh if cold_counts else 0.0,
                        stepwise if region else 1.0)


def _cold_counts(code, lps, body, list_length) -> tuple:
    """The instructions of the out-of-line recomputations the hot loop calls (callees with a
    PMTRIG, see kernels/gpusched.cuh, GS_COLD_MARK), each call counted once: the
    calling block, the callee (its list loops weighted by their trip count) and what it calls
    on its main path. Also the calling blocks' addresses."""
    total: Counter = Counter()
    sites: set = set()
    for call in (i for i in body if i.base == "CALL"):
        if not S.out_of_line(code, call):
            continue
        callee = S.callee(code, call)
        site = next(b for b in S.blocks(body) if call in b)
        sites.update(i.address for i in site)
        region = S.Loop(callee[0].address, callee[-1].address)
        weights = _inner_loop_trips(code, lps, region, list_length)
        rare = S.rare_addresses(code, callee)
        counted, weights = S.with_callees(code, [i for i in callee if i.address not in rare],
                                          weights)
        total += S.count(site) + S.count(counted, weights)
    return total, sites


@dataclass
class Record:
    workload: str
    precision: str
    backend: str
    gpu: str
    sm: str
    instructions_per_element: float
    fp64_per_element: float
    fp32_per_element: float
    mufu_per_element: float
    int_per_element: float
    conversions_per_element: float
    memory_per_element: float
    branches_per_element: float
    calls_per_element: float
    local_per_element: float
    slow_path_per_element: float     # in the loop but on libm slow paths: not counted above
    registers: int
    spills: int
    bytes_per_element: float
    bound: str
    projected_elements_per_s: float
    bandwidth_fraction: float
    sm_fraction: float
    # steps that recompute a remembered value (a milestone count, gamma ** count); their
    # out-of-line code is counted at this fraction (see refresh_fraction)
    refresh_fraction: float = 0.0
    # a table vector computed step by step, not at once (its remembered counts change in it,
    # for some lane of the warp): that path is counted at this fraction
    stepwise_fraction: float = 1.0


def project(counts: KernelCounts, gpu: Gpu, bytes_per_element: float) -> tuple:
    """(bound, elements/s, fraction of DRAM bandwidth) on ``gpu``."""
    pipes = PIPES[gpu.sm]
    rate = gpu.sms * gpu.clock_ghz * 1e9
    per = counts.per_element
    times = {"issue": sum(per.values()) / (ISSUE * rate)}
    load: dict[str, float] = {}
    for k, v in per.items():
        pipe = _PIPE_OF.get(k, "lsu" if k[:2] in ("LD", "ST", "AT", "RE") else None)
        if pipe:
            load[pipe] = load.get(pipe, 0.0) + v
    for pipe, v in load.items():
        times[pipe] = v / (pipes[pipe] * rate)
    if bytes_per_element:
        times["memory"] = bytes_per_element / gpu.bandwidth
    bound = max(times, key=lambda k: times[k])
    eps = 1.0 / times[bound]
    return bound, eps, (eps * bytes_per_element / gpu.bandwidth if bytes_per_element else 0.0)


def _group(per, *keys):
    return sum(v for k, v in per.items() if k in keys or any(k.startswith(p) for p in keys
                                                               if p.endswith(".")))


BACKENDS = ("cupy", "numba-cuda")


def numba_cuda_available() -> bool:
    """Whether Numba can compile CUDA PTX here (NVVM and NVRTC found, no GPU needed)."""
    try:
        from numba import cuda
        cuda.compile_ptx(lambda x: None, "void(float64)", cc=(9, 0))
        return True
    except Exception:  # noqa: BLE001 - any missing library means no Numba CUDA path here
        return False


def model(quick: bool = False, workloads_filter=None, precisions=("exact", "fast"),
          archs=ARCHS, backends=BACKENDS, out=print,
          skipped: list[str] | None = None) -> list[Record]:
    """Records for every workload x precision x backend x GPU (numba-cuda: exact only, it
    has no fast path; skipped, with a line, where Numba finds no NVVM). Kernels that could
    not be compiled are named in ``skipped`` when given."""
    import numpy as np

    from .. import codegen
    from ..engine.factorized import precompute
    from ..api import prepare
    from ..cuda_source import translation_unit
    from .workloads import workloads

    if "numba-cuda" in backends and not numba_cuda_available():
        out("numba-cuda: skipped (Numba finds no NVVM/NVRTC: pip install nvidia-nvvm "
            "nvidia-cuda-nvrtc)")
        backends = tuple(b for b in backends if b != "numba-cuda")
    records = []
    skipped = [] if skipped is None else skipped
    for w in workloads(quick=False, gpu=True):
        if workloads_filter and w.name not in workloads_filter:
            continue
        # the plan a call compiles: choices all configs share folded (specialize), integer
        # ranges widened, as api.evaluate/reduce prepare it
        _, _, _, _, bound, plan = prepare(w.schedule, w.grid, w.steps, "float32")
        layout = codegen.Layout.of(plan, bound.dtypes)
        # the longest list parameter: the trip count of list scans (milestone counts)
        lists = max([int(np.max(c.lengths)) for c in w.grid.columns.values()
                     if hasattr(c, "lengths")] + [1])
        kind = "reduce" if w.kind == "reduce" else "table"
        # the factorized tables the GPU backends read on a whole grid
        pre = precompute(plan, bound, np.arange(w.steps), 1 << 28)
        for backend in backends:
            for precision in precisions:
                if backend == "numba-cuda" and precision != "exact":
                    continue
                inst = "reduce<float, 0, true>" if kind == "reduce" else "table<float, true>"
                src = translation_unit(plan, layout, precision, instantiate=(inst,), pre=pre)
                for gpu in (g for a in archs for g in GPUS if g.sm == a):
                    try:
                        rec = _record(w, kind, backend, precision, gpu, src, plan, layout,
                                      bound, pre, lists)
                    except Exception as err:  # noqa: BLE001 - Numba typing without a device
                        if backend == "cupy":
                            raise
                        out(f"{w.name:4s} {backend:10s} {precision:5s}: not modelled ("
                            f"{type(err).__name__}: Numba types this kernel's device "
                            f"functions only with a CUDA driver)")
                        skipped.append(f"{w.name} on {backend}")
                        break
                    records.append(rec)
                    out(f"{w.name:4s} {backend:10s} {precision:5s} {gpu.name:9s} "
                        f"{rec.instructions_per_element:7.1f} instr/elem "
                        f"({rec.fp64_per_element:5.1f} FP64), {rec.registers} regs, bound by "
                        f"{rec.bound}: {rec.projected_elements_per_s:.3g} elem/s"
                        + (f", {rec.bandwidth_fraction:.0%} of bandwidth"
                           if rec.bytes_per_element else ""))
    return records


def _record(w, kind, backend, precision, gpu, src, plan, layout, bound, pre, lists) -> Record:
    """One workload's kernel on one GPU, launched as its backend launches it (float32)."""
    from ..backends.numba_cuda_backend import THREADS as NUMBA_THREADS
    from ..cuda_source import TABLE_THREADS, reduce_launch, table_launch, vector_steps
    cupy = backend == "cupy"
    if kind == "table":
        per_iter, nbytes = (vector_steps("float32") if cupy else 1), 4.0
        # NumbaCudaBackend.table: one step per thread and iteration
        launch = table_launch(len(w.grid), w.steps, gpu.sms, per_iter,
                              TABLE_THREADS if cupy else NUMBA_THREADS)
    else:
        per_iter, nbytes = 1, 0.0
        launch = reduce_launch(len(w.grid), w.steps, gpu.sms)
    steps_per_thread = w.steps / (launch.grid[0] * launch.block)
    if cupy:
        refresh = refresh_fraction(plan, bound, w.steps, kind, launch, per_iter)
        stepwise = refresh_fraction(plan, bound, w.steps, kind, launch, per_iter,
                                    per_vector=True) if kind == "table" else 1.0
        counts = compile_and_count(src, gpu.sm, kind, per_iter, lists, steps_per_thread,
                                   refresh=refresh, stepwise=stepwise)
    else:
        counts = numba_cuda_counts(plan, layout, bound, pre, w.steps, gpu.sm, kind, lists,
                                   steps_per_thread)
    bound_by, eps, frac = project(counts, gpu, nbytes)
    small = reduce_launch(64, w.steps, gpu.sms) if kind == "reduce" else \
        table_launch(64, w.steps, gpu.sms, per_iter, launch.block)
    per = counts.per_element
    return Record(
        w.name, precision, backend, gpu.name, f"sm_{gpu.sm}",
        round(sum(per.values()), 2), round(per.get("fp64", 0.0), 2),
        round(per.get("fp32", 0.0), 2), round(per.get("mufu", 0.0), 2),
        round(per.get("int", 0.0) + per.get("int64", 0.0) + per.get("uniform", 0.0), 2),
        round(per.get("conversion", 0.0), 2),
        round(sum(v for k, v in per.items() if k[:2] in ("LD", "ST", "AT", "RE")), 2),
        round(per.get("branch", 0.0), 2), round(per.get("call", 0.0), 2),
        round(per.get("local", 0.0), 2), round(counts.rare_per_element, 2),
        counts.registers, counts.spills, nbytes, bound_by, float(f"{eps:.4g}"), round(frac, 4),
        round(min(1.0, small.blocks / gpu.sms), 3), round(counts.refresh_fraction, 5),
        round(counts.stepwise_fraction, 5))


def markdown(records: list[Record], skipped=()) -> str:
    lines = ["# GPU cost model (projection, not a measurement)", "",
             "Generated by `python -m bench.gpu_model` from the SASS of the CuPy backend's "
             "kernels (nvcc) and the Numba CUDA backend's (Numba's PTX, then ptxas), float32 "
             "results, steps given as a range. Instructions per "
             "element of the hot loop by class, then a roofline per GPU; *bound* is the "
             "limiting resource. Assumes full occupancy and boost clocks; see "
             "`gpusched/bench/gpu_model.py` for the throughput table and its sources. "
             "Subroutines every element calls (double pow's core) count where they are "
             "called; libm slow paths for rare arguments are left out (`slow_path_per_element` "
             "in the JSON). Remembered values (a milestone count, `StepLR`'s `gamma ** (t "
             "// k)`) are recomputed out of line; that code counts at `refresh_fraction` (the "
             "JSON; each recomputation charged to all 32 lanes of its warp). An operation on a "
             "list count alone (`gamma ** count`) is read from a per-config table over the "
             "count's values, and a list only counts read comes sorted, so a recount only "
             "counts. A table whose value depends on the step only through list counts (W3c) "
             "computes a 16-byte vector's value once where every count's span covers it; its "
             "step-by-step path counts at `stepwise_fraction` (the warp iterations where some "
             "lane needs it).", "",
             "| workload | backend | precision | GPU | instr/elem | FP64/elem | MUFU/elem | regs "
             "| spills | bound | projected elem/s | % of bandwidth | SMs used by 64 configs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        bw = f"{r.bandwidth_fraction:.0%}" if r.bytes_per_element else "n/a (reduction)"
        lines.append(f"| {r.workload} | {r.backend} | {r.precision} | {r.gpu} | "
                     f"{r.instructions_per_element} "
                     f"| {r.fp64_per_element} | {r.mufu_per_element} | {r.registers} | "
                     f"{r.spills} | {r.bound} | {r.projected_elements_per_s:.3g} | {bw} | "
                     f"{r.sm_fraction:.0%} |")
    if skipped:
        lines += ["", "Not modelled (Numba types the device functions these kernels call, the "
                  "list helpers, only with a CUDA driver): " + ", ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_model", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="folder for gpu-model.json and gpu-model.md "
                   "(default: bench/results in a checkout, else the current folder)")
    p.add_argument("--workloads", default="", help="comma-separated subset, e.g. W1,W2")
    args = p.parse_args(argv)
    if not (tool("nvcc") and tool("cuobjdump") and tool("nvdisasm")):
        print("needs nvcc, cuobjdump and nvdisasm (pip install nvidia-cuda-cuobjdump "
              "nvidia-cuda-nvdisasm)", file=sys.stderr)
        return 2
    folder = Path(args.out) if args.out else (Path("bench/results") if Path("bench/results")
                                              .is_dir() else Path("."))
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {w for w in args.workloads.split(",") if w}
    skipped: list[str] = []
    recs = model(workloads_filter=wanted or None, skipped=skipped)
    (folder / "gpu-model.json").write_text(json.dumps([asdict(r) for r in recs], indent=1) + "\n")
    (folder / "gpu-model.md").write_text(markdown(recs, skipped))
    print(f"wrote {folder / 'gpu-model.json'} and {folder / 'gpu-model.md'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
