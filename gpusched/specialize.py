"""Folding the choices a whole grid shares into the kernel.

A choice parameter (a mode, a strategy, a bool flag) selects a branch: with both branches
computed for every element, ``anneal_strategy="cos"`` for every config still pays for the
linear anneal. When every config of a call has the same choice, it becomes a constant and the
branches it rules out fold away (``where(True, a, b) = a``, ``x & False = False``). Choices
have few values, so this adds at most a few kernels per schedule; numbers are never folded
(each new value would compile a new kernel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .binding import Bound
    from .params import Param

from functools import lru_cache

from . import expr as E

__all__ = ["specialize", "shared_choices"]


def shared_choices(params: Iterable[Param], bound: Bound) -> dict:
    """``name -> code`` of every choice parameter whose value all configs of ``bound`` share."""
    out = {}
    for p in params:
        codes = bound.scalars.get(p.name) if p.kind == "choice" else None
        if codes is not None and codes.size and (codes == codes.flat[0]).all():
            out[p.name] = int(codes.flat[0])
    return out


def specialize(expr: E.Expr, params: Iterable[Param], bound: Bound) -> E.Expr:
    """``expr`` with the shared choices of ``bound`` as constants (host scans keep reading
    theirs as parameters)."""
    shared = shared_choices(params, bound)
    return _folded(expr, tuple(sorted(shared.items()))) if shared else expr


@lru_cache(maxsize=256)
def _folded(expr: E.Expr, shared: tuple) -> E.Expr:
    return E.substitute(expr, {E.param(n): E.const(v) for n, v in shared})
