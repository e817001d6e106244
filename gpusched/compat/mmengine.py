"""Twins of MMEngine's parameter schedulers (``mmengine.optim.scheduler``, the ``*LR`` forms).

Step mapping: the value at step ``t`` is the group's lr after ``t`` calls of ``step()`` (the
constructor's own call is step 0). A scheduler acts on the window ``begin <= t < end``, on the
local step ``s = t - begin``: before ``begin`` the lr is ``base_lr``, after ``end`` it stays
at its value at ``s = end - begin - 1``. ``end`` defaults to MMEngine's INF (1e9). Chainable
forms are computed in closed form (relative ~1e-15 from MMEngine's recursion). The windowed
classes whose length is the window (ConstantLR, LinearLR, PolyLR) use MMEngine's ``end - begin
- 1`` convention: they reach their end value one step before ``end``.
"""

from __future__ import annotations

from typing import Sequence

import inspect

import numpy as np

from .. import curves
from .. import expr as E
from .. import metric
from ..params import Check, Param
from ..schedule import Schedule
from . import torch as T
from ._common import BASE_LR, series
from ..registry import factory

__all__ = ["ConstantLR", "LinearLR", "StepLR", "MultiStepLR", "ExponentialLR",
           "CosineAnnealingLR", "PolyLR", "OneCycleLR", "CosineRestartLR", "ReduceOnPlateauLR"]

INF = 1000000000
WINDOW = [Param("begin", 0, kind="int", ge=0), Param("end", INF, kind="int", gt=0)]
WINDOW_CHECK = Check(("begin", "end"), lambda begin, end: end > begin, "end must be > begin")


def _windowed(name, sched: Schedule, begin, end, replace=None, doc="") -> Schedule:
    """``sched`` on the window's local step; ``replace`` maps parameter names to expressions
    of the window (``total_iters`` -> ``end - begin - 1``), which are then no parameters."""
    t, b, lo, hi = E.step(), E.param("base_lr"), E.param("begin"), E.param("end")
    mapping = {E.step(): E.minimum(t, hi - 1) - lo}
    for pname, expr in (replace or {}).items():
        mapping[E.param(pname)] = expr
    inner = E.substitute(sched.expr, mapping)
    expr = E.where(t < lo, b + 0.0, inner)
    gone = set(replace or ())
    specs = [p for p in sched.param_specs.values() if p.name not in gone | {"begin", "end"}]
    if "base_lr" not in sched.param_specs:
        specs.insert(0, BASE_LR)
    values = {k: v for k, v in sched.values.items() if k not in gone}
    values.update(begin=begin, end=end)
    checks = [c for c in sched.checks if not set(c.names) & gone] + [WINDOW_CHECK]
    return Schedule(expr, specs + WINDOW, name=name, values=values, checks=checks,
                    doc=doc)


def _span():
    return E.param("end") - E.param("begin") - 1


@factory
def ConstantLR(factor: float = 1.0 / 3, begin: int = 0, end: int = INF, *,
               base_lr: float | None = None) -> Schedule:
    """``base_lr * factor`` for ``s < end - begin - 1``, ``base_lr`` from there on."""
    t = T.ConstantLR(factor, 1, base_lr=base_lr)
    return _windowed("ConstantLR", t, begin, end, {"total_iters": _span()},
                     ConstantLR.__doc__)


@factory
def LinearLR(start_factor: float = 1.0 / 3, end_factor: float = 1.0, begin: int = 0, end: int = INF,
             *, base_lr: float | None = None) -> Schedule:
    """``base_lr (sf + (ef - sf) min(s, E) / E)``, ``E = end - begin - 1``."""
    t = T.LinearLR(start_factor, end_factor, 1, base_lr=base_lr)
    return _windowed("LinearLR", t, begin, end, {"total_iters": _span()}, LinearLR.__doc__)


@factory
def StepLR(step_size: int | None = None, gamma: float = 0.1, begin: int = 0, end: int = INF, *,
           base_lr: float | None = None) -> Schedule:
    """``base_lr * gamma ** (s // step_size)``."""
    return _windowed("StepLR", T.StepLR(step_size, gamma, base_lr=base_lr), begin, end,
                     doc=StepLR.__doc__)


