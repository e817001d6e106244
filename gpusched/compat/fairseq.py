"""Twins of fairseq's learning-rate schedulers (``fairseq.optim.lr_scheduler``, register names).

Step mapping: fairseq sets the lr from the update count with ``step_update(num_updates)``;
the value at step ``t`` is the lr that ``step_update(t)`` sets, with ``lr`` the configured
peak (``base_lr`` here).
"""

from __future__ import annotations

from .. import curves
from .. import expr as E
from ..params import Param
from ..schedule import Schedule
from ._common import BASE_LR
from ..registry import factory

__all__ = ["tri_stage", "inverse_sqrt", "cosine"]


def _make(name, expr, params, values, doc) -> Schedule:
    return Schedule(expr, [BASE_LR, *params], name=name,
                    values={k: v for k, v in values.items() if v is not None}, doc=doc)


@factory
def tri_stage(warmup_steps=4000, hold_steps=20000, decay_steps=60000, init_lr_scale=0.01,
              final_lr_scale=0.01, *, base_lr=None) -> Schedule:
    """Warmup, hold, exponential decay (:func:`gpusched.curves.tri_stage`)."""
    p = [E.param(n) for n in ("base_lr", "warmup_steps", "hold_steps", "decay_steps",
                              "init_lr_scale", "final_lr_scale")]
    return _make("tri_stage", curves.tri_stage(E.step(), *p),
                 [Param("warmup_steps", 4000, kind="int", ge=0),
                  Param("hold_steps", 20000, kind="int", ge=0),
                  Param("decay_steps", 60000, kind="int", gt=0),
                  Param("init_lr_scale", 0.01, kind="float", gt=0),
                  Param("final_lr_scale", 0.01, kind="float", gt=0)],
                 dict(warmup_steps=warmup_steps, hold_steps=hold_steps,
                      decay_steps=decay_steps, init_lr_scale=init_lr_scale,
                      final_lr_scale=final_lr_scale, base_lr=base_lr),
                 curves.tri_stage.__doc__)


@factory
def inverse_sqrt(warmup_updates=4000, warmup_init_lr=0.0, *, base_lr=None) -> Schedule:
    """``warmup_init_lr + t (lr - warmup_init_lr) / W`` for ``t < W``, then ``lr sqrt(W) /
    sqrt(t)`` (``W = warmup_updates``)."""
    t, b, W, w0 = E.step(), E.param("base_lr"), E.param("warmup_updates"), \
        E.param("warmup_init_lr")
    expr = E.where(t < W, w0 + t * ((b - w0) / E.maximum(W, 1)),
                   b * E.sqrt(E.to_float(W)) * E.maximum(t, 1) ** -0.5)
    return _make("inverse_sqrt", expr, [Param("warmup_updates", 4000, kind="int", ge=0),
                                        Param("warmup_init_lr", 0.0, kind="float")],
                 dict(warmup_updates=warmup_updates, warmup_init_lr=warmup_init_lr,
                      base_lr=base_lr), inverse_sqrt.__doc__)


@factory
def cosine(warmup_updates=0, warmup_init_lr=0.0, min_lr=0.0, t_mult=1.0,
           lr_period_updates=None, lr_shrink=0.1, *, base_lr=None) -> Schedule:
    """SGDR with the float-log cycle index (:func:`gpusched.curves.float_log_cycle`) on ``t -
    W`` after a linear warmup, shrinking **both** ends by ``lr_shrink ** i``::

        min_lr sh + (lr sh - min_lr sh) (1 + cos(pi t_cur / t_i)) / 2,    sh = lr_shrink ** i
    """
    t, b, W, w0 = E.step(), E.param("base_lr"), E.param("warmup_updates"), \
        E.param("warmup_init_lr")
    lo, m, P, shrink = (E.param(n) for n in ("min_lr", "t_mult", "lr_period_updates",
                                              "lr_shrink"))
    i, t_i, t_cur = curves.float_log_cycle(t - W, P, m)
    sh = shrink ** i
    mn, mx = lo * sh, b * sh
    after = mn + 0.5 * (mx - mn) * (1 + E.cos(E.pi * t_cur / t_i))
    expr = E.where(t < W, w0 + t * ((b - w0) / E.maximum(W, 1)), after)
    return _make("cosine", expr, [Param("warmup_updates", 0, kind="int", ge=0),
                                  Param("warmup_init_lr", 0.0, kind="float"),
                                  Param("min_lr", 0.0, kind="float"),
                                  Param("t_mult", 1.0, kind="float", gt=0),
                                  Param("lr_period_updates", kind="int", gt=0),
                                  Param("lr_shrink", 0.1, kind="float")],
                 dict(warmup_updates=warmup_updates, warmup_init_lr=warmup_init_lr,
                      min_lr=min_lr, t_mult=t_mult, lr_period_updates=lr_period_updates,
                      lr_shrink=lr_shrink, base_lr=base_lr), cosine.__doc__)

