"""Helpers shared by the twins."""

from __future__ import annotations

import inspect
from typing import Annotated

import numpy as np

from .. import expr as E
from ..params import REQUIRED, Param, Sweep
from ..schedule import Schedule

BASE_LR = Param("base_lr", kind="float", doc="the optimizer's initial learning rate")
# the same, as the annotation of a factory declared with registry.twin
BaseLR = Annotated[float, Sweep(doc=BASE_LR.doc)]


def user_function(fn, at: E.Expr, what: str):
    """Trace ``fn(step, *params)`` at the traced step ``at``.

    Returns (expression, extra parameters). A function of the step alone that uses Python
    control flow (``max(0, 1 - step / 100)``) cannot be traced; it becomes a host table, called
    once per distinct step, which every backend broadcasts. With extra parameters it must be
    traceable, and the tracer's TypeError says what to use instead.
    """
    if not callable(fn):
        raise TypeError(f"{what} must be a function of the step, got {fn!r}")
    try:
        sig = inspect.signature(fn)
        names = [p.name for p in list(sig.parameters.values())[1:]]
        defaults = [p.default for p in list(sig.parameters.values())[1:]]
    except (TypeError, ValueError):
        names, defaults = [], []
    extra = [Param(n, default=REQUIRED if d is inspect.Parameter.empty else d)
             for n, d in zip(names, defaults)]
    try:
        return E.const(fn(at, *(E.param(n) for n in names))), extra
    except TypeError:
        if names:
            raise
    name = getattr(fn, "__name__", what)
    table = E.host_table(fn, name=f"{what} {name}" if name != "<lambda>" else what)
    if at.op == "step":
        return table, []
    raise TypeError(f"{what} could not be traced")


def float_param(name, default=REQUIRED, **domain) -> Param:
    return Param(name, default=REQUIRED if default is None else default, kind="float", **domain)


def int_param(name, default=REQUIRED, **domain) -> Param:
    return Param(name, default=REQUIRED if default is None else default, kind="int", **domain)


def param_exprs(*names) -> list:
    """The traced parameters ``names``, in order."""
    return [E.param(n) for n in names]


def schedule_of(name: str, expr: E.Expr, params, values: dict, doc: str | None,
                checks=()) -> Schedule:
    """A twin's Schedule, for a factory whose arguments shape its expression (a string
    choosing a formula, a Python function): ``values`` left at None are not fixed (they come
    from the grid). Factories whose arguments are all parameters are declared with
    :func:`gpusched.registry.twin` instead."""
    return Schedule(expr, params, name=name,
                    values={k: v for k, v in values.items() if v is not None},
                    checks=checks, doc=doc)


def drop_unused(sched):
    """The schedule without the parameters its expression does not read (a twin whose
    ``output`` picks the lr or the momentum keeps only that one's parameters)."""
    used = {n.value for n in E.all_nodes(sched.expr) if n.op == "param"}
    specs = [p for p in sched.param_specs.values() if p.name in used]
    values = {k: v for k, v in sched.values.items() if k in used}
    checks = [c for c in sched.checks if set(c.names) <= used]
    return Schedule(sched.expr, specs, name=sched.name, values=values, checks=checks,
                    doc=sched.doc)


def series(values):
    """A metric series given at construction, as a list of floats (None stays None)."""
    if values is None:
        return None
    return [float(x) for x in np.asarray(values, dtype=np.float64).ravel()]


def apart(schedules, shared=frozenset(), own=lambda k, s, name: False,
          renames: list | None = None) -> list:
    """A library's schedulers are separate objects: a parameter name two of them share is
    renamed ``<name>_<k>`` in the ``k``-th (0-based) unless both fix the same value, so each
    keeps its own value and can be swept on its own. Names in ``shared`` (the optimizer's
    lr) stay one parameter, except where ``own(k, schedule, name)`` says that schedule's is
    its own (renamed the same way). ``renames`` receives each one's {old name: new name}."""
    seen: dict = {}
    out = []
    for k, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(f"expected a gpusched twin, got {s!r}")
        clash = {}
        for name in s.param_specs:
            if name in shared and own(k, s, name):
                clash[name] = f"{name}_{k}"
            elif name in shared or name not in seen:
                continue
            elif not (name in s.values and seen[name] == ("v", s.values[name])):
                clash[name] = f"{name}_{k}"
        s = s.rename(**clash) if clash else s
        if renames is not None:
            renames.append(clash)
        for name in s.param_specs:
            seen.setdefault(name, ("v", s.values[name]) if name in s.values else ("free",))
        out.append(s)
    return out

