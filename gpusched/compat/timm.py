"""Twins of timm's schedulers (``timm.scheduler``).

Step mapping: timm's schedulers are stateless; the value at step ``t`` is what
``scheduler.step(t)`` (``t_in_epochs=True``) or ``scheduler.step_update(t)`` sets, i.e.
``_get_lr(t)`` (plus noise). The optimizer's lr is ``base_lr``. Warmup, for every class:
``warmup_lr_init + t (target - warmup_lr_init) / warmup_t`` for ``t < warmup_t``, with
``target = base_lr``; with ``warmup_prefix`` the schedule then runs on ``t - warmup_t``,
without it the warmup overlays its first ``warmup_t`` steps.

Quirks kept: the restart cycle with ``cycle_mul != 1`` comes from a float log
(``floor(log(1 - t / T0 (1 - m)) / log(m))``), which lands in the previous cycle at some exact
restarts (e.g. ``T0 = 1, m = 3, t = 121``); MultiStepLRScheduler decays one step before each
milestone. Noise (``noise_range_t``) needs torch's generator: its values are tabulated on the
host with torch (imported then), and the noise parameters are fixed, not sweepable.
"""

from __future__ import annotations

from typing import Sequence, Union

from .. import curves
from .. import expr as E
from .. import metric
from ..params import Check, Param
from ..schedule import Schedule
from ._common import (BASE_LR, user_function, float_param as _f, int_param as _i,
                      param_exprs as _p, series)
from ..registry import factory

__all__ = ["CosineLRScheduler", "PolyLRScheduler", "TanhLRScheduler", "StepLRScheduler",
           "MultiStepLRScheduler", "WSDLRScheduler", "PlateauLRScheduler"]

FLAG = (False, True)

# noise_range_t: a step, or [start, end) steps, where timm adds noise (none: None)
Noise = Union[float, Sequence[float], None]


def _warmup_params(prefix_default):
    return [_i("warmup_t", 0, ge=0), _f("warmup_lr_init", 0.0),
            Param("warmup_prefix", prefix_default, kind="choice", choices=FLAG)]


def _with_warmup(t, core, target=None):
    """timm's warmup in front of ``core(t)`` (see the module docstring)."""
    b, W, w0, prefix = _p("base_lr", "warmup_t", "warmup_lr_init", "warmup_prefix")
    step = ((b if target is None else target) - w0) / E.maximum(W, 1)
    local = E.where(prefix == 1, t - W, t)
    return E.where(t < W, w0 + t * step, core(local))


def _noise(noise_range_t, noise_pct, noise_std, noise_seed):
    """The factor ``1 + n(t)`` of timm's ``_add_noise`` as a host table (1 outside the
    range): ``n`` is torch's ``randn`` from a generator seeded ``noise_seed + t``, times
    ``noise_std``, redrawn until ``|n| < noise_pct``."""
    if noise_range_t is None:
        return None
    if isinstance(noise_range_t, (list, tuple)):
        lo, hi = int(noise_range_t[0]), int(noise_range_t[1])
    else:
        lo, hi = int(noise_range_t), None
    pct, std, seed = float(noise_pct), float(noise_std), int(noise_seed)

    def noise(t):
        if t < lo or (hi is not None and t >= hi):
            return 0.0
        import torch
        g = torch.Generator()
        g.manual_seed(seed + t)
        while True:
            n = torch.randn(1, generator=g).item() * std
            if abs(n) < pct:
                return n
    return E.host_table(noise, name="timm noise")


def _finish(name, value, params, values, doc, noise=None, checks=()):
    if noise is not None:
        value = value + value * noise
    given = {k: v for k, v in values.items() if v is not None}
    return Schedule(value, [BASE_LR, *params], name=name, values=given, checks=checks,
                    doc=doc)


def _cycles(t):
    """timm's cycle helper: ``(i, t_i, t_curr)`` (float log when ``cycle_mul != 1``)."""
    T0, m = _p("t_initial", "cycle_mul")
    return curves.float_log_cycle(t, T0, m)


CYCLE_PARAMS = [_i("t_initial", gt=0), _f("lr_min", 0.0, ge=0), _f("cycle_mul", 1.0, gt=0),
                _f("cycle_decay", 1.0), _i("cycle_limit", 1)]


