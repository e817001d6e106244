"""One config of a schedule as a plain Python function of the step.

``ScalarFunction(schedule, values)`` binds and validates the values once, writes the plan as
Python (the same scalar code the Numba kernels compile, from :func:`codegen.python_sections`),
runs what does not depend on the step once, and returns a closure over the rest: a single
value in microseconds, computed with Python's ``math`` (the C library, as torch's own
schedulers use), for ``schedule(t)``, training loops (:func:`gpusched.to_torch_scheduler`) and
sweep-tool callbacks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import codegen

if TYPE_CHECKING:
    from .schedule import Schedule

__all__ = ["ScalarFunction", "NeedsEveryStep", "at_steps", "function_for"]

# no closed form at one step: running products, host scans and host tables need every step
NOT_SCALAR = frozenset({"cumprod", "scan", "table"})


def one_config(schedule, values: dict | None, refused: frozenset, why: str,
               error: type = ValueError):
    """(bound, plan) of ``schedule`` with ``values`` validated as a one-config grid; a plan
    using an operation in ``refused`` is an ``error`` ending with ``why``."""
    from .binding import bind
    from .grid import trials
    from .plan import compile_plan
    bound = bind(schedule, trials([values]) if values else None)
    plan = compile_plan(schedule.expr, bound.dtypes)
    missing = sorted({n.op for n in plan.nodes} & refused)
    if missing:
        raise error(f"schedule {schedule.name!r} uses {', '.join(missing)} {why}")
    return bound, plan


class NeedsEveryStep(ValueError):
    """The schedule has no value at one step alone (a running product, host scan, table)."""


class _BadStep(ValueError):
    pass


def _bad(t):
    return _BadStep(t)


class ScalarFunction:
    """``f(t) -> float``: ``schedule`` with ``values`` (validated now) at integer step ``t``."""

    def __init__(self, schedule: Schedule, values: dict | None = None) -> None:
        from .backends import scalar_helpers as helpers
        from .backends.inputs import arg_names, flat_inputs, prologue
        self.schedule = schedule
        bound, plan = one_config(schedule, values, NOT_SCALAR, "(a running product, host scan "
                                 "or host table): it needs every step; evaluate a table with "
                                 "gs.evaluate instead", NeedsEveryStep)
        layout = codegen.Layout.of(plan, bound.dtypes)
        cfg, stp, root = codegen.python_sections(plan, layout, "raise _bad(t)")
        names = arg_names(layout)
        source = "\n".join(
            [f"def make({', '.join(names)}):", "    c = 0", "    j = 0", "    t = 0"]
            + ["    " + ln for ln in prologue(layout) + cfg]
            + ["    def f(t):"] + ["        " + ln for ln in stp]
            + [f"        return {root}", "    return f"])
        # The source holds only identifiers gpusched made or validated (parameter names pass
        # params.validate_name; nodes are v<k>; helpers are scalar_helpers.ORDER) and numeric
        # literals (codegen.py_literal): the same code the Numba modules import. Nothing the
        # user wrote as text (not even the schedule's name) reaches it, and
        # codegen.check_generated_python has refused any string, dunder or name such as
        # eval/open/import in the sections (python_sections runs it).
        if not all(n.isidentifier() for n in names):
            raise ValueError(f"generated code: argument names {names} are not identifiers")
        namespace = {"math": math, "np": np, "_bad": _bad,
                     **{h: getattr(helpers, h) for h in helpers.ORDER}}
        exec(compile(source, "<gpusched scalar>", "exec"), namespace)  # noqa: S102
        self.source = source
        try:
            self._f = namespace["make"](*flat_inputs(plan, layout, bound, np.zeros(1, np.int64)))
        except _BadStep:
            raise ValueError(f"schedule {schedule.name!r}: an integer division by zero (or a "
                             f"random bound outside [1, 2**32)) in its parameters") from None

    def __call__(self, t: int | np.integer) -> float:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)):
            raise TypeError(f"step must be an int, got {t!r}")
        if t < 0:
            raise ValueError(f"step {t}: steps count optimizer updates and must be >= 0")
        try:
            out = float(self._f(int(t)))
        except _BadStep:
            raise ValueError(f"schedule {self.schedule.name!r} at step {t}: an integer division"
                             f" by zero or a random bound outside [1, 2**32)") from None
        except (ValueError, OverflowError, ZeroDivisionError) as err:
            raise ValueError(f"schedule {self.schedule.name!r} at step {t}: {err}") from None
        if not math.isfinite(out):
            raise ValueError(f"schedule {self.schedule.name!r} is {out} at step {t}")
        return out


def function_for(schedule: Schedule, params: dict) -> Callable[[int | np.integer], float]:
    """The ScalarFunction of ``schedule`` with ``params`` (the last few kept on the
    schedule); a schedule that needs every step (running products, host scans) falls back
    to a one-step table."""
    from .keys import digest
    cache = schedule.__dict__.setdefault("_scalars", {})
    try:
        key = digest(params)        # every value by content (a repr elides long arrays)
    except TypeError:
        key = None                  # a value digest cannot key: not cached
    fn = cache.get(key) if key is not None else None
    if fn is None:
        try:
            fn = ScalarFunction(schedule, params)
        except NeedsEveryStep:
            sched = schedule.with_values(**params)

            def fn(t):
                from .api import evaluate
                return float(evaluate(sched, steps=np.array([t]), dtype="float64")[0])
        if key is not None:
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[key] = fn
    return fn


def at_steps(schedule: Schedule, t: Any, params: dict) -> Any:
    """``schedule(t, **params)`` at concrete steps: an int gives a float (plain Python,
    microseconds), an array float64 values (one config, a table)."""
    if isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_)):
        return function_for(schedule, params)(t)
    from .api import evaluate
    steps = np.atleast_1d(np.asarray(t))
    vals = evaluate(schedule.with_values(**params), steps=steps, dtype="float64")
    return vals if np.ndim(t) else float(vals[0])
