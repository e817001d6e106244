"""JAX: gpusched schedules as optax-compatible callables, and ensemble tables.

``optax_schedule(schedule, config, steps)`` tabulates one config's values for steps
``0..steps-1`` once and returns ``count -> value``, jittable (a clipped table lookup; past the
end the last value holds), usable wherever optax takes a schedule
(``optax.adam(learning_rate=fn)``, ``inject_hyperparams``). ``ensemble_table`` gives the
``(M, T)`` table for a ``jax.vmap`` ensemble.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..api import evaluate
from ..grid import trials
from ..interop import to_jax

__all__ = ["optax_schedule", "ensemble_table"]


def optax_schedule(schedule, config: dict | None = None, steps: int = 10000, *,
                   dtype="float32"):
    """A jittable ``count -> value`` for one config (``config`` binds the parameters the
    schedule does not fix)."""
    grid = trials([config]) if config else None
    table = jnp.asarray(to_jax(evaluate(schedule, grid, steps=steps, dtype=dtype,
                                        backend="numpy"))).reshape(-1)
    last = table.shape[0] - 1

    def fn(count):
        return table[jnp.clip(jnp.asarray(count, dtype=jnp.int32), 0, last)]
    return fn


def ensemble_table(schedule, grid, steps, *, dtype="float32", backend="auto"):
    """The (M, T) table as a JAX array (zero-copy through DLPack where possible)."""
    table = to_jax(evaluate(schedule, grid, steps=steps, dtype=dtype, backend=backend))
    return table if table.ndim == 2 else table[None, :]
