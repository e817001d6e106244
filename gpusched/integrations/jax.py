"""JAX: gpusched schedules as native JAX functions, optax schedules and ensemble tables.

``to_jax_fn(schedule, **values)`` (also ``gs.to_jax_fn``) writes the schedule's expression
graph as ``jax.numpy`` code: ``fn(step, **overrides)``, exact at every step (no table, nothing
to run past), jittable, vmappable over the step and over any scalar parameter, differentiable
in the float parameters. ``optax_schedule(schedule, config)`` is that function as an optax
schedule (``optax.adam(learning_rate=fn)``, ``inject_hyperparams``). ``ensemble_table`` gives
the ``(M, T)`` table for a ``jax.vmap`` ensemble.

JAX computes in float32 unless ``jax_enable_x64`` is set (then float64, equal to gpusched's
float64 tables, except that XLA's ``log`` is not the C library's: at a boundary of a cycle
computed through a logarithm (timm's ``cycle_mul``, fairseq's ``t_mult``, keras' ``t_mul``)
the cycle may change one step early or late). Running products and host scans
(MultiplicativeLR, plateau rules, chains) and random draws have no closed form here: those
schedules are refused, use
``ensemble_table``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from numpy.typing import DTypeLike

from .. import expr as E
from ..ops import OPS
from ..api import evaluate
from ..grid import GridLike, StepsLike
from ..interop import to_jax
from ..schedule import Schedule

__all__ = ["to_jax_fn", "optax_schedule", "ensemble_table"]


def to_jax_fn(schedule: Schedule | Callable, **values: Any) -> Callable[..., jax.Array]:
    """``fn(step, **overrides)``: ``schedule`` as a pure ``jax.numpy`` function of the step,
    with its parameters bound to ``values`` (validated now, like a one-config grid); an
    override replaces a scalar parameter at call time (a JAX value: traced, vmapped or
    differentiated; not validated)."""
    from ..schedule import as_schedule
    from ..scalar import one_config
    sched = as_schedule(schedule)
    bound, plan = one_config(sched, values, _NO_CLOSED_FORM, "(a running product, host scan, "
                             "host table or random draw), which has no closed form in JAX; use "
                             "gpusched.integrations.jax.ensemble_table")
    scalars = {k: v.reshape(-1)[0].item() for k, v in bound.scalars.items()}
    lists = {k: jnp.asarray(v[0, :int(n[0, 0])]) for k, (v, n) in bound.lists.items()}

    def fn(step, **overrides):
        unknown = sorted(set(overrides) - set(scalars))
        if unknown:
            raise TypeError(f"{unknown[0]!r} is not a scalar parameter of {sched.name!r}; "
                            f"those are {', '.join(scalars) or '(none)'}")
        env = {**scalars, **overrides}
        vals: dict = {}
        for n in plan.nodes:
            vals[id(n)] = _jax_node(n, [vals.get(id(a)) for a in n.args], step, env, lists,
                                    plan.dtypes)
        out = vals[id(plan.root)]
        return jnp.asarray(out, dtype=jnp.result_type(float))
    fn.__name__ = f"{sched.name}_jax"
    fn.__doc__ = f"{sched.name} as jax.numpy code of the step (gpusched.to_jax_fn)."
    return fn


_NO_CLOSED_FORM = frozenset({"cumprod", "scan", "table", "random_uniform", "random_below"})
# elementwise operations by their jax.numpy name (gpusched/ops.py)
_BINARY = {n: getattr(jnp, op.jax) for n, op in OPS.items() if op.arity == 2 and op.jax}
_UNARY = {n: getattr(jnp, op.jax) for n, op in OPS.items() if op.arity == 1 and op.jax}


def _jax_node(n, a, step, env, lists, dtypes):
    """One graph node in jax.numpy, from its operands' values ``a``."""
    op = n.op
    if op == "step":
        return jnp.asarray(step)
    if op == "const":
        return n.value
    if op == "param":
        return env.get(n.value)            # list parameters are read by the list ops
    if op in _BINARY:
        return _BINARY[op](*a)
    if op in _UNARY:
        return _UNARY[op](a[0])
    if op == "pow":
        return jnp.power(jnp.asarray(a[0], dtype=jnp.result_type(float)), a[1])
    if op == "where":
        return jnp.where(*a)
    if op in ("floor", "ceil"):
        return a[0] if dtypes[id(n.args[0])] != "float" else \
            (jnp.floor if op == "floor" else jnp.ceil)(a[0])
    if op == "float":
        return jnp.asarray(a[0], dtype=jnp.result_type(float))
    if op == "int":
        return jnp.trunc(a[0]).astype(jnp.result_type(int)) \
            if dtypes[id(n.args[0])] == "float" else jnp.asarray(a[0]).astype(int)
    lst: Any = lists[n.args[0].value] if op in E.LIST_OPS else None
    if op == "length":
        return lst.shape[0]
    if op in ("count_lt", "count_le", "count_cumsum_le"):
        ref = jnp.cumsum(lst) if op == "count_cumsum_le" else lst
        cmp = jnp.less if op == "count_lt" else jnp.less_equal
        return cmp(ref, jnp.expand_dims(jnp.asarray(a[1]), -1)).sum(-1)
    if op == "take":
        return lst[jnp.clip(a[1], 0, lst.shape[0] - 1)]
    if op in ("prod_first", "sum_first"):
        first = jnp.ones(1, lst.dtype) if op == "prod_first" else jnp.zeros(1, lst.dtype)
        run = jnp.concatenate([first, (jnp.cumprod if op == "prod_first" else jnp.cumsum)(lst)])
        return run[jnp.clip(jnp.asarray(a[1]).astype(int), 0, lst.shape[0])]
    raise NotImplementedError(f"JAX export: operation {op!r}")


def optax_schedule(schedule: Schedule | Callable, config: dict | None = None,
                   steps: int | None = None, *,
                   dtype: DTypeLike = "float32") -> Callable[..., jax.Array]:
    """``schedule`` for one config as an optax schedule: ``to_jax_fn(schedule, **config)``,
    exact at every count (``steps`` and ``dtype`` are accepted for compatibility; there is no
    table and no last step any more)."""
    return to_jax_fn(schedule, **(config or {}))


def ensemble_table(schedule: Schedule | Callable, grid: GridLike, steps: StepsLike, *,
                   dtype: DTypeLike = "float32", backend: str = "auto") -> jax.Array:
    """The (M, T) table as a JAX array (zero-copy through DLPack where possible)."""
    table = to_jax(evaluate(schedule, grid, steps=steps, dtype=dtype, backend=backend))
    return table if table.ndim == 2 else table[None, :]
