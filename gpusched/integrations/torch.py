"""torch: gpusched schedules in a training loop.

``ScheduleLR(optimizer, schedule, **values)`` (also ``gs.to_torch_scheduler``) is an
``LRScheduler`` that computes the schedule's value at each step from its graph (plain Python,
the same scalar code as the Numba kernels: exact at every step, no table, no last step), and
can drive the momentum (``momentum=`` a schedule, e.g. OneCycleLR's ``output="momentum"``
twin) as torch's OneCycleLR and CyclicLR do. ``TableLR(optimizer, values)`` replays a
precomputed row instead (``values[t]``, one row for every param group or one per group);
``ensemble_table`` gives the ``(M, T)`` learning rates of ``M`` ensemble members (a
``torch.func``/vmap ensemble, one config each) as a tensor, without a copy where the devices
match.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from numpy.typing import DTypeLike
from torch.optim.lr_scheduler import LRScheduler

from ..api import evaluate
from ..grid import GridLike, StepsLike
from ..interop import to_torch
from ..schedule import Schedule

__all__ = ["ScheduleLR", "to_torch_scheduler", "TableLR", "ensemble_table"]


class ScheduleLR(LRScheduler):
    """Each param group's lr is ``schedule`` at the step (``values`` bind its parameters;
    a ``base_lr`` left unbound is each group's initial lr, as torch's schedulers take it).

    ``momentum``: a schedule of the momentum, written to each group's ``momentum`` (SGD,
    RMSprop) or ``betas[0]`` (Adam-like) at every step; ``"auto"`` (the default) is the
    twin's own momentum for ``torch.OneCycleLR`` and ``torch.CyclicLR`` (unless built with
    ``cycle_momentum=False``), as torch cycles it, and none otherwise; ``None``: none.
    Checkpoints (``state_dict``) hold the step only, as tensors and numbers (default
    ``torch.load`` reads them).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule | Callable, *,
                 momentum: Schedule | Callable | str | None = "auto", last_epoch: int = -1,
                 **values: Any) -> None:
        from ..schedule import as_schedule
        from ..scalar import ScalarFunction
        sched = as_schedule(schedule)
        if isinstance(momentum, str):
            if momentum != "auto":
                raise ValueError(f"momentum={momentum!r}: give a schedule, 'auto' or None")
            momentum = momentum_twin(sched)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self._lr_fns = [ScalarFunction(sched, self._group_values(sched, group, values))
                        for group in optimizer.param_groups]
        self._momentum_fns = None
        if momentum is not None:
            msched = as_schedule(momentum)
            keys = set(msched.param_specs)
            self._momentum_fns = [ScalarFunction(msched, self._group_values(
                msched, group, {k: v for k, v in values.items() if k in keys}))
                for group in optimizer.param_groups]
            for group in optimizer.param_groups:
                if "momentum" not in group and "betas" not in group:
                    raise ValueError(f"momentum=: the optimizer {type(optimizer).__name__} has "
                                     f"neither momentum nor betas to drive")
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _group_values(sched, group, values) -> dict:
        out = dict(values)
        if "base_lr" in sched.param_specs and "base_lr" not in out \
                and "base_lr" not in sched.values:
            out["base_lr"] = group["initial_lr"]
        return out

    def get_lr(self) -> list[float]:
        t = max(self.last_epoch, 0)
        if self._momentum_fns is not None:
            for group, fn in zip(self.optimizer.param_groups, self._momentum_fns):
                m = fn(t)
                if "betas" in group:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m
        return [fn(t) for fn in self._lr_fns]

    def _get_closed_form_lr(self):
        return self.get_lr()

    def state_dict(self) -> dict:
        """torch's state without the generated functions (rebuilt by the constructor)."""
        return {k: v for k, v in super().state_dict().items()
                if k not in ("_lr_fns", "_momentum_fns")}

    def load_state_dict(self, state_dict: dict) -> None:
        keep = self._lr_fns, self._momentum_fns
        super().load_state_dict(state_dict)
        self._lr_fns, self._momentum_fns = keep


