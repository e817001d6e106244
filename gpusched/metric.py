"""Metric-driven schedules: the learning rate reacts to a metric series (validation loss ...).

The value at step ``t`` is the learning rate after ``t`` calls of ``scheduler.step(metric)``
with ``metrics[0], ..., metrics[t-1]`` (so ``f(0) = base_lr``, and a table up to step ``t``
needs at least ``t`` metrics). ``metrics`` is a list parameter: one series for every config,
or a grid column with one series per config (``gs.trials(metrics=losses_2d, ...)``).

Each rule is a loop over steps vectorized over configs (a :class:`~gpusched.expr.HostScan`),
run once on the host per evaluation; every backend then reads its table. The arithmetic is the
original's, operation for operation, in float64, so values are bit-equal to it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import expr as E
from .params import Check, Param
from .schedule import Schedule
from .registry import factory

__all__ = ["reduce_on_plateau", "greedy", "PLATEAU_PARAMS", "METRICS"]

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")
METRICS = Param("metrics", kind="list",
                doc="the metric passed to step() after each step, one series or one per config")


def columns(metrics, **scalars):
    values, lengths = metrics
    values = np.asarray(values, dtype=np.float64)
    rows = max([values.shape[0]] + [v.shape[0] for v in scalars.values()])
    cols = {k: np.broadcast_to(v[:, 0], (rows,)) for k, v in scalars.items()}
    series = np.broadcast_to(values, (rows, values.shape[1]))
    return rows, series, cols


def _is_better(a, best, mode, threshold, threshold_mode):
    """torch's ``_is_better``: ``a < best * (1 - thr)`` (min, rel), ``a < best - thr`` (min,
    abs), ``a > best * (thr + 1)`` (max, rel), ``a > best + thr`` (max, abs)."""
    is_min, is_rel = mode == 0, threshold_mode == 0
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.where(is_rel, best * (1.0 - threshold), best - threshold)
        hi = np.where(is_rel, best * (threshold + 1.0), best + threshold)
    return np.where(is_min, a < lo, a > hi)


def _plateau_table(top, metrics, base_lr, mode, factor, patience, threshold, threshold_mode,
                   cooldown, min_lr, eps):
    """torch ``ReduceLROnPlateau.step(metric)``, vectorized over configs::

        better: best = a, bad = 0;  else bad += 1
        cooldown > 0: cooldown -= 1, bad = 0
        bad > patience: new = max(lr * factor, min_lr); lr = new if lr - new > eps;
                        cooldown = cooldown_setting, bad = 0
    """
    rows, series, c = columns(metrics, base_lr=base_lr, mode=mode, factor=factor,
                               patience=patience, threshold=threshold,
                               threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr,
                               eps=eps)
    out = np.empty((rows, top + 1))
    lr = c["base_lr"].astype(np.float64).copy()
    best = np.where(c["mode"] == 0, np.inf, -np.inf)
    bad = np.zeros(rows, dtype=np.int64)
    cool = np.zeros(rows, dtype=np.int64)
    out[:, 0] = lr
    # _is_better as one comparison: sign * a < sign * (best * mul + add), bit for bit the
    # same (x * 1.0 + -thr == x - thr, x * m + 0.0 == x * m), with the per-config constants
    # out of the loop (it runs once per step)
    is_min, is_rel, thr = c["mode"] == 0, c["threshold_mode"] == 0, c["threshold"]
    mul = np.where(is_rel, np.where(is_min, 1.0 - thr, thr + 1.0), 1.0)
    add = np.where(is_rel, 0.0, np.where(is_min, -thr, thr))
    sign = np.where(is_min, 1.0, -1.0)
    patience, factor, min_lr, eps = c["patience"], c["factor"], c["min_lr"], c["eps"]
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(top):
            a = series[:, t]
            better = sign * a < sign * (best * mul + add)
            best = np.where(better, a, best)
            in_cool = cool > 0
            bad = np.where(better | in_cool, 0, bad + 1)
            cool = cool - in_cool
            reduce = bad > patience
            if reduce.any():
                new = np.maximum(lr * factor, min_lr)
                lr = np.where(reduce & (lr - new > eps), new, lr)
                cool = np.where(reduce, c["cooldown"], cool)
                bad = np.where(reduce, 0, bad)
            out[:, t + 1] = lr
    return out


def _greedy_table(top, metrics, base_lr, mode, factor, patience, threshold, threshold_mode,
                  cooldown, warmup, min_lr, max_lr, eps, smooth, window_size, reset_start):
    """transformers ``GreedyLR.step(metric)``, vectorized over configs (see :func:`greedy`)."""
    rows, series, c = columns(metrics, base_lr=base_lr, mode=mode, factor=factor,
                               patience=patience, threshold=threshold,
                               threshold_mode=threshold_mode, cooldown=cooldown, warmup=warmup,
                               min_lr=min_lr, max_lr=max_lr, eps=eps, smooth=smooth,
                               window_size=window_size, reset_start=reset_start)
    out = np.empty((rows, top + 1))
    init = c["base_lr"].astype(np.float64)
    lr = init.copy()
    fresh_best = np.where(c["mode"] == 0, np.inf, -np.inf)
    best = fresh_best.copy()
    zeros = np.zeros(rows, dtype=np.int64)
    bad, good, cool, warm = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    reset_left = c["reset_start"].astype(np.int64).copy()
    window = c["window_size"].astype(np.int64)
    smooth = c["smooth"] != 0
    total = np.zeros(rows)      # the streaming average's running sum
    seen = zeros.copy()         # values in its window
    ar = np.arange(rows)
    out[:, 0] = lr
    for t in range(top):
        raw = series[:, t]
        total = np.where(smooth, total + raw, total)
        seen = seen + 1
        drop = smooth & (seen > window)
        gone = series[ar, np.clip(t - window, 0, None)]
        total = np.where(drop, total - gone, total)
        seen = np.where(drop, window, seen)
        a = np.where(smooth, total / np.maximum(seen, 1), raw)
        in_cool = cool > 0
        in_warm = ~in_cool & (warm > 0)
        normal = ~in_cool & ~in_warm
        cool = np.where(in_cool, cool - 1, cool)
        warm = np.where(in_warm, warm - 1, warm)
        better = _is_better(a, best, c["mode"], c["threshold"], c["threshold_mode"])
        best = np.where(normal & better, a, best)
        bad = np.where(normal, np.where(better, 0, bad + 1), 0)
        good = np.where(normal, np.where(better, good + 1, 0), 0)
        up = normal & (good > c["patience"])
        down = normal & ~up & (bad > c["patience"])
        raised = np.minimum(lr / c["factor"], c["max_lr"])
        lowered = np.maximum(lr * c["factor"], c["min_lr"])
        lr = np.where(up & (raised - lr > c["eps"]), raised, lr)
        lr = np.where(down & (lr - lowered > c["eps"]), lowered, lr)
        warm = np.where(up, c["warmup"], warm)
        good = np.where(up, 0, good)
        reset_left = np.where(up, c["reset_start"], reset_left)
        cool = np.where(down, c["cooldown"], cool)
        bad = np.where(down, 0, bad)
        at_min = down & ~(lr > c["min_lr"])
        reset_left = np.where(at_min, reset_left - 1, reset_left)
        reset = at_min & (reset_left <= 0)
        lr = np.where(reset, init, lr)
        best = np.where(reset, fresh_best, best)
        bad, good, warm = (np.where(reset, 0, x) for x in (bad, good, warm))
        # step() starts the cooldown after _reduce_lr returns, so also after a reset
        reset_left = np.where(reset, c["reset_start"], reset_left)
        # a reset starts a new streaming average (transformers makes a new StreamingAverage)
        total = np.where(reset & smooth, 0.0, total)
        seen = np.where(reset & smooth, 0, seen)
        out[:, t + 1] = lr
    return out


def shifted_plateau_table(top, metrics, shift, **kw):
    """The plateau rule started ``shift`` metrics late (per config): row ``c`` runs on
    ``metrics[c, shift_c:]`` (timm's PlateauLRScheduler consumes no metric during warmup)."""
    values, lengths = metrics
    values = np.asarray(values, dtype=np.float64)
    shift = np.asarray(shift, dtype=np.int64)
    rows = max(values.shape[0], shift.shape[0])
    idx = np.arange(values.shape[1])[None, :] + np.broadcast_to(shift, (rows, 1))
    idx = np.minimum(idx, values.shape[1] - 1)
    moved = np.take_along_axis(np.broadcast_to(values, (rows, values.shape[1])), idx, axis=1)
    return _plateau_table(top, (moved, np.broadcast_to(lengths, (rows, 1)) - shift), **kw)


PLATEAU = E.HostScan(_plateau_table, "reduce_on_plateau", list_args=("metrics",),
                     needs="metrics")
GREEDY = E.HostScan(_greedy_table, "greedy", list_args=("metrics",), needs="metrics")

PLATEAU_PARAMS = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                  "min_lr", "eps")


