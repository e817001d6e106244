"""gs.evaluate and gs.reduce: validate everything, then hand a plan to a backend."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Callable

from numpy.typing import DTypeLike

import numpy as np

from .backends import resolve_backend
from .engine.host_tables import host_table_bytes
from .binding import Bound, bind
from .codegen import PRECISIONS
from .grid import Grid, GridLike, StepsLike, as_grid
from .interop import aligned_empty, to_numpy
from . import memory, timing
from .memory import check as check_memory, default_memory_limit, limited
from .plan import Plan, compile_plan
from .ranges import widen_overflows
from .specialize import specialize
from .reductions import OPS as REDUCE_OPS, THRESHOLD_OPS
from .schedule import Schedule, as_schedule

__all__ = ["evaluate", "reduce", "REDUCE_OPS", "default_memory_limit"]

DTYPES = ("float32", "float64")
WORK_LIMIT = 64 * 2 ** 20  # bytes of temporaries a backend may hold besides the output


def count_steps(steps) -> int:
    """How many steps ``steps`` (an int N, or an array) stands for, without building them."""
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, (bool, np.bool_)):
        return max(int(steps), 1)
    return max(int(np.size(steps)), 1) if not isinstance(steps, (float, str)) else 1


def normalize_steps(steps) -> np.ndarray:
    """An int N (steps 0..N-1) or a non-empty 1-D integer array, as int64 (an int N is
    checked against the call's memory limit before its array is built)."""
    if isinstance(steps, (bool, np.bool_)):
        raise TypeError("steps must be an int or a 1-D integer array, got a bool")
    if isinstance(steps, (int, np.integer)):
        if steps <= 0:
            raise ValueError(f"steps = {int(steps)}: must be a positive number of steps")
        check_memory(int(steps) * 8, f"steps = {int(steps):,}: the array of steps",
                     "evaluate fewer steps per call, or pass the steps you need as an array")
        return np.arange(int(steps), dtype=np.int64)
    if isinstance(steps, (float, np.floating)):
        raise TypeError(f"steps = {steps!r}: must be an int (a number of steps) or an integer "
                        f"array")
    arr = np.asarray(steps)
    if arr.ndim != 1:
        raise ValueError(f"steps must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("steps is empty; give at least one step")
    if arr.dtype == bool or arr.dtype.kind not in "iu":
        raise TypeError(f"steps must hold integers, got dtype {arr.dtype}; use "
                        f"np.asarray(steps, dtype=np.int64)")
    if arr.dtype.kind == "u" and arr.max() >= 2 ** 63:
        raise ValueError(f"step {int(arr.max())} does not fit in int64")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0:
        raise ValueError(f"step {int(arr.min())} at position {int(np.argmin(arr))}: steps "
                         f"count optimizer updates and must be >= 0")
    return arr


def check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"dtype = {dtype!r}: must be one of {', '.join(DTYPES)}")
    return dt


def memory_limit_for(memory_limit, backend=None) -> int:
    """The budget: given, else half the free memory where the backend's results live."""
    if memory_limit is None:
        free = backend.free_memory() if backend is not None else None
        return free // 2 if free else default_memory_limit()
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, np.integer)) \
            or memory_limit <= 0:
        raise ValueError(f"memory_limit = {memory_limit!r}: must be a positive number of bytes")
    return int(memory_limit)


# from this many pairs, choices the whole grid shares are folded into the kernel (a kernel of
# its own per choice, compiled once; smaller jobs keep the one general kernel)
SPECIALIZE_PAIRS = 1_000_000