def momentum_twin(schedule: Schedule) -> Schedule | None:
    """The momentum torch cycles alongside ``schedule`` when it is a ``torch.OneCycleLR`` or
    ``torch.CyclicLR`` twin (the same call with ``output="momentum"``), else None."""
    import inspect
    from ..compat import torch as twins
    call = schedule.built
    if call is None or call.name not in ("torch.OneCycleLR", "torch.CyclicLR"):
        return None
    factory = getattr(twins, call.name.split(".")[1])
    given_args = inspect.signature(factory).bind(*call.args, **call.kwargs).arguments
    if "output" in given_args or given_args.get("cycle_momentum", True) is False:
        return None
    twin = factory(*call.args, **call.kwargs, output="momentum")
    given = {k: v for k, v in schedule.spec_values.items() if k in twin.param_specs}
    return twin.with_values(**given) if given else twin


def to_torch_scheduler(schedule: Schedule | Callable, optimizer: torch.optim.Optimizer, *,
                       momentum: Schedule | Callable | str | None = "auto",
                       last_epoch: int = -1, **values: Any) -> ScheduleLR:
    """``ScheduleLR(optimizer, schedule, momentum=..., **values)``."""
    return ScheduleLR(optimizer, schedule, momentum=momentum, last_epoch=last_epoch, **values)


class TableLR(LRScheduler):
    """Set each param group's lr to ``values[..., t]`` after ``t`` calls to ``step()``.

    ``values``: shape (T,) for every group, or (G, T) with one row per param group (a NumPy
    array, a CuPy/torch tensor or anything ``np.asarray`` takes; it is copied to the host once,
    so stepping never synchronizes a device). Past the last step the last value holds.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, values: Any,
                 last_epoch: int = -1) -> None:
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().numpy()
        elif hasattr(values, "get"):           # a CuPy array
            values = values.get()
        table = np.asarray(values, dtype=np.float64)
        groups = len(optimizer.param_groups)
        if table.ndim == 1:
            table = np.broadcast_to(table, (groups, table.size))
        if table.ndim != 2 or table.shape[0] != groups or table.shape[1] == 0:
            raise ValueError(f"values: expected shape (T,) or ({groups}, T) for {groups} param "
                             f"group(s), got {np.shape(values)}")
        if not np.isfinite(table).all():
            bad = np.argwhere(~np.isfinite(table))[0]
            raise ValueError(f"values: non-finite value at group {bad[0]}, step {bad[1]}")
        self.table = table
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t = min(max(self.last_epoch, 0), self.table.shape[1] - 1)
        return [float(self.table[g, t]) for g in range(self.table.shape[0])]

    def _get_closed_form_lr(self):
        return self.get_lr()

    def state_dict(self) -> dict:
        """torch's state with the table as a tensor: a checkpoint that default ``torch.load``
        (``weights_only=True``) reads, which a NumPy array in it would not be."""
        state = super().state_dict()
        state["table"] = torch.tensor(self.table, dtype=torch.float64)   # a copy
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        table = state.pop("table", None)
        super().load_state_dict(state)
        if table is not None:
            if isinstance(table, torch.Tensor):
                table = table.detach().cpu().numpy()
            self.table = np.asarray(table, dtype=np.float64)


def ensemble_table(schedule: Schedule | Callable, grid: GridLike, steps: StepsLike, *,
                   dtype: DTypeLike = "float32", backend: str = "auto",
                   device: str | torch.device | None = None) -> torch.Tensor:
    """The (M, T) learning rates of an M-member ensemble (one config of ``grid`` each) as a
    torch tensor: ``lr[m, t]`` for member ``m`` at step ``t``. On a GPU backend the tensor
    shares the CuPy table's memory (DLPack); ``device`` moves it if needed."""
    table = to_torch(evaluate(schedule, grid, steps=steps, dtype=dtype, backend=backend))
    if table.ndim == 1:
        table = table[None, :]
    return table if device is None else table.to(device)