def _schedule(rule, name, specs, values, checks, doc):
    expr = E.host_scan(rule, E.step(), ["metrics"] + [p.name for p in specs[1:]])
    from .compat._common import series
    given = {k: v for k, v in values.items() if v is not None}
    if "metrics" in given:
        given["metrics"] = series(given["metrics"])
    return Schedule(expr, [METRICS, *specs[1:]], name=name, values=given, checks=checks,
                    doc=doc)


def _mode_params(threshold, threshold_mode):
    return [Param("mode", kind="choice", choices=MODES),
            Param("threshold", threshold, kind="float", ge=0),
            Param("threshold_mode", threshold_mode, kind="choice", choices=THRESHOLD_MODES)]


@factory
def reduce_on_plateau(metrics: Sequence[float] | None = None, mode: str = "min",
                      factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                      threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                      eps: float = 1e-8, *, base_lr: float | None = None,
                      name: str = "reduce_on_plateau", doc: str | None = None) -> Schedule:
    """Reduce the learning rate when the metric stops improving (torch's rule).

    After each step's metric ``a`` (``best`` starts at +inf for ``mode="min"``, -inf for
    ``"max"``)::

        improved = a < best * (1 - threshold)   (min, rel)     a < best - threshold  (min, abs)
                   a > best * (1 + threshold)   (max, rel)     a > best + threshold  (max, abs)
        improved: best = a, bad = 0             else: bad += 1
        in cooldown: cooldown -= 1, bad = 0
        bad > patience: lr = max(lr * factor, min_lr) if that lowers it by more than eps;
                        then cooldown starts and bad = 0

    ``f(0) = base_lr``; ``f(t)`` is the lr after the metrics of steps ``0..t-1``.
    """
    mode_p, threshold_p, threshold_mode_p = _mode_params(threshold, threshold_mode)
    specs = [METRICS, Param("base_lr", kind="float"), mode_p,
             Param("factor", factor, kind="float", ge=0, lt=1),
             Param("patience", patience, kind="int", ge=0), threshold_p, threshold_mode_p,
             Param("cooldown", cooldown, kind="int", ge=0),
             Param("min_lr", min_lr, kind="float", ge=0), Param("eps", eps, kind="float", ge=0)]
    values = dict(metrics=metrics, base_lr=base_lr, mode=mode, factor=factor, patience=patience,
                  threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown,
                  min_lr=min_lr, eps=eps)
    return _schedule(PLATEAU, name, specs, values, (), doc or reduce_on_plateau.__doc__)


