"""Twins of ``torch.optim.lr_scheduler`` schedulers.

Step mapping: the value at step ``t`` is ``optimizer.param_groups[0]["lr"]`` after ``t`` calls
to ``scheduler.step()`` (the lr used by the ``t``-th optimizer update, 0-based). The
optimizer's lr becomes the ``base_lr`` parameter. torch computes its "chainable" schedulers
recursively from the current lr; the twins use the closed form, which agrees to ~1e-15
relative (float64) while the recursion's rounding accumulates.
"""

from __future__ import annotations

from .. import curves
from .. import expr as E
from ..params import Param
from ..schedule import Schedule
from ._common import BASE_LR, user_function

__all__ = ["CosineAnnealingLR", "LambdaLR", "MultiplicativeLR"]


def _values(**given):
    return {k: v for k, v in given.items() if v is not None}


def CosineAnnealingLR(T_max=None, eta_min=0.0, *, base_lr=None) -> Schedule:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``.

    Past ``T_max`` it is periodic with period ``2 * T_max`` (it climbs back to ``base_lr`` at
    ``2 * T_max``), as torch's scheduler does; there is no clamp.
    """
    t = E.step()
    b, T, eta = E.param("base_lr"), E.param("T_max"), E.param("eta_min")
    expr = curves.cosine_interp(b, eta, t / T)
    return Schedule(expr, [BASE_LR, Param("T_max", gt=0), Param("eta_min", 0.0, kind="float")],
                    name="CosineAnnealingLR", values=_values(T_max=T_max, eta_min=eta_min,
                                                             base_lr=base_lr),
                    doc=CosineAnnealingLR.__doc__)


def LambdaLR(lr_lambda, *, base_lr=None, **params) -> Schedule:
    """``base_lr * lr_lambda(t)``.

    ``lr_lambda`` is traced (``lambda step: step % 40 / 100.``), so it runs on every backend;
    extra arguments after the step become sweepable parameters. A lambda of the step alone
    that uses Python control flow (``lambda step: max(0, 1 - step / 100)``) is called once per
    distinct step on the host instead, and the table is broadcast. Defined for every step.
    """
    lam, extra = user_function(lr_lambda, E.step(), "lr_lambda")
    expr = E.param("base_lr") * lam
    return Schedule(expr, [BASE_LR, *extra], name="LambdaLR",
                    values=_values(base_lr=base_lr, **params), doc=LambdaLR.__doc__)


def MultiplicativeLR(lr_lambda, *, base_lr=None, **params) -> Schedule:
    """``base_lr * prod_{s=1..t} lr_lambda(s)`` (torch multiplies the current lr by
    ``lr_lambda(t)`` at each ``step()``, and never applies ``lr_lambda(0)``).

    ``lr_lambda`` is traced when it can be, else tabulated on the host as for LambdaLR.
    Defined for every step; the running product is kept in float64.
    """
    holder = {}

    def factor(s):
        lam, extra = user_function(lr_lambda, s, "lr_lambda")
        holder["extra"] = extra
        return lam

    expr = E.param("base_lr") * E.cumprod(factor)
    return Schedule(expr, [BASE_LR, *holder.get("extra", [])], name="MultiplicativeLR",
                    values=_values(base_lr=base_lr, **params), doc=MultiplicativeLR.__doc__)
