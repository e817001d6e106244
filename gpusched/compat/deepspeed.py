"""Twins of DeepSpeed's schedules (``deepspeed.runtime.lr_schedules``; config
``scheduler.type``).

Step mapping: DeepSpeed's schedulers compute ``g(i)`` for ``i = last_batch_iteration``; the
constructor writes ``g(-1)`` and the engine steps the scheduler after each optimizer step
(that did not overflow), so the ``t``-th update uses ``g(t - 1)``. The twins give that:
``f(t) = g(t - 1)``, and ``f(0) = g(-1)`` (the minimum lr, or 0 for WarmupCosineLR).
"""

from __future__ import annotations

from typing import Annotated


from .. import curves
from .. import expr as E
from ..params import REQUIRED, Check, Float, Param, Sweep
from ..schedule import Schedule
from ._common import (BASE_LR, BaseLR, float_param as _f, int_param as _i, param_exprs as _p,
                      schedule_of, drop_unused)
from ..registry import factory, twin

__all__ = ["LRRangeTest", "OneCycle", "WarmupLR", "WarmupDecayLR", "WarmupCosineLR"]

WARMUP_TYPES = ("log", "linear")


def _iteration():
    """DeepSpeed's ``last_batch_iteration`` when the ``t``-th update runs: ``t - 1``."""
    return E.step() - 1


@twin
def LRRangeTest(lr_range_test_min_lr: Float = 1e-3,
                lr_range_test_step_size: Annotated[int, Sweep(gt=0)] = 2000,
                lr_range_test_step_rate: Float = 1.0,
                lr_range_test_staircase: Annotated[bool, Sweep()] = False) -> E.Expr:
    """LR range test, increasing: ``g(i) = min_lr (1 + step_rate x)``, ``x = (i + 1) /
    step_size`` (``floor`` of it with staircase)."""
    return curves.lr_range_test(_iteration() + 1, lr_range_test_min_lr, lr_range_test_step_size,
                                lr_range_test_step_rate, lr_range_test_staircase)


@factory
def OneCycle(cycle_min_lr: float | None = None, cycle_max_lr: float | None = None,
             decay_lr_rate: float = 0.0, cycle_first_step_size: int = 2000,
             cycle_second_step_size: int | None = None, cycle_first_stair_count: int = 0,
             cycle_second_stair_count: int | None = None, decay_step_size: int = 0,
             cycle_momentum: bool = True, cycle_min_mom: float = 0.8, cycle_max_mom: float = 0.9,
             decay_mom_rate: float = 0.0, *, output: str = "lr") -> Schedule:
    """One triangle, then an inverse-time decay. With ``up``/``down`` the step sizes (floats),
    ``tot = up + down``, ``r = up / tot``, ``j = i + 1``::

        i < tot:  c = floor(1 + j / tot); x = 1 + j / tot - c
                  s = x / r  if x <= r  else (x - 1) / (r - 1)
                  stairs n > 0 (per half): s = floor(p n / half) / n, p the position in the half
                  g = min_lr + (max_lr - min_lr) s
        i >= tot: g = min_lr / (1 + decay_lr_rate (i - tot + 1) / decay_step_size)
                  (min_lr when decay_lr_rate or decay_step_size is 0)

    ``output="momentum"`` gives beta1 (max_mom - (max_mom - min_mom) s in the cycle, max_mom
    (1 + decay_mom_rate ...) after).
    """
    i = _iteration()
    up_i, down_i, n1, n2_arg = _p("cycle_first_step_size", "cycle_second_step_size",
                                  "cycle_first_stair_count", "cycle_second_stair_count")
    up = E.to_float(up_i)
    down = E.to_float(E.where(down_i < 0, up_i, down_i))
    n2 = E.where(n2_arg < 0, n1, n2_arg)
    tot = up + down
    ratio = up / tot
    j = i + 1
    cycle = E.floor(1 + j / tot)
    x = 1. + j / tot - cycle
    first = x <= ratio
    s = E.where(first, x / ratio, (x - 1) / (ratio - 1))
    stairs = E.where(first, n1, n2)
    pos_in = j % tot
    position = E.where(pos_in <= up, pos_in * stairs / up, (tot - pos_in) * stairs / down)
    s = E.where(stairs > 0, E.floor(position) / E.where(stairs > 0, stairs, 1), s)
    size = E.param("decay_step_size")
    if output == "lr":
        lo, hi, rate = _p("cycle_min_lr", "cycle_max_lr", "decay_lr_rate")
        in_cycle = lo + (hi - lo) * s
        skip = (rate == 0) | (size == 0)
        decayed = E.where(skip, lo + 0.0,
                          lo / (1 + rate * ((i - tot + 1) / E.where(size == 0, 1, size))))
    elif output == "momentum":
        lo, hi, rate = _p("cycle_min_mom", "cycle_max_mom", "decay_mom_rate")
        in_cycle = hi - (hi - lo) * s
        skip = (rate == 0) | (size == 0)
        decayed = E.where(skip, hi + 0.0,
                          hi * (1 + rate * ((i - tot + 1) / E.where(size == 0, 1, size))))
    else:
        raise ValueError(f"output={output!r}: must be 'lr' or 'momentum'")
    expr = E.where(i < tot, in_cycle, decayed)
    params = [_f("cycle_min_lr"), _f("cycle_max_lr"), _f("decay_lr_rate", 0.0),
              _i("cycle_first_step_size", 2000, gt=0), _i("cycle_second_step_size", -1),
              _i("cycle_first_stair_count", 0, ge=0), _i("cycle_second_stair_count", -1),
              _i("decay_step_size", 0, ge=0), _f("cycle_min_mom", 0.8),
              _f("cycle_max_mom", 0.9), _f("decay_mom_rate", 0.0)]
    values = dict(cycle_min_lr=cycle_min_lr, cycle_max_lr=cycle_max_lr,
                  decay_lr_rate=decay_lr_rate, cycle_first_step_size=cycle_first_step_size,
                  cycle_second_step_size=-1 if cycle_second_step_size is None
                  else cycle_second_step_size,
                  cycle_first_stair_count=cycle_first_stair_count,
                  cycle_second_stair_count=-1 if cycle_second_stair_count is None
                  else cycle_second_stair_count,
                  decay_step_size=decay_step_size, cycle_min_mom=cycle_min_mom,
                  cycle_max_mom=cycle_max_mom, decay_mom_rate=decay_mom_rate)
    return drop_unused(schedule_of("OneCycle", expr, params, values, OneCycle.__doc__))