def _cyclic(name, shape, extra, values, doc, noise, prefix=False, target_at_warmup=False):
    b, lr_min, decay, limit = _p("base_lr", "lr_min", "cycle_decay", "cycle_limit")

    def core(t):
        i, t_i, t_curr = _cycles(t)
        lr_max = b * decay ** i
        return E.where(i < limit, shape(lr_min, lr_max, t_curr, t_i), lr_min + 0.0)

    target = core(E.param("warmup_t")) if target_at_warmup else None
    value = _with_warmup(E.step(), core, target)
    return _finish(name, value, CYCLE_PARAMS + extra + _warmup_params(prefix), values, doc,
                   noise)


@factory
def CosineLRScheduler(t_initial: int | None = None, lr_min: float = 0.0, cycle_mul: float = 1.0,
                      cycle_decay: float = 1.0, cycle_limit: int = 1, warmup_t: int = 0,
                      warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
                      t_in_epochs: bool = True, noise_range_t: Noise = None,
                      noise_pct: float = 0.67, noise_std: float = 1.0, noise_seed: int = 42,
                      k_decay: float = 1.0, *,
                      base_lr: float | None = None) -> Schedule:
    """Cosine with restarts: in cycle ``i < cycle_limit`` (of length ``t_i``, at local step
    ``t_curr``), ``lr_min + (base_lr cycle_decay^i - lr_min) (1 + cos(pi t_curr^k /
    t_i^k)) / 2`` with ``k = k_decay``; ``lr_min`` after ``cycle_limit`` cycles."""
    def shape(lo, hi, tc, ti):
        k = E.param("k_decay")
        # timm's own operation order, for bit-for-bit parity (not curves.cosine_interp)
        return lo + 0.5 * (hi - lo) * (1 + E.cos(E.pi * tc ** k / ti ** k))
    values = dict(t_initial=t_initial, lr_min=lr_min, cycle_mul=cycle_mul,
                  cycle_decay=cycle_decay, cycle_limit=cycle_limit, warmup_t=warmup_t,
                  warmup_lr_init=warmup_lr_init, warmup_prefix=bool(warmup_prefix),
                  k_decay=k_decay, base_lr=base_lr)
    return _cyclic("CosineLRScheduler", shape, [_f("k_decay", 1.0)], values,
                   CosineLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed), warmup_prefix)


@factory
def PolyLRScheduler(t_initial: int | None = None, power: float = 0.5, lr_min: float = 0.0,
                    cycle_mul: float = 1.0, cycle_decay: float = 1.0, cycle_limit: int = 1,
                    warmup_t: int = 0, warmup_lr_init: float = 0.0, warmup_prefix: bool = False,
                    t_in_epochs: bool = True, noise_range_t: Noise = None, noise_pct: float = 0.67,
                    noise_std: float = 1.0, noise_seed: int = 42, k_decay: float = 1.0, *,
                    base_lr: float | None = None) -> Schedule:
    """Polynomial with restarts: ``lr_min + (base_lr cycle_decay^i - lr_min) (1 - t_curr^k /
    t_i^k) ** power`` in cycle ``i < cycle_limit``, ``lr_min`` after."""
    def shape(lo, hi, tc, ti):
        k, pw = _p("k_decay", "power")
        return lo + (hi - lo) * (1 - tc ** k / ti ** k) ** pw
    values = dict(t_initial=t_initial, power=power, lr_min=lr_min, cycle_mul=cycle_mul,
                  cycle_decay=cycle_decay, cycle_limit=cycle_limit, warmup_t=warmup_t,
                  warmup_lr_init=warmup_lr_init, warmup_prefix=bool(warmup_prefix),
                  k_decay=k_decay, base_lr=base_lr)
    return _cyclic("PolyLRScheduler", shape, [_f("power", 0.5), _f("k_decay", 1.0)], values,
                   PolyLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed), warmup_prefix)


