"""Tables and reductions computed on the host by the interpreter: the NumPy backend's work, and
the re-evaluation that explains an error a compiled backend detected."""

from __future__ import annotations

import numpy as np

from ..interop import aligned_empty
from ..reductions import Accumulator
from .axes import axis_blocks, axis_form
from .interpreter import ScheduleError, blocks, check_finite


def factorized_blocks(plan, bound, steps, work_limit):
    """Blocks of the whole grid when it factorizes (see :func:`axes.axis_form`), else None."""
    form = axis_form(plan, bound)
    if form is None:
        return None
    return axis_blocks(plan, form, steps, work_limit)


def table(plan, bound, steps, dtype, *, work_limit, config_offset=None, out=None):
    """The (configs, steps) table of ``plan`` for ``bound`` in ``dtype`` (into ``out`` when
    given); a non-finite value raises a :class:`ScheduleError` naming its config and step."""
    given = out
    factorized = factorized_blocks(plan, bound, steps, work_limit)
    if factorized is not None:
        try:
            out = aligned_empty((bound.n, steps.size), dtype) if given is None else given
            for s0, s1, block in factorized:
                dest = out[:, s0:s1]
                dest[...] = block
                if out.dtype.kind == "f" and not np.isfinite(dest).all():
                    raise ScheduleError("non-finite")
            return out
        except ScheduleError:
            pass        # the row path below finds the first bad config and step
    out = aligned_empty((bound.n, steps.size), dtype) if given is None else given
    check = out.dtype.kind == "f"
    for c0, c1, s0, s1, block, env in blocks(plan, bound, steps, work_limit, config_offset):
        dest = out[c0:c1, s0:s1]
        dest[...] = block
        if check:
            check_finite(dest, plan, env)
    return out


def reduce(plan, bound, steps, op, dtype, *, work_limit, threshold=None):
    """Each config's ``op`` over the steps (see :mod:`gpusched.reductions`)."""
    if op == "last":
        return table(plan, bound, steps[-1:], dtype, work_limit=work_limit)[:, 0]
    factorized = factorized_blocks(plan, bound, steps, work_limit)
    if factorized is not None:
        try:
            acc = Accumulator(np, bound.n, op, threshold)
            for s0, s1, block in factorized:
                vals = block.astype(dtype)
                if vals.dtype.kind == "f" and not np.isfinite(vals).all():
                    raise ScheduleError("non-finite")
                acc.add(0, bound.n, vals, steps[s0:s1])
            return acc.result(steps.size, dtype)
        except ScheduleError:
            pass        # the row path below reports the first bad config and step
    acc = Accumulator(np, bound.n, op, threshold)
    for c0, c1, s0, s1, block, env in blocks(plan, bound, steps, work_limit):
        vals = np.broadcast_to(block, (c1 - c0, s1 - s0)).astype(dtype)
        if vals.dtype.kind == "f":
            check_finite(vals, plan, env)
        acc.add(c0, c1, vals, steps[s0:s1])
    return acc.result(steps.size, dtype)


def explain(plan, bound, steps, config: int, step_pos: int, dtype) -> None:
    """Re-evaluate one config (at one step) here to raise the precise error a compiled
    backend detected (a non-finite value, an integer division by zero ...)."""
    one = bound.rows(config, config + 1)
    at = steps[step_pos:step_pos + 1] if step_pos >= 0 else steps
    table(plan, one, at, dtype, work_limit=1 << 24)
    raise ScheduleError(f"the schedule gives a non-finite value or an invalid operation at "
                        f"config {one.offset} ({one.describe(0)})")
