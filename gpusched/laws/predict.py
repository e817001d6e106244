"""gs.predict_loss: a loss law applied to every config of a sweep, without its table."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .. import api, auto, timing
from ..grid import Grid, GridLike, as_grid
from ..schedule import Schedule
from ..interop import to_numpy
from ..memory import limited
from .model import Law, LawError, array_module, check_at, check_rates

__all__ = ["predict_loss"]

STEP_BLOCK = 4096           # steps per block a backend evaluates for the law
TABLE_BYTES = 2 ** 30       # the most the fused kernel's factorized tables may hold


def split_grid(grid: Grid | None, law: Law):
    """(the schedule's grid, the law's columns): grid columns that law constants name are
    taken out (the rest become explicit trials: a cartesian grid loses its axis form)."""
    wanted = law.columns()
    if not wanted:
        return grid, {}
    if grid is None:
        raise ValueError(f"{type(law).__name__}: {', '.join(wanted)} name grid columns "
                         f"({', '.join(map(repr, wanted.values()))}) but no grid was given")
    missing = [c for c in wanted.values() if c not in grid.columns]
    if missing:
        raise ValueError(f"{type(law).__name__}: grid column {missing[0]!r} is not in the grid "
                         f"(its columns: {', '.join(grid.names)})")
    taken = set(wanted.values())
    cols = {c: grid.columns[c] for c in taken}
    rest = {k: v for k, v in grid.columns.items() if k not in taken}
    return (Grid(rest, grid.n) if rest else None), cols     # columns already validated


def predict_loss(schedule: Schedule | Callable, grid: GridLike = None, *, steps: int,
                 law: Law, at: Sequence[int] | np.ndarray | None = None,
                 backend: str = "auto", dtype: DTypeLike = "float64",
                 memory_limit: int | None = None,
                 progress: bool | None = None, verbose: bool = False) -> np.ndarray:
    """The loss ``law`` predicts after training with ``schedule``, for every config of
    ``grid``, without building the schedule's table on any backend.

    ``steps``: the length of training (the schedule runs over steps ``0..steps-1``). Returns
    the predicted loss after the last step, shape ``(len(grid),)`` (a 0-d array without a
    grid); with ``at=[s1, s2, ...]`` the loss after each of those steps,
    ``(len(grid), len(at))``. ``law``: ``gs.laws.MultiPower(...)`` or
    ``gs.laws.Annealing(...)``; a constant given as a string names a grid column (sweep the
    law's uncertainty with the schedule's parameters). ``dtype``: the learning rates are
    rounded to it, as a training run would hold them (the law itself is float64).
    Validation, memory budget, progress and ``backend`` as for :func:`gpusched.reduce`; the
    Numba and CuPy backends run a fused kernel (the schedule's code inside the law's loop),
    the others evaluate blocks of steps and fold them.
    """
    if not isinstance(law, Law):
        raise TypeError(f"law must be gs.laws.MultiPower(...) or gs.laws.Annealing(...), got "
                        f"{type(law).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps = {steps!r}: must be the number of training steps (an int "
                         f">= 1); the laws sum the schedule from step 0")
    ends = check_at(at, int(steps))
    api.check_dtype(dtype)
    g = as_grid(grid)
    sched_grid, law_cols = split_grid(g, law)
    n = len(g) if g is not None else 1
    const = law.bind(law_cols, n)
    be = api.backend_for(backend)
    limit = api.memory_limit_for(memory_limit, be)
    with limited(limit), timing.call(n * int(steps) * (ends.size if law.PASSES == 2 else 1),
                                     verbose) as info:
        sched, _, steps_arr, dt, bound, plan = api.prepare(schedule, sched_grid, int(steps),
                                                            dtype)
        if sched_grid is None and n > 1:
            bound = _repeat(bound, n)
        work = min(api.WORK_LIMIT, limit)
        # factorized tables pay for themselves over a whole sweep: up to a quarter of the
        # call's budget (a W5 grid's cosine table is 261 MB)
        table_bytes = max(work, min(limit // 4, TABLE_BYTES))
        be = api.refine((backend, be), plan, bound, steps_arr, work, info, lambda numba: (
            auto.choose_law(numba, plan, bound, steps_arr, lambda: numba.law_state(
                plan, bound, steps_arr, law, ends, dt, const, table_bytes))))
        order = np.argsort(ends, kind="stable")
        with api.progress_bar(progress, bound.n, steps_arr.size) as bar:
            out = be.predict_loss(plan, bound, steps_arr, law, ends, order, dt, const,
                                  work_limit=work, table_bytes=table_bytes, bar=bar)
    if at is None:
        out = out[:, 0]
    return out if g is not None else out[0]


def _repeat(bound, n: int):
    """A schedule without grid columns, for ``n`` configs of the law's columns."""
    from ..binding import Bound
    return Bound(n, dict(bound.scalars), dict(bound.lists), dict(bound.dtypes))


