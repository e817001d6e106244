"""Per-config sequences tabulated on the host and read by index on every backend: running
products (``gs.cumprod``, MultiplicativeLR) and host scans (the metric-driven schedules:
reduce on plateau, greedy), with their memory accounting and a cache of computed scans."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ..keys import digest

# bytes per (row, step) cell a host-tabulated sequence holds while it is built
_CELL_BYTES = {"cumprod": 8 * 2, "scan": 8 * 3}


def host_table_bytes(plan, bound, top: int) -> int:
    """Bytes of the per-config sequences the host tabulates for ``plan`` up to step ``top``
    (running products and host scans, with their temporaries): what :func:`cumprod_table`
    and :func:`scan_table` will check and allocate, known before any work."""
    varying = per_config_names(bound)
    total = 0
    for p in (plan, *plan.subplans.values()):
        for n in p.nodes:
            if n.op in _CELL_BYTES:
                rows = bound.n if n.deps & varying else 1
                total += rows * (top + 1) * _CELL_BYTES[n.op]
    return total


def cumprod_table(plan, node, bound, top: int, c0: int = 0, memo=None) -> np.ndarray:
    """``prod_{s=1..t} body(s)`` for ``t = 0..top``: shape (rows, top + 1), one row per config
    of ``bound`` when the body depends on per-config parameters, else one row."""
    if memo is None:
        memo = {"max_step": top, "per_config": per_config_names(bound)}
    sub = plan.subplans[id(node)]
    rows = bound.n if sub.root.deps & memo["per_config"] else 1
    from ..memory import check
    check(rows * (top + 1) * _CELL_BYTES["cumprod"],
          f"the running product (gs.cumprod, MultiplicativeLR) up "
          f"to step {top} for {rows} config(s)", "evaluate smaller steps, or write the "
          "schedule in closed form (a constant factor gamma is gamma ** t)")
    from .interpreter import Env, run
    inner = Env(bound, np.arange(1, top + 1, dtype=np.int64)[None, :], c0, memo)
    with np.errstate(all="ignore"):
        body = run(sub, sub.nodes, {}, inner)[id(sub.root)] if top else np.ones((1, 0))
    body = np.asarray(body, dtype=np.float64)
    body = np.broadcast_to(body, (body.shape[0] if body.ndim == 2 else 1, top))
    table = np.ones((body.shape[0], top + 1), dtype=np.float64)
    np.cumprod(body, axis=1, out=table[:, 1:])
    return table


def count_table(plan, node, bound) -> np.ndarray:
    """A counted operation (``codegen.counted_nodes``: ``gamma ** milestone_count``) at every
    value its list count can take, ``0..width``: float64 (rows, width + 1), one row per
    config of ``bound`` when it depends on per-config parameters, else one row. The NumPy
    interpreter computes it, so a kernel's reads are the NumPy backend's values."""
    from .interpreter import Env, run
    count, nodes = _count_inputs(plan, node)
    width = bound.lists[count.args[0].value][0].shape[1]
    # (no step, table or host sequence among the nodes: the step row and memo go unread)
    env = Env(bound, np.zeros((1, 1), dtype=np.int64), 0, {})
    values = {id(count): np.arange(width + 1, dtype=np.int64)[None, :]}
    with np.errstate(all="ignore"):
        got = np.asarray(run(plan, nodes, values, env, keep=[node])[id(node)], np.float64)
    if got.ndim == 2 and got.shape[1] == width + 1:
        return np.ascontiguousarray(got)
    return np.ascontiguousarray(np.broadcast_to(got, (got.shape[0] if got.ndim == 2 else 1,
                                                      width + 1)))


def _count_inputs(plan, node) -> tuple:
    """(the counted node's list count, the nodes that compute it from the count and
    parameters, in plan order); remembered on the plan: every call's inputs ask."""
    memo = plan.__dict__.setdefault("_count_inputs", {})
    got = memo.get(id(node))
    if got is not None and got[0] is node:      # (an id is only trusted with its node)
        return got[1], got[2]
    from ..codegen import count_argument
    count = node.args[count_argument(node)]
    needed, todo = set(), [node]
    while todo:         # the node's inputs, not through the count
        n = todo.pop()
        if id(n) in needed or n is count:
            continue
        needed.add(id(n))
        todo.extend(n.args)
    nodes = [n for n in plan.nodes if id(n) in needed]
    memo[id(node)] = (node, count, nodes)
    return count, nodes


