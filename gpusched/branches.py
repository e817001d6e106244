"""Step code that computes a ``where``'s branches only when they are taken.

``where(c, x, y)`` written as ``v = x if c else y`` computes both ``x`` and ``y`` first: a
WSD schedule's cosine, square root and division of its decay run at every warmup and stable
step too. Here each step-dependent node is placed in the deepest branch that holds all its
uses (its *guard*: the path of ``(where, branch)`` pairs from the root), and the step lines
become nested ``if c: ... else: ...`` blocks.

A ``where`` becomes such a block only when one of its branches holds an expensive operation
(a libm call, a power, a list search, a random draw, not read from a factorized table; LLVM
turns cheap branches into selects on its own, and may vectorize the loop) and neither holds
an operation that can flag an error (an integer division by a non-constant, a random
bound): every config still raises exactly the errors it raised, and values are unchanged
(only values no branch takes are no longer computed).
"""

from __future__ import annotations

from typing import Callable, Sequence

from .ops import EXPENSIVE

__all__ = ["guards", "nest"]

Path = tuple        # ((k of a where, branch taken), ...) from the root down

_WORTH_A_BRANCH = EXPENSIVE - {"table"}


def _common(p: Path, q: Path) -> Path:
    i = 0
    while i < min(len(p), len(q)) and p[i] == q[i]:
        i += 1
    return p[:i]


def _propagate(order: Sequence, root_k: int, uses: Callable, lazy: set) -> dict:
    """k -> guard, walking the nodes from the root back (users before what they use)."""
    guard: dict = {root_k: ()}
    for k, n in reversed(order):
        g = guard.get(k)
        if g is None:
            continue
        for pos, x in uses(k, n):
            path = g + ((k, pos == 1),) if k in lazy and pos in (1, 2) else g
            guard[x] = path if x not in guard else _common(guard[x], path)
    return guard


def guards(order: Sequence, root_k: int, uses: Callable, failing: set,
           reads: set) -> tuple[dict, set]:
    """``order``: the step section's ``(k, node)`` in plan order; ``uses(k, node)``: the
    ``(argument position, k)`` of its step-section arguments; ``failing``: the ks of nodes
    that can flag an error; ``reads``: those read from a table (cheap, whatever their
    operation). Returns (guard per k, the ks of the wheres written as blocks)."""
    nodes = dict(order)
    lazy = {k for k, n in order if n.op == "where"}
    while True:
        guard = _propagate(order, root_k, uses, lazy)
        keep = set()
        for w in lazy:
            inside = [k for k, g in guard.items()
                      if len(g) > len(guard.get(w, ())) and g[len(guard[w])][0] == w
                      and g[:len(guard[w])] == guard[w]] if w in guard else []
            if (any(nodes[k].op in _WORTH_A_BRANCH and k not in reads for k in inside)
                    and not any(k in failing for k in inside)):
                keep.add(w)
        if keep == lazy:
            return guard, lazy
        lazy = keep


def nest(order: Sequence, guard: dict, lazy: set, lines: dict, branches: dict,
         path: Path = ()) -> list[str]:
    """The step lines of the nodes guarded by ``path`` (``lines[k]``: a node's own lines;
    ``branches[k]``: a block where's (name, condition, value if true, value if false))."""
    out: list[str] = []
    for k, _ in order:
        if guard.get(k, ()) != path:
            continue
        if k not in lazy:
            out += lines[k]
            continue
        v, cond, yes, no = branches[k]
        out.append(f"if {cond}:")
        out += ["    " + ln for ln in nest(order, guard, lazy, lines, branches,
                                           path + ((k, True),))] + [f"    {v} = {yes}"]
        out.append("else:")
        out += ["    " + ln for ln in nest(order, guard, lazy, lines, branches,
                                           path + ((k, False),))] + [f"    {v} = {no}"]
    return out
