"""The core vocabulary as schedules: gs.constant, gs.linear, gs.cosine, ... gs.join, gs.warmup.

Each factory returns a :class:`~gpusched.schedule.Schedule` whose parameters carry the names
below; arguments given here are the values used unless a grid column overrides them, and
arguments left out must come from the grid. The formulas live in :mod:`gpusched.curves`.
"""

from __future__ import annotations

from typing import Annotated, Sequence

from . import curves
from . import expr as E
from .params import REQUIRED, Check, Float, Param, Sweep
from .schedule import Schedule
from .registry import factory, twin

__all__ = ["constant", "linear", "cosine", "exponential", "polynomial", "piecewise_constant",
           "join", "warmup", "cosine_restarts", "tri_stage", "log_warmup", "lr_range_test"]


def _f(name, default=REQUIRED, **kw):
    return Param(name, default=default, kind="float", **kw)


def _i(name, default=REQUIRED, **kw):
    return Param(name, default=default, kind="int", **kw)


@twin
def constant(value: Float = REQUIRED) -> E.Expr:
    """``f(t) = value``."""
    return curves.constant(E.step(), value)


@twin
def linear(init_value: Float = REQUIRED, end_value: Float = REQUIRED,
           transition_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
           transition_begin: Annotated[int, Sweep(ge=0)] = 0) -> E.Expr:
    """Linear ramp: ``init + (end - init) * clip(t - B, 0, T) / T`` (held outside)."""
    return curves.linear(E.step(), init_value, end_value, transition_steps, transition_begin)


@twin
def cosine(init_value: Float = REQUIRED, decay_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
           end_value: Float = 0.0) -> E.Expr:
    """Half-cosine decay, held at the end: ``end + (init - end)(1 + cos(pi min(t, D) / D)) / 2``."""
    return curves.cosine(E.step(), init_value, decay_steps, end_value)


@factory
def exponential(init_value: float | None = None, decay_rate: float | None = None,
                transition_steps: int | None = None, transition_begin: int = 0,
                staircase: bool = False, end_value: float | None = None) -> Schedule:
    """``init * rate ** ((t - B) / T)`` after ``B`` (floored exponent with ``staircase``),
    clipped at ``end_value`` when given (``staircase`` and whether there is an
    ``end_value`` shape the expression: they are not swept)."""
    specs = [_f("init_value"), _f("decay_rate", gt=0), _i("transition_steps", gt=0),
             _i("transition_begin", 0, ge=0)]
    given = dict(init_value=init_value, decay_rate=decay_rate, transition_steps=transition_steps,
                 transition_begin=transition_begin)
    clip = {}
    if end_value is not None:
        specs.append(_f("end_value"))
        given["end_value"] = end_value
        clip["end_value"] = E.param("end_value")
    expr = curves.exponential(E.step(), E.param("init_value"), E.param("decay_rate"),
                              E.param("transition_steps"), E.param("transition_begin"),
                              staircase=bool(staircase), **clip)
    return Schedule(expr, specs, name="exponential",
                    values={k: v for k, v in given.items() if v is not None},
                    doc=exponential.__doc__)


@twin
def polynomial(init_value: Float = REQUIRED, end_value: Float = REQUIRED,
               transition_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
               power: Annotated[float, Sweep(gt=0)] = 1.0,
               transition_begin: Annotated[int, Sweep(ge=0)] = 0) -> E.Expr:
    """``(init - end) * (1 - clip(t - B, 0, T) / T) ** power + end``."""
    return curves.polynomial(E.step(), init_value, end_value, transition_steps, power,
                             transition_begin)


@twin(checks=[Check(("values", "boundaries"),
                    lambda values, boundaries: values[1] == boundaries[1] + 1,
                    "values needs exactly one more entry than boundaries")])
def piecewise_constant(values: Annotated[Sequence[float], Sweep()] = REQUIRED,
                       boundaries: Annotated[Sequence[int], Sweep(ge=0, sorted_required=True)]
                       = REQUIRED) -> E.Expr:
    """``values[#{b <= t}]``: ``values[0]`` before the first boundary, switching at ``t == b``."""
    return curves.piecewise_constant(E.step(), values, boundaries)


def merge_params(schedules: Sequence[Schedule], extra: Sequence[Param] = ()):
    specs: dict = {}
    values: dict = {}
    for s in schedules:
        if not isinstance(s, Schedule):
            raise TypeError(f"expected a schedule, got {s!r}")
        for name, p in s.param_specs.items():
            if name in specs and specs[name].kind != p.kind:
                raise ValueError(f"parameter {name!r} is {specs[name].kind} in one piece and "
                                 f"{p.kind} in another; rename one with a wrapper schedule")
            specs.setdefault(name, p)
            if name in s.values:
                if name in values and values[name] != s.values[name]:
                    raise ValueError(
                        f"parameter {name!r} has different values in two pieces "
                        f"({values[name]!r} and {s.values[name]!r}); pieces share parameters "
                        f"by name, so rename one: piece.rename({name}='{name}_2')")
                values[name] = s.values[name]
    for p in extra:
        specs.setdefault(p.name, p)
    return specs, values


