"""The NumPy backend: interprets a plan with broadcasting, chunk by chunk under a budget.

Parameters enter as (configs, 1) columns and steps as a (1, steps) row, so each node is
computed over only the axes it depends on: step-only sub-expressions (the cosine of a shared
``T_max``) once for all configs, config-only ones once per config chunk. Temporaries are freed
after their last use; no full-size array is made besides the output.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .. import expr as E
from .. import rng
from ..keys import digest
from ..ops import FUNCTIONS, OPS
from ..reductions import Accumulator
from ..interop import aligned_empty
from . import Backend

_ELEMENTWISE = {name: op.numpy for name, op in OPS.items() if op.numpy is not None}
# operations whose boolean operands take part as 0/1 integers
_ARITH = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "minimum",
                    "maximum", "neg", "abs", "where", "floor", "ceil", "float", "int"}
                   | {f.name for f in FUNCTIONS if f.kind != "float"})
CHUNK_TARGET = 1 << 17  # elements per chunk: temporaries stay in cache


class ScheduleError(ValueError):
    pass


class _Env:
    """What a plan's leaves evaluate to for one block of configs and steps."""

    def __init__(self, bound, steps, c0, memo):
        self.bound, self.steps, self.c0, self.memo = bound, steps, c0, memo


def _where_msg(env: _Env, node: E.Expr, mask, what: str):
    mask = np.atleast_2d(mask)
    i, j = np.unravel_index(int(np.argmax(mask)), mask.shape)
    at = f"config {env.c0 + i} ({env.bound.describe(i)})"
    if mask.shape[1] > 1:
        at += f", step {int(env.steps[0, j])}"
    raise ScheduleError(f"{what} in `{E.to_text(node)}` at {at}")


def _num(x, kind):
    """Booleans take part in arithmetic as 0/1 integers."""
    return np.asarray(x, dtype=np.int64) if kind == "bool" else x


def _apply(plan, node: E.Expr, args: list, env: _Env):
    op = node.op
    if op in _ARITH:
        kinds = plan.kinds
        args = [_num(a, kinds[id(x)]) for a, x in zip(args, node.args)]
    fn = _ELEMENTWISE.get(op)
    if fn is not None:
        return fn(*args)
    if op in ("floordiv", "mod"):
        a, b = args
        if plan.kinds[id(node)] == "int":
            zero = np.asarray(b) == 0
            if zero.any():
                _where_msg(env, node, zero, "integer division by zero")
        return np.floor_divide(a, b) if op == "floordiv" else np.remainder(a, b)
    if op == "pow":
        return np.power(np.asarray(args[0], dtype=np.float64), args[1])
    if op == "where":
        return np.where(*args)
    if op in ("floor", "ceil"):
        if plan.kinds[id(node)] == "int":
            return args[0]
        return np.floor(args[0]) if op == "floor" else np.ceil(args[0])
    if op == "float":
        return np.asarray(args[0], dtype=np.float64)
    if op == "int":
        x = args[0]
        return np.trunc(x).astype(np.int64) if np.asarray(x).dtype.kind == "f" else \
            np.asarray(x, dtype=np.int64)
    if op in ("count_lt", "count_le", "count_cumsum_le", "take", "length", "prod_first",
              "sum_first"):
        return _list_op(op, node, args, env)
    if op == "random_uniform":
        return rng.uniform(args[0], args[1], node.value)
    if op == "random_below":
        n = np.asarray(args[0])
        bad = (n < 1) | (n >= 2 ** 32)
        if bad.any():
            _where_msg(env, node, bad, "random bound outside [1, 2**32)")
        return rng.below(n, args[1], args[2], node.value)
    raise NotImplementedError(f"numpy backend: operation {op!r}")


