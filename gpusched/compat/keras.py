"""Twins of Keras 3's ``keras.optimizers.schedules`` (every LearningRateSchedule class).

Step mapping: the value at step ``t`` is ``schedule(t)``; the optimizer calls it with its
``iterations`` counter, which starts at 0, so the ``t``-th update uses ``schedule(t)``. Keras
computes in float32 (the dtype of ``initial_learning_rate``); the twins compute in float64 and
agree with Keras to float32 rounding. Parameter names are Keras'.
"""

from __future__ import annotations

from typing import Annotated, Sequence

import numpy as np

from .. import expr as E
from .. import metric
from ..params import REQUIRED, Check, Float, Param, Sweep
from ..schedule import Schedule
from ._common import float_param as _f, param_exprs as _p, schedule_of, series
from ..registry import factory, twin

__all__ = ["ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "ReduceLROnPlateau"]

INIT = Param("initial_learning_rate", kind="float")


def _progress(t, D, staircase):
    p = t / D
    return E.floor(p) if staircase else p


@factory
def ExponentialDecay(initial_learning_rate: float | None = None, decay_steps: float | None = None,
                     decay_rate: float | None = None, staircase: bool = False) -> Schedule:
    """``initial * decay_rate ** (t / decay_steps)`` (``floor`` of the exponent with
    ``staircase``); no begin, no clamp."""
    init, D, rate = _p("initial_learning_rate", "decay_steps", "decay_rate")
    return schedule_of("ExponentialDecay", init * rate ** _progress(E.step(), D, staircase),
                       [INIT, _f("decay_steps", gt=0), _f("decay_rate", ge=0)],
                       dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            decay_rate=decay_rate), ExponentialDecay.__doc__)


@twin(checks=[Check(("values", "boundaries"),
                    lambda values, boundaries: values[1] == boundaries[1] + 1,
                    "values needs exactly one more entry than boundaries")])
def PiecewiseConstantDecay(
        boundaries: Annotated[Sequence[float], Sweep(sorted_required=True)] = REQUIRED,
        values: Annotated[Sequence[float], Sweep()] = REQUIRED) -> E.Expr:
    """``values[#{b in boundaries : b < t}]``: a boundary step keeps the **old** value, the
    next step switches (Keras' ``step <= b``)."""
    return E.take(values, E.count_lt(boundaries, E.step())) + 0.0


@twin
def PolynomialDecay(initial_learning_rate: Float = REQUIRED,
                    decay_steps: Annotated[float, Sweep(gt=0)] = REQUIRED,
                    end_learning_rate: Float = 1e-4, power: Float = 1.0,
                    cycle: Annotated[bool, Sweep()] = False) -> E.Expr:
    """``(initial - end) (1 - p) ** power + end``: without ``cycle``, ``p = min(t, D) / D``;
    with ``cycle``, ``p = t / (D ceil(t / D))`` (``D`` at ``t = 0``), which is not a sawtooth:
    the horizon stretches, reaching ``end`` at each multiple of ``D`` (as Keras)."""
    t, D = E.step(), decay_steps
    stretched = D * E.where(t == 0, 1.0, E.ceil(t / D))
    p = E.where(cycle == 1, t / stretched, E.minimum(E.to_float(t), D) / D)
    return (initial_learning_rate - end_learning_rate) * (1 - p) ** power + end_learning_rate


@factory
def InverseTimeDecay(initial_learning_rate: float | None = None, decay_steps: float | None = None,
                     decay_rate: float | None = None, staircase: bool = False) -> Schedule:
    """``initial / (1 + decay_rate * t / decay_steps)`` (``floor(t / decay_steps)`` with
    ``staircase``)."""
    init, D, rate = _p("initial_learning_rate", "decay_steps", "decay_rate")
    return schedule_of("InverseTimeDecay", init / (1 + rate * _progress(E.step(), D, staircase)),
                       [INIT, _f("decay_steps", gt=0), _f("decay_rate", ge=0)],
                       dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            decay_rate=decay_rate), InverseTimeDecay.__doc__)