@factory
def TanhLRScheduler(t_initial: int | None = None, lb: float = -7.0, ub: float = 3.0,
                    lr_min: float = 0.0, cycle_mul: float = 1.0, cycle_decay: float = 1.0,
                    cycle_limit: int = 1, warmup_t: int = 0, warmup_lr_init: float = 0.0,
                    warmup_prefix: bool = False, t_in_epochs: bool = True,
                    noise_range_t: Noise = None, noise_pct: float = 0.67, noise_std: float = 1.0,
                    noise_seed: int = 42, *, base_lr: float | None = None) -> Schedule:
    """Hyperbolic-tangent decay with restarts: ``tr = t_curr / t_i``, ``lr_min + (base_lr
    cycle_decay^i - lr_min) (1 - tanh(lb (1 - tr) + ub tr)) / 2``. Without ``warmup_prefix``
    the warmup ramps to the schedule's value at ``warmup_t``, not to ``base_lr`` (as timm)."""
    def shape(lo, hi, tc, ti):
        lb_, ub_ = _p("lb", "ub")
        tr = tc / ti
        return lo + 0.5 * (hi - lo) * (1 - E.tanh(lb_ * (1. - tr) + ub_ * tr))
    values = dict(t_initial=t_initial, lb=lb, ub=ub, lr_min=lr_min, cycle_mul=cycle_mul,
                  cycle_decay=cycle_decay, cycle_limit=cycle_limit, warmup_t=warmup_t,
                  warmup_lr_init=warmup_lr_init, warmup_prefix=bool(warmup_prefix),
                  base_lr=base_lr)
    b, W, prefix = _p("base_lr", "warmup_t", "warmup_prefix")
    lr_min_, decay, limit = _p("lr_min", "cycle_decay", "cycle_limit")

    def core(t):
        i, t_i, t_curr = _cycles(t)
        return E.where(i < limit, shape(lr_min_, b * decay ** i, t_curr, t_i), lr_min_ + 0.0)

    target = E.where(prefix == 1, b, core(W))
    value = _with_warmup(E.step(), core, target)
    return _finish("TanhLRScheduler", value,
                   CYCLE_PARAMS + [_f("lb", -7.0), _f("ub", 3.0)] + _warmup_params(False),
                   values, TanhLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed))


@factory
def StepLRScheduler(decay_t: float | None = None, decay_rate: float = 1.0, warmup_t: int = 0,
                    warmup_lr_init: float = 0.0, warmup_prefix: bool = True,
                    t_in_epochs: bool = True, noise_range_t: Noise = None, noise_pct: float = 0.67,
                    noise_std: float = 1.0, noise_seed: int = 42, *,
                    base_lr: float | None = None) -> Schedule:
    """``base_lr * decay_rate ** (t // decay_t)`` (``decay_t`` may be fractional: a float
    floor division). Its warmup is a prefix by default."""
    b, dt, rate = _p("base_lr", "decay_t", "decay_rate")
    value = _with_warmup(E.step(), lambda t: b * rate ** (t // dt))
    return _finish("StepLRScheduler", value,
                   [_f("decay_t", gt=0), _f("decay_rate", 1.0)] + _warmup_params(True),
                   dict(decay_t=decay_t, decay_rate=decay_rate, warmup_t=warmup_t,
                        warmup_lr_init=warmup_lr_init, warmup_prefix=bool(warmup_prefix),
                        base_lr=base_lr), StepLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed))


@factory
def MultiStepLRScheduler(decay_t: Sequence[float] | None = None, decay_rate: float = 1.0,
                         warmup_t: int = 0, warmup_lr_init: float = 0.0,
                         warmup_prefix: bool = True, t_in_epochs: bool = True,
                         noise_range_t: Noise = None,
                         noise_pct: float = 0.67, noise_std: float = 1.0, noise_seed: int = 42, *,
                         base_lr: float | None = None) -> Schedule:
    """``base_lr * decay_rate ** #{m in decay_t : m <= t + 1}``: timm's ``bisect_right(
    decay_t, t + 1)``, which decays **one step before** each milestone (kept in timm on
    purpose). ``decay_t`` must be sorted."""
    b, rate = _p("base_lr", "decay_rate")
    value = _with_warmup(E.step(),
                         lambda t: b * rate ** E.count_le(E.param("decay_t"), t + 1))
    return _finish("MultiStepLRScheduler", value,
                   [Param("decay_t", kind="list", sorted_required=True),
                    _f("decay_rate", 1.0)] + _warmup_params(True),
                   dict(decay_t=None if decay_t is None else list(decay_t),
                        decay_rate=decay_rate, warmup_t=warmup_t,
                        warmup_lr_init=warmup_lr_init, warmup_prefix=bool(warmup_prefix),
                        base_lr=base_lr), MultiStepLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed))


STABLE_FNS = ("constant", "rsqrt", "power")
DECAY_FNS = ("linear", "1-sqrt", "cosine", "power", "exp")


