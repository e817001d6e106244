"""Arrays a generated kernel takes, in the order of its :class:`~gpusched.codegen.Layout`."""

from __future__ import annotations

import numpy as np

from ..engine.host_tables import count_table, cumprod_table, scan_table


def kernel_inputs(plan, layout, bound, steps) -> list[tuple]:
    """(entry, arrays) per layout entry: a scalar parameter as a 1-D column (length n, or 1
    when shared); a list as (padded values, lengths); a host table at ``steps``; a
    running-product table over steps 0..max(steps); a counted operation's table over its
    list count's values."""
    out: list = []
    memo: dict = {}
    top = max(int(steps.max()), 0)
    tables = dict(zip(map(str, range(len(layout.tables))), layout.tables))
    sequences = dict(zip(map(str, range(len(layout.sequences))), layout.sequences))
    counted = dict(zip(map(str, range(len(layout.counted))), layout.counted))
    for e in layout.entries():
        if e.role == "scalar":
            arrays: tuple = (np.ascontiguousarray(bound.scalars[e.key][:, 0]),)
        elif e.role == "list":
            values, lengths = bound.lists[e.key]
            arrays = (np.ascontiguousarray(values), np.ascontiguousarray(lengths[:, 0]))
        elif e.role == "table":
            node = tables[e.key]
            arrays = (node.value.values(steps, memo.setdefault(id(node.value), {})),)
        elif e.role == "counted":
            arrays = (count_table(plan, counted[e.key], bound),)
        elif sequences[e.key].op == "scan":
            arrays = (np.ascontiguousarray(scan_table(sequences[e.key], bound, top)),)
        else:
            arrays = (cumprod_table(plan, sequences[e.key], bound, top),)
        out.append((e, arrays))
    return out


def writeable(a: np.ndarray) -> np.ndarray:
    """``a``, copied when read-only: Numba types read-only arrays apart and would compile a
    second kernel for a call whose inputs (a memory map, a broadcast view, a remembered
    value) happen to be read-only."""
    return a if a.flags.writeable else a.copy()


def flat_inputs(plan, layout, bound, steps) -> list:
    return [writeable(a) for _, arrays in kernel_inputs(plan, layout, bound, steps)
            for a in arrays]


_ARG_NAMES = {
    "scalar": lambda e: [f"p_{e.key}"],
    "list": lambda e: [f"l_{e.key}", f"n_{e.key}"],
    "table": lambda e: [f"tab{e.key}"],
    "sequence": lambda e: [f"cp{e.key}"],
    "counted": lambda e: [f"ct{e.key}"],
}
# Python lines that load config c's parameters and list/table rows (a row is c, or 0 for a
# column shared by every config: written as a multiply, which Numba compiles faster than a
# conditional expression)
_PROLOGUE = {
    "scalar": lambda e: [f"a_{e.key} = p_{e.key}[c * (p_{e.key}.shape[0] > 1)]"],
    "list": lambda e: [f"r_{e.key} = c * (l_{e.key}.shape[0] > 1)"],
    "table": lambda e: [],
    "sequence": lambda e: [f"rc{e.key} = c * (cp{e.key}.shape[0] > 1)"],
    "counted": lambda e: [f"rt{e.key} = c * (ct{e.key}.shape[0] > 1)"],
}


def arg_names(layout) -> list[str]:
    return layout.format(_ARG_NAMES)


def prologue(layout) -> list[str]:
    return layout.format(_PROLOGUE)