@factory
def MultiStepLR(milestones: Sequence[float] | None = None, gamma: float = 0.1, begin: int = 0,
                end: int = INF, *, base_lr: float | None = None) -> Schedule:
    """``base_lr * gamma ** #{m <= s}`` (milestones on the local step)."""
    return _windowed("MultiStepLR", T.MultiStepLR(milestones, gamma, base_lr=base_lr), begin,
                     end, doc=MultiStepLR.__doc__)


@factory
def ExponentialLR(gamma: float | None = None, begin: int = 0, end: int = INF, *,
                  base_lr: float | None = None) -> Schedule:
    """``base_lr * gamma ** s``."""
    return _windowed("ExponentialLR", T.ExponentialLR(gamma, base_lr=base_lr), begin, end,
                     doc=ExponentialLR.__doc__)


def _eta(eta_min, eta_min_ratio):
    if (eta_min is None) == (eta_min_ratio is None):
        raise ValueError("give exactly one of eta_min and eta_min_ratio")
    if eta_min is not None:
        return E.param("eta_min"), Param("eta_min", kind="float"), {"eta_min": eta_min}
    return E.param("eta_min_ratio") * E.param("base_lr"), \
        Param("eta_min_ratio", kind="float", ge=0), {"eta_min_ratio": eta_min_ratio}


@factory
def CosineAnnealingLR(T_max: int | None = None, eta_min: float | None = None, begin: int = 0,
                      end: int = INF, eta_min_ratio: float | None = None, *,
                      base_lr: float | None = None) -> Schedule:
    """``eta + (base_lr - eta)(1 + cos(pi s / T_max)) / 2`` with ``eta = eta_min`` or
    ``base_lr * eta_min_ratio``; ``T_max`` defaults to ``end - begin``. Periodic when the
    window is longer than ``T_max``; with ``end = begin + T_max`` the last value is that of
    ``s = T_max - 1`` (``eta`` is never reached), as in MMEngine."""
    if eta_min is None and eta_min_ratio is None:
        eta_min = 0.0
    eta, eta_param, given = _eta(eta_min, eta_min_ratio)
    t, b = E.step(), E.param("base_lr")
    T_arg = E.param("T_max")
    Tm = E.where(T_arg > 0, T_arg, E.param("end") - E.param("begin"))
    inner = Schedule(curves.cosine_interp(b, eta, t / Tm),
                     [BASE_LR, Param("T_max", 0, kind="int", ge=0), eta_param, *WINDOW],
                     name="cos", values={k: v for k, v in dict(
                         T_max=0 if T_max is None else T_max, base_lr=base_lr,
                         **given).items() if v is not None})
    return _windowed("CosineAnnealingLR", inner, begin, end, doc=CosineAnnealingLR.__doc__)


@factory
def PolyLR(eta_min: float = 0.0, power: float = 1.0, begin: int = 0, end: int = INF, *,
           base_lr: float | None = None) -> Schedule:
    """``eta_min + (base_lr - eta_min)(1 - min(s, E) / E) ** power``, ``E = end - begin - 1``."""
    t, b, eta, pw = E.step(), E.param("base_lr"), E.param("eta_min"), E.param("power")
    E_ = _span()
    inner = Schedule(eta + (b - eta) * (1 - E.minimum(t, E_) / E_) ** pw,
                     [BASE_LR, Param("eta_min", 0.0, kind="float"),
                      Param("power", 1.0, kind="float"), *WINDOW], name="poly",
                     values={k: v for k, v in dict(eta_min=eta_min, power=power,
                                                   base_lr=base_lr).items() if v is not None})
    return _windowed("PolyLR", inner, begin, end, doc=PolyLR.__doc__)