def backend_for(name):
    """The backend named (``auto``: the first usable of cupy, numba-cuda, numba, numpy); NumPy
    under ``auto`` when the kernel cache folder is unusable (with a warning). A Numba backend
    whose cache folder is unusable is a clear error before any work. Between Numba and NumPy,
    ``auto`` decides per call once the plan is known (:func:`refine`)."""
    be = resolve_backend(name)
    if be.kernel_cache is not None:
        from .kernel_cache import KernelCacheError, kernel_folder
        try:
            kernel_folder(be.kernel_cache)
        except KernelCacheError as err:
            if name != "auto":
                raise
            import warnings
            warnings.warn(f"{err}; evaluating with NumPy instead", RuntimeWarning, stacklevel=3)
            return resolve_backend("numpy")
    return be


def refine(backend: tuple, plan, bound, steps, work, info=None, chooser=None):
    """Under ``auto`` (not forced by ``GPUSCHED_BACKEND``), Numba only when its compile or
    start-up pays for itself in this job (:mod:`gpusched.auto`; ``chooser(numba)`` instead
    of ``auto.choose`` where the job runs another kernel); records the choice."""
    name, be = backend
    why = ""
    if name == "auto" and be.name == "numba" and not os.environ.get("GPUSCHED_BACKEND"):
        from . import auto
        chosen, why = (chooser(be) if chooser is not None
                       else auto.choose(be, plan, bound, steps, work))
        if chosen == "numpy":
            be = resolve_backend("numpy")
    if info is not None:
        info["backend"], info["why"] = be.name, why
    return be


def prepare(sched: Schedule | Callable, grid: GridLike, steps: StepsLike, dtype: DTypeLike,
            reserve: int = 0) -> tuple[Schedule, Grid | None, np.ndarray, np.dtype, Bound, Plan]:
    """Validate everything and compile the plan. The host tables the plan needs (running
    products, host scans), plus ``reserve`` bytes (the table, when it is kept in memory), are
    checked against the call's memory limit before anything is allocated."""
    sched = as_schedule(sched)
    grid = as_grid(grid)
    dt = check_dtype(dtype)
    bound = bind(sched, grid)
    if reserve and isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        # the table and the steps array it implies, before building the steps
        check_memory(reserve + max(int(steps), 0) * 8, _table_text(bound.n, count_steps(steps),
                                                                   reserve, 0), _TABLE_HINT)
    steps = normalize_steps(steps)
    expr = sched.expr
    if bound.n * steps.size >= SPECIALIZE_PAIRS:
        expr = specialize(expr, sched.param_specs.values(), bound)
    expr = widen_overflows(expr, bound, steps)
    plan = compile_plan(expr, bound.dtypes)
    top = int(steps.max())
    host = host_table_bytes(plan, bound, top)
    if host:
        check_memory(host, f"the running product or host scan (gs.cumprod, MultiplicativeLR, "
                     f"plateau rules, chains) up to step {top} for {bound.n:,} config(s)",
                     "evaluate smaller steps or fewer configs at once, or write the schedule "
                     "in closed form")
    check_memory(reserve + steps.nbytes + host,
                 _table_text(bound.n, steps.size, reserve, steps.nbytes + host), _TABLE_HINT)
    return sched, grid, steps, dt, bound, plan


_TABLE_HINT = ("use gs.reduce(...) for per-config summaries, out='table.npy' to stream the "
               "table to disk, or evaluate fewer configs or steps per call")


def _table_text(n: int, n_steps: int, table: int, other: int) -> str:
    return (f"the evaluation of {n:,} configs x {n_steps:,} steps (the table "
            f"{memory.gib(table)}, the steps and host tables {memory.gib(other)})")


