"""Integer overflow found before any work, by interval arithmetic over the graph.

The steps and every parameter value of a call are known before it runs, so each integer
sub-expression has a known range. Where a range leaves int64 (``t * t * t`` at
``t = 2.1e6``, ``t + 2**63 - 1``), kernels would wrap around silently; such a node is computed
in float64 instead (its integer operands converted first: the value of the exact integer
result, rounded once or twice). Where an integer is required (a list index, a random
generator's seed or counter, ``gs.to_int``), an overflow is a ValueError naming the
sub-expression and its range.

Ranges are conservative (both branches of a ``where`` count), so a node that cannot overflow
in practice may still be computed in float64: a few ulps at worst, never a wrapped value.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from .binding import Bound
from functools import lru_cache

import numpy as np

from . import expr as E
from .ops import function

__all__ = ["widen_overflows", "parameter_ranges"]

INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1
# operations whose integer operands must stay integers
_NEEDS_INT = {"take": (1,), "random_uniform": (0, 1), "random_below": (0, 1, 2)}
# integer arithmetic that can be computed in float64 instead
_WIDENABLE = frozenset({"add", "sub", "mul", "floordiv", "mod", "neg", "abs", "minimum",
                        "maximum", "where", "sum_first"})

Range = Optional[tuple]  # (lo, hi) as Python numbers, or None when unknown


def _outward(x, up: bool):
    """``x`` rounded away from the inside of a range to a power of two (0 stays 0), so that
    calls whose values differ a little share one analysis (a cache hit)."""
    if x == 0 or not math.isfinite(x):
        return x
    e = math.frexp(abs(x))[1]             # 2**(e-1) <= |x| < 2**e
    grow = (x > 0) == up
    mag = 2 ** e if grow else 2 ** (e - 1)
    mag = mag if isinstance(x, int) or isinstance(x, bool) else float(mag)
    return mag if x > 0 else -mag


def _coarse(lo, hi) -> tuple:
    return (_outward(lo, False), _outward(hi, True))


def parameter_ranges(bound: Bound, coarse: bool = True) -> tuple:
    """Sorted ``(name, (lo, hi))`` of scalar parameters and ``(name, (lo, hi, longest
    length))`` of lists; ``coarse``: each bound rounded outward to a power of two."""
    def edge(x, up):
        return _outward(x, up) if coarse else x
    out: dict = {}
    for name, arr in bound.scalars.items():
        if arr.size:
            out[name] = (edge(arr.min().item(), False), edge(arr.max().item(), True))
    for name, (vals, lens) in bound.lists.items():
        valid = np.arange(vals.shape[1])[None, :] < lens
        k = int(lens.max()) if lens.size else 0
        if valid.any():
            v = vals[valid]
            out[name] = (edge(v.min().item(), False), edge(v.max().item(), True), edge(k, True))
        else:
            out[name] = (0, 0, 0)
    return tuple(sorted(out.items()))


def _fits(r: Range) -> bool:
    return r is None or (INT_MIN <= r[0] and r[1] <= INT_MAX)


def _corners(f, a: Range, b: Range) -> Range:
    if a is None or b is None:
        return None
    try:
        vals = [f(x, y) for x in a for y in b]
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    if any(isinstance(v, float) and math.isnan(v) for v in vals):
        return None
    return (min(vals), max(vals))


def _monotone(f, a: Range) -> Range:
    if a is None:
        return None
    try:
        lo, hi = f(a[0]), f(a[1])
    except (OverflowError, ValueError):
        return None
    return (min(lo, hi), max(lo, hi))


def _range(node: E.Expr, r: dict, params: dict, step: Range) -> Range:
    op, a = node.op, [r.get(id(x)) for x in node.args]
    if op == "step":
        return step
    if op == "const":
        return (node.value, node.value) if not isinstance(node.value, bool) else \
            (int(node.value), int(node.value))
    if op == "param":
        p = params.get(node.value)
        return None if p is None or len(p) != 2 else p
    if op in ("lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not"):
        return (0, 1)
    if op == "add":
        return _corners(lambda x, y: x + y, a[0], a[1])
    if op == "sub":
        return _corners(lambda x, y: x - y, a[0], a[1])
    if op == "mul":
        return _corners(lambda x, y: x * y, a[0], a[1])
    if op in ("minimum", "maximum"):
        if a[0] is None or a[1] is None:
            return None
        f = min if op == "minimum" else max
        return (f(a[0][0], a[1][0]), f(a[0][1], a[1][1]))
    if op == "neg":
        return None if a[0] is None else (-a[0][1], -a[0][0])
    if op == "abs":
        if a[0] is None:
            return None
        lo, hi = a[0]
        return (0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))
    if op == "where":
        if a[1] is None or a[2] is None:
            return None
        return (min(a[1][0], a[2][0]), max(a[1][1], a[2][1]))
    if op in ("floor", "ceil", "float"):
        rounding: dict[str, Callable] = {"floor": math.floor, "ceil": math.ceil, "float": float}
        g = rounding[op]
        return _monotone(lambda x: g(x) if math.isfinite(x) else x, a[0])
    if op == "int":
        return _monotone(lambda x: math.trunc(x) if math.isfinite(x) else x, a[0])
    if op == "truediv":
        if a[1] is None or a[1][0] <= 0 <= a[1][1]:
            return None
        return _corners(lambda x, y: x / y, a[0], a[1])
    if op == "floordiv":
        if a[1] is None or a[1][0] <= 0 <= a[1][1]:
            return None
        return _monotone(math.floor, _corners(lambda x, y: x / y, a[0], a[1]))
    if op == "mod":
        if a[1] is None:
            return None
        m = max(abs(a[1][0]), abs(a[1][1]))
        return (0 if a[1][0] > 0 else -m, m if a[1][1] >= 0 else 0)
    fn = function(op)
    if fn is not None:         # what the table of operations says (gpusched/ops.py)
        if fn.bounds is not None:
            return fn.bounds
        if fn.increasing is None or a[0] is None or \
                (fn.above is not None and a[0][0] <= fn.above):
            return None
        f = fn.increasing
        return _monotone(lambda x: f(x) if math.isfinite(x) else f(x) if x > 0 else -math.inf,
                         a[0])
    if op in ("count_lt", "count_le", "count_cumsum_le", "length"):
        p = params.get(node.args[0].value) if node.args[0].op == "param" else None
        return (0, p[2]) if p is not None and len(p) == 3 else None
    if op == "take":
        p = params.get(node.args[0].value) if node.args[0].op == "param" else None
        return (p[0], p[1]) if p is not None and len(p) == 3 else None
    if op == "sum_first":
        p = params.get(node.args[0].value) if node.args[0].op == "param" else None
        if p is None or len(p) != 3:
            return None
        return (p[2] * min(p[0], 0), p[2] * max(p[1], 0))
    if op == "random_uniform":
        return (0.0, 1.0)
    if op == "random_below":
        return None if a[0] is None else (0, max(0, a[0][1] - 1))
    return None


def _text(node) -> str:
    text = E.to_text(node)
    return text if len(text) <= 120 else text[:117] + "..."


def widen_overflows(root: E.Expr, bound: Bound, steps: np.ndarray) -> E.Expr:
    """``root`` with every integer node whose range, for these steps and ``bound``'s
    parameter values, leaves int64 computed in float64. Raises ValueError where an integer
    is required and may overflow.

    The analysis runs on ranges rounded outward to powers of two (cached: calls with similar
    values share it); only when that finds a refusal is it redone on the exact ranges.
    """
    dtypes = tuple(sorted(bound.dtypes.items()))
    step = (int(steps.min()), int(steps.max()))
    try:
        return _widen(root, dtypes, parameter_ranges(bound), _coarse(*step))
    except ValueError:
        return _widen.__wrapped__(root, dtypes, parameter_ranges(bound, coarse=False), step)


@lru_cache(maxsize=1024)
def _widen(root: E.Expr, dtype_items: tuple, param_items: tuple, step: tuple) -> E.Expr:
    from .plan import dtype_of
    dtypes, params = dict(dtype_items), dict(param_items)

    def rebuild(n: E.Expr, args: list) -> E.Expr:
        if all(x is y for x, y in zip(args, n.args)):
            return n
        return E.where(*args) if n.op == "where" else E.Expr(n.op, tuple(args), n.value)

    def walk(top: E.Expr, step_range: tuple) -> E.Expr:
        new_of: dict = {}           # id(old node) -> new node
        node_kinds: dict = {}       # id(new node) -> kind
        ranges: dict = {}           # id(new node) -> range
        for n in E.topological(top):
            if n.op == "cumprod":   # its body runs over steps 1..t
                args = [walk(n.args[0], (1, max(1, step_range[1]))), new_of[id(n.args[1])]]
            else:
                args = [new_of[id(x)] for x in n.args]
            for k in _NEEDS_INT.get(n.op, ()):
                if node_kinds[id(args[k])] == "float" and dtypes_of_old(n, k) != "float":
                    raise ValueError(_overflow_message(n.args[k], ranges.get(id(args[k])),
                                                       step_range, needed=n.op))
            new = rebuild(n, args)
            kind = dtype_of(new, node_kinds, dtypes)
            rng = _range(new, ranges, params, step_range)
            if kind == "int" and not _fits(rng):
                if n.op not in _WIDENABLE:
                    raise ValueError(_overflow_message(new, rng, step_range))
                args = [E.Expr("float", (x,)) if (n.op != "where" or k > 0)
                        and node_kinds[id(x)] in ("int", "bool") else x
                        for k, x in enumerate(args)]
                for x in args:
                    if id(x) not in node_kinds:
                        node_kinds[id(x)] = "float"
                        ranges[id(x)] = _range(x, ranges, params, step_range)
                new = rebuild(n, args)
                kind = dtype_of(new, node_kinds, dtypes)
                rng = _range(new, ranges, params, step_range)
            new_of[id(n)] = new
            node_kinds[id(new)] = kind
            ranges[id(new)] = rng
        return new_of[id(top)]

    old_kinds: dict = {}

    def dtypes_of_old(n, k):
        """The kind operand ``k`` of ``n`` had before widening."""
        x = n.args[k]
        if id(x) not in old_kinds:
            for y in E.topological(x):
                if id(y) not in old_kinds:
                    old_kinds[id(y)] = dtype_of(y, old_kinds, dtypes)
        return old_kinds[id(x)]

    return walk(root, (int(step[0]), int(step[1])))


def _overflow_message(node, rng, step, needed=None) -> str:
    where = f" (an integer is needed by {needed})" if needed else ""
    span = f"[{rng[0]}, {rng[1]}]" if rng else "an unbounded range"
    return (f"integer overflow: `{_text(node)}` can reach {span} for steps {step[0]}..{step[1]} "
            f"and the given parameters, beyond int64 (±9.22e18){where}; use float values "
            f"(e.g. 1.0 * t) or fewer steps")
