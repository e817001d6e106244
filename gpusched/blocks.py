"""The core vocabulary as schedules: gs.constant, gs.linear, gs.cosine, ... gs.join, gs.warmup.

Each factory returns a :class:`~gpusched.schedule.Schedule` whose parameters carry the names
below; arguments given here are the values used unless a grid column overrides them, and
arguments left out must come from the grid. The formulas live in :mod:`gpusched.curves`.
"""

from __future__ import annotations

from typing import Sequence

from . import curves
from . import expr as E
from .params import REQUIRED, Check, Param
from .schedule import Schedule
from .registry import factory

__all__ = ["constant", "linear", "cosine", "exponential", "polynomial", "piecewise_constant",
           "join", "warmup", "cosine_restarts", "tri_stage", "log_warmup", "lr_range_test"]


def _block(name, fn, specs, given, checks=(), **options) -> Schedule:
    expr = E.const(fn(E.step(), *(E.param(p.name) for p in specs), **options))
    values = {k: v for k, v in given.items() if v is not None}
    return Schedule(expr, specs, name=name, values=values, checks=checks, doc=fn.__doc__ or "")


def _f(name, default=REQUIRED, **kw):
    return Param(name, default=default, kind="float", **kw)


def _i(name, default=REQUIRED, **kw):
    return Param(name, default=default, kind="int", **kw)


@factory
def constant(value=None) -> Schedule:
    """``f(t) = value``."""
    return _block("constant", curves.constant, [_f("value")], dict(value=value))


@factory
def linear(init_value=None, end_value=None, transition_steps=None, transition_begin=0):
    """Linear ramp: ``init + (end - init) * clip(t - B, 0, T) / T`` (held outside)."""
    return _block("linear", curves.linear,
                  [_f("init_value"), _f("end_value"), _i("transition_steps", gt=0),
                   _i("transition_begin", 0, ge=0)], dict(locals()))


@factory
def cosine(init_value=None, decay_steps=None, end_value=0.0):
    """Half-cosine decay, held at the end: ``end + (init - end)(1 + cos(pi min(t, D) / D)) / 2``."""
    return _block("cosine", curves.cosine,
                  [_f("init_value"), _i("decay_steps", gt=0), _f("end_value", 0.0)],
                  dict(locals()))


@factory
def exponential(init_value=None, decay_rate=None, transition_steps=None, transition_begin=0,
                staircase=False, end_value=None):
    """``init * rate ** ((t - B) / T)`` after ``B`` (floored exponent with ``staircase``),
    clipped at ``end_value`` when given."""
    specs = [_f("init_value"), _f("decay_rate", gt=0), _i("transition_steps", gt=0),
             _i("transition_begin", 0, ge=0)]
    opts = {"staircase": bool(staircase)}
    given = dict(init_value=init_value, decay_rate=decay_rate, transition_steps=transition_steps,
                 transition_begin=transition_begin)
    if end_value is not None:
        specs.append(_f("end_value"))
        given["end_value"] = end_value

        def fn(t, init_value, decay_rate, transition_steps, transition_begin, end_value, **o):
            return curves.exponential(t, init_value, decay_rate, transition_steps,
                                      transition_begin, end_value=end_value, **o)
        fn.__doc__ = curves.exponential.__doc__
        return _block("exponential", fn, specs, given, **opts)
    return _block("exponential", curves.exponential, specs, given, **opts)


@factory
def polynomial(init_value=None, end_value=None, transition_steps=None, power=1.0,
               transition_begin=0):
    """``(init - end) * (1 - clip(t - B, 0, T) / T) ** power + end``."""
    return _block("polynomial", curves.polynomial,
                  [_f("init_value"), _f("end_value"), _i("transition_steps", gt=0),
                   _f("power", 1.0, gt=0), _i("transition_begin", 0, ge=0)], dict(locals()))


@factory
def piecewise_constant(values=None, boundaries=None):
    """``values[#{b <= t}]``: ``values[0]`` before the first boundary, switching at ``t == b``."""
    specs = [Param("values", kind="list"),
             Param("boundaries", kind="list", ge=0, sorted_required=True)]
    size_check = Check(("values", "boundaries"),
                       lambda values, boundaries: values[1] == boundaries[1] + 1,
                       "values needs exactly one more entry than boundaries")
    return _block("piecewise_constant", curves.piecewise_constant, specs,
                  dict(values=values, boundaries=boundaries), checks=[size_check])