def _gib(n: int) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def evaluate(schedule: Schedule | Callable, grid: GridLike = None, *, steps: StepsLike,
             backend: str = "auto", dtype: DTypeLike = "float32",
             memory_limit: int | None = None, out: str | os.PathLike | np.ndarray | None = None,
             progress: bool | None = None, verbose: bool = False,
             precision: str = "exact") -> np.ndarray:
    """Values of ``schedule`` for every config of ``grid`` at every step.

    Returns shape ``(len(grid), n_steps)``, or ``(n_steps,)`` without a grid, in ``dtype``
    (float32 by default; the arithmetic is float64, rounded once at the end): a NumPy array,
    or on the GPU backends a ``cupy.ndarray`` (the same interface, left on the device;
    ``gs.to_numpy`` copies it to the host). ``steps`` is an
    int ``N`` (steps ``0..N-1``) or a 1-D integer array. Every parameter is validated before
    any work; a table larger than ``memory_limit`` bytes (default: half the available
    host memory for CPU backends, of free device memory for GPU backends) is refused.

    ``out="table.npy"`` streams a table of any size to a ``.npy`` file chunk by chunk (memory
    stays bounded; it is written under a temporary name and renamed when complete, so a
    failure leaves nothing under ``out``) and returns it opened with ``mmap_mode="r"``;
    ``out=array`` fills a preallocated array. ``progress`` shows a tqdm bar (``None``: only
    for long evaluations on a terminal, when tqdm is installed).

    ``backend="auto"`` runs Numba only when its compile (or start-up) pays for itself in this
    job, else NumPy (:mod:`gpusched.auto`). ``gs.last_call()`` tells which backend ran and the
    time spent compiling; ``verbose=True`` prints it to stderr.

    ``precision="fast"`` (with ``dtype="float32"``) lets GPU kernels compute in float32 with
    the float libm functions, no FP64 instruction: several times faster on GPUs with slow FP64
    (L4, RTX), within about 1e-6 of each config's scale but for values that land on the other
    side of a step boundary (docs/precision.md). Backends without a fast path (CPU backends,
    numba-cuda) compute ``"exact"``: float64 arithmetic rounded once to ``dtype``.
    """
    check_precision(precision, dtype)
    if isinstance(out, (str, os.PathLike)):
        out = check_npy_out(out)
    g = as_grid(grid)
    n_configs, n_steps = (len(g) if g is not None else 1), count_steps(steps)
    be = backend_for(backend)
    limit = memory_limit_for(memory_limit, be)
    in_memory = out is None
    with limited(limit), timing.call(n_configs * n_steps, verbose) as info:
        return _evaluate(schedule, g, steps, dtype, (backend, be), limit, out, progress,
                         n_configs * n_steps * check_dtype(dtype).itemsize if in_memory else 0,
                         info, precision)


def check_precision(precision, dtype) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision = {precision!r}: must be one of {', '.join(PRECISIONS)}")
    if precision == "fast" and check_dtype(dtype) != np.float32:
        raise ValueError(f"precision = 'fast' computes in float32; it needs dtype='float32' "
                         f"(got dtype={check_dtype(dtype).name!r})")


class _FastKernels:
    """A backend whose kernel-running methods run its ``precision="fast"`` kernels; it has
    exactly the methods the backend has."""

    _RUNS_KERNELS = frozenset({"table", "reduce", "host_chunks"})

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        attr = getattr(self._backend, name)
        return functools.partial(attr, precision="fast") if name in self._RUNS_KERNELS else attr


def _with_precision(be, precision):
    return _FastKernels(be) if precision in be.precisions and precision != "exact" else be


def _evaluate(schedule, grid, steps, dtype, backend, limit, out, progress, reserve, info,
              precision="exact"):
    sched, grid, steps, dt, bound, plan = prepare(schedule, grid, steps, dtype, reserve)
    work = min(WORK_LIMIT, limit)
    be = _with_precision(refine(backend, plan, bound, steps, work, info), precision)
    shape = (bound.n, steps.size)
    need = bound.n * steps.size * dt.itemsize
    if isinstance(out, (str, os.PathLike)):
        return _stream_to_npy(out, be, plan, bound, steps, dt, work, progress,
                              shape if grid is not None else shape[1:])
    if out is not None:
        target = _check_out(out, shape if grid is not None else shape[1:], dt)
        _fill(target.reshape(shape), be, plan, bound, steps, dt, work, progress)
        return out
    if need > limit:        # (checked first, with the host tables, in prepare)
        raise ValueError(
            f"the table of {bound.n} configs x {steps.size} steps would need {_gib(need)}, more "
            f"than memory_limit ({_gib(limit)}); use gs.reduce(...) for per-config summaries, "
            f"out='table.npy' to stream it to disk, or evaluate fewer configs or steps per call")
    if be.device == "cpu" and _show_progress(progress, bound.n * steps.size):
        table = aligned_empty(shape, dt)
        _fill(table, be, plan, bound, steps, dt, work, progress)
    else:
        table = be.table(plan, bound, steps, dt, work_limit=work)
    return table if grid is not None else table[0]


