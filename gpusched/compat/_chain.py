"""torch's ChainedScheduler as a recurrence over steps, for chains a product cannot express.

At every step each scheduler of the chain updates the optimizer's current lr in order. Most
multiply it by a ratio (a product of closed forms, in ``torch.ChainedScheduler``); some set it
outright; CosineAnnealingLR is affine, ``lr <- r(t) (lr - eta_min) + eta_min``, and at ``t =
T_max + 1`` (mod ``2 T_max``), where its ratio's denominator is 0, it adds the increment
``(base_lr - eta_min) (1 - cos(pi / T_max)) / 2`` instead. With another scheduler in the chain
neither is a product, so such chains run as a host scan: each member's closed form is
tabulated once (NumPy backend) and the per-step maps are applied in torch's order, vectorized
over configs. Nothing of the schedules' math is restated here: ratios and increments are
differences and quotients of the members' own closed forms.
"""

from __future__ import annotations

import numpy as np

from .. import expr as E
from ..binding import Bound
from ..plan import compile_plan


class Member:
    """One scheduler of the chain: ``kind`` "ratio" (multiplies the lr), "set" (sets it) or
    "affine" (CosineAnnealingLR); ``expr`` its closed form; for "affine", ``shape`` is the
    closed form with base_lr = 1 and eta_min = 0 (its ratio), ``eta`` and ``period`` the
    names of its eta_min and T_max parameters; ``init`` the lr it was constructed with
    (torch's ``base_lrs``: the optimizer's lr, or what a OneCycleLR before it set)."""

    __slots__ = ("kind", "expr", "shape", "eta", "period", "init")

    def __init__(self, kind, expr, shape=None, eta=None, period=None, init=None):
        self.kind, self.expr, self.shape, self.eta, self.period = kind, expr, shape, eta, period
        self.init = E.param("base_lr") if init is None else init


class ChainRule:
    """The HostScan function: the chain's lr at steps ``0..top`` for each config row."""

    def __init__(self, members: list):
        self.members = members

    def __call__(self, top: int, **columns) -> np.ndarray:
        bound = _bound(columns)
        steps: np.ndarray = np.arange(top + 1, dtype=np.int64)
        base = _column(columns["base_lr"], bound.n)
        x = base
        maps: list = []     # per member: (kind, its per-step arrays (steps, rows))
        for m in self.members:
            if m.kind == "set":
                maps.append(("set", _table(m.expr, bound, steps)))
            elif m.kind == "ratio":
                f = _table(m.expr, bound, steps)
                init = _table(m.init, bound, steps[:1])[0]
                before = np.vstack([init, f[:-1]])          # f(t - 1); its start before t = 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    maps.append(("ratio", np.where(before == 0, 1.0, f / before)))
            else:           # arrays for t = 1..top (the cosine leaves t = 0 unchanged)
                g = _table(m.shape, bound, steps)
                eta = _column(columns[m.eta], bound.n)
                init = _table(m.init, bound, steps[:1])[0]
                period: np.ndarray = _column(columns[m.period], bound.n).astype(np.int64)
                jump = (steps[1:, None] - 1 - period) % (2 * period) == 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(jump, 1.0, g[1:] / g[:-1])   # 0 / 0 only at jumps
                maps.append(("affine", (ratio, jump, (init - eta) * (g[1:] - g[:-1]), eta)))
        out = np.empty((top + 1, bound.n))
        for t in range(top + 1):
            for kind, a in maps:
                if kind == "set":
                    x = a[t]
                elif kind == "ratio":
                    x = x * a[t]
                elif t:
                    ratio, jump, increment, eta = a
                    x = np.where(jump[t - 1], x + increment[t - 1], ratio[t - 1] * (x - eta) + eta)
            out[t] = x
        return out.T


def _column(col, rows: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(col, dtype=np.float64)[:, 0], (rows,)).copy()


def _bound(columns: dict) -> Bound:
    rows = max(((c[0] if isinstance(c, tuple) else c).shape[0] for c in columns.values()),
               default=1)
    scalars, lists, dtypes = {}, {}, {}
    for name, col in columns.items():
        arr = col[0] if isinstance(col, tuple) else col
        dtypes[name] = "int" if arr.dtype.kind in "iub" else "float"
        if isinstance(col, tuple):
            lists[name] = col
        else:
            scalars[name] = col
    return Bound(rows, scalars, lists, dtypes)


def _table(expr, bound: Bound, steps) -> np.ndarray:
    """``expr`` at ``steps`` for every row: (steps, rows) float64."""
    from ..engine.evaluate import table as host_table
    plan = compile_plan(expr, bound.dtypes)
    table = host_table(plan, bound, steps, np.float64, work_limit=2 ** 62)
    return np.ascontiguousarray(np.broadcast_to(table, (bound.n, steps.size)).T)


def affine_shape(expr, base: E.Expr, eta: str):
    """A CosineAnnealingLR closed form with its base (the lr it starts from: a parameter, or
    an expression of parameters) = 1 and eta_min = 0: its ratio's shape."""
    shape = E.substitute(expr, {E.param(eta): E.const(0.0)})
    if base.op == "param":
        return E.substitute(shape, {base: E.const(1.0)})
    # base is an expression: expr = eta + (base - eta) * g, so with eta = 0, expr / base = g
    return shape / base