@factory
def WSDLRScheduler(t_initial: int | None = None, decay_t: int | None = None, lr_min: float = 0.0,
                   stable_fn: str = "constant", stable_timescale: float | None = None,
                   stable_power: float = 0.5, decay_fn: str = "1-sqrt", decay_power: float = 0.5,
                   decay_ratio: float = 0.1, warmup_t: int = 0, warmup_lr_init: float = 0.0,
                   t_in_epochs: bool = True, noise_range_t: Noise = None,
                   noise_pct: float = 0.67, noise_std: float = 1.0, noise_seed: int = 42, *,
                   base_lr: float | None = None) -> Schedule:
    """Warmup-stable-decay (the warmup is always a prefix). ``t_s = t - warmup_t``::

        S = max(base_lr * stable(t_s), lr_min)      stable = 1 | (1 + t_s / tau) ** -p
        t_d = t_s - (t_initial - decay_t)
        f = S                                        t_d <= 0
          = lr_min + (S - lr_min) D(min(t_d / decay_t, 1))
        D(f) = 1 - f | 1 - sqrt(f) | (1 + cos(pi f)) / 2 | 1 - f ** q | (r ** f - r) / (1 - r)

    ``p = 0.5`` for rsqrt, ``stable_power`` for power; ``tau = stable_timescale`` (default
    ``warmup_t``; 0 here also means that); ``q = decay_power``, ``r = decay_ratio``. A callable
    ``decay_fn`` is traced.
    """
    t = E.step()
    b, W, w0, T0, dt, lr_min_ = _p("base_lr", "warmup_t", "warmup_lr_init", "t_initial",
                                   "decay_t", "lr_min")
    sfn, ts_arg, sp = _p("stable_fn", "stable_timescale", "stable_power")
    tau = E.where(ts_arg > 0, ts_arg, W)
    ts = E.maximum(t - W, 0)        # the warmup covers t < W (no pow of a negative there)
    power = E.where(sfn == 1, 0.5, sp)
    stable = E.where(sfn == 0, 1.0, (1. + ts / E.where(tau > 0, tau, 1)) ** -power)
    S = E.maximum(b * stable, lr_min_)
    td = ts - (T0 - dt)
    frac = E.minimum(td / dt, 1.)
    if callable(decay_fn):
        D, extra = user_function(decay_fn, frac, "decay_fn")
        if extra:
            raise TypeError("decay_fn takes one argument (the decay fraction)")
        decay_params, decay_value = [], {}
    else:
        dfn, q, r = _p("decay_fn", "decay_power", "decay_ratio")
        D = E.where(dfn == 0, 1. - frac,
                    E.where(dfn == 1, 1. - E.sqrt(E.maximum(frac, 0.0)),
                            E.where(dfn == 2, 0.5 * (1. + E.cos(E.pi * frac)),
                                    E.where(dfn == 3, 1. - E.maximum(frac, 0.0) ** q,
                                            (r ** frac - r) / (1. - r)))))
        decay_params = [Param("decay_fn", "1-sqrt", kind="choice", choices=DECAY_FNS),
                        _f("decay_power", 0.5, gt=0), _f("decay_ratio", 0.1, gt=0, lt=1)]
        decay_value = dict(decay_fn=decay_fn, decay_power=decay_power, decay_ratio=decay_ratio)
    after = E.where(td <= 0, S, lr_min_ + (S - lr_min_) * D)
    value = E.where(t < W, w0 + t * ((b - w0) / E.maximum(W, 1)), after)
    params = [_i("t_initial", gt=0), _i("decay_t", gt=0), _f("lr_min", 0.0, ge=0),
              Param("stable_fn", "constant", kind="choice", choices=STABLE_FNS),
              _f("stable_timescale", 0.0, ge=0), _f("stable_power", 0.5, gt=0),
              *decay_params, _i("warmup_t", 0, ge=0), _f("warmup_lr_init", 0.0)]
    checks = [Check(("decay_t", "t_initial"), lambda decay_t, t_initial: decay_t <= t_initial,
                    "decay_t must be in (0, t_initial]"),
              Check(("stable_fn", "stable_timescale", "warmup_t"),
                    lambda stable_fn, stable_timescale, warmup_t:
                    (stable_fn == 0) | (stable_timescale > 0) | (warmup_t > 0),
                    "stable_fn rsqrt/power needs a positive stable_timescale (it defaults to "
                    "warmup_t)")]
    values = dict(t_initial=t_initial, decay_t=decay_t, lr_min=lr_min, stable_fn=stable_fn,
                  stable_timescale=0.0 if stable_timescale is None else stable_timescale,
                  stable_power=stable_power, warmup_t=warmup_t, warmup_lr_init=warmup_lr_init,
                  base_lr=base_lr, **decay_value)
    return _finish("WSDLRScheduler", value, params, values, WSDLRScheduler.__doc__,
                   _noise(noise_range_t, noise_pct, noise_std, noise_seed), checks)


