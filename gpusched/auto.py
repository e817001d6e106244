"""How ``backend="auto"`` picks NumPy or Numba on the CPU: never a compile the job does not need.

A Numba kernel computes faster than NumPy interprets the graph, but it costs a compile the
first time a graph is seen, a load from the kernel cache in each new process, and Numba's own
start-up the first time a process uses it. With ``pairs`` (config, step) pairs and ``nodes``
step-dependent operations in the graph::

    numpy_s = pairs * nodes * NUMPY_NS * 1e-9 + all_nodes * NUMPY_NODE_S
    numba_s = pairs * nodes * NUMBA_NS * 1e-9 / threads
    setup_s = START_S (Numba not imported yet)
              + COMPILE_S[0] + COMPILE_S[1] * all_nodes   (kernel neither in this process
                                                           nor in the cache)
              or LOAD_S                                   (in the cache on disk)

``auto`` runs Numba when ``numba_s + setup_s + CALL_S <= numpy_s`` (``gs.predict_loss``:
:func:`choose_law`, the same rule with the law kernel's costs). Otherwise it runs NumPy
and remembers the NumPy time spent on this graph in this process; once that time would pass
``setup_s``, it runs Numba (ski rental: a sweep tool repeating a medium job pays at most about
twice what the better choice would have cost, and a one-off job never waits for a compile).
The per-operation costs are medians over the catalog (the spread is wide: transcendental
calls cost both backends alike, cheap arithmetic is many times faster in a kernel); they and
the compile line are fitted on a 2-core CPU by ``python -m gpusched.bench.compile --twins``
(``bench/results/compile-cpu-2core-amd-epyc.md``); NUMPY_NODE_S and CALL_S from the
per-call latency of 1-config x 1,000-step calls (CosineAnnealingLR, 15 plan nodes: 0.65 ms on
NumPy; OneCycleLR, 64 nodes: 1.44 ms on NumPy, 0.91 ms on a compiled Numba kernel).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

NUMPY_NS = 3.4          # ns per (pair x step-dependent operation), NumPy broadcasting
NUMPY_NODE_S = 16e-6    # the interpreter's own cost per plan node and call (small calls)
NUMBA_NS = 2.1          # the same on one thread of a Numba kernel
START_S = 1.2           # importing Numba and its first dispatch in a fresh process
LOAD_S = 0.015          # loading a kernel from Numba's cache
CALL_S = 5e-4           # a compiled kernel's call: arguments, thread pool
COMPILE_S = (0.95, 0.0126)   # seconds: a + b * plan nodes (median 1.2 s, max 2.4 s)
# gs.predict_loss (multi-power law, final loss; W5's WSD, 300 configs x 24,000 steps): the
# NumPy fold per (config, step), the fused Numba kernel per pair on one thread when no
# shape is shared (configs sharing shapes run faster), and a new schedule's law kernel
# compile (its walks, compiled once per installation, cost ~4.5 s more the first time)
LAW_NUMPY_NS = 107.0
LAW_NUMBA_NS = 17.0
LAW_COMPILE_S = 4.0

_rent: OrderedDict = OrderedDict()     # graph signature -> NumPy seconds spent on it
_lock = threading.Lock()
_REMEMBER = 4096


def step_operations(plan) -> int:
    """Operations of ``plan`` that run for every (config, step) pair (counted once a plan)."""
    count = plan.__dict__.get("_step_operations")
    if count is None:
        count = sum(1 for n in plan.nodes
                    if "step" in n.deps and n.op not in ("step", "const", "param"))
        plan.__dict__["_step_operations"] = count
    return count


def estimates(plan, pairs: int, threads: int) -> tuple:
    """(numpy_s, numba_s) to compute ``pairs`` pairs of ``plan``."""
    work = pairs * step_operations(plan) * 1e-9
    return (work * NUMPY_NS + len(plan.nodes) * NUMPY_NODE_S,
            work * NUMBA_NS / max(threads, 1))


def setup_seconds(plan, state: str, compile_s: float | None = None) -> float:
    """Numba's cost before computing: start-up, then a compile (``compile_s``, else the
    table kernel's line) or a cache load."""
    start = 0.0 if "numba" in sys.modules else START_S
    if state == "process":
        return start
    if state == "disk":
        return start + LOAD_S
    if compile_s is not None:
        return start + compile_s
    return start + COMPILE_S[0] + COMPILE_S[1] * len(plan.nodes)


def choose(numba, plan, bound, steps, work_limit) -> tuple:
    """(``"numba"`` or ``"numpy"``, why) for one call."""
    from .backends.workers import thread_count
    numpy_s, numba_s = estimates(plan, bound.n * steps.size, thread_count())
    return _decide(numba, plan, numpy_s, numba_s,
                   lambda: numba.kernel_state(plan, bound, steps, work_limit))


def choose_law(numba, plan, bound, steps, kernel_state) -> tuple:
    """:func:`choose` for ``gs.predict_loss``: the NumPy law fold against the fused law
    kernel, whose compile (``LAW_COMPILE_S``) is the law module's, not the table kernel's;
    ``kernel_state()``: the law module's ``"process"``, ``"disk"`` or ``"none"``."""
    from .backends.workers import thread_count
    pairs = bound.n * steps.size
    numpy_s = pairs * LAW_NUMPY_NS * 1e-9
    numba_s = pairs * LAW_NUMBA_NS * 1e-9 / max(thread_count(), 1)
    return _decide(numba, plan, numpy_s, numba_s, kernel_state, LAW_COMPILE_S)


def _decide(numba, plan, numpy_s: float, numba_s: float, kernel_state,
            compile_s: float | None = None) -> tuple:
    if numba_s + setup_seconds(plan, "process") + CALL_S >= numpy_s:
        return "numpy", f"auto: NumPy, est. {_t(numpy_s)}, faster than a compiled kernel"
    setup = setup_seconds(plan, kernel_state(), compile_s) + CALL_S
    if numba_s + setup <= numpy_s:
        return "numba", f"auto: Numba, setup {_t(setup)} < NumPy's est. {_t(numpy_s)}"
    chosen = _rented(plan, numpy_s, setup)
    if chosen[0] == "numpy":
        numba.forget_precomputed()      # kernel_state's tables: no Numba run will read them
    return chosen


def _rented(plan, numpy_s: float, setup: float) -> tuple:
    key = plan.signature
    with _lock:
        spent = _rent.pop(key, 0.0)
        if spent + numpy_s > setup:
            return "numba", (f"auto: Numba, NumPy has spent {_t(spent)} on this schedule, "
                             f"more than Numba's setup ({_t(setup)})")
        _rent[key] = spent + numpy_s
        while len(_rent) > _REMEMBER:
            _rent.popitem(last=False)
    return "numpy", f"auto: NumPy, est. {_t(numpy_s)} < Numba's setup {_t(setup)}"


def _t(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.2f} ms"