def _list_op(op, node, args, env):
    values, lengths = env.bound.lists[node.args[0].value]
    if op == "length":
        return lengths
    if op in ("prod_first", "sum_first"):   # running products/sums, 1/0 in front: k reads k
        if op == "prod_first":
            products = np.cumprod(np.concatenate(
                [np.ones((values.shape[0], 1)), values.astype(np.float64)], axis=1), axis=1)
        else:
            first = np.zeros((values.shape[0], 1), dtype=values.dtype)
            body = np.where(np.arange(values.shape[1]) < lengths, values, 0)
            products = np.cumsum(np.concatenate([first, body], axis=1), axis=1)
        k = np.clip(np.atleast_2d(np.asarray(args[1], dtype=np.int64)), 0, lengths)
        if products.shape[0] == 1:
            return products[0][k]
        rows = max(products.shape[0], k.shape[0])
        return np.take_along_axis(np.broadcast_to(products, (rows, products.shape[1])),
                                  np.broadcast_to(k, (rows, k.shape[1])), axis=1)
    if op == "count_cumsum_le":       # count_le over the running sums; padding stays padding
        valid = np.arange(values.shape[1]) < lengths
        sums = np.cumsum(np.where(valid, values, 0), axis=1)
        pad = np.inf if values.dtype.kind == "f" else np.iinfo(np.int64).max
        values, op = np.where(valid, sums, pad).astype(values.dtype), "count_le"
    x = np.asarray(args[1])
    if values.shape[0] == 1:          # one list for every config: any shape of x
        if op == "take":
            return values[0][np.clip(x, 0, max(int(lengths[0, 0]) - 1, 0))]
        cmp = np.less if op == "count_lt" else np.less_equal
        return cmp(values[0], x[..., None]).sum(axis=-1, dtype=np.int64)
    x2 = np.atleast_2d(x)
    if op == "take":
        idx = np.clip(x2, 0, np.maximum(lengths - 1, 0))
        if values.shape[0] == 1:
            return values[0][idx]
        rows = max(values.shape[0], idx.shape[0])
        return np.take_along_axis(np.broadcast_to(values, (rows, values.shape[1])),
                                  np.broadcast_to(idx, (rows, idx.shape[1])), axis=1)
    cmp = np.less if op == "count_lt" else np.less_equal
    # (c, 1, K) against (c, s, 1): padding (int64 max / inf) never counts
    return cmp(values[:, None, :], x2[:, :, None]).sum(axis=2, dtype=np.int64)


def _last_uses(plan, nodes) -> dict:
    """id(node) -> position of its last use in ``nodes``; remembered on the plan for the
    node lists it keeps (:func:`_split`'s), so small calls do not recount them."""
    memo = plan.__dict__.setdefault("_last_uses", {})
    got = memo.get(id(nodes))
    if got is not None and got[0] is nodes:
        return got[1]
    last = {}
    for pos, n in enumerate(nodes):
        for a in n.args:
            last[id(a)] = pos
    if len(memo) < 64:
        memo[id(nodes)] = (nodes, last)      # holding the list keeps its id unique
    return last


def run(plan, nodes, values: dict, env: _Env, keep=()) -> dict:
    """Compute ``nodes`` (dependency order) into ``values``; free temporaries after last use."""
    last = _last_uses(plan, nodes)
    keep_ids = {id(k) for k in keep}
    for pos, n in enumerate(nodes):
        if id(n) in values:
            continue
        op = n.op
        if op == "step":
            v = env.steps
        elif op == "const":
            v = n.value
        elif op == "param":
            v = env.bound.scalars.get(n.value)  # list parameters are read by the list ops
        elif op == "table":
            v = n.value.values(env.steps.ravel(), env.memo.setdefault(id(n.value), {}))[None, :]
        elif op == "cumprod":
            v = _cumprod(plan, n, values[id(n.args[1])], env)
        elif op == "scan":
            v = _scan(n, values[id(n.args[0])], env)
        else:
            v = _apply(plan, n, [values[id(a)] for a in n.args], env)
        values[id(n)] = v
        if op != "const":
            for a in n.args:
                if last.get(id(a)) == pos and id(a) not in keep_ids and a.op not in (
                        "step", "param", "const"):
                    values.pop(id(a), None)
    return values