def gather_cumprod(plan, node, index, env):
    """Gather the running product at the chunk's steps; the table is cached for the
    evaluation (per config chunk when the body depends on per-config parameters)."""
    sub = plan.subplans[id(node)]
    top = max(int(env.memo["max_step"]), 0)
    tag = env.c0 if sub.root.deps & env.memo["per_config"] else None
    cached = env.memo.get(("cumprod", id(node)))
    if cached is None or cached[0] != tag:
        cached = (tag, cumprod_table(plan, node, env.bound, top, env.c0, env.memo))
        env.memo[("cumprod", id(node))] = cached
    return _read(cached[1], index)


def _read(table, index):
    """A host-tabulated sequence (rows, steps) at ``index`` (clamped to its steps)."""
    idx = np.clip(np.asarray(index, dtype=np.int64), 0, table.shape[1] - 1)
    if table.shape[0] == 1:
        return table[0][idx]
    idx = np.atleast_2d(idx)
    return np.take_along_axis(table, np.broadcast_to(idx, (table.shape[0], idx.shape[1])), 1)


def scan_table(node, bound, top: int) -> np.ndarray:
    """The host scan's values at steps ``0..top``: (rows, top + 1) float64, one row per config
    of ``bound`` when an input varies per config, else one row."""
    rule = node.value
    columns, given = {}, {}      # by the rule's own names; given: the schedule's names
    for own, a in zip(rule.arg_names, node.args[1:]):
        name = given[own] = a.value
        columns[own] = bound.lists[name] if own in rule.list_args else bound.scalars[name]
    if rule.needs is not None:
        lengths = columns[rule.needs][1][:, 0]
        need = top + rule.needs_extra
        short = np.flatnonzero(lengths < need)
        if short.size:
            i = int(short[0])
            raise ValueError(
                f"parameter {given[rule.needs]!r}: config {bound.offset + i} has {int(lengths[i])} "
                f"values, but {rule.name} at step {top} needs {need}; evaluate steps up to "
                f"{int(lengths[i]) - rule.needs_extra} or give a longer series")
    rows = max([c[0].shape[0] if isinstance(c, tuple) else c.shape[0]
                for c in columns.values()] or [1])
    from ..memory import check
    check(rows * (top + 1) * _CELL_BYTES["scan"],
          f"{rule.name} up to step {top} for {rows} config(s)",
          "evaluate fewer steps or configs at once")
    # the rule by identity (a rule object, such as a chain's, holds its own data), the inputs
    # and the length by content
    key = (id(rule.fn), digest(rule.name, columns, top))
    with _scans_lock:
        hit = _scans.get(key)
    table = hit[1] if hit is not None and hit[0] is rule.fn else None
    if table is None:
        table = np.asarray(rule.fn(top, **columns), dtype=np.float64)
        table.flags.writeable = False
        if table.nbytes <= _SCANS_BYTES:   # a step loop per call: one sweep's calls share it
            with _scans_lock:
                _scans[key] = (rule.fn, table)     # holding fn keeps its id from being reused
                while sum(t.nbytes for _, t in _scans.values()) > _SCANS_BYTES:
                    _scans.popitem(last=False)
    return np.broadcast_to(table, (rows, top + 1)) if table.shape[0] == 1 else table


# host scans already computed (see scan_table)
_scans: "OrderedDict[tuple, tuple]" = OrderedDict()
_scans_lock = threading.Lock()
_SCANS_BYTES = 64 * 2 ** 20


def gather_scan(node, index, env):
    top = max(int(env.memo.get("max_step", np.max(env.steps))), 0)
    per_config = frozenset(a.value for a in node.args[1:]) & env.memo.get(
        "per_config", per_config_names(env.bound))
    tag = env.c0 if per_config else None
    cached = env.memo.get(("scan", id(node)))
    if cached is None or cached[0] != tag:
        cached = (tag, scan_table(node, env.bound, top))
        env.memo[("scan", id(node))] = cached
    return _read(cached[1], index)




def per_config_names(bound) -> frozenset:
    """The parameters whose values differ between configs of ``bound``."""
    return frozenset([k for k, v in bound.scalars.items() if v.shape[0] > 1] +
                     [k for k, (v, _) in bound.lists.items() if v.shape[0] > 1])