CHUNK_BYTES = 64 * 2 ** 20          # rows per chunk of a streamed or filled table
PROGRESS_PAIRS = 5 * 10 ** 7        # "long": above this many (config, step) pairs


def _rows_per_chunk(n_steps: int, itemsize: int) -> int:
    return max(1, CHUNK_BYTES // max(1, n_steps * itemsize))


def _fill(target, be, plan, bound, steps, dt, work, progress):
    """Evaluate config chunks into ``target`` (a host array or memmap window maker)."""
    rows = _rows_per_chunk(steps.size, dt.itemsize)
    if hasattr(be, "host_chunks"):      # a GPU backend: compute and copies overlapped
        with progress_bar(progress, bound.n, steps.size) as bar:
            for c0, c1, host in be.host_chunks(plan, bound, steps, dt, rows, work_limit=work):
                if callable(target):
                    target(c0, c1, host)
                else:
                    target[c0:c1] = host
                bar.update(c1 - c0)
        return
    with progress_bar(progress, bound.n, steps.size) as bar:
        for c0 in range(0, bound.n, rows):
            c1 = min(bound.n, c0 + rows)
            # the whole grid in one chunk keeps its axes (factorized evaluation)
            part = bound if (c0, c1) == (0, bound.n) else bound.rows(c0, c1)
            if not callable(target) and be.writes_host_out and target.dtype == dt and \
                    target[c0:c1].flags.c_contiguous:
                be.table(plan, part, steps, dt, work_limit=work, out=target[c0:c1])
            else:
                chunk = be.table(plan, part, steps, dt, work_limit=work)
                if callable(target):
                    target(c0, c1, chunk)
                else:
                    target[c0:c1] = to_numpy(chunk)
            bar.update(c1 - c0)


def _check_out(out, shape, dt):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a file name ending in .npy or a NumPy array, got "
                        f"{type(out).__name__}")
    if out.shape != shape or out.dtype != dt or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise ValueError(f"out has shape {out.shape}, dtype {out.dtype}; it must be a "
                         f"writeable C-contiguous array of shape {shape} and dtype {dt}")
    return out


def check_npy_out(path) -> str:
    """Before any work: ``out`` names a ``.npy`` file that can be written."""
    from .files import check_target
    path = os.fspath(path)
    if not path.endswith(".npy"):
        raise ValueError(f"out = {path!r}: a streamed table is written as .npy; name it *.npy")
    return check_target(path)


def _stream_to_npy(path, be, plan, bound, steps, dt, work, progress, shape):
    """Stream the table to ``path`` (of ``shape``: ``(n, S)``, or ``(S,)`` without a grid)
    chunk by chunk through memory maps of a reserved temporary file, then rename it."""
    from .files import replacing, reserve
    need = bound.n * steps.size * dt.itemsize
    folder = os.path.dirname(os.path.abspath(path))
    free = shutil.disk_usage(folder).free
    if need > free:
        raise ValueError(f"out = {path!r}: the table needs {_gib(need)} but only {_gib(free)} "
                         f"is free on that disk")
    with replacing(path) as tmp:
        header = np.lib.format.open_memmap(tmp, mode="w+", dtype=dt, shape=shape)
        offset = header.offset
        del header
        reserve(tmp, offset + need)         # no sparse file: a full disk fails here, clearly

        def write(c0, c1, chunk):
            window = np.memmap(tmp, dtype=dt, mode="r+", shape=(c1 - c0, steps.size),
                               offset=offset + c0 * steps.size * dt.itemsize)
            window[...] = to_numpy(chunk).reshape(c1 - c0, steps.size)
            window.flush()
            del window                      # unmapped: memory stays at one chunk

        _fill(write, be, plan, bound, steps, dt, work, progress)
    return np.load(path, mmap_mode="r")