@factory
def OneCycleLR(eta_max: float | None = None, total_steps: int | None = None, pct_start: float = 0.3,
               anneal_strategy: str = "cos", div_factor: float = 25.0,
               final_div_factor: float = 1e4, three_phase: bool = False, begin: int = 0,
               end: int = INF, *, base_lr: float | None = None) -> Schedule:
    """torch's OneCycleLR phases (lr only) on the local step, with ``max_lr = eta_max`` and
    ``total_steps`` defaulting to ``end - begin``."""
    t = T.OneCycleLR(1.0, 1, pct_start=pct_start, anneal_strategy=anneal_strategy,
                     div_factor=div_factor, final_div_factor=final_div_factor,
                     three_phase=three_phase).rename(max_lr="eta_max")
    N = E.param("total_steps")
    sched = _windowed("OneCycleLR", t.with_values(eta_max=eta_max), begin, end, doc="")
    expr = E.substitute(sched.expr, {N: E.where(N > 0, N, E.param("end") - E.param("begin"))})
    specs = [p if p.name != "total_steps" else Param("total_steps", 0, kind="int", ge=0)
             for p in sched.param_specs.values()]
    values = dict(sched.values, total_steps=0 if total_steps is None else total_steps)
    values = {k: v for k, v in values.items() if v is not None}
    if base_lr is not None:
        values["base_lr"] = base_lr
    return Schedule(expr, specs, name="OneCycleLR", values=values,
                    checks=[WINDOW_CHECK], doc=OneCycleLR.__doc__)


@factory
def CosineRestartLR(periods: Sequence[int] | None = None, restart_weights: Sequence[float] = (1,),
                    eta_min: float | None = None, eta_min_ratio: float | None = None,
                    begin: int = 0, end: int = INF, *, base_lr: float | None = None) -> Schedule:
    """Cosine cycles of explicit lengths ``periods[k]`` restarting at ``base_lr *
    restart_weights[k]`` (:func:`gpusched.curves.cosine_restarts`), with ``eta = eta_min`` or
    ``base_lr * eta_min_ratio``; held after the last period."""
    eta, eta_param, given = _eta(eta_min, eta_min_ratio)
    t, b = E.step(), E.param("base_lr")
    expr = curves.cosine_restarts(t, b, E.param("periods"), E.param("restart_weights"), eta)
    same = Check(("periods", "restart_weights"),
                 lambda periods, restart_weights: periods[1] == restart_weights[1],
                 "periods and restart_weights should have the same length")
    inner = Schedule(expr, [BASE_LR, Param("periods", kind="list", gt=0),
                            Param("restart_weights", kind="list"), eta_param], name="restart",
                     values={k: v for k, v in dict(
                         periods=None if periods is None else list(periods),
                         restart_weights=list(restart_weights), base_lr=base_lr,
                         **given).items() if v is not None}, checks=[same])
    return _windowed("CosineRestartLR", inner, begin, end, doc=CosineRestartLR.__doc__)



RULES = ("less", "greater")


def _mmengine_plateau_table(top, metrics, begin, base_lr, rule, factor, patience, threshold,
                            threshold_rule, cooldown, min_value, eps):
    """MMEngine's ReduceOnPlateauLR: torch's rule on the metrics it counts, from the first
    counted one (epoch ``begin - 1``: the runner steps the scheduler after each training epoch,
    then passes the validation metric)."""
    shift = np.maximum(np.asarray(begin, dtype=np.int64) - 1, 0)
    return metric.shifted_plateau_table(top, metrics, shift, base_lr=base_lr, mode=rule,
                                  factor=factor, patience=patience, threshold=threshold,
                                  threshold_mode=threshold_rule, cooldown=cooldown,
                                  min_lr=min_value, eps=eps)


MMENGINE_PLATEAU = E.HostScan(_mmengine_plateau_table, "mmengine_plateau",
                              list_args=("metrics",), needs="metrics")