@factory
def CosineDecay(initial_learning_rate: float | None = None, decay_steps: float | None = None,
                alpha: float = 0.0, name: str = "CosineDecay", warmup_target: float | None = None,
                warmup_steps: int = 0) -> Schedule:
    """Without ``warmup_target``: ``s = min(t, D)``, ``initial ((1 - alpha)(1 + cos(pi s / D))
    / 2 + alpha)``. With it: ``s = min(t, D + W)``; ``s < W``: ``(target - initial) s / W +
    initial``; else ``target ((1 - alpha)(1 + cos(pi (s - W) / D)) / 2 + alpha)``.
    ``decay_steps`` **excludes** the warmup (optax's includes it)."""
    t = E.step()
    init, D, a = _p("initial_learning_rate", "decay_steps", "alpha")

    def decay(step, peak):
        # Keras' own operation order, for bit-for-bit parity (not curves.cosine_interp)
        return peak * ((1 - a) * (0.5 * (1.0 + E.cos(E.pi * (step / D)))) + a)

    params = [INIT, _f("decay_steps", gt=0), _f("alpha", 0.0)]
    values = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                  alpha=alpha)
    if warmup_target is None:
        expr = decay(E.minimum(E.to_float(t), D), init)
    else:
        target, W = _p("warmup_target", "warmup_steps")
        s = E.minimum(E.to_float(t), D + W)
        expr = E.where(s < W, (target - init) * (s / E.where(W > 0, W, 1.0)) + init,
                       decay(s - W, target))
        params += [_f("warmup_target"), _f("warmup_steps", 0.0, ge=0)]
        values.update(warmup_target=warmup_target, warmup_steps=warmup_steps)
    return schedule_of("CosineDecay", expr, params, values, CosineDecay.__doc__)


@twin
def CosineDecayRestarts(initial_learning_rate: Float = REQUIRED,
                        first_decay_steps: Annotated[float, Sweep(gt=0)] = REQUIRED,
                        t_mul: Annotated[float, Sweep(gt=0)] = 2.0, m_mul: Float = 1.0,
                        alpha: Float = 0.0, name: str = "SGDRDecay") -> E.Expr:
    """SGDR: ``c = t / first_decay_steps``; cycle ``i`` (``floor(c)`` when ``t_mul == 1``,
    else ``floor(log(1 - c (1 - t_mul)) / log(t_mul))``) and its fraction ``c' = (c - (1 -
    t_mul^i) / (1 - t_mul)) / t_mul^i``::

        f = initial ((1 - alpha) m_mul^i (1 + cos(pi c')) / 2 + alpha)

    (the floor ``alpha initial`` is not scaled by ``m_mul``). Keras takes the log in float32;
    the twin in float64, so at an exact restart step the two may fall in different cycles.
    ``name`` is Keras' (unused).
    """
    t, tm, a = E.step(), t_mul, alpha
    c = t / first_decay_steps
    m = E.where(tm == 1.0, 2.0, tm)
    i_geo = E.floor(E.log(1.0 - c * (1.0 - m)) / E.log(m))
    frac_geo = (c - (1.0 - m ** i_geo) / (1.0 - m)) / m ** i_geo
    i = E.where(tm == 1.0, E.floor(c), i_geo)
    frac = E.where(tm == 1.0, c - E.floor(c), frac_geo)
    # Keras' own operation order, for bit-for-bit parity (not curves.cosine_interp)
    cosine = 0.5 * m_mul ** i * (1.0 + E.cos(E.pi * frac))
    return initial_learning_rate * ((1 - a) * cosine + a)



PLATEAU_MODES = ("min", "max")


