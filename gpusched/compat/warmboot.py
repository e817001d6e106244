"""Twin of ``CosineAnnealingWarmbootingLR``: cosine restarts at chosen epochs, batch warmup."""

from __future__ import annotations

from typing import Callable, Sequence

from .. import expr as E
from ..params import Check, Param
from ..schedule import Schedule
from ._common import BASE_LR
from ..registry import factory

__all__ = ["CosineAnnealingWarmbootingLR"]


def _epoch_value(k, b, E_, eta_min, steps, step_scale, w, epoch_scale, lf):
    """The lr that ``step()`` computes at the end of epoch ``k``.

    Knots are ``[w] + sorted(s in steps with w < s < E) + [E]``. For ``k <= E`` the segment
    ``i`` is the first with ``k <= knots[i+1]``; ``gap = knots[i+1] - knots[i]`` (plus
    ``epoch_scale`` unless it is the last segment), ``local = k - knots[i]`` and the scale is
    ``step_scale ** i``. Past ``E`` the original's loop falls through: every segment's factor
    applies, ``local = k`` and ``gap`` is the last segment's (kept from the previous call).
    """
    lo = E.count_le(steps, w)                       # list entries at or below the warmup knot
    hi = E.count_lt(steps, E_)                      # entries below the end
    n_inner = E.maximum(hi - lo, 0)
    i = E.clip(E.count_lt(steps, k) - lo, 0, n_inner)
    left = E.where(i == 0, w, E.take(steps, lo + i - 1))
    right = E.where(i == n_inner, E_, E.take(steps, lo + i))
    gap_in = (right - left) + E.where(i == n_inner, 0.0, epoch_scale)
    past = k > E_
    last_left = E.where(n_inner == 0, w, E.take(steps, hi - 1))
    gap = E.where(past, E_ - last_left, gap_in)
    local = E.where(past, k, k - left)
    scale = step_scale ** E.where(past, n_inner + 1, i)
    if lf is None:
        # the original's own operation order, for bit-for-bit parity (not curves.cosine_interp)
        bracket = ((1 + E.cos(local * E.pi / gap)) / 2) * (1.0 - eta_min) + eta_min
    else:
        bracket = E.const(lf(local, gap))
    return scale * b * bracket


@factory
def CosineAnnealingWarmbootingLR(epochs: int | None = None, eta_min: float = 0.05,
                                 steps: Sequence[float] = (), step_scale: float = 0.8,
                                 lf: Callable | None = None, batchs: int = 0, warmup_epoch: int = 0,
                                 epoch_scale: float = 1.0, *,
                                 base_lr: float | None = None) -> Schedule:
    """Cosine segments between restart epochs, each scaled by ``step_scale`` more.

    With ``g(k)`` the value the original's ``step()`` computes at the end of epoch ``k``
    (``g(k) = step_scale^i * base_lr * ((1 + cos(pi local / gap)) / 2 * (1 - eta_min) +
    eta_min)``, ``eta_min`` a ratio of ``base_lr``; ``lf(local, gap)`` replaces the bracket if
    given, and is traced)::

        batchs == 0 (t is the epoch):       f(t) = base_lr for t = 0, else g(t - 1)
        batchs > 0 (t is the global batch): W = batchs * warmup_epoch, e = t // batchs
            f(t) = base_lr * (t / W)   for t < W        (step_batch's linear warmup)
                 = base_lr             for e = 0
                 = g(e - 1)            otherwise

    That is the lr in force for batch ``t`` when ``step_batch()`` runs before each batch and
    ``step()`` after each epoch. During warmup epochs the local step is negative (the cosine
    is symmetric); the restart epoch itself belongs to the old segment. Past ``epochs`` the
    original keeps a stale ``gap`` and oscillates: the twin reproduces what the original gives
    when called in order (``local = k``, the last segment's gap, every ``step_scale`` factor).
    ``steps`` is sorted, as the original sorts it; only entries strictly between
    ``warmup_epoch`` and ``epochs`` are knots.
    """
    t = E.step()
    names = ("base_lr", "epochs", "eta_min", "steps", "step_scale", "batchs", "warmup_epoch",
             "epoch_scale")
    b, E_, eta, st, sc, B, w, es = (E.param(n) for n in names)
    batch_mode = B > 0
    epoch = E.where(batch_mode, t // E.maximum(B, 1), t)
    W = B * w
    value = E.where(epoch == 0, b, _epoch_value(epoch - 1, b, E_, eta, st, sc, w, es, lf))
    expr = E.where(t < W, b * (t / E.maximum(W, 1)), value)
    params = [BASE_LR, Param("epochs", kind="int", gt=0), Param("eta_min", kind="float"),
              Param("steps", kind="list", sort=True), Param("step_scale", kind="float"),
              Param("batchs", kind="int", ge=0), Param("warmup_epoch", kind="int", ge=0),
              Param("epoch_scale", kind="float", ge=0)]
    checks = [Check(("warmup_epoch", "epochs"), lambda warmup_epoch, epochs:
                    warmup_epoch < epochs, "warmup_epoch must be < epochs")]
    values = dict(eta_min=eta_min, steps=list(steps), step_scale=step_scale, batchs=batchs,
                  warmup_epoch=warmup_epoch, epoch_scale=epoch_scale)
    if epochs is not None:
        values["epochs"] = epochs
    if base_lr is not None:
        values["base_lr"] = base_lr
    return Schedule(expr, params, name="CosineAnnealingWarmbootingLR", values=values,
                    checks=checks, doc=CosineAnnealingWarmbootingLR.__doc__)

