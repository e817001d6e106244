"""Arrays a generated kernel takes, in the order of its :class:`~gpusched.codegen.Layout`."""

from __future__ import annotations

import numpy as np

from .numpy_backend import cumprod_table


def kernel_inputs(plan, layout, bound, steps) -> list:
    """Scalar parameters as 1-D columns (length n, or 1 when shared), each list as (padded
    values, lengths), host tables at ``steps``, running-product tables over 0..max(steps)."""
    args = []
    for name in layout.scalars:
        args.append(np.ascontiguousarray(bound.scalars[name][:, 0]))
    for name in layout.lists:
        values, lengths = bound.lists[name]
        args += [np.ascontiguousarray(values), np.ascontiguousarray(lengths[:, 0])]
    memo: dict = {}
    for node in layout.tables:
        args.append(node.value.values(steps, memo.setdefault(id(node.value), {})))
    top = max(int(steps.max()), 0)
    for node in layout.cumprods:
        args.append(cumprod_table(plan, node, bound, top))
    return args


def arg_names(layout) -> list[str]:
    names = [f"p_{n}" for n in layout.scalars]
    for n in layout.lists:
        names += [f"l_{n}", f"n_{n}"]
    names += [f"tab{k}" for k in range(len(layout.tables))]
    names += [f"cp{k}" for k in range(len(layout.cumprods))]
    return names


def prologue(layout) -> list[str]:
    """Python lines that load config ``c``'s parameters and list/table rows."""
    lines = [f"a_{n} = p_{n}[c if p_{n}.shape[0] > 1 else 0]" for n in layout.scalars]
    lines += [f"r_{n} = c if l_{n}.shape[0] > 1 else 0" for n in layout.lists]
    lines += [f"rc{k} = c if cp{k}.shape[0] > 1 else 0" for k in range(len(layout.cumprods))]
    return lines
