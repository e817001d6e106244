"""A cartesian grid in axis form: each per-config parameter an array along its own axis, so
a sub-expression is computed over only the axes (and steps) it depends on (the NumPy backend's
fast path, and the factorized tables of compiled kernels)."""

from __future__ import annotations

import numpy as np

from .host_tables import per_config_names
from . import interpreter
from .interpreter import Env, run


def axis_form(plan, bound):
    """The grid in axis form, when it is a cartesian product the plan can use factorized:
    each per-config parameter becomes an array along its own axis, so a sub-expression is
    computed over only the axes (and steps) it depends on. None when it does not apply (explicit
    trials, a chunk of a grid, per-config lists, running products or host scans)."""
    if bound.axes is None or bound.offset or bound.n < 2:
        return None
    if any(v.shape[0] > 1 for v, _ in bound.lists.values()):
        return None
    per_config = per_config_names(bound)
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
    form = Bound(bound.n, scalars, shared_lists, bound.dtypes)
    form.axes = bound.axes
    return form


def axis_blocks(plan, form, steps, work_limit):
    """Yield (s0, s1, (configs, s1 - s0) block) over step chunks of the factorized grid."""
    sizes = [n for _, n in form.axes]
    full = sum(1 for n in plan.nodes if "step" in n.deps) + 2
    # chunks of about CHUNK_TARGET elements keep the full-size temporaries in cache
    s_chunk = max(1, min(steps.size, work_limit // (8 * full * form.n),
                         interpreter.CHUNK_TARGET // form.n))
    memo = {"max_step": int(steps.max()), "per_config": frozenset()}
    lead = (1,) * len(sizes)
    with np.errstate(all="ignore"):
        for s0 in range(0, steps.size, s_chunk):
            s1 = min(steps.size, s0 + s_chunk)
            env = Env(form, steps[s0:s1].reshape(lead + (s1 - s0,)), 0, memo)
            root = run(plan, plan.nodes, {}, env, keep=(plan.root,))[id(plan.root)]
            block = np.broadcast_to(root, tuple(sizes) + (s1 - s0,))
            yield s0, s1, block.reshape(form.n, s1 - s0)
