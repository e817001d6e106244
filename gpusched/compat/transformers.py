"""Twins of Hugging Face transformers' schedules (``transformers.optimization``).

Every ``get_*`` function under its own name and parameter names, and ``get_scheduler(name,
...)`` for each ``SchedulerType``. All but the metric-driven ones are ``LambdaLR``s, so the
value at step ``t`` is ``base_lr * lambda(t)`` (the torch step mapping: the lr of the ``t``-th
optimizer update; the first update uses ``lambda(0)``, which is 0 during a warmup). ``W`` is
``num_warmup_steps`` and ``N`` ``num_training_steps`` below; the warmup is
``t / max(1, W)`` for ``t < W`` unless said otherwise.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Sequence

from .. import expr as E
from .. import metric
from ..params import REQUIRED, Check, Float, Param, Sweep
from ..schedule import Schedule
from ._common import BASE_LR, BaseLR
from ..registry import factory, twin

__all__ = ["get_linear_schedule_with_warmup", "get_cosine_schedule_with_warmup",
           "get_cosine_with_hard_restarts_schedule_with_warmup",
           "get_polynomial_decay_schedule_with_warmup", "get_constant_schedule",
           "get_constant_schedule_with_warmup", "get_inverse_sqrt_schedule",
           "get_cosine_with_min_lr_schedule_with_warmup",
           "get_cosine_with_min_lr_schedule_with_warmup_lr_rate", "get_wsd_schedule",
           "get_reduce_on_plateau_schedule", "get_greedy_schedule", "get_scheduler",
           "SCHEDULER_TYPES"]

W_PARAM = Param("num_warmup_steps", 0, kind="int", ge=0)
N_PARAM = Param("num_training_steps", kind="int", gt=0)
Warmup = Annotated[int, Sweep(ge=0)]        # num_warmup_steps (W_PARAM)
Training = Annotated[int, Sweep(gt=0)]      # num_training_steps (N_PARAM)


def _values(**given):
    return {k: v for k, v in given.items() if v is not None}


def _lambda_lr(name, factor, params, values, doc, checks=()) -> Schedule:
    return Schedule(E.param("base_lr") * factor, [BASE_LR, *params], name=name,
                    values=_values(**values), checks=checks, doc=doc)


def _warmup(t, W, after):
    """``t / max(1, W)`` before ``W``, ``after`` from ``W`` on."""
    return E.where(t < W, t / E.maximum(1, W), after)


def _progress(t, W, N):
    return (t - W) / E.maximum(1, N - W)


def _cosine_factor(progress, cycles, min_rate=None):
    # transformers' own operation order, for bit-for-bit parity (not curves.cosine_interp)
    f = 0.5 * (1.0 + E.cos(E.pi * cycles * 2.0 * progress))
    if min_rate is not None:
        f = f * (1 - min_rate) + min_rate
    return E.maximum(0.0, f)


@twin
def get_linear_schedule_with_warmup(num_warmup_steps: Warmup = 0,
                                    num_training_steps: Training = REQUIRED, *,
                                    base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``lambda = max(0, (N - t) / max(1, N - W))`` after the warmup: 0 at ``N``, held after."""
    t, W, N = E.step(), num_warmup_steps, num_training_steps
    return base_lr * _warmup(t, W, E.maximum(0.0, (N - t) / E.maximum(1, N - W)))


