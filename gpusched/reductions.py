"""Per-config reductions over steps, combined chunk by chunk (NumPy or CuPy arrays alike).

``sum``, ``mean``, ``min``, ``max``: of the values as the table would hold them (rounded to the
dtype), accumulated in float64. ``argmin``/``argmax``: the step (not its position) where the
minimum/maximum is first reached. ``count_above``/``count_below``: how many steps have a value
``> threshold`` / ``< threshold``. ``last``: the value at the last step given.
"""

from __future__ import annotations

OPS = ("sum", "mean", "min", "max", "argmin", "argmax", "last", "count_above", "count_below")
INT_OPS = frozenset({"argmin", "argmax", "count_above", "count_below"})
THRESHOLD_OPS = frozenset({"count_above", "count_below"})
# op codes of the generated Numba kernels
CODES = {"sum": 0, "mean": 0, "min": 1, "max": 2, "argmin": 3, "argmax": 4, "count_above": 5,
         "count_below": 6}


class Accumulator:
    """Running reduction for ``n`` configs; ``add`` takes (configs c0:c1) x (a chunk of steps)."""

    def __init__(self, xp, n: int, op: str, threshold=None):
        self.xp, self.op, self.threshold = xp, op, threshold
        inf = float("inf")
        start = {"min": inf, "argmin": inf, "max": -inf, "argmax": -inf}.get(op, 0.0)
        self.acc = xp.full(n, start, dtype=xp.float64)
        self.arg = xp.zeros(n, dtype=xp.int64) if op in ("argmin", "argmax") else None

    def add(self, c0: int, c1: int, vals, steps_chunk):
        xp, op, acc = self.xp, self.op, self.acc[c0:c1]
        if op in ("sum", "mean"):
            acc += vals.sum(axis=1, dtype=xp.float64)
        elif op == "min":
            xp.minimum(acc, vals.min(axis=1), out=acc)
        elif op == "max":
            xp.maximum(acc, vals.max(axis=1), out=acc)
        elif op in ("argmin", "argmax"):
            pos = vals.argmin(axis=1) if op == "argmin" else vals.argmax(axis=1)
            best = xp.take_along_axis(vals, pos[:, None], axis=1)[:, 0]
            better = best < acc if op == "argmin" else best > acc   # strict: first one wins
            acc[better] = best[better]
            assert self.arg is not None
            self.arg[c0:c1][better] = xp.asarray(steps_chunk)[pos[better]]
        elif op in THRESHOLD_OPS:
            # compare in float64: NumPy 2 would round a Python-float threshold to float32
            v = vals.astype(xp.float64, copy=False)
            acc += (v > self.threshold if op == "count_above" else v < self.threshold).sum(axis=1)
        else:
            raise ValueError(f"unknown reduction {op!r}")

    def result(self, n_steps: int, dtype):
        if self.arg is not None:
            return self.arg
        if self.op in THRESHOLD_OPS:
            return self.acc.astype(self.xp.int64)
        acc = self.acc / n_steps if self.op == "mean" else self.acc
        return acc.astype(dtype)