# bytes per (row, step) cell a host-tabulated sequence holds while it is built
_CELL_BYTES = {"cumprod": 8 * 2, "scan": 8 * 3}


def host_table_bytes(plan, bound, top: int) -> int:
    """Bytes of the per-config sequences the host tabulates for ``plan`` up to step ``top``
    (running products and host scans, with their temporaries): what :func:`cumprod_table`
    and :func:`scan_table` will check and allocate, known before any work."""
    varying = _per_config_names(bound)
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
        memo = {"max_step": top, "per_config": _per_config_names(bound)}
    sub = plan.subplans[id(node)]
    rows = bound.n if sub.root.deps & memo["per_config"] else 1
    from ..memory import check
    check(rows * (top + 1) * _CELL_BYTES["cumprod"],
          f"the running product (gs.cumprod, MultiplicativeLR) up "
          f"to step {top} for {rows} config(s)", "evaluate smaller steps, or write the "
          "schedule in closed form (a constant factor gamma is gamma ** t)")
    inner = _Env(bound, np.arange(1, top + 1, dtype=np.int64)[None, :], c0, memo)
    with np.errstate(all="ignore"):
        body = run(sub, sub.nodes, {}, inner)[id(sub.root)] if top else np.ones((1, 0))
    body = np.asarray(body, dtype=np.float64)
    body = np.broadcast_to(body, (body.shape[0] if body.ndim == 2 else 1, top))
    table = np.ones((body.shape[0], top + 1), dtype=np.float64)
    np.cumprod(body, axis=1, out=table[:, 1:])
    return table


def _cumprod(plan, node, index, env: _Env):
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


def _scan(node, index, env: _Env):
    top = max(int(env.memo.get("max_step", np.max(env.steps))), 0)
    per_config = frozenset(a.value for a in node.args[1:]) & env.memo.get(
        "per_config", _per_config_names(env.bound))
    tag = env.c0 if per_config else None
    cached = env.memo.get(("scan", id(node)))
    if cached is None or cached[0] != tag:
        cached = (tag, scan_table(node, env.bound, top))
        env.memo[("scan", id(node))] = cached
    return _read(cached[1], index)


def _per_config_names(bound) -> frozenset:
    return frozenset([k for k, v in bound.scalars.items() if v.shape[0] > 1] +
                     [k for k, (v, _) in bound.lists.items() if v.shape[0] > 1])


def _split(plan, bound, n_steps, work_limit):
    """Partition the plan's nodes by the axes they vary over (each list in plan order).

    Step-only nodes are computed once for all steps when that fits in half the budget;
    otherwise they are computed per chunk like the rest.
    """
    per_config = _per_config_names(bound)
    memo = plan.__dict__.setdefault("_groups", {})
    step_only = memo.get((per_config, None))
    if step_only is None:
        step_only = memo[(per_config, None)] = sum(
            1 for n in plan.nodes if plan.axes(n, per_config) == (False, True))
    fits = step_only * n_steps * 8 <= work_limit // 2
    groups = memo.get((per_config, fits))
    if groups is not None:
        return groups, per_config
    groups = {(False, False): [], (False, True): [], (True, False): [], (True, True): []}
    for n in plan.nodes:
        groups[plan.axes(n, per_config)].append(n)
    if not fits:
        moved = {id(n) for n in groups[(False, True)]}
        groups[(True, True)] = [n for n in plan.nodes
                                if id(n) in moved or plan.axes(n, per_config) == (True, True)]
        groups[(False, True)] = []
    if len(memo) < 64:
        memo[(per_config, fits)] = groups
    return groups, per_config