@twin
def get_cosine_schedule_with_warmup(num_warmup_steps: Warmup = 0,
                                    num_training_steps: Training = REQUIRED,
                                    num_cycles: Float = 0.5, *,
                                    base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``p = (t - W) / max(1, N - W)``; ``lambda = max(0, (1 + cos(2 pi num_cycles p)) / 2)``.

    Not clamped in ``t``: past ``N`` the cosine rises again (back to 1 at ``W + 2 (N - W)``
    with the default half cycle), as in transformers.
    """
    t, W, N = E.step(), num_warmup_steps, num_training_steps
    return base_lr * _warmup(t, W, _cosine_factor(_progress(t, W, N), num_cycles))


@twin
def get_cosine_with_hard_restarts_schedule_with_warmup(
        num_warmup_steps: Warmup = 0, num_training_steps: Training = REQUIRED,
        num_cycles: Annotated[float, Sweep(gt=0)] = 1, *,
        base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``p`` as for cosine; ``lambda = 0`` for ``p >= 1``, else
    ``max(0, (1 + cos(pi ((num_cycles p) % 1))) / 2)``: ``num_cycles`` equal cycles."""
    t, W, N = E.step(), num_warmup_steps, num_training_steps
    p = _progress(t, W, N)
    return base_lr * _warmup(t, W, E.where(p >= 1.0, 0.0, E.maximum(
        0.0, 0.5 * (1.0 + E.cos(E.pi * ((E.to_float(num_cycles) * p) % 1.0))))))


@twin(checks=[Check(("base_lr", "lr_end"), lambda base_lr, lr_end: base_lr > lr_end,
                    "lr_end must be smaller than the initial lr (base_lr)"),
              Check(("num_warmup_steps", "num_training_steps"),
                    lambda num_warmup_steps, num_training_steps:
                    num_training_steps > num_warmup_steps,
                    "num_training_steps must be > num_warmup_steps (transformers divides by "
                    "their difference)")])
def get_polynomial_decay_schedule_with_warmup(num_warmup_steps: Warmup = 0,
                                              num_training_steps: Training = REQUIRED,
                                              lr_end: Annotated[float, Sweep(ge=0)] = 1e-7,
                                              power: Annotated[float, Sweep(gt=0)] = 1.0, *,
                                              base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``lambda = ((lr_init - lr_end) (1 - (t - W) / (N - W)) ** power + lr_end) / lr_init``
    for ``W <= t <= N``, ``lr_end / lr_init`` after. ``lr_init`` is the optimizer's default lr,
    ``base_lr`` here (transformers reads ``optimizer.defaults["lr"]`` even for a param group
    with another lr). Requires ``lr_end < base_lr`` and ``N > W``.
    """
    t, W, N, b = E.step(), num_warmup_steps, num_training_steps, base_lr
    decay = (b - lr_end) * (1 - (t - W) / (N - W)) ** power + lr_end
    return b * _warmup(t, W, E.where(t > N, lr_end / b, decay / b))


@twin
def get_constant_schedule(*, base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``lambda = 1``."""
    return base_lr * E.const(1.0)


@twin
def get_constant_schedule_with_warmup(num_warmup_steps: Warmup = 0, *,
                                      base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``lambda = 1`` after the warmup."""
    return base_lr * _warmup(E.step(), num_warmup_steps, E.const(1.0))


@twin
def get_inverse_sqrt_schedule(num_warmup_steps: Warmup = 0,
                              timescale: Annotated[int, Sweep(ge=0)] = 0, *,
                              base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``lambda = 1 / sqrt((t + timescale - W) / timescale)`` after the warmup (1 at ``W``).
    ``timescale`` defaults to ``W``, or 10,000 when ``W = 0`` (0 here also means that)."""
    t, W = E.step(), num_warmup_steps
    ts = E.where(timescale > 0, timescale, E.where(W > 0, W, 10000))
    after = E.maximum(t, W)          # the warmup covers t < W (no 1 / 0 there)
    return base_lr * _warmup(t, W, 1.0 / E.sqrt((after + (ts - W)) / ts))


def _min_rate(min_lr, min_lr_rate):
    """The floor as a ratio of ``base_lr``: ``min_lr / base_lr`` or ``min_lr_rate``."""
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        return E.param("min_lr") / E.param("base_lr"), Param("min_lr", kind="float", ge=0), \
            {"min_lr": min_lr}
    if min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set")
    return E.param("min_lr_rate"), Param("min_lr_rate", kind="float", ge=0, le=1), \
        {"min_lr_rate": min_lr_rate}


@factory
def get_cosine_with_min_lr_schedule_with_warmup(num_warmup_steps: int | None = None,
                                                num_training_steps: int | None = None,
                                                num_cycles: float = 0.5,
                                                min_lr: float | None = None,
                                                min_lr_rate: float | None = None, *,
                                                base_lr: float | None = None) -> Schedule:
    """As the cosine schedule with a floor ``r`` (``min_lr_rate``, or ``min_lr / base_lr``):
    ``lambda = max(0, f (1 - r) + r)``, ``f = (1 + cos(2 pi num_cycles p)) / 2``; periodic
    past ``N`` like the plain cosine."""
    t = E.step()
    W, N, c = E.param("num_warmup_steps"), E.param("num_training_steps"), E.param("num_cycles")
    rate, rate_param, given = _min_rate(min_lr, min_lr_rate)
    f = _warmup(t, W, _cosine_factor(_progress(t, W, N), c, rate))
    return _lambda_lr("get_cosine_with_min_lr_schedule_with_warmup", f,
                      [W_PARAM, N_PARAM, Param("num_cycles", 0.5, kind="float"), rate_param],
                      dict(num_warmup_steps=num_warmup_steps,
                           num_training_steps=num_training_steps, num_cycles=num_cycles,
                           base_lr=base_lr, **given),
                      get_cosine_with_min_lr_schedule_with_warmup.__doc__)


@factory
def get_cosine_with_min_lr_schedule_with_warmup_lr_rate(num_warmup_steps: int | None = None,
                                                        num_training_steps: int | None = None,
                                                        num_cycles: float = 0.5,
                                                        min_lr: float | None = None,
                                                        min_lr_rate: float | None = None,
                                                        warmup_lr_rate: float | None = None, *,
                                                        base_lr: float | None = None) -> Schedule:
    """The ``cosine_warmup_with_min_lr`` type: offsets by one step. Warmup
    ``(t + 1) / max(1, W)`` (or ``w + (1 - w) t / max(1, W - 1)`` with ``warmup_lr_rate = w``),
    then ``p = (t - W + 1) / max(1, N - W)`` and the floored cosine of
    get_cosine_with_min_lr_schedule_with_warmup: the first update's lr is not 0, and the floor
    is reached at ``t = N - 1``."""
    t = E.step()
    W, N, c = E.param("num_warmup_steps"), E.param("num_training_steps"), E.param("num_cycles")
    rate, rate_param, given = _min_rate(min_lr, min_lr_rate)
    tf, Wf, Nf = E.to_float(t), E.to_float(W), E.to_float(N)
    params = [W_PARAM, N_PARAM, Param("num_cycles", 0.5, kind="float"), rate_param]
    if warmup_lr_rate is None:
        ramp = (tf + 1.0) / E.maximum(1.0, Wf)
    else:
        w = E.param("warmup_lr_rate")
        ramp = w + (1.0 - w) * tf / E.to_float(E.maximum(1, Wf - 1))
        params.append(Param("warmup_lr_rate", kind="float", ge=0, le=1))
        given["warmup_lr_rate"] = warmup_lr_rate
    progress = (tf - Wf + 1.0) / E.maximum(1.0, Nf - Wf)
    f = E.where(tf < Wf, ramp, _cosine_factor(progress, c, rate))
    return _lambda_lr("get_cosine_with_min_lr_schedule_with_warmup_lr_rate", f, params,
                      dict(num_warmup_steps=num_warmup_steps,
                           num_training_steps=num_training_steps, num_cycles=num_cycles,
                           base_lr=base_lr, **given),
                      get_cosine_with_min_lr_schedule_with_warmup_lr_rate.__doc__)


WSD_WARMUP = ("linear", "cosine", "1-sqrt")
WSD_DECAY = ("linear", "cosine", "1-sqrt")


@factory
def get_wsd_schedule(num_warmup_steps: int | None = None, num_decay_steps: int | None = None,
                     num_training_steps: int | None = None, num_stable_steps: int | None = None,
                     warmup_type: str = "linear", decay_type: str = "cosine",
                     min_lr_ratio: float = 0.0, num_cycles: float = 0.5, *,
                     base_lr: float | None = None) -> Schedule:
    """Warmup-stable-decay. ``S = num_stable_steps`` (or ``N - W - D``), ``D =
    num_decay_steps``, ``r = min_lr_ratio``::

        t < W:          p = t / max(1, W); f = p | (1 - cos(pi p)) / 2 | 1 - sqrt(1 - p)
                        lambda = max(0, f (1 - r) + r)          (the warmup starts at r)
        t < W + S:      lambda = 1
        t < W + S + D:  p = (t - W - S) / max(1, D);
                        f = 1 - p | (1 + cos(2 pi num_cycles p)) / 2 | 1 - sqrt(p)
                        lambda = max(0, f (1 - r) + r)
        after:          lambda = r
    """
    t = E.step()
    W, D, r, c = (E.param(n) for n in ("num_warmup_steps", "num_decay_steps", "min_lr_ratio",
                                        "num_cycles"))
    if num_stable_steps is not None or num_training_steps is None:
        S = E.param("num_stable_steps")
        length = [Param("num_stable_steps", kind="int", ge=0)]
        given = {"num_stable_steps": num_stable_steps}
    else:
        S = E.param("num_training_steps") - W - D
        length = [N_PARAM]
        given = {"num_training_steps": num_training_steps}
    wt, dt = E.param("warmup_type"), E.param("decay_type")
    p = t / E.maximum(1, W)
    up = E.where(wt == 0, p, E.where(wt == 1, 0.5 * (1.0 - E.cos(E.pi * p)),
                                     1.0 - E.sqrt(E.maximum(1.0 - p, 0.0))))
    q = (t - W - S) / E.maximum(1, D)
    down = E.where(dt == 0, 1.0 - q, E.where(dt == 1, 0.5 * (1.0 + E.cos(E.pi * c * 2.0 * q)),
                                            1.0 - E.sqrt(E.maximum(q, 0.0))))
    f = E.where(t < W, E.maximum(0.0, up * (1.0 - r) + r),
                E.where(t < W + S, 1.0,
                        E.where(t < W + S + D, E.maximum(0.0, down * (1.0 - r) + r), r)))
    params = [W_PARAM, Param("num_decay_steps", kind="int", ge=0), *length,
              Param("warmup_type", "linear", kind="choice", choices=WSD_WARMUP),
              Param("decay_type", "cosine", kind="choice", choices=WSD_DECAY),
              Param("min_lr_ratio", 0.0, kind="float", ge=0, le=1),
              Param("num_cycles", 0.5, kind="float")]
    return _lambda_lr("get_wsd_schedule", f, params,
                      dict(num_warmup_steps=num_warmup_steps, num_decay_steps=num_decay_steps,
                           warmup_type=warmup_type, decay_type=decay_type,
                           min_lr_ratio=min_lr_ratio, num_cycles=num_cycles, base_lr=base_lr,
                           **given), get_wsd_schedule.__doc__)


@factory
def get_reduce_on_plateau_schedule(metrics: Sequence[float] | None = None, *,
                                   base_lr: float | None = None, **kwargs: Any) -> Schedule:
    """torch's ReduceLROnPlateau (transformers passes ``kwargs`` through): see
    :func:`gpusched.compat.torch.ReduceLROnPlateau`."""
    return metric.reduce_on_plateau(metrics, base_lr=base_lr,
                                    name="get_reduce_on_plateau_schedule", **kwargs)


@factory
def get_greedy_schedule(metrics: Sequence[float] | None = None, *, base_lr: float | None = None,
                        **kwargs: Any) -> Schedule:
    """GreedyLR given the metric series ``metrics``: see :func:`gpusched.metric.greedy`."""
    return metric.greedy(metrics, base_lr=base_lr, name="get_greedy_schedule", **kwargs)


SCHEDULER_TYPES: dict[str, Callable[..., Schedule]] = {
    "linear": get_linear_schedule_with_warmup,
    "cosine": get_cosine_schedule_with_warmup,
    "cosine_with_restarts": get_cosine_with_hard_restarts_schedule_with_warmup,
    "polynomial": get_polynomial_decay_schedule_with_warmup,
    "constant": get_constant_schedule,
    "constant_with_warmup": get_constant_schedule_with_warmup,
    "inverse_sqrt": get_inverse_sqrt_schedule,
    "reduce_lr_on_plateau": get_reduce_on_plateau_schedule,
    "cosine_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup,
    "cosine_warmup_with_min_lr": get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
    "warmup_stable_decay": get_wsd_schedule,
    "greedy": get_greedy_schedule,
}
_TAKES = {  # which of get_scheduler's step counts each type accepts, as transformers passes them
    "constant": (), "reduce_lr_on_plateau": (), "greedy": (),
    "constant_with_warmup": ("num_warmup_steps",), "inverse_sqrt": ("num_warmup_steps",),
    "warmup_stable_decay": ("num_warmup_steps", "num_training_steps"),
}


@factory(listed=False)
def get_scheduler(name: str, num_warmup_steps: int | None = None,
                  num_training_steps: int | None = None,
                  scheduler_specific_kwargs: dict | None = None, *,
                  base_lr: float | None = None) -> Schedule:
    """``transformers.get_scheduler``: the twin of the ``SchedulerType`` ``name``."""
    if name not in SCHEDULER_TYPES:
        raise ValueError(f"unknown scheduler type {name!r}; expected one of "
                         f"{', '.join(SCHEDULER_TYPES)}")
    kwargs = dict(scheduler_specific_kwargs or {})
    steps = dict(num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps)
    for k in _TAKES.get(name, ("num_warmup_steps", "num_training_steps")):
        if steps[k] is not None:
            kwargs[k] = steps[k]
    return SCHEDULER_TYPES[name](base_lr=base_lr, **kwargs)