def _merge(schedules: Sequence[Schedule], extra: Sequence[Param] = ()):
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
def join(schedules: Sequence[Schedule], boundaries: Sequence) -> Schedule:
    """Run ``schedules[k]`` from ``boundaries[k-1]`` on, each on its local step.

    A boundary is an int or the name of an (int) parameter, so it can be swept. Pieces share
    parameters by name: give two pieces the same parameter name to tie them together.
    """
    extra: list = []
    bs = [_boundary(b, extra) for b in boundaries]
    specs, values = _merge(schedules, extra)
    expr = curves.join(E.step(), [_local(s) for s in schedules], bs)
    checks = [c for s in schedules for c in s.checks]
    return Schedule(expr, specs.values(), name="join", values=values, checks=checks,
                    doc=curves.join.__doc__)


@factory
def warmup(schedule: Schedule, warmup_steps=None, warmup_init=0.0) -> Schedule:
    """Prefix a linear warmup from ``warmup_init`` to ``schedule``'s value at its step 0;
    ``schedule`` then runs on ``t - warmup_steps``."""
    extra = [_i("warmup_steps", ge=0), _f("warmup_init", 0.0)]
    specs, values = _merge([schedule], extra)
    if warmup_steps is not None:
        values["warmup_steps"] = warmup_steps
    values["warmup_init"] = warmup_init
    expr = curves.warmup(E.step(), _local(schedule), E.param("warmup_steps"),
                         E.param("warmup_init"))
    return Schedule(expr, specs.values(), name=f"warmup_{schedule.name}", values=values,
                    checks=schedule.checks, doc=curves.warmup.__doc__)


@factory
def cosine_restarts(init_value=None, periods=None, weights=None, end_value=0.0) -> Schedule:
    """Cosine cycles of explicit lengths ``periods[k]``, cycle ``k`` restarting at ``init *
    weights[k]`` and falling to ``end_value`` (MMEngine's restart periods with weights, every
    length and weight sweepable as per-config lists); holds after the last cycle."""
    specs = [_f("init_value"), Param("periods", kind="list", gt=0),
             Param("weights", kind="list"), _f("end_value", 0.0)]
    same = Check(("periods", "weights"), lambda periods, weights: periods[1] == weights[1],
                 "periods and weights need the same length")
    return _block("cosine_restarts", curves.cosine_restarts, specs,
                  dict(init_value=init_value,
                       periods=None if periods is None else list(periods),
                       weights=None if weights is None else list(weights),
                       end_value=end_value), checks=[same])


@factory
def tri_stage(peak=None, warmup_steps=None, hold_steps=None, decay_steps=None,
              init_lr_scale=0.01, final_lr_scale=0.01) -> Schedule:
    """fairseq's warmup-hold-exponential-decay: linear from ``peak * init_lr_scale`` over
    ``warmup_steps``, ``peak`` for ``hold_steps``, ``peak * final_lr_scale ** (s / D)`` over
    ``decay_steps``, then ``peak * final_lr_scale``."""
    return _block("tri_stage", curves.tri_stage,
                  [_f("peak"), _i("warmup_steps", ge=0), _i("hold_steps", ge=0),
                   _i("decay_steps", gt=0), _f("init_lr_scale", 0.01, gt=0),
                   _f("final_lr_scale", 0.01, gt=0)], dict(locals()))


@factory
def log_warmup(init_value=None, peak_value=None, warmup_steps=None) -> Schedule:
    """Logarithmic warmup (DeepSpeed's ``warmup_type="log"``): ``init + (peak - init) log(t +
    1) / log(W)`` for ``t < W``, ``peak`` after. Join it in front of a decay with ``gs.join``."""
    return _block("log_warmup", curves.log_warmup,
                  [_f("init_value"), _f("peak_value"), _i("warmup_steps", gt=1)],
                  dict(locals()))


@factory
def lr_range_test(min_lr=None, step_size=None, step_rate=1.0, staircase=False) -> Schedule:
    """LR range test (DeepSpeed's): ``min_lr (1 + step_rate t / step_size)``, the fraction
    floored with ``staircase``; it keeps increasing."""
    return _block("lr_range_test", curves.lr_range_test,
                  [_f("min_lr"), _i("step_size", gt=0), _f("step_rate", 1.0),
                   Param("staircase", False, kind="choice", choices=(False, True))],
                  dict(min_lr=min_lr, step_size=step_size, step_rate=step_rate,
                       staircase=bool(staircase)))

