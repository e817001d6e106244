"""The NumPy backend: the engine's interpreter (gpusched/engine) evaluates the plan with
broadcasting, chunk by chunk under the memory budget."""

from __future__ import annotations

from ..engine import evaluate
from . import Backend


class NumpyBackend(Backend):
    name = "numpy"
    device = "cpu"
    writes_host_out = True

    def table(self, plan, bound, steps, dtype, *, work_limit, config_offset=None, out=None):
        return evaluate.table(plan, bound, steps, dtype, work_limit=work_limit,
                              config_offset=config_offset, out=out)

    def reduce(self, plan, bound, steps, op, dtype, *, work_limit, threshold=None):
        return evaluate.reduce(plan, bound, steps, op, dtype, work_limit=work_limit,
                               threshold=threshold)