def _gamma(i, W, kind):
    """DeepSpeed's warmup fraction: ``log(i + 1) / log(W)`` (log) or ``i / W`` (linear)."""
    return E.where(kind == 0, curves.log_fraction(i, W), i / E.to_float(W))


WarmupSteps = Annotated[int, Sweep(gt=0)]
WarmupType = Annotated[str, Sweep(choices=WARMUP_TYPES)]
_WARMUP_WITHIN = Check(("total_num_steps", "warmup_num_steps"),
                       lambda total_num_steps, warmup_num_steps:
                       total_num_steps >= warmup_num_steps,
                       "total_num_steps must be >= warmup_num_steps")


def _warmup_params(W_default):
    return [_i("warmup_num_steps", W_default, gt=0),
            Param("warmup_type", "log", kind="choice", choices=WARMUP_TYPES)]


@factory
def WarmupLR(warmup_min_lr: float = 0.0, warmup_max_lr: float | None = None,
             warmup_num_steps: int = 1000, warmup_type: str = "log", *,
             base_lr: float | None = None) -> Schedule:
    """``g(i) = min + (max - min) gamma(i)`` for ``0 <= i < W`` and ``max`` after, with
    ``W = max(2, warmup_num_steps)`` and ``gamma = log(i + 1) / log(W)`` (log: reaches
    ``max`` at ``i = W - 1``) or ``i / W``; ``g(-1) = min``. ``warmup_max_lr`` defaults to the
    optimizer's lr (``base_lr``)."""
    i = _iteration()
    lo, Wp, kind = _p("warmup_min_lr", "warmup_num_steps", "warmup_type")
    W = E.maximum(2, Wp)
    hi = E.param("base_lr") if warmup_max_lr is None else E.param("warmup_max_lr")
    g = E.where(i < W, _gamma(i, W, kind), 1.0)
    expr = E.where(i < 0, lo + 0.0, lo + (hi - lo) * g)
    params = [_f("warmup_min_lr", 0.0), *_warmup_params(1000)]
    values = dict(warmup_min_lr=warmup_min_lr, warmup_num_steps=warmup_num_steps,
                  warmup_type=warmup_type)
    if warmup_max_lr is None:
        params.insert(0, BASE_LR)
        values["base_lr"] = base_lr
    else:
        params.append(_f("warmup_max_lr"))
        values["warmup_max_lr"] = warmup_max_lr
    return schedule_of("WarmupLR", expr, params, values, WarmupLR.__doc__)


@twin(checks=[_WARMUP_WITHIN])
def WarmupDecayLR(total_num_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
                  warmup_min_lr: Float = 0.0, warmup_max_lr: Float = 0.001,
                  warmup_num_steps: WarmupSteps = 1000,
                  warmup_type: WarmupType = "log") -> E.Expr:
    """WarmupLR's warmup, then a linear decay: ``gamma = max(0, (T - i) / max(1, T - W))``."""
    i, T, lo, hi = _iteration(), total_num_steps, warmup_min_lr, warmup_max_lr
    W = E.maximum(2, warmup_num_steps)
    g = E.where(i < W, _gamma(i, W, warmup_type),
                E.maximum(0.0, E.to_float(T - i) / E.to_float(E.maximum(1, T - W))))
    return E.where(i < 0, lo + 0.0, lo + (hi - lo) * g)


@twin(checks=[_WARMUP_WITHIN])
def WarmupCosineLR(total_num_steps: Annotated[int, Sweep(gt=0)] = REQUIRED,
                   warmup_min_ratio: Float = 0.0, warmup_num_steps: WarmupSteps = 1000,
                   cos_min_ratio: Float = 0.0001, warmup_type: WarmupType = "log", *,
                   base_lr: BaseLR = REQUIRED) -> E.Expr:
    """Ratios of the optimizer's lr (``base_lr``): ``g(-1) = 0``; warmup ``wmin + gamma(i)
    (1 - wmin)``; then ``p = min(1, (i - W + 1) / max(1, T - W))`` and ``max(0, cmin + (1 -
    cmin)(1 + cos(pi p)) / 2)`` (the ``+ 1`` skips the peak in linear mode)."""
    i, T, wmin, cmin = _iteration(), total_num_steps, warmup_min_ratio, cos_min_ratio
    W = E.maximum(2, warmup_num_steps)
    warm = wmin + _gamma(i, W, warmup_type) * (1. - wmin)
    p = E.minimum(1.0, (i - W + 1) / E.maximum(1, T - W))
    # DeepSpeed's own operation order, for bit-for-bit parity (not curves.cosine_interp)
    cos_r = E.maximum(0.0, cmin + (1. - cmin) * ((1 + E.cos(E.pi * p)) / 2))
    return base_lr * E.where(i < 0, 0.0, E.where(i < W, warm, cos_r))

