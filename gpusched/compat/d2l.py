"""Twin of d2l's ``CosineScheduler`` (Dive into Deep Learning, chapter 12.11)."""

from __future__ import annotations

from .. import curves
from .. import expr as E
from ..params import Check, Param
from ..schedule import Schedule
from ..registry import factory

__all__ = ["CosineScheduler"]


@factory
def CosineScheduler(max_update=None, base_lr=0.01, final_lr=0, warmup_steps=0,
                    warmup_begin_lr=0) -> Schedule:
    """Linear warmup, cosine decay, then hold. With ``W = warmup_steps``, ``M = max_update``::

        f(t) = warmup_begin_lr + (base_lr - warmup_begin_lr) * t / W           t < W
             = final_lr + (base_lr - final_lr) * (1 + cos(pi (t - W) / (M - W))) / 2
                                                                              W <= t <= M
             = final_lr                                                       t > M

    Step mapping: ``t`` is the argument of ``scheduler(t)`` (d2l calls it with the epoch).
    Past ``M`` the original returns the last value it computed, which is ``final_lr`` when
    called in order; the twin returns ``final_lr`` (where a first call past ``M`` makes the
    original raise AttributeError). ``W = 0`` gives ``base_lr`` at step 0. Requires
    ``0 <= W < M``: ``W == M`` divides by zero in the original.
    """
    t = E.step()
    M, b, fin, W, wb = (E.param(n) for n in
                        ("max_update", "base_lr", "final_lr", "warmup_steps", "warmup_begin_lr"))
    expr = curves.join(t, [lambda s: curves.linear(s, wb, b, W),
                           lambda s: curves.cosine(s, b, M - W, fin)], [W])
    params = [Param("max_update", kind="int", gt=0), Param("base_lr", kind="float"),
              Param("final_lr", kind="float"), Param("warmup_steps", kind="int", ge=0),
              Param("warmup_begin_lr", kind="float")]
    checks = [Check(("warmup_steps", "max_update"), lambda warmup_steps, max_update:
                    warmup_steps < max_update, "warmup_steps must be < max_update")]
    values = dict(base_lr=base_lr, final_lr=final_lr, warmup_steps=warmup_steps,
                  warmup_begin_lr=warmup_begin_lr)
    if max_update is not None:
        values["max_update"] = max_update
    return Schedule(expr, params, name="CosineScheduler", values=values, checks=checks,
                    doc=CosineScheduler.__doc__)
