"""Twins of d2l's ``CosineScheduler`` and ``SquareRootScheduler`` (Dive into Deep Learning,
chapter 12.11)."""

from __future__ import annotations

from typing import Annotated

from .. import curves
from .. import expr as E
from ..params import REQUIRED, Check, Sweep
from ..registry import twin

__all__ = ["CosineScheduler", "SquareRootScheduler"]


@twin(checks=[Check(("warmup_steps", "max_update"),
                    lambda warmup_steps, max_update: warmup_steps < max_update,
                    "warmup_steps must be < max_update")])
def CosineScheduler(max_update: Annotated[int, Sweep(gt=0)] = REQUIRED,
                    base_lr: Annotated[float, Sweep()] = 0.01,
                    final_lr: Annotated[float, Sweep()] = 0,
                    warmup_steps: Annotated[int, Sweep(ge=0)] = 0,
                    warmup_begin_lr: Annotated[float, Sweep()] = 0) -> E.Expr:
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
    W, M = warmup_steps, max_update
    return curves.join(E.step(), [lambda s: curves.linear(s, warmup_begin_lr, base_lr, W),
                                  lambda s: curves.cosine(s, base_lr, M - W, final_lr)], [W])


@twin
def SquareRootScheduler(lr: Annotated[float, Sweep()] = 0.1) -> E.Expr:
    """``lr * (t + 1) ** -0.5``: d2l's ``SquareRootScheduler`` (chapter 12.11), called with
    the update count ``t`` (0-based)."""
    return lr * (E.step() + 1.0) ** -0.5