def _chunks(n_configs, n_steps, plan, bound, work_limit):
    width = max([v.shape[1] for v, _ in bound.lists.values()] + [1])
    per_elem = 8 * (len(plan.nodes) + 2) + (width if bound.lists else 0)
    target = max(1, min(CHUNK_TARGET, work_limit // per_elem))
    s_chunk = min(n_steps, target)
    c_chunk = max(1, min(n_configs, target // s_chunk))
    return c_chunk, s_chunk


class NumpyBackend(Backend):
    name = "numpy"
    device = "cpu"

    def _blocks(self, plan, bound, steps, work_limit, config_offset=None):
        """Yield (c0, c1, s0, s1, value block) over the whole (configs x steps) table."""
        if config_offset is None:
            config_offset = bound.offset
        groups, per_config = _split(plan, bound, steps.size, work_limit)
        memo = {"max_step": int(steps.max()) if steps.size else 0, "per_config": per_config}
        steps_row = steps[None, :]
        with np.errstate(all="ignore"):
            shared = run(plan, groups[(False, False)], {},
                         _Env(bound, steps_row[:, :1], config_offset, memo), keep=plan.nodes)
            step_only = run(plan, groups[(False, True)], dict(shared),
                            _Env(bound, steps_row, config_offset, memo), keep=plan.nodes)
            c_chunk, s_chunk = _chunks(bound.n, steps.size, plan, bound, work_limit)
            for c0 in range(0, bound.n, c_chunk):
                c1 = min(bound.n, c0 + c_chunk)
                part = bound.rows(c0, c1)
                env = _Env(part, steps_row[:, :1], c0 + config_offset, memo)
                cfg = run(plan, groups[(True, False)], dict(shared), env, keep=plan.nodes)
                for s0 in range(0, steps.size, s_chunk):
                    s1 = min(steps.size, s0 + s_chunk)
                    values = dict(cfg)
                    for n in groups[(False, True)]:
                        v = step_only[id(n)]
                        values[id(n)] = v[:, s0:s1] if np.ndim(v) == 2 and \
                            np.shape(v)[1] == steps.size else v
                    env = _Env(part, steps_row[:, s0:s1], c0 + config_offset, memo)
                    run(plan, groups[(True, True)], values, env, keep=(plan.root,))
                    yield c0, c1, s0, s1, values[id(plan.root)], env

    def _factorized(self, plan, bound, steps, work_limit):
        """Blocks of the whole grid when it factorizes (see :func:`axis_form`), else None."""
        form = axis_form(plan, bound)
        if form is None:
            return None
        return _axis_blocks(plan, form, steps, work_limit)

    writes_host_out = True

    def table(self, plan, bound, steps, dtype, *, work_limit, config_offset=None, out=None):
        given = out
        blocks = self._factorized(plan, bound, steps, work_limit)
        if blocks is not None:
            try:
                out = aligned_empty((bound.n, steps.size), dtype) if given is None else given
                for s0, s1, block in blocks:
                    dest = out[:, s0:s1]
                    dest[...] = block
                    if out.dtype.kind == "f" and not np.isfinite(dest).all():
                        raise ScheduleError("non-finite")
                return out
            except ScheduleError:
                pass        # the row path below finds the first bad config and step
        out = aligned_empty((bound.n, steps.size), dtype) if given is None else given
        check = out.dtype.kind == "f"
        for c0, c1, s0, s1, block, env in self._blocks(plan, bound, steps, work_limit,
                                                       config_offset):
            dest = out[c0:c1, s0:s1]
            dest[...] = block
            if check:
                _check_finite(dest, plan, env)
        return out

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None):
        if op == "last":
            return self.table(plan, bound, steps[-1:], dtype, work_limit=work_limit)[:, 0]
        blocks = self._factorized(plan, bound, steps, work_limit)
        if blocks is not None:
            try:
                acc = Accumulator(np, bound.n, op, threshold)
                for s0, s1, block in blocks:
                    vals = block.astype(dtype)
                    if vals.dtype.kind == "f" and not np.isfinite(vals).all():
                        raise ScheduleError("non-finite")
                    acc.add(0, bound.n, vals, steps[s0:s1])
                return acc.result(steps.size, dtype)
            except ScheduleError:
                pass        # the row path below reports the first bad config and step
        acc = Accumulator(np, bound.n, op, threshold)
        for c0, c1, s0, s1, block, env in self._blocks(plan, bound, steps, work_limit):
            vals = np.broadcast_to(block, (c1 - c0, s1 - s0)).astype(dtype)
            if vals.dtype.kind == "f":
                _check_finite(vals, plan, env)
            acc.add(c0, c1, vals, steps[s0:s1])
        return acc.result(steps.size, dtype)


def _check_finite(block: np.ndarray, plan, env: _Env):
    ok = np.isfinite(block)
    if not ok.all():
        bad = ~ok
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        value = block[i, j]
        raise ScheduleError(
            f"the schedule gives {value} at config {env.c0 + i} ({env.bound.describe(i)}), "
            f"step {int(env.steps[0, j])}; check the parameters (a zero length, the log of a "
            f"negative number, an overflow in the output dtype ...)")


def axis_form(plan, bound):
    """The grid in axis form, when it is a cartesian product the plan can use factorized:
    each per-config parameter becomes an array along its own axis, so a sub-expression is
    computed over only the axes (and steps) it depends on. None when it does not apply (explicit
    trials, a chunk of a grid, per-config lists, running products or host scans)."""
    if bound.axes is None or bound.offset or bound.n < 2:
        return None
    if any(v.shape[0] > 1 for v, _ in bound.lists.values()):
        return None
    per_config = _per_config_names(bound)
    if any(sub.root.deps & per_config for sub in plan.subplans.values()):
        return None
    if any(n.op == "scan" and n.deps & per_config for n in plan.nodes):
        return None
    names = [k for k, _ in bound.axes]
    sizes = [n for _, n in bound.axes]
    ndim = len(sizes) + 1
    scalars = {}
    for name, arr in bound.scalars.items():
        if arr.shape[0] == 1:
            scalars[name] = arr.reshape((1,) * ndim)
            continue
        if name not in names:
            return None
        k = names.index(name)
        along = arr[:, 0].reshape(sizes)[tuple(slice(None) if i == k else 0
                                               for i in range(len(sizes)))]
        shape = [1] * ndim
        shape[k] = sizes[k]
        scalars[name] = along.reshape(shape)
    shared_lists = {k: (v, n) for k, (v, n) in bound.lists.items()}
    from ..binding import Bound
    form = Bound(bound.n, scalars, shared_lists, bound.kinds)
    form.axes = bound.axes
    return form


def _axis_blocks(plan, form, steps, work_limit):
    """Yield (s0, s1, (configs, s1 - s0) block) over step chunks of the factorized grid."""
    sizes = [n for _, n in form.axes]
    full = sum(1 for n in plan.nodes if "step" in n.deps) + 2
    # chunks of about CHUNK_TARGET elements keep the full-size temporaries in cache
    s_chunk = max(1, min(steps.size, work_limit // (8 * full * form.n),
                         CHUNK_TARGET // form.n))
    memo = {"max_step": int(steps.max()), "per_config": frozenset()}
    lead = (1,) * len(sizes)
    with np.errstate(all="ignore"):
        for s0 in range(0, steps.size, s_chunk):
            s1 = min(steps.size, s0 + s_chunk)
            env = _Env(form, steps[s0:s1].reshape(lead + (s1 - s0,)), 0, memo)
            root = run(plan, plan.nodes, {}, env, keep=(plan.root,))[id(plan.root)]
            block = np.broadcast_to(root, tuple(sizes) + (s1 - s0,))
            yield s0, s1, block.reshape(form.n, s1 - s0)


def explain(plan, bound, steps, config: int, step_pos: int, dtype) -> None:
    """Re-evaluate one config (at one step) here to raise the precise error a compiled
    backend detected (a non-finite value, an integer division by zero ...)."""
    one = bound.rows(config, config + 1)
    at = steps[step_pos:step_pos + 1] if step_pos >= 0 else steps
    NumpyBackend().table(plan, one, at, dtype, work_limit=1 << 24)
    raise ScheduleError(f"the schedule gives a non-finite value or an invalid operation at "
                        f"config {one.offset} ({one.describe(0)})")