@factory
def greedy(metrics: Sequence[float] | None = None, mode: str = "min", factor: float = 0.95,
           patience: int = 10, threshold: float = 1e-6, threshold_mode: str = "abs",
           cooldown: int = 0, warmup: int = 0, min_lr: float = 1e-3, max_lr: float = 1.0,
           eps: float = 1e-8, smooth: bool = False, window_size: int = 50, reset_start: int = 500,
           *, base_lr: float | None = None, name: str = "greedy",
           doc: str | None = None) -> Schedule:
    """GreedyLR: raise the learning rate while the metric keeps improving, lower it on a
    plateau (transformers' rule).

    With ``smooth`` the metric is first replaced by the mean of its last ``window_size``
    values. Then, unless in cooldown or warmup (which count down and clear both counters)::

        improved (as in reduce_on_plateau): best = a, bad = 0, good += 1;  else bad += 1, good = 0
        good > patience: lr = min(lr / factor, max_lr) if that raises it by more than eps;
                         warmup starts, good = 0
        bad > patience:  lr = max(lr * factor, min_lr) if that lowers it by more than eps;
                         cooldown starts, bad = 0; if lr is then at min_lr, count one toward
                         reset_start, and after reset_start such steps restart from base_lr
    """
    specs = [METRICS, Param("base_lr", kind="float"), *_mode_params(threshold, threshold_mode),
             Param("factor", factor, kind="float", gt=0, lt=1),
             Param("patience", patience, kind="int", ge=0),
             Param("cooldown", cooldown, kind="int", ge=0),
             Param("warmup", warmup, kind="int", ge=0),
             Param("min_lr", min_lr, kind="float", ge=0),
             Param("max_lr", max_lr, kind="float", gt=0),
             Param("eps", eps, kind="float", ge=0),
             Param("smooth", smooth, kind="choice", choices=(False, True)),
             Param("window_size", window_size, kind="int", gt=0),
             Param("reset_start", reset_start, kind="int")]
    values = dict(metrics=metrics, base_lr=base_lr, mode=mode, factor=factor, patience=patience,
                  threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown,
                  warmup=warmup, min_lr=min_lr, max_lr=max_lr, eps=eps, smooth=smooth,
                  window_size=window_size, reset_start=reset_start)
    checks = [Check(("min_lr", "max_lr"), lambda min_lr, max_lr: min_lr <= max_lr,
                    "min_lr must be <= max_lr")]
    return _schedule(GREEDY, name, specs, values, checks, doc or greedy.__doc__)
