"""Cache keys, kernel names and Dask keys: the full hash of everything they stand for.

Every name under which gpusched caches or shares a result (a generated module, a CUDA function,
a Dask block) is :func:`digest` of *all* its inputs, never a prefix of one of them: a key that
drops an input (a parameter kind, the grid, the steps) lets two different computations share
one result, silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .binding import Bound

import hashlib

import numpy as np

__all__ = ["digest", "bound_digest"]


def _feed(h, part) -> None:
    if isinstance(part, np.ndarray):
        h.update(f"ndarray|{part.dtype.str}|{part.shape}|".encode())
        h.update(np.ascontiguousarray(part).tobytes())
    elif isinstance(part, (tuple, list)):
        h.update(f"{type(part).__name__}|{len(part)}|".encode())
        for p in part:
            _feed(h, p)
    elif isinstance(part, dict):
        h.update(f"dict|{len(part)}|".encode())
        for k in sorted(part, key=repr):
            _feed(h, k)
            _feed(h, part[k])
    elif isinstance(part, np.dtype):
        h.update(f"dtype|{part.str}".encode())
    elif part is None or isinstance(part, (str, bytes, bool, int, float, np.generic)):
        h.update(f"{type(part).__name__}|{part!r}".encode())
    else:
        raise TypeError(f"digest: cannot key a {type(part).__name__}; pass its defining values")
    h.update(b"\x00")


def digest(*parts: Any) -> str:
    """The sha256 (64 hex digits) of ``parts``: strings, numbers, arrays (by content), and
    tuples, lists and dicts of them. Types and shapes enter the hash, so ``1`` and ``1.0``,
    or ``[1, 2]`` and ``[[1, 2]]``, differ."""
    h = hashlib.sha256()
    _feed(h, parts)
    return h.hexdigest()


def bound_digest(bound: Bound) -> str:
    """The hash of a binding: every parameter's values and kind, shared or per config."""
    return digest(bound.n, bound.dtypes, bound.scalars,
                  {k: tuple(v) for k, v in bound.lists.items()}, bound.axes)
