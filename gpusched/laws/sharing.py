"""Configs that share a schedule's shape: one pass over the steps serves them all.

A schedule whose value is ``s * g(t)``, with ``s`` a config's number (``base_lr``) and ``g``
its shape, gives the laws

.. math::
    S_k = s\\,G_k,\\quad \\eta_k - \\eta_{k-1} = s\\,(g_k - g_{k-1}),\\quad
    \\eta_k^{-\\gamma} S_k = s^{1-\\gamma}\\, u_k,\\ \\ u_k = g_k^{-\\gamma} G_k

(``G_k``: the shape's suffix sum), so the configs whose shape parameters (and ``gamma``, or the
annealing law's ``decay``) are equal share the shape's step code, its sums and ``u_k``; each
config only scales them: one power per step where the rate changes instead of two, and no
step code (a W5 grid's 25 peaks share each shape). The sums differ from the schedule's own
rounding of ``s * g`` by a few ulps per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import codegen
from ..expr import Expr

SHARE_LIMIT = 1 << 18   # the most (steps x prediction steps) a shared shape keeps (7 x 2 MiB)
# the law constant each law's shared pass depends on (its row in the kernel's ``lp``)
SHAPE_CONSTANT = {0: 6, 1: 4}       # multi-power: gamma; annealing: decay
FEW_SHAPES = 8          # configs per shape from which factorized tables are not worth it
TAILS = True            # shapes reuse the running sums of the previous shape's common tail
TAIL_LIMIT = 1 << 21    # the most (configs of a shape x steps) of running sums kept (16 MiB)


@dataclass(frozen=True)
class Split:
    """The root as ``scale * shape`` (``scale`` the literal ``1.0`` when it is not a product
    with a config's number): the kernel's expressions for both, and the shape's node."""
    scale: str
    shape: str
    shape_node: Expr


def split(plan) -> Split:
    """``plan.root`` as a config's number times a step-dependent shape, where it is one."""
    root = plan.root
    if root.op == "mul" and plan.dtypes[id(root)] == "float":
        for a, b in (root.args, root.args[::-1]):
            if "step" not in a.deps and "step" in b.deps:
                return Split(codegen.python_name(plan, a), codegen.python_name(plan, b), b)
    return Split("1.0", codegen.python_name(plan, root), root)


def groups(plan, bound, const: np.ndarray, law_code: int, f32: bool, entries: int):
    """(order, lead) for the kernel: configs sorted so that those sharing a shape are
    consecutive, ``lead[i] = 1`` where position ``i`` starts a shape; None when sharing does
    not apply (float32 rates: each config rounds its own; too few configs per shape; a row
    longer than ``SHARE_LIMIT``)."""
    n = bound.n
    if f32 or n < 2 or entries > SHARE_LIMIT:
        return None
    cols = []
    for name in sorted(split(plan).shape_node.deps - {"step"}):
        if name in bound.scalars:
            arrays = [bound.scalars[name]]
        elif name in bound.lists:
            arrays = list(bound.lists[name])
        else:
            return None
        cols += [_bits(a) for a in arrays if a.shape[0] > 1]
    if const.shape[1] > 1:
        cols.append(_bits(const[SHAPE_CONSTANT[law_code]][:, None]))
    if not cols:
        return np.arange(n, dtype=np.int64), np.eye(1, n, dtype=np.int8)[0]
    keys = np.concatenate(cols, axis=1)
    order = np.lexsort(keys.T[::-1]).astype(np.int64)
    ordered = keys[order]
    lead = np.ones(n, dtype=np.int8)
    lead[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    if 2 * int(lead.sum()) > n:
        return None
    return order, lead


def _bits(a: np.ndarray) -> np.ndarray:
    """Rows of ``a`` (n, k) as int64 keys: equal bits, equal values."""
    a = np.ascontiguousarray(a)
    return a.view(np.int64) if a.dtype.itemsize == 8 else a.astype(np.int64)


def tail_positions(lead: np.ndarray, steps: int) -> int:
    """The running sums the kernel keeps per thread for shapes that end as the previous one
    (the final loss of a multi-power law; see kernel.py): one row per position in a shape,
    as many as the largest shape has configs; 0 (none kept) when there are no shared shapes
    or the rows would pass ``TAIL_LIMIT``."""
    if not TAILS or lead.size == 0:
        return 0
    starts = np.flatnonzero(lead)
    widest = int(np.diff(np.append(starts, lead.size)).max())
    return widest if widest * steps <= TAIL_LIMIT else 0


def few_shapes(lead: np.ndarray) -> bool:
    """Whether the shapes are few enough (``FEW_SHAPES`` configs each on average) that the
    schedule's code runs on few rows, so factorized tables would not pay for themselves."""
    return FEW_SHAPES * int(lead.sum()) <= lead.size