def _keras_plateau_table(top, metrics, initial_learning_rate, mode, factor, patience,
                         min_delta, cooldown, min_lr):
    """keras.callbacks.ReduceLROnPlateau, its learning rate a float32 variable::

        in cooldown: cooldown -= 1, wait = 0
        improved (a + min_delta < best, or a - min_delta > best for "max"; the first metric
        always): best = a, wait = 0
        else, unless still in cooldown: wait += 1; wait >= patience and lr > min_lr:
             lr = max(lr * factor, min_lr), cooldown starts, wait = 0
    """
    rows, series, c = metric.columns(metrics, initial_learning_rate=initial_learning_rate,
                               mode=mode, factor=factor, patience=patience,
                               min_delta=min_delta, cooldown=cooldown, min_lr=min_lr)
    f32 = np.float32
    out = np.empty((rows, top + 1))
    lr = c["initial_learning_rate"].astype(f32)
    best = np.full(rows, np.nan)
    wait = np.zeros(rows, dtype=np.int64)
    cool = np.zeros(rows, dtype=np.int64)
    is_min = c["mode"] == 0
    out[:, 0] = lr
    for t in range(top):
        a = series[:, t]
        in_cool = cool > 0
        cool = np.where(in_cool, cool - 1, cool)
        wait = np.where(in_cool, 0, wait)
        with np.errstate(invalid="ignore"):
            better = np.where(is_min, a + c["min_delta"] < best, a - c["min_delta"] > best)
        better |= np.isnan(best)
        best = np.where(better, a, best)
        counting = ~better & ~(cool > 0)
        wait = np.where(better, 0, np.where(counting, wait + 1, wait))
        can = counting & (wait >= c["patience"]) & (lr.astype(np.float64) >
                                                   c["min_lr"].astype(f32).astype(np.float64))
        new = np.maximum(lr.astype(np.float64) * c["factor"], c["min_lr"]).astype(f32)
        lr = np.where(can, new, lr)
        cool = np.where(can, c["cooldown"], cool)
        wait = np.where(can, 0, wait)
        out[:, t + 1] = lr
    return out


KERAS_PLATEAU = E.HostScan(_keras_plateau_table, "keras_plateau", list_args=("metrics",),
                           needs="metrics")


@factory
def ReduceLROnPlateau(metrics: Sequence[float] | None = None, monitor: str = "val_loss",
                      factor: float = 0.1, patience: int = 10, verbose: int = 0, mode: str = "auto",
                      min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, *,
                      initial_learning_rate: float | None = None) -> Schedule:
    """The ``keras.callbacks.ReduceLROnPlateau`` callback given the monitored value of each
    epoch (``metrics``): ``f(t)`` is the optimizer's (float32) learning rate in epoch ``t``,
    after ``on_epoch_end`` saw the values of the epochs before it. ``mode="auto"`` means
    ``"min"`` (a loss), as Keras decides for ``val_loss``.
    """
    if mode == "auto":
        mode = "min"
    names = ["metrics", "initial_learning_rate", "mode", "factor", "patience", "min_delta",
             "cooldown", "min_lr"]
    expr = E.host_scan(KERAS_PLATEAU, E.step(), names)
    params = [metric.METRICS, INIT, Param("mode", "min", kind="choice", choices=PLATEAU_MODES),
              _f("factor", 0.1, ge=0, lt=1), Param("patience", 10, kind="int", ge=0),
              _f("min_delta", 1e-4, ge=0), Param("cooldown", 0, kind="int", ge=0),
              _f("min_lr", 0.0, ge=0)]
    values = dict(metrics=series(metrics),
                  initial_learning_rate=initial_learning_rate, mode=mode, factor=factor,
                  patience=patience, min_delta=min_delta, cooldown=cooldown, min_lr=min_lr)
    return schedule_of("ReduceLROnPlateau", expr, params, values, ReduceLROnPlateau.__doc__)



ReduceLROnPlateau.__doc__ = ((ReduceLROnPlateau.__doc__ or "") + "\n"
                             + (_keras_plateau_table.__doc__ or "").split("\n", 1)[1])