def fused_numba(plan, bound, steps, law, ends, order, dt, const, work, bar, pre=False,
                shared=False):
    """The Numba backend's way: the law fused with the schedule in one kernel
    (laws/kernel.py); ``pre``: its factorized tables when already built (False: build them
    within ``work`` bytes); ``shared``: ``sharing.groups``' answer when already asked."""
    from . import kernel
    # the annealing kernel records the steps in ascending order
    kends = ends[order] if law.PASSES == 1 else ends
    out, err, _ = kernel.run(plan, bound, steps, law.CODE, np.ascontiguousarray(kends),
                             dt == np.float32, np.ascontiguousarray(const), work, pre, shared)
    flagged = np.flatnonzero(err)
    return _checked(plan, bound, steps, law, ends, order, dt, const, out,
                    int(flagged[0]) if flagged.size else None, bar)


def fused_cupy(plan, bound, steps, law, ends, order, dt, const, work, bar):
    """The CuPy backend's way: one CUDA thread per config (laws/cuda.py)."""
    from . import cuda
    kends = ends[order] if law.PASSES == 1 else ends
    out, bad = cuda.run_cupy(plan, bound, steps, law.CODE, kends, np.ascontiguousarray(const),
                             dt == np.float32, work)
    return _checked(plan, bound, steps, law, ends, order, dt, const, out, bad, bar)


def _checked(plan, bound, steps, law, ends, order, dt, const, out, bad, bar):
    """A fused kernel's predictions in the caller's order of ``at``; a flagged config (or a
    non-finite prediction) is explained by the NumPy pass, which names the cause."""
    flagged = np.flatnonzero(~np.isfinite(out).all(axis=1))
    first = min([int(x) for x in (bad, *flagged[:1]) if x is not None], default=None)
    if first is not None:
        from ..backends import get_backend
        c = first
        fold_blocks(get_backend("numpy"), plan, bound.rows(c, c + 1), steps, law, ends, dt,
                const[:, c:c + 1] if const.shape[1] > 1 else const, api.WORK_LIMIT, None)
        raise LawError(f"the law gives a non-finite loss at config {c} "
                       f"({bound.describe(c)})")
    if law.PASSES == 1:
        back = np.empty_like(out)
        back[:, order] = out
        out = back
    if bar is not None:
        bar.update(bound.n)
    return out


def fold_blocks(be, plan, bound, steps, law, ends, dt, const, work, bar):
    """The law over blocks of the backend's table: config chunks, each walked over blocks of
    steps once per pass of the law (the table is never held whole)."""
    width = min(steps.size, STEP_BLOCK)
    rows = max(1, work // (width * 8 * (12 + ends.size)))
    out = np.empty((bound.n, ends.size), dtype=np.float64)
    for c0 in range(0, bound.n, rows):
        c1 = min(bound.n, c0 + rows)
        part = bound if (c0, c1) == (0, bound.n) else bound.rows(c0, c1)
        cols = const[:, c0:c1] if const.shape[1] > 1 else const
        xp, state = None, None
        for p in range(law.PASSES):
            if p == 1:
                law.begin_second_pass(state)
            for s0 in range(0, steps.size, width):
                block = be.table(plan, part, steps[s0:s0 + width], dt, work_limit=work)
                if xp is None:
                    xp = array_module(block)
                    state = law.start(cols, c1 - c0, ends, xp)
                block = block.astype(np.float64)
                if p == 0:
                    check_rates(block, s0, part.offset, part.describe)
                    law.first_pass(state, block, s0)
                else:
                    law.second_pass(state, block, s0)
        out[c0:c1] = to_numpy(law.finish(state, part.offset, part.describe))
        if bar is not None:
            bar.update(c1 - c0)
    return out
