"""Twins of fairseq's learning-rate schedulers (``fairseq.optim.lr_scheduler``, register names).

Step mapping: fairseq sets the lr from the update count with ``step_update(num_updates)``;
the value at step ``t`` is the lr that ``step_update(t)`` sets, with ``lr`` the configured
peak (``base_lr`` here).
"""

from __future__ import annotations

from typing import Annotated

from .. import curves
from .. import expr as E
from ..params import REQUIRED, Float, Sweep
from ._common import BaseLR
from ..registry import twin

__all__ = ["tri_stage", "inverse_sqrt", "cosine"]


@twin
def tri_stage(warmup_steps: Annotated[int, Sweep(ge=0)] = 4000,
              hold_steps: Annotated[int, Sweep(ge=0)] = 20000,
              decay_steps: Annotated[int, Sweep(gt=0)] = 60000,
              init_lr_scale: Annotated[float, Sweep(gt=0)] = 0.01,
              final_lr_scale: Annotated[float, Sweep(gt=0)] = 0.01, *,
              base_lr: BaseLR = REQUIRED) -> E.Expr:
    """Warmup, hold, exponential decay (:func:`gpusched.curves.tri_stage`)."""
    return curves.tri_stage(E.step(), base_lr, warmup_steps, hold_steps, decay_steps,
                            init_lr_scale, final_lr_scale)


@twin
def inverse_sqrt(warmup_updates: Annotated[int, Sweep(ge=0)] = 4000,
                 warmup_init_lr: Float = 0.0, *, base_lr: BaseLR = REQUIRED) -> E.Expr:
    """``warmup_init_lr + t (lr - warmup_init_lr) / W`` for ``t < W``, then ``lr sqrt(W) /
    sqrt(t)`` (``W = warmup_updates``)."""
    t, b, W, w0 = E.step(), base_lr, warmup_updates, warmup_init_lr
    return E.where(t < W, w0 + t * ((b - w0) / E.maximum(W, 1)),
                   b * E.sqrt(E.to_float(W)) * E.maximum(t, 1) ** -0.5)


@twin
def cosine(warmup_updates: Annotated[int, Sweep(ge=0)] = 0, warmup_init_lr: Float = 0.0,
           min_lr: Float = 0.0, t_mult: Annotated[float, Sweep(gt=0)] = 1.0,
           lr_period_updates: Annotated[int, Sweep(gt=0)] = REQUIRED, lr_shrink: Float = 0.1,
           *, base_lr: BaseLR = REQUIRED) -> E.Expr:
    """SGDR with the float-log cycle index (:func:`gpusched.curves.float_log_cycle`) on ``t -
    W`` after a linear warmup, shrinking **both** ends by ``lr_shrink ** i``::

        min_lr sh + (lr sh - min_lr sh) (1 + cos(pi t_cur / t_i)) / 2,    sh = lr_shrink ** i
    """
    t, b, W, w0 = E.step(), base_lr, warmup_updates, warmup_init_lr
    i, t_i, t_cur = curves.float_log_cycle(t - W, lr_period_updates, t_mult)
    sh = lr_shrink ** i
    mn, mx = min_lr * sh, b * sh
    # fairseq's own operation order, for bit-for-bit parity (not curves.cosine_interp)
    after = mn + 0.5 * (mx - mn) * (1 + E.cos(E.pi * t_cur / t_i))
    return E.where(t < W, w0 + t * ((b - w0) / E.maximum(W, 1)), after)
