"""``gpusched check-kernels``: the GPU code gate that runs without a GPU (DESIGN.md §5).

For every schedule of the catalog (twins, core blocks, compositions, traced lambdas) it
generates the CUDA C translation unit, then

1. compiles it as host C++ with g++, calls the table wrapper through ctypes and compares the
   numbers with the NumPy backend (float64, relative 1e-12);
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

import numpy as np

from . import codegen
from .api import evaluate, normalize_steps
from .backends.inputs import kernel_inputs
from .binding import bind
from .cuda_source import CUDA_ARCHS, function_name, translation_unit
from .kernel_cache import kernels_dir
from .plan import compile_plan

RTOL = 1e-12
CHECK_STEPS = np.concatenate([np.arange(0, 400), [1000, 2999, 12345, 2 ** 31 + 7]])


@dataclass
class Unit:
    label: str
    plan: object
    layout: object
    bound: object
    grid: object
    schedule: object

    @property
    def name(self) -> str:
        return function_name(self.plan)


def units(entries) -> list[Unit]:
    out = []
    for label, sched, grid in entries:
        bound = bind(sched, grid)
        plan = compile_plan(sched.expr, bound.kinds)
        out.append(Unit(label, plan, codegen.Layout.of(plan, bound.kinds), bound, grid, sched))
    return out


def source(us: list[Unit]) -> str:
    """One translation unit holding every distinct generated function."""
    seen, parts = set(), []
    for u in us:
        if u.name not in seen:
            seen.add(u.name)
            parts.append(translation_unit(u.plan, u.layout, include="" if parts else
                                          '#include "gpusched.cuh"'))
    return "\n".join(parts)


def _wrapper_args(u: Unit, steps: np.ndarray, out: np.ndarray):
    """ctypes arguments of the table wrapper, and the arrays they point into."""
    keep, args = [], [ctypes.c_longlong(out.shape[0]), ctypes.c_longlong(steps.size)]

    def ptr(a):
        a = np.ascontiguousarray(a)
        keep.append(a)
        return ctypes.c_void_p(a.ctypes.data)

    def per_config(a):
        return ctypes.c_longlong(int(a.shape[0] > 1))

    args.append(ptr(steps))
    for e, arrays in kernel_inputs(u.plan, u.layout, u.bound, steps):
        first = arrays[0]
        if e.role == "scalar":
            args += [ptr(first), per_config(first)]
        elif e.role == "list":
            args += [ptr(first), ptr(arrays[1]), ctypes.c_longlong(first.shape[1]),
                     per_config(first)]
        elif e.role == "table":
            args.append(ptr(first))
        else:
            args += [ptr(first), ctypes.c_longlong(first.shape[1]), per_config(first)]
    args.append(ctypes.c_void_p(out.ctypes.data))
    return args, keep


def check_host(us: list[Unit], workdir: Path, cxx: str = "g++") -> list[tuple[str, bool, str]]:
    """Compile as host C++, run through ctypes, compare with the NumPy backend."""
    src = workdir / "gpusched_host.cpp"
    src.write_text(source(us))
    lib = workdir / "libgpusched_host.so"
    cmd = [cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-fno-fast-math",
           f"-I{kernels_dir()}", str(src), "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        return [("host compile", False, proc.stderr[-2000:])]
    dll = ctypes.CDLL(str(lib))
    results = []
    for u in us:
        # running products are tabulated up to the largest step: keep those moderate
        steps = normalize_steps(CHECK_STEPS[CHECK_STEPS < 10 ** 5] if u.layout.cumprods
                                else CHECK_STEPS)
        want = evaluate(u.schedule, u.grid, steps=steps, dtype="float64", backend="numpy")
        out = np.empty((u.bound.n, steps.size), dtype=np.float64)
        args, keep = _wrapper_args(u, steps, out)
        fn = getattr(dll, f"{u.name}_table")
        fn.restype = None
        fn(*args)
        err = np.abs(out - want) / np.maximum(np.abs(want), 1e-300)
        worst = float(np.nanmax(err)) if np.isfinite(out).all() else float("inf")
        ok = worst <= RTOL or np.allclose(out, want, rtol=RTOL, atol=1e-300)
        results.append((u.label, bool(ok), f"max relative difference {worst:.2e}"))
        del keep
    return results


def check_nvcc(us: list[Unit], workdir: Path, archs=CUDA_ARCHS, nvcc: str = "nvcc",
               jobs: int = 2, source_file: Path | None = None, extra=(), tag="gpusched"
               ) -> list[tuple[str, bool, str]]:
    """Compile the translation unit for every architecture (one nvcc call per arch)."""
    src = source_file
    if src is None:
        src = workdir / "gpusched_device.cu"
        src.write_text(source(us))

    def one(arch):
        out = workdir / f"{tag}_sm{arch}.cubin"
        cmd = [nvcc, "-std=c++17", f"-I{kernels_dir()}", *extra, "-cubin",
               f"-arch=sm_{arch}", str(src), "-o", str(out)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        ok = proc.returncode == 0 and out.is_file() and out.stat().st_size > 0
        detail = f"{out.stat().st_size} bytes, {dt:.1f} s" if ok else proc.stderr[-2000:]
        return (f"sm_{arch}", ok, detail)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, archs))


def cupy_source(us: list[Unit]) -> str:
    """The exact CUDA source CuPy generates for every ElementwiseKernel and fused
    ReductionKernel of the catalog, in one translation unit (one namespace per kernel).

    Uses CuPy's private source generators (``cupy._core``), tested with CuPy 14.x; raises
    RuntimeError when they are missing or changed.
    """
    import cupy
    from cupy._core import _kernel as K
    from cupy._core import _reduction as R
    from .backends import cupy_backend as cb

    def info(prm, out_ndim):
        if prm.name in ("_ind", "_in_ind"):
            return K._ArgInfo(2, K._ArgInfo, None, 2, True, False)
        if prm.name == "_out_ind":
            return K._ArgInfo(2, K._ArgInfo, None, 1, True, False)
        if prm.name in ("_block_stride", "gs_nsteps") or prm.name.startswith(
                ("k_", "m_", "mc")) or (prm.name[:1] == "w" and prm.name[1:].isdigit()):
            return K._ArgInfo(3, int, prm.dtype, 0, True, False)
        if prm.raw:
            return K._ArgInfo(1, cupy.ndarray, prm.dtype, 2 if prm.name.startswith(
                ("l_", "cp")) else 1, True, False)       # n_<list>, gs_bad: 1-D
        return K._ArgInfo(1, cupy.ndarray, prm.dtype, out_ndim if prm.name == "acc" else 2,
                          True, False)

    parts, include = [], '#include "gpusched.cuh"'
    try:
        for n, u in enumerate(us):
            kernels = [cb._elementwise(u.plan, u.layout, c) for c in ("float", "double")]
            for k in kernels:
                code = K._get_elementwise_kernel_code(
                    tuple(info(p, 2) for p in k.params), K._TypeMap(()), tuple(k.params),
                    k.operation, k.name, k.preamble)
                parts.append(_namespaced(code, include, k.name, f"e{len(parts)}"))
            if u.layout.lists or u.layout.cumprods or u.layout.tables:
                continue      # reduced from chunked tables, not a ReductionKernel
            for op in ("sum", "min", "max"):
                k = cb._reduction(u.plan, u.layout, op, "float")
                code = R._ReductionKernel_get_cached_function_code(
                    k.nin, k.nout, k._params, tuple(info(p, 1) for p in k._params),
                    K._TypeMap((("IndexT", np.int64),)), k.name, 512, k.reduce_type,
                    k.identity, k.map_expr, k.reduce_expr, k.post_map_expr, k.preamble,
                    k.options)
                parts.append(_namespaced(code, include, k.name, f"r{len(parts)}"))
    except (AttributeError, TypeError, AssertionError) as err:
        raise RuntimeError(f"CuPy {cupy.__version__}'s private kernel-source API differs from "
                           f"the one this check was written for: {err!r}") from None
    return "#include <cupy/carray.cuh>\n" + include + "\n" + "\n".join(parts)


def _namespaced(code: str, include: str, name: str, tag: str) -> str:
    """One CuPy kernel in its own namespace and under a unique symbol (float and double
    variants share a name; CuPy compiles them apart, this check compiles them together)."""
    code = code.replace(include, "").replace(f" {name}(", f" {name}_{tag}(")
    return f"namespace gs_{tag} {{\n{code}\n}}"


def check_cupy(us, workdir: Path, archs, nvcc: str, jobs: int = 2):
    import cupy
    src = workdir / "gpusched_cupy.cu"
    src.write_text(cupy_source(us))
    cupy_include = Path(cupy.__file__).parent / "_core" / "include"
    return check_nvcc(us, workdir, archs, nvcc, jobs, source_file=src,
                      extra=[f"-I{cupy_include}"], tag="cupy")


def run(archs=CUDA_ARCHS, host=True, device=True, keep: str | None = None, out=print) -> int:
    from .examples import check_catalog

    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="gpusched-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    us = units(check_catalog())
    out(f"gpusched check-kernels: {len(us)} schedules, {len({u.name for u in us})} distinct "
        f"kernels, work folder {workdir}")
    failures = 0
    if host:
        out("host C++ (g++ + ctypes) against the NumPy backend, float64:")
        for label, ok, detail in check_host(us, workdir):
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
            try:
                import cupy
            except ImportError:
                out("CuPy-generated kernels: skipped (CuPy is not installed)")
            else:
                out(f"CuPy {cupy.__version__}'s generated ElementwiseKernel/ReductionKernel "
                    f"sources, nvcc:")
                try:
                    results = check_cupy(us, workdir, archs, nvcc)
                except RuntimeError as err:
                    results = [("cupy source", False, str(err))]
                for label, ok, detail in results:
                    failures += not ok
                    out(f"  {'ok  ' if ok else 'FAIL'} {label:10s} {detail}")
    out("all kernels passed" if not failures else f"{failures} check(s) failed")
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0
