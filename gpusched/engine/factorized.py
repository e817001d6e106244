"""Grid factorization for compiled kernels: expensive step-dependent sub-expressions that vary
over only some axes of a cartesian grid are computed once over those axes (by the
interpreter on the grid's axis form, engine/axes.py) and read by the kernel by index,
instead of once per config.

On W1 (a cosine that depends on ``warmup_steps`` and the step, not on ``peak`` or
``end_value``) the cosine table is 4 x steps instead of 1,024 x steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen import live_nodes
from ..keys import digest
from ..ops import EXPENSIVE
from .axes import axis_form
from .interpreter import Env, ScheduleError, run


@dataclass
class Precomputed:
    nodes: list          # plan nodes read from tables, in plan order
    arrays: list         # one flat contiguous array per node
    strides: list        # per node: int64 element strides per grid axis (0 where broadcast)
    sizes: np.ndarray    # grid axis sizes
    config_strides: np.ndarray   # flat config index -> axis index: (c // stride) % size
    key: str             # which nodes: part of the kernel's cache key

    def reads(self, plan) -> dict:
        # an unsigned index: Numba wraps a signed one (a test and a select per read); the
        # law kernel's fill of the docs page's screening ran ~14 % faster
        return {id(n): f"pre{k}[np.uint64(pb{k} + j)]" for k, n in enumerate(self.nodes)}

    def arg_names(self) -> list:
        return ["gs_sizes", "gs_cstrides"] + [x for k in range(len(self.nodes))
                                               for x in (f"pre{k}", f"ps{k}")]

    def args(self) -> list:
        return [self.sizes, self.config_strides] + [x for a, s in zip(self.arrays, self.strides)
                                                    for x in (a, s)]

    def row_offsets(self, k: int) -> np.ndarray:
        """Every config's offset of its row in table ``k`` (the Python prologue's sum, done
        once here for kernels that take it as an array)."""
        c: np.ndarray = np.arange(int(np.prod(self.sizes)), dtype=np.int64)
        out = np.zeros_like(c)
        for size, cstride, stride in zip(self.sizes, self.config_strides, self.strides[k]):
            out += ((c // cstride) % size) * stride
        return out

    def prologue(self) -> list:
        """Per config: the offset of its row in each table."""
        lines = []
        for k in range(len(self.nodes)):
            lines += [f"pb{k} = 0", "for gs_i in range(gs_sizes.shape[0]):",
                      f"    pb{k} += ((c // gs_cstrides[gs_i]) % gs_sizes[gs_i]) * ps{k}[gs_i]"]
        return lines


def precompute(plan, bound, steps, budget_bytes: int) -> Precomputed | None:
    """The tables for ``plan`` on ``bound``'s grid, or None when nothing is worth it."""
    form = axis_form(plan, bound)
    if form is None:
        return None
    sizes = [n for _, n in form.axes]
    varying = {k for k, n in form.axes if n > 1}
    cands = [n for n in plan.nodes if n.op in EXPENSIVE and "step" in n.deps
             and not varying <= (n.deps - {"step"})]
    live = live_nodes(plan, {id(n) for n in cands})
    cands = [n for n in cands if id(n) in live]
    if not cands:
        return None
    need = 0
    for n in cands:
        cells = steps.size
        for name, size in form.axes:
            cells *= size if name in n.deps else 1
        need += cells * 8
    if need > budget_bytes:
        return None
    memo = {"max_step": int(steps.max()), "per_config": frozenset()}
    env = Env(form, steps.reshape((1,) * len(sizes) + (steps.size,)), 0, memo)
    wanted = _ancestors(plan, cands)
    try:
        with np.errstate(all="ignore"):
            values = run(plan, [n for n in plan.nodes if id(n) in wanted], {}, env,
                         keep=cands)
    except (ScheduleError, IndexError, ValueError):
        return None        # the per-config kernel reports it precisely
    arrays, strides = [], []
    for n in cands:
        kind = plan.dtypes[id(n)]
        arr = np.asarray(values[id(n)], dtype=np.int64 if kind == "int" else np.float64)
        arr = arr.reshape(arr.shape[:0] + (1,) * (len(sizes) + 1 - arr.ndim) + arr.shape)
        arr = np.ascontiguousarray(np.broadcast_to(arr, arr.shape[:-1] + (steps.size,)))
        st = [arr.strides[i] // arr.itemsize if arr.shape[i] > 1 else 0
              for i in range(len(sizes))]
        arrays.append(arr.ravel())
        strides.append(np.asarray(st, dtype=np.int64))
    cstr: np.ndarray = np.ones(len(sizes), dtype=np.int64)
    for i in range(len(sizes) - 2, -1, -1):
        cstr[i] = cstr[i + 1] * sizes[i + 1]
    position = {id(n): k for k, n in enumerate(plan.nodes)}
    key = digest([position[id(n)] for n in cands], [plan.dtypes[id(n)] for n in cands])
    return Precomputed(cands, arrays, strides, np.asarray(sizes, dtype=np.int64), cstr,
                       key)


def _ancestors(plan, nodes) -> set:
    out, todo = set(), list(nodes)
    while todo:
        n = todo.pop()
        if id(n) in out:
            continue
        out.add(id(n))
        todo.extend(n.args[1:] if n.op == "cumprod" else n.args)
    return out