def _show_progress(progress, pairs: int) -> bool:
    if progress is not None:
        return bool(progress)
    return pairs >= PROGRESS_PAIRS and sys.stderr.isatty()


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def progress_bar(progress, n_configs: int, n_steps: int):
    if not _show_progress(progress, n_configs * n_steps):
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()                     # progress bars are an optional extra
    return tqdm(total=n_configs, unit="config", desc="gpusched", leave=False)


def check_reduction(op, threshold) -> None:
    if op not in REDUCE_OPS:
        raise ValueError(f"op = {op!r}: must be one of {', '.join(REDUCE_OPS)}")
    if op in THRESHOLD_OPS:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)) \
                or not np.isfinite(threshold):
            raise ValueError(f"threshold = {threshold!r}: op {op!r} needs a finite number")
    elif threshold is not None:
        raise ValueError(f"threshold is only used by count_above and count_below, not {op!r}")


def reduce(schedule: Schedule | Callable, grid: GridLike = None, *, steps: StepsLike,
           op: str = "mean", threshold: float | None = None, backend: str = "auto",
           dtype: DTypeLike = "float32",
           memory_limit: int | None = None, progress: bool | None = None,
           verbose: bool = False, precision: str = "exact") -> np.ndarray:
    """A per-config summary over steps, without building the table.

    ``op``: ``sum``, ``mean``, ``min``, ``max`` (of the values rounded to ``dtype``, accumulated
    in float64), ``argmin``/``argmax`` (the step where the extreme is first reached, int64),
    ``count_above``/``count_below`` (the number of steps whose value is ``> threshold`` /
    ``< threshold``, int64) or ``last`` (the value at the last step given). A step range is a
    ``steps`` array, e.g. ``np.arange(1000, 2000)``. Returns shape ``(len(grid),)``, or a 0-d
    array without a grid. ``progress``, ``verbose``, ``precision`` and ``auto`` as for
    :func:`evaluate`.
    """
    check_reduction(op, threshold)
    check_precision(precision, dtype)
    g = as_grid(grid)
    be = backend_for(backend)
    limit = memory_limit_for(memory_limit, be)
    pairs = (len(g) if g is not None else 1) * count_steps(steps)
    with limited(limit), timing.call(pairs, verbose) as info:
        return _reduce(schedule, g, steps, op, threshold, dtype, (backend, be), limit, progress,
                       info, precision)


def _reduce(schedule, grid, steps, op, threshold, dtype, backend, limit, progress, info,
            precision="exact"):
    sched, grid, steps, dt, bound, plan = prepare(schedule, grid, steps, dtype)
    work = min(WORK_LIMIT, limit)
    be = _with_precision(refine(backend, plan, bound, steps, work, info), precision)
    if _show_progress(progress, bound.n * steps.size) and be.device == "cpu":
        rows = max(1, -(-bound.n // 100))
        parts = []
        with progress_bar(progress, bound.n, steps.size) as bar:
            for c0 in range(0, bound.n, rows):
                c1 = min(bound.n, c0 + rows)
                parts.append(be.reduce(plan, bound.rows(c0, c1), steps, op, dt,
                                       work_limit=work, threshold=threshold))
                bar.update(c1 - c0)
        out = np.concatenate(parts)
    else:
        out = be.reduce(plan, bound, steps, op, dt, work_limit=work, threshold=threshold)
    return out if grid is not None else out[0]
