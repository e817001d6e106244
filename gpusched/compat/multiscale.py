"""Multiscale training sizes: a random, discrete hyperparameter schedule."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import expr as E
from ..params import Check, Param
from ..schedule import Schedule
from ..registry import factory

__all__ = ["BatchResize", "global_step"]

SIZE_STEP = 16
WARM_STEPS = 5


def global_step(epoch_id: ArrayLike, epoch_to_start: ArrayLike, steps_per_epoch: ArrayLike,
                batch_id: ArrayLike) -> np.ndarray:
    """``(epoch_id - epoch_to_start) * steps_per_epoch + batch_id`` (int64, broadcasting)."""
    return (np.asarray(epoch_id, dtype=np.int64) - np.asarray(epoch_to_start, dtype=np.int64)) \
        * np.asarray(steps_per_epoch, dtype=np.int64) + np.asarray(batch_id, dtype=np.int64)


@factory
def BatchResize(batch_resize_range: Sequence[int] | None = None, seed: int = 0) -> Schedule:
    """The input size for global step ``t`` (see :func:`global_step`)::

        f(t) = upper                                   t <= 4 (the first five steps)
             = lower + 16 * k,  k ~ U{0, ..., n - 1}   otherwise,
        n = len(range(lower, upper + 16, 16)) = (upper - lower + 15) // 16 + 1

    ``batch_resize_range = (lower, upper)``. Like the original's ``np.arange(lower, upper + 16,
    16)``, the largest size can exceed ``upper`` when ``upper - lower`` is not a multiple of 16.
    The draw replaces NumPy's global RNG by Philox4x32-10 keyed by ``seed`` with the step as
    counter (:func:`gpusched.random_below`), so it is reproducible, identical on every backend,
    and two configs with the same seed draw the same ``k`` sequence (common random numbers).
    """
    t = E.step()
    rng_, seed_ = E.param("batch_resize_range"), E.param("seed")
    lower, upper = E.take(rng_, 0), E.take(rng_, 1)
    n = (upper - lower + (SIZE_STEP - 1)) // SIZE_STEP + 1
    drawn = lower + SIZE_STEP * E.random_below(n, seed_, t)
    expr = E.where(t < WARM_STEPS, upper, drawn)
    params = [Param("batch_resize_range", kind="list", size=2, gt=0),
              Param("seed", kind="int", ge=0)]
    checks = [Check(("batch_resize_range",), lambda batch_resize_range:
                    batch_resize_range[0][:, 0] <= batch_resize_range[0][:, 1],
                    "batch_resize_range must be (lower, upper) with lower <= upper")]
    values: dict = {"seed": seed}
    if batch_resize_range is not None:
        values["batch_resize_range"] = list(batch_resize_range)
    return Schedule(expr, params, name="BatchResize", values=values, checks=checks,
                    doc=BatchResize.__doc__)