def _boundary(b, extra: list):
    if isinstance(b, str):
        extra.append(_i(b, ge=0))
        return E.param(b)
    if isinstance(b, bool) or not isinstance(b, int) or b < 0:
        raise ValueError(f"boundary {b!r}: must be a non-negative int or a parameter name")
    return b


def _local(s: Schedule):
    return lambda t: E.substitute(s.expr, {E.step(): t})


@factory
def join(schedules: Sequence[Schedule], boundaries: Sequence[int | str]) -> Schedule:
    """Run ``schedules[k]`` from ``boundaries[k-1]`` on, each on its local step.

    A boundary is an int or the name of an (int) parameter, so it can be swept. Pieces share
    parameters by name: give two pieces the same parameter name to tie them together.
    """
    extra: list = []
    bs = [_boundary(b, extra) for b in boundaries]
    specs, values = merge_params(schedules, extra)
    expr = curves.join(E.step(), [_local(s) for s in schedules], bs)
    checks = [c for s in schedules for c in s.checks]
    return Schedule(expr, specs.values(), name="join", values=values, checks=checks,
                    doc=curves.join.__doc__)


@factory
def warmup(schedule: Schedule, warmup_steps: int | None = None,
           warmup_init: float = 0.0) -> Schedule:
    """Prefix a linear warmup from ``warmup_init`` to ``schedule``'s value at its step 0;
    ``schedule`` then runs on ``t - warmup_steps``."""
    extra = [_i("warmup_steps", ge=0), _f("warmup_init", 0.0)]
    specs, values = merge_params([schedule], extra)
    if warmup_steps is not None:
        values["warmup_steps"] = warmup_steps
    values["warmup_init"] = warmup_init
    expr = curves.warmup(E.step(), _local(schedule), E.param("warmup_steps"),
                         E.param("warmup_init"))
    return Schedule(expr, specs.values(), name=f"warmup_{schedule.name}", values=values,
                    checks=schedule.checks, doc=curves.warmup.__doc__)


@twin(checks=[Check(("periods", "weights"),
                    lambda periods, weights: periods[1] == weights[1],
                    "periods and weights need the same length")])
def cosine_restarts(init_value: Float = REQUIRED,
                    periods: Annotated[Sequence[int], Sweep(gt=0)] = REQUIRED,
                    weights: Annotated[Sequence[float], Sweep()] = REQUIRED,
                    end_value: Float = 0.0) -> E.Expr:
    """Cosine cycles of explicit lengths ``periods[k]``, cycle ``k`` restarting at ``init *
    weights[k]`` and falling to ``end_value`` (MMEngine's restart periods with weights, every
    length and weight sweepable as per-config lists); holds after the last cycle."""
    return curves.cosine_restarts(E.step(), init_value, periods, weights, end_value)


@twin
def tri_stage(peak: Float = REQUIRED, warmup_steps: Annotated[int, Sweep(ge=0)] = REQUIRED,
              hold_steps: Annotated[int, Sweep(ge=0)] = REQUIRED,
              decay_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
              init_lr_scale: Annotated[float, Sweep(gt=0)] = 0.01,
              final_lr_scale: Annotated[float, Sweep(gt=0)] = 0.01) -> E.Expr:
    """fairseq's warmup-hold-exponential-decay: linear from ``peak * init_lr_scale`` over
    ``warmup_steps``, ``peak`` for ``hold_steps``, ``peak * final_lr_scale ** (s / D)`` over
    ``decay_steps``, then ``peak * final_lr_scale``."""
    return curves.tri_stage(E.step(), peak, warmup_steps, hold_steps, decay_steps,
                            init_lr_scale, final_lr_scale)


@twin
def log_warmup(init_value: Float = REQUIRED, peak_value: Float = REQUIRED,
               warmup_steps: Annotated[int, Sweep(gt=1)] = REQUIRED) -> E.Expr:
    """Logarithmic warmup (DeepSpeed's ``warmup_type="log"``): ``init + (peak - init) log(t +
    1) / log(W)`` for ``t < W``, ``peak`` after. Join it in front of a decay with ``gs.join``."""
    return curves.log_warmup(E.step(), init_value, peak_value, warmup_steps)


@twin
def lr_range_test(min_lr: Float = REQUIRED, step_size: Annotated[int, Sweep(gt=0)] = REQUIRED,
                  step_rate: Float = 1.0, staircase: Annotated[bool, Sweep()] = False) -> E.Expr:
    """LR range test (DeepSpeed's): ``min_lr (1 + step_rate t / step_size)``, the fraction
    floored with ``staircase``; it keeps increasing."""
    return curves.lr_range_test(E.step(), min_lr, step_size, step_rate, staircase)