def _timm_plateau_table(top, metrics, warmup_t, base_lr, mode, decay_rate, patience_t,
                        threshold, threshold_mode, cooldown_t, lr_min, eps):
    """timm's PlateauLRScheduler after its warmup: the torch rule from ``base_lr`` on the
    metrics from ``warmup_t`` on (index ``k`` = the lr after ``k`` of them)."""
    return metric.shifted_plateau_table(top, metrics, warmup_t, base_lr=base_lr, mode=mode,
                                  factor=decay_rate, patience=patience_t, threshold=threshold,
                                  threshold_mode=threshold_mode, cooldown=cooldown_t,
                                  min_lr=lr_min, eps=eps)


SHIFTED_PLATEAU_TIMM = E.HostScan(_timm_plateau_table, "timm_plateau", list_args=("metrics",),
                                  needs="metrics")


@factory
def PlateauLRScheduler(metrics: Sequence[float] | None = None, decay_rate: float = 0.1,
                       patience_t: int = 10, threshold: float = 1e-4, cooldown_t: int = 0,
                       warmup_t: int = 0, warmup_lr_init: float = 0.0, lr_min: float = 0.0,
                       mode: str = "max", *, base_lr: float | None = None) -> Schedule:
    """torch's ReduceLROnPlateau (``factor = decay_rate``, ``patience = patience_t``,
    ``cooldown = cooldown_t``, ``min_lr = lr_min``, relative threshold; note timm's default
    ``mode="max"``) after a linear warmup. Step mapping: timm's training loop calls
    ``step(epoch + 1, metric)`` after each epoch, so epoch ``t`` uses the lr after
    ``step(t, metrics[t - 1])`` (``f(0)`` is the constructor's lr)::

        f(t) = warmup_lr_init + t (base_lr - warmup_lr_init) / warmup_t     t <= warmup_t
             = P(t - warmup_t)                                              after

    where ``P`` is the plateau rule from ``base_lr`` on ``metrics[warmup_t:]`` (no metric
    reaches it during warmup). With ``warmup_t = 0``, ``f(0) = base_lr``. Noise is not
    supported here (timm deprecates this scheduler).
    """
    t = E.step()
    b, W, w0 = _p("base_lr", "warmup_t", "warmup_lr_init")
    names = ["metrics", "warmup_t", "base_lr", "mode", "decay_rate", "patience_t", "threshold",
             "threshold_mode", "cooldown_t", "lr_min", "eps"]
    scan = E.host_scan(SHIFTED_PLATEAU_TIMM, t - W, names)
    ramp = w0 + t * ((b - w0) / E.maximum(W, 1))
    value = E.where(W == 0, E.where(t == 0, b + 0.0, scan),
                    E.where(t <= W, ramp, scan))
    params = [metric.METRICS, Param("decay_rate", 0.1, kind="float", ge=0, lt=1),
              _i("patience_t", 10, ge=0), _f("threshold", 1e-4, ge=0),
              _i("cooldown_t", 0, ge=0), _i("warmup_t", 0, ge=0), _f("warmup_lr_init", 0.0),
              _f("lr_min", 0.0, ge=0),
              Param("mode", "max", kind="choice", choices=metric.MODES),
              Param("threshold_mode", "rel", kind="choice", choices=metric.THRESHOLD_MODES),
              _f("eps", 1e-8, ge=0)]
    values = dict(metrics=series(metrics),
                  decay_rate=decay_rate, patience_t=patience_t, threshold=threshold,
                  cooldown_t=cooldown_t, warmup_t=warmup_t, warmup_lr_init=warmup_lr_init,
                  lr_min=lr_min, mode=mode, base_lr=base_lr)
    return _finish("PlateauLRScheduler", value, params, values, PlateauLRScheduler.__doc__)

