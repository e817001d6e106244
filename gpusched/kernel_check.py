"""``gpusched check-kernels``: the GPU code gate that runs without a GPU (docs/architecture.md).

For every schedule of the catalog (twins, core blocks, compositions, traced lambdas) it
generates the CUDA C translation unit of each precision, then

1. compiles it as host C++ with g++ and runs its 2-D table and reduction kernels over every
   (block, thread) through ctypes (small blocks and grids, so the configs' and steps'
   grid-stride loops, the tails and the partial folds all run), and compares the numbers with
   the NumPy backend: ``exact`` within relative 1e-12 (float64), ``fast`` within
   :data:`FAST_RTOL` (its measured errors are in docs/precision.md);
2. compiles it with nvcc for every architecture in :data:`CUDA_ARCHS`.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import codegen
from .api import evaluate, normalize_steps, reduce
from .binding import Bound, bind
from .grid import Grid
from .schedule import Schedule
from .cuda_source import (CUDA_ARCHS, REDUCE_OPS, function_name, host_launcher_name,
                          launch_args, out_ctype, step_range, translation_unit)
from .kernel_cache import kernels_dir
from .engine.factorized import precompute
from .plan import Plan, compile_plan

RTOL = 1e-12
CHECK_STEPS = np.concatenate([np.arange(0, 400), [1000, 2999, 12345, 2 ** 31 + 7]])
RANGE_STEPS = np.arange(0, 397)        # a range (t computed) that is no multiple of 4 steps
# a range of whole 16-byte vectors, every third step: the table kernel's vector loop, where a
# value that depends on the step only through list counts is computed once per vector
WIDE_RANGE_STEPS = np.arange(3, 3 + 3 * 400, 3)
# precision="fast" is float32 arithmetic: the error it may show on the catalog's checks, as a
# fraction of each config's largest value, and the share of elements it may put on the other
# side of a step boundary (measured: docs/precision.md, `python -m gpusched.bench.precision`)
FAST_SCALED = 1e-5
FAST_FLIPS = 0.005
FAST_STEPS = np.arange(0, 4000)


@dataclass
class Unit:
    label: str
    plan: Plan
    layout: codegen.Layout
    bound: Bound
    grid: Grid | None
    schedule: Schedule

    def name(self, precision="exact") -> str:
        return function_name(self.plan, precision)


def units(entries) -> list[Unit]:
    out = []
    for label, sched, grid in entries:
        bound = bind(sched, grid)
        plan = compile_plan(sched.expr, bound.dtypes)
        out.append(Unit(label, plan, codegen.Layout.of(plan, bound.dtypes), bound, grid, sched))
    return out


# what the device gate instantiates: for sm_90 both output types, both step forms and a
# reduction of each precision (the fold operations differ by one template line), the exact
# float32 table elsewhere (the architectures differ in ptxas, not in what the front end
# accepts)
ALL_INSTANCES = ("table<float, true>", "table<double, false>", "reduce<float, 0, true>")
FAST_INSTANCES = ("table<float, false>", "reduce<float, 1, true>")
GATE_INSTANCES = ("table<float, true>",)


# what the host harness runs, per precision: (kind, out type, op, steps are a range)
HOST_LAUNCHERS = {
    "exact": (("table", "double", None, True), ("table", "double", None, False),
              *(("reduce", "double", op, True) for op in REDUCE_OPS)),
    "fast": (("table", "float", None, True), ("reduce", "float", "sum", True)),
}


def source(us: list[Unit], precision="exact", instantiate=GATE_INSTANCES, host=(),
           pres=None) -> str:
    """One translation unit holding every distinct generated kernel of ``precision``
    (``pres``: unit index -> factorized tables its kernel reads)."""
    seen: set = set()
    parts: list[str] = []
    for k, u in enumerate(us):
        pre = (pres or {}).get(k)
        name = function_name(u.plan, precision, pre)
        if name not in seen:
            seen.add(name)
            parts.append(translation_unit(u.plan, u.layout, precision,
                                          include="" if parts else '#include "gpusched.cuh"',
                                          instantiate=instantiate, host=host, pre=pre))
    return "\n".join(parts)


def law_source(us: list[Unit]) -> str:
    """The loss laws' fused kernel (gpusched/laws/cuda.py) of every distinct plan, both step
    forms instantiated (after an include of gpusched.cuh)."""
    from .laws.cuda import kernel_name, law_unit
    seen, parts = set(), []
    for u in us:
        name = kernel_name(u.plan)
        if name not in seen:
            seen.add(name)
            parts.append(law_unit(u.plan, u.layout, include="", instantiate=("true", "false")))
    return "\n".join(parts)


PRE_BUDGET = 1 << 28


def _unit_steps(u) -> np.ndarray:
    # running products are tabulated up to the largest step: keep those moderate
    return normalize_steps(CHECK_STEPS[CHECK_STEPS < 10 ** 5] if u.layout.sequences
                           else CHECK_STEPS)


class HostKernels:
    """A host-C++ build of the kernels of ``us``, run through ctypes as a GPU would: every
    (block, thread) of a launch, one after the other."""

    def __init__(self, us: list[Unit], workdir: Path, precision="exact", cxx="g++",
                 factorize=False):
        self.precision = precision
        self.factorize = factorize
        self.pres = {}
        if factorize:           # the kernels that read factorized tables, as on a full grid
            for k, u in enumerate(us):
                pre = precompute(u.plan, u.bound, _unit_steps(u), PRE_BUDGET)
                if pre is not None:
                    self.pres[k] = pre
        self.keys = {id(u): self.pres[k].key for k, u in enumerate(us) if k in self.pres}
        src = workdir / f"gpusched_host_{precision}.cpp"
        src.write_text(source(us, precision, instantiate=(), host=HOST_LAUNCHERS[precision],
                              pres=self.pres))
        lib = workdir / f"libgpusched_host_{precision}.so"
        cmd = [cxx, "-O1", "-std=c++17", "-shared", "-fPIC", "-fno-fast-math",
               f"-I{kernels_dir()}", str(src), "-o", str(lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        self.error = proc.stderr[-2000:] if proc.returncode else ""
        self.dll = None if proc.returncode else ctypes.CDLL(str(lib))

    def _call(self, u: Unit, name: tuple[str, str, str | None], steps, shape, result, gy):
        keep = [steps, result]
        pre = None
        if id(u) in self.keys:
            pre = precompute(u.plan, u.bound, steps, PRE_BUDGET)
            assert pre is not None and pre.key == self.keys[id(u)], \
                f"{u.label}: the factorized nodes differ between step sets"

        def c_arg(kind, v):
            if kind == "i64":
                return ctypes.c_longlong(v)
            keep.append(v)
            return ctypes.c_void_p(v.ctypes.data)

        rng = step_range(steps)
        head = [ctypes.c_longlong(u.bound.n), ctypes.c_longlong(steps.size),
                ctypes.c_void_p(None if rng else steps.ctypes.data),
                ctypes.c_longlong(rng[0] if rng else 0), ctypes.c_longlong(rng[1] if rng else 0)]
        bad: np.ndarray = np.full(1, np.iinfo(np.uint64).max, dtype=np.uint64)
        fn = getattr(self.dll, host_launcher_name(function_name(u.plan, self.precision, pre),
                                                  *name, rng is not None))
        fn.restype = None
        fn(ctypes.c_longlong(shape[0]), ctypes.c_longlong(gy), ctypes.c_longlong(shape[1]),
           *head, *[c_arg(k, v) for k, v in launch_args(u.plan, u.layout, u.bound, steps,
                                                         self.precision, pre)],
           ctypes.c_void_p(result.ctypes.data), ctypes.c_void_p(bad.ctypes.data))
        return int(bad[0]) if bad[0] != np.iinfo(np.uint64).max else None

    def table(self, u: Unit, steps, dtype, gx=2, gy=3, threads=4):
        """The table and the first config flagged non-finite (None when all are finite)."""
        steps = np.ascontiguousarray(steps, dtype=np.int64)
        out = np.empty((u.bound.n, steps.size), dtype=dtype)
        bad = self._call(u, ("table", out_ctype(dtype), None), steps, (gx, threads), out,
                         min(gy, u.bound.n))
        return out, bad

    def reduce(self, u: Unit, steps, op, dtype, gx=3, threads=4):
        """Per-config ``op`` (sum, min, max) from the partials of ``gx`` blocks per config."""
        steps = np.ascontiguousarray(steps, dtype=np.int64)
        partial = np.empty((u.bound.n, gx))
        self._call(u, ("reduce", out_ctype(dtype), op), steps, (gx, threads), partial,
                   u.bound.n)
        folds: dict[str, Callable] = {"sum": np.sum, "min": np.min, "max": np.max}
        return folds[op](partial, axis=1)


def _worst(got, want):
    """(max relative difference, max absolute difference)."""
    if not np.isfinite(got).all():
        return float("inf"), float("inf")
    diff = np.abs(got.astype(np.float64) - want)
    rel = diff / np.maximum(np.abs(want), 1e-300)
    return float(np.max(rel, initial=0.0)), float(np.max(diff, initial=0.0))


def check_host(us: list[Unit], workdir: Path, cxx: str = "g++") -> list[tuple[str, bool, str]]:
    """Build the exact kernels as host C++, run them, compare with the NumPy backend:
    float64 tables on explicit steps and on a range, and the fused reductions. Kernels read
    factorized tables where the grid allows (as the CuPy backend's on a whole grid); the fast
    check runs the unfactorized form."""
    k = HostKernels(us, workdir, "exact", cxx, factorize=True)
    if k.dll is None:
        return [("host compile", False, k.error)]
    results = []
    for u in us:
        steps = _unit_steps(u)
        worst = 0.0
        for at in (steps, RANGE_STEPS, WIDE_RANGE_STEPS):
            want = evaluate(u.schedule, u.grid, steps=at, dtype="float64", backend="numpy")
            got, _ = k.table(u, at, np.float64)
            worst = max(worst, _worst(got, want)[0])
        for op in REDUCE_OPS:
            want = reduce(u.schedule, u.grid, steps=RANGE_STEPS, op=op, dtype="float64",
                          backend="numpy")
            worst = max(worst, _worst(k.reduce(u, RANGE_STEPS, op, np.float64), want)[0])
        form = " (factorized)" if id(u) in k.keys else ""
        results.append((u.label, worst <= RTOL, f"max relative difference {worst:.2e}{form}"))
    return results


@dataclass
class FastError:
    """precision="fast" (float32 tables) against exact float64 values, one unit."""

    label: str
    elements: int
    max_abs: float        # max |fast - exact|
    max_scaled: float     # max |fast - exact| / (the config's largest |exact| value)
    max_rel: float        # max |fast - exact| / |exact| where |exact| >= 1e-6 x that largest
    flips: int            # elements off by more than 1e-3 x the largest |exact| value: a
                          # float32 rounding on the other side of a step's boundary


def fast_errors(us: list[Unit], workdir: Path, steps=FAST_STEPS, cxx: str = "g++"
                ) -> list[FastError]:
    """Errors of precision="fast" float32 tables against the exact float64 NumPy values."""
    k = HostKernels(us, workdir, "fast", cxx)
    if k.dll is None:
        raise RuntimeError(f"host compile of the fast kernels failed: {k.error}")
    out = []
    for u in us:
        want = evaluate(u.schedule, u.grid, steps=steps, dtype="float64",
                        backend="numpy").reshape(u.bound.n, -1)
        got, _ = k.table(u, steps, np.float32)
        diff = np.abs(got.astype(np.float64) - want)
        diff[~np.isfinite(got)] = np.inf
        scale = np.maximum(np.abs(want).max(axis=1, keepdims=True), 1e-300)
        flips = diff > 1e-3 * scale
        big = np.abs(want) >= 1e-6 * scale
        rel = np.where(big & ~flips, diff / np.maximum(np.abs(want), 1e-300), 0.0)
        out.append(FastError(u.label, want.size, float(diff[~flips].max(initial=0.0)),
                             float((diff / scale)[~flips].max(initial=0.0)),
                             float(rel.max(initial=0.0)), int(flips.sum())))
    return out


def check_fast(us: list[Unit], workdir: Path, cxx: str = "g++") -> list[tuple[str, bool, str]]:
    """Fast kernels within :data:`FAST_SCALED` of each config's scale, but for at most
    :data:`FAST_FLIPS` of the elements (values on the other side of a boundary)."""
    return [(e.label, e.max_scaled <= FAST_SCALED and e.flips <= FAST_FLIPS * e.elements,
             f"fast: max error {e.max_scaled:.1e} of the config's scale, {e.flips} flips")
            for e in fast_errors(us, workdir, cxx=cxx)]


FULL_ARCH = "90"     # the architecture every instantiation of both precisions compiles for


def check_nvcc(us: list[Unit], workdir: Path, archs=CUDA_ARCHS, nvcc: str = "nvcc",
               jobs: int = 2, extra=(), tag="gpusched") -> list[tuple[str, bool, str]]:
    """Compile the exact float32 table kernels for every architecture (one nvcc call per
    arch) and, with sm_90 among ``archs``, every kernel of both precisions for sm_90."""
    src = workdir / f"{tag}_device.cu"
    src.write_text(source(us, "exact", GATE_INSTANCES))
    jobs_list = [(a, src, "") for a in archs]
    if FULL_ARCH in archs:
        full = workdir / f"{tag}_all.cu"
        full.write_text(source(us, "exact", ALL_INSTANCES) + "\n" +
                        source(us, "fast", FAST_INSTANCES)
                        .replace('#include "gpusched.cuh"', ""))
        jobs_list.append((FULL_ARCH, full, " all kernels, exact and fast"))
        laws = workdir / f"{tag}_laws.cu"       # its own nvcc call: the jobs run side by side
        laws.write_text('#include "gpusched.cuh"\n' + law_source(us))
        jobs_list.append((FULL_ARCH, laws, " loss laws"))

    def one(job):
        arch, src, what = job
        out = workdir / f"{tag}_sm{arch}{'_' + src.stem if what else ''}.cubin"
        cmd = [nvcc, "-std=c++17", f"-I{kernels_dir()}", *extra, "-cubin",
               f"-arch=sm_{arch}", str(src), "-o", str(out)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        ok = proc.returncode == 0 and out.is_file() and out.stat().st_size > 0
        detail = f"{out.stat().st_size} bytes, {dt:.1f} s" if ok else proc.stderr[-2000:]
        return (f"sm_{arch}{what}", ok, detail)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, jobs_list))


def run(archs=CUDA_ARCHS, host=True, device=True, keep: str | None = None, out=print) -> int:
    from .examples import check_catalog

    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="gpusched-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    us = units(check_catalog())
    out(f"gpusched check-kernels: {len(us)} schedules, {len({u.name() for u in us})} distinct "
        f"kernels, work folder {workdir}")
    failures = 0
    if host:
        out("host C++ (g++ + ctypes, every block and thread) against the NumPy backend: "
            "exact (float64 tables, fused reductions), fast (float32):")
        for label, ok, detail in [*check_host(us, workdir), *check_fast(us, workdir)]:
            failures += not ok
            out(f"  {'ok  ' if ok else 'FAIL'} {label:44s} {detail}")
    if device:
        nvcc = shutil.which("nvcc") or (os.path.exists("/usr/local/cuda/bin/nvcc") and
                                        "/usr/local/cuda/bin/nvcc")
        if not nvcc:
            out("nvcc: not found; the device compile gate needs the CUDA toolkit")
            failures += 1
        else:
            out(f"nvcc ({nvcc}) for {', '.join('sm_' + a for a in archs)}:")
            for label, ok, detail in check_nvcc(us, workdir, archs, nvcc):
                failures += not ok
                out(f"  {'ok  ' if ok else 'FAIL'} {label:10s} {detail}")
    out("all kernels passed" if not failures else f"{failures} check(s) failed")
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0