@factory
def ReduceOnPlateauLR(metrics: Sequence[float] | None = None, monitor: str = "loss",
                      rule: str = "less", factor: float = 0.1, patience: int = 10,
                      threshold: float = 1e-4, threshold_rule: str = "rel", cooldown: int = 0,
                      min_value: float = 0.0, eps: float = 1e-8, begin: int = 0, end: int = INF, *,
                      base_lr: float | None = None) -> Schedule:
    """torch's ReduceLROnPlateau rule (``rule`` less/greater = mode min/max,
    ``threshold_rule`` = threshold_mode, ``min_value`` = min_lr) given the validation metric
    of each epoch (``metrics``; ``monitor`` names it in MMEngine and is not used here).

    Step mapping: the runner steps the scheduler after each training epoch and then passes
    the epoch's validation metric, so epoch ``e``'s metric counts when ``begin <= e + 1 <
    end``; ``f(t)`` is the lr of epoch ``t``, after the counted metrics of epochs before it.
    """
    t = E.step()
    lo, hi = E.param("begin"), E.param("end")
    shift = E.maximum(lo - 1, 0)
    k = E.clip(t - shift, 0, hi - 1 - shift)
    names = ["metrics", "begin", "base_lr", "rule", "factor", "patience", "threshold",
             "threshold_rule", "cooldown", "min_value", "eps"]
    scan = E.host_scan(MMENGINE_PLATEAU, k, names)
    params = [BASE_LR, metric.METRICS, Param("rule", "less", kind="choice", choices=RULES),
              Param("factor", 0.1, kind="float", ge=0, lt=1),
              Param("patience", 10, kind="int", ge=0),
              Param("threshold", 1e-4, kind="float", ge=0),
              Param("threshold_rule", "rel", kind="choice", choices=metric.THRESHOLD_MODES),
              Param("cooldown", 0, kind="int", ge=0),
              Param("min_value", 0.0, kind="float", ge=0),
              Param("eps", 1e-8, kind="float", ge=0), *WINDOW]
    values = dict(metrics=series(metrics), rule=rule,
                  factor=factor, patience=patience, threshold=threshold,
                  threshold_rule=threshold_rule, cooldown=cooldown, min_value=min_value,
                  eps=eps, begin=begin, end=end)
    if base_lr is not None:
        values["base_lr"] = base_lr
    return Schedule(scan, params, name="ReduceOnPlateauLR", values=values,
                    checks=[WINDOW_CHECK], doc=ReduceOnPlateauLR.__doc__)


def _on_value(lr_twin, name: str, base: str, what: str):
    """MMEngine's ``*Momentum`` and ``*ParamScheduler`` classes are its ``*LR`` classes acting
    on another param_group value: the same twin with ``base_lr`` renamed ``base``."""
    def twin(*args, **kwargs):
        start = kwargs.pop(base, None)
        if base == "base_value":
            param_name = kwargs.pop("param_name", None)   # which value: not in the schedule
            if lr_twin is OneCycleLR and param_name not in (None, "lr"):
                raise ValueError(f"param_name = {param_name!r}: MMEngine's OneCycle "
                                 f"schedules the learning rate only (param_name='lr')")
        s = lr_twin(*args, **kwargs).rename(base_lr=base)
        values = dict(s.values, **({base: start} if start is not None else {}))
        return Schedule(s.expr, s.param_specs.values(), name=name, values=values,
                        checks=s.checks, doc=twin.__doc__)
    twin.__name__ = twin.__qualname__ = name
    sig = inspect.signature(lr_twin)
    params = [p.replace(name=base) if p.name == "base_lr" else p
              for p in sig.parameters.values()]
    if base == "base_value":
        params.append(inspect.Parameter("param_name", inspect.Parameter.KEYWORD_ONLY,
                                        default=None))
    twin.__signature__ = sig.replace(parameters=params)     # type: ignore[attr-defined]
    twin.__doc__ = (f"MMEngine's {name}: :func:`{lr_twin.__name__}` on {what}, starting from "
                    f"``{base}`` (the optimizer's initial value) instead of ``base_lr``.")
    return twin


_ON_MOMENTUM = (ConstantLR, LinearLR, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
                PolyLR, CosineRestartLR, ReduceOnPlateauLR)
for _lr in _ON_MOMENTUM:
    _n = _lr.__name__[:-2] + "Momentum"
    globals()[_n] = factory(_on_value(
        _lr, _n, "base_momentum",
        "the momentum (Adam's beta_0: MMEngine's MomentumSchedulerMixin)"))
    __all__.append(_n)
for _lr in (*_ON_MOMENTUM, OneCycleLR):
    _n = _lr.__name__[:-2] + "ParamScheduler"
    globals()[_n] = factory(_on_value(
        _lr, _n, "base_value", "any param_group value (``param_name``: weight decay, ...)"))
    __all__.append(_n)
del _lr, _n

