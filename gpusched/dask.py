"""Dask arrays of schedule tables and reductions: beyond one machine's memory, or one GPU.

``gs.dask.evaluate`` and ``gs.dask.reduce`` validate everything at once, then return lazy Dask
arrays built with ``map_blocks``: blocks of configs (and of steps, for tables), each computed
by the chosen gpusched backend when Dask asks for it. Local schedulers work on the CPU; on
several GPUs, start a ``dask_cuda.LocalCUDACluster()`` (one worker per GPU) and a
``distributed.Client`` first and pass ``backend="cupy"``: blocks are then CuPy arrays, which
``gs.to_numpy`` brings back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from . import api
from .grid import GridLike, StepsLike
from .laws.model import Law
from .schedule import Schedule

if TYPE_CHECKING:          # an optional extra
    import dask.array
from .backends import resolve_backend
from .keys import bound_digest, digest
from .plan import compile_plan
from .reductions import INT_OPS

__all__ = ["evaluate", "reduce", "predict_loss"]


def _sizes(total: int, chunk: int) -> tuple:
    chunk = max(1, int(chunk))
    return tuple(min(chunk, total - k) for k in range(0, total, chunk))


def _key(plan, bound, steps, *rest) -> str:
    """The blocks' Dask name: the hash of everything a block's values depend on (the graph
    with its parameter dtypes, the host tables and scans it reads, every parameter value, the
    steps, the dtype, the backend, the reduction, the chunking)."""
    hosted = [id(n.value) for n in plan.nodes if n.op in ("table", "scan")]
    hosted += [id(n.value) for sub in plan.subplans.values() for n in sub.nodes
               if n.op in ("table", "scan")]
    return digest(plan.signature, hosted, bound_digest(bound), steps, rest)


def _meta(backend_name: str, dt, ndim: int):
    if resolve_backend(backend_name).device == "gpu":
        import cupy
        return cupy.empty((0,) * ndim, dtype=dt)
    return np.empty((0,) * ndim, dtype=dt)


def _choose(backend, plan, bound, steps) -> str:
    """The backend for every block (``auto`` decides once, for the whole job)."""
    be = api.refine((backend, api.backend_for(backend)), plan, bound, steps, api.WORK_LIMIT)
    forget = getattr(be, "forget_precomputed", None)
    if forget is not None:
        forget()        # the whole grid's tables: the blocks make their own
    return be.name


def evaluate(schedule: Schedule | Callable, grid: GridLike = None, *, steps: StepsLike,
             config_chunks: int | None = None, step_chunks: int | None = None,
             backend: str = "auto", dtype: DTypeLike = "float32") -> dask.array.Array:
    """A lazy ``(len(grid), n_steps)`` Dask array of the table (see :func:`gpusched.evaluate`).

    ``config_chunks``/``step_chunks``: block sizes (default: blocks of about 64 MiB, whole
    rows of steps where they fit).
    """
    import dask.array as da

    sched, grid, steps, dt, bound, plan = api.prepare(schedule, grid, steps, dtype)
    name = _choose(backend, plan, bound, steps)
    S = steps.size
    if step_chunks is None:
        step_chunks = min(S, max(1, api.CHUNK_BYTES // dt.itemsize))
    if config_chunks is None:
        config_chunks = max(1, api.CHUNK_BYTES // (step_chunks * dt.itemsize))

    expr = plan.root      # specialized to the grid's shared choices

    def block(block_info=None):
        (c0, c1), (s0, s1) = block_info[None]["array-location"]
        be = resolve_backend(name)
        # plans are keyed by node identity: a worker process compiles its own (cached)
        return be.table(compile_plan(expr, bound.dtypes), bound.rows(c0, c1), steps[s0:s1], dt,
                        work_limit=api.WORK_LIMIT)

    return da.map_blocks(block, chunks=(_sizes(bound.n, config_chunks), _sizes(S, step_chunks)),
                         dtype=dt, meta=_meta(name, dt, 2),
                         name="gpusched-table-" + _key(plan, bound, steps, dt, name, config_chunks,
                                                       step_chunks))


def reduce(schedule: Schedule | Callable, grid: GridLike = None, *, steps: StepsLike,
           op: str = "mean", threshold: float | None = None, config_chunks: int | None = None,
           backend: str = "auto", dtype: DTypeLike = "float32") -> dask.array.Array:
    """A lazy ``(len(grid),)`` Dask array of a per-config reduction (see
    :func:`gpusched.reduce`); each block reduces its configs over all steps."""
    import dask.array as da

    api.check_reduction(op, threshold)
    sched, grid, steps, dt, bound, plan = api.prepare(schedule, grid, steps, dtype)
    name = _choose(backend, plan, bound, steps)
    if config_chunks is None:
        config_chunks = max(1, -(-bound.n // 64))
    out_dt = np.dtype(np.int64) if op in INT_OPS else dt

    expr = plan.root      # specialized to the grid's shared choices

    def block(block_info=None):
        (c0, c1), = block_info[None]["array-location"]
        be = resolve_backend(name)
        return be.reduce(compile_plan(expr, bound.dtypes), bound.rows(c0, c1), steps, op, dt,
                         work_limit=api.WORK_LIMIT, threshold=threshold)

    return da.map_blocks(block, chunks=(_sizes(bound.n, config_chunks),), dtype=out_dt,
                         meta=_meta(name, out_dt, 1),
                         name=f"gpusched-{op}-" + _key(plan, bound, steps, dt, name, op, threshold,
                                                       config_chunks))


def predict_loss(schedule: Schedule | Callable, grid: GridLike = None, *, steps: int,
                 law: Law, at: Sequence[int] | np.ndarray | None = None,
                 config_chunks: int | None = None, backend: str = "auto",
                 dtype: DTypeLike = "float64") -> dask.array.Array:
    """A lazy Dask array of :func:`gpusched.predict_loss`: ``(len(grid),)``, or
    ``(len(grid), len(at))`` with ``at``; each block predicts its configs over all steps."""
    import dask.array as da
    from .laws.predict import split_grid, predict_loss as predict
    from .laws.model import check_at
    from .grid import as_grid

    g = as_grid(grid)
    if g is None:
        raise ValueError("gs.dask.predict_loss needs a grid (blocks are blocks of configs)")
    # everything validated now, on the whole grid: the schedule, the law and its columns
    ends = check_at(at, int(steps)) if isinstance(steps, (int, np.integer)) else None
    sched_grid, law_cols = split_grid(g, law)
    constants = law.bind(law_cols, len(g))      # every config's law constants, checked
    sched, sched_grid, steps_arr, dt, bound, plan = api.prepare(
        schedule, sched_grid, steps, dtype)
    name = _choose(backend, plan, bound, steps_arr)
    if config_chunks is None:
        config_chunks = max(1, -(-len(g) // 64))
    chunks = (_sizes(len(g), config_chunks),) + ((len(ends),) if at is not None else ())

    def block(block_info=None):
        (c0, c1) = block_info[None]["array-location"][0]
        part = _rows(g, c0, c1)
        return predict(sched, part, steps=steps, law=law, at=at, backend=name, dtype=dtype)

    return da.map_blocks(block, chunks=chunks, dtype=np.float64,
                         meta=np.empty((0,) * len(chunks), dtype=np.float64),
                         name="gpusched-loss-" + _key(plan, bound, steps_arr, dt, name,
                                                      type(law).__name__, constants,
                                                      None if at is None else ends,
                                                      config_chunks))


def _rows(g, c0: int, c1: int):
    """Configs ``c0:c1`` of grid ``g`` as explicit trials."""
    from .grid import Grid, RaggedColumn
    cols = {k: (c.take(np.arange(c0, c1)) if isinstance(c, RaggedColumn) else c[c0:c1])
            for k, c in g.columns.items()}
    return Grid(cols, c1 - c0)
