"""The plan interpreter: a plan evaluated with NumPy broadcasting, chunk by chunk under a
memory budget (the NumPy backend, and every backend's host-side work: explaining an error,
factorized tables, host tables, the loss laws' blocks).

Parameters enter as (configs, 1) columns and steps as a (1, steps) row, so each node is
computed over only the axes it depends on: step-only sub-expressions (the cosine of a shared
``T_max``) once for all configs, config-only ones once per config chunk. Temporaries are freed
after their last use; no full-size array is made besides the output.
"""

from __future__ import annotations

import numpy as np

from .. import expr as E
from .. import rng
from ..ops import FUNCTIONS, OPS
from .host_tables import gather_cumprod, gather_scan, per_config_names

_ELEMENTWISE = {name: op.numpy for name, op in OPS.items() if op.numpy is not None}
# operations whose boolean operands take part as 0/1 integers
_ARITH = frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "minimum",
                    "maximum", "neg", "abs", "where", "floor", "ceil", "float", "int"}
                   | {f.name for f in FUNCTIONS if f.dtype_rule != "float"})
CHUNK_TARGET = 1 << 17  # elements per chunk: temporaries stay in cache


class ScheduleError(ValueError):
    """A schedule that gives a non-finite value or an invalid operation (an integer division
    by zero, a random bound out of range) at a config and step, named in the message."""


class Env:
    """What a plan's leaves evaluate to for one block of configs and steps."""

    def __init__(self, bound, steps, c0, memo):
        self.bound, self.steps, self.c0, self.memo = bound, steps, c0, memo


def _where_msg(env: Env, node: E.Expr, mask, what: str):
    mask = np.atleast_2d(mask)
    i, j = np.unravel_index(int(np.argmax(mask)), mask.shape)
    at = f"config {env.c0 + i} ({env.bound.describe(i)})"
    if mask.shape[1] > 1:
        at += f", step {int(env.steps[0, j])}"
    raise ScheduleError(f"{what} in `{E.to_text(node)}` at {at}")


def _num(x, kind):
    """Booleans take part in arithmetic as 0/1 integers."""
    return np.asarray(x, dtype=np.int64) if kind == "bool" else x


def _apply(plan, node: E.Expr, args: list, env: Env):
    op = node.op
    if op in _ARITH:
        dtypes = plan.dtypes
        args = [_num(a, dtypes[id(x)]) for a, x in zip(args, node.args)]
    fn = _ELEMENTWISE.get(op)
    if fn is not None:
        return fn(*args)
    if op in ("floordiv", "mod"):
        a, b = args
        if plan.dtypes[id(node)] == "int":
            zero = np.asarray(b) == 0
            if zero.any():
                _where_msg(env, node, zero, "integer division by zero")
        return np.floor_divide(a, b) if op == "floordiv" else np.remainder(a, b)
    if op == "pow":
        return np.power(np.asarray(args[0], dtype=np.float64), args[1])
    if op == "where":
        return np.where(*args)
    if op in ("floor", "ceil"):
        if plan.dtypes[id(node)] == "int":
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


def run(plan, nodes, values: dict, env: Env, keep=()) -> dict:
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
            v = gather_cumprod(plan, n, values[id(n.args[1])], env)
        elif op == "scan":
            v = gather_scan(n, values[id(n.args[0])], env)
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


def split(plan, bound, n_steps, work_limit):
    """Partition the plan's nodes by the axes they vary over (each list in plan order).

    Step-only nodes are computed once for all steps when that fits in half the budget;
    otherwise they are computed per chunk like the rest.
    """
    per_config = per_config_names(bound)
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


def chunks(n_configs, n_steps, plan, bound, work_limit):
    width = max([v.shape[1] for v, _ in bound.lists.values()] + [1])
    per_elem = 8 * (len(plan.nodes) + 2) + (width if bound.lists else 0)
    target = max(1, min(CHUNK_TARGET, work_limit // per_elem))
    s_chunk = min(n_steps, target)
    c_chunk = max(1, min(n_configs, target // s_chunk))
    return c_chunk, s_chunk



def blocks(plan, bound, steps, work_limit, config_offset=None):
    """Yield (c0, c1, s0, s1, value block, env) over the whole (configs x steps) table."""
    if config_offset is None:
        config_offset = bound.offset
    groups, per_config = split(plan, bound, steps.size, work_limit)
    memo = {"max_step": int(steps.max()) if steps.size else 0, "per_config": per_config}
    steps_row = steps[None, :]
    with np.errstate(all="ignore"):
        shared = run(plan, groups[(False, False)], {},
                     Env(bound, steps_row[:, :1], config_offset, memo), keep=plan.nodes)
        step_only = run(plan, groups[(False, True)], dict(shared),
                        Env(bound, steps_row, config_offset, memo), keep=plan.nodes)
        c_chunk, s_chunk = chunks(bound.n, steps.size, plan, bound, work_limit)
        for c0 in range(0, bound.n, c_chunk):
            c1 = min(bound.n, c0 + c_chunk)
            part = bound.rows(c0, c1)
            env = Env(part, steps_row[:, :1], c0 + config_offset, memo)
            cfg = run(plan, groups[(True, False)], dict(shared), env, keep=plan.nodes)
            for s0 in range(0, steps.size, s_chunk):
                s1 = min(steps.size, s0 + s_chunk)
                values = dict(cfg)
                for n in groups[(False, True)]:
                    v = step_only[id(n)]
                    values[id(n)] = v[:, s0:s1] if np.ndim(v) == 2 and \
                        np.shape(v)[1] == steps.size else v
                env = Env(part, steps_row[:, s0:s1], c0 + config_offset, memo)
                run(plan, groups[(True, True)], values, env, keep=(plan.root,))
                yield c0, c1, s0, s1, values[id(plan.root)], env


def check_finite(block: np.ndarray, plan, env: Env):
    ok = np.isfinite(block)
    if not ok.all():
        bad = ~ok
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        value = block[i, j]
        raise ScheduleError(
            f"the schedule gives {value} at config {env.c0 + i} ({env.bound.describe(i)}), "
            f"step {int(env.steps[0, j])}; check the parameters (a zero length, the log of a "
            f"negative number, an overflow in the output dtype ...)")
