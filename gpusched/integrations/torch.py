"""torch: replay precomputed schedules in a training loop.

``TableLR(optimizer, values)`` is an ``LRScheduler`` whose lr at step ``t`` is
``values[t]`` (one row for every param group, or one row per group); ``ensemble_table``
gives the ``(M, T)`` learning rates of ``M`` ensemble members (a ``torch.func``/vmap
ensemble, one config each) as a tensor, without a copy where the devices match.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from ..api import evaluate
from ..interop import to_torch

__all__ = ["TableLR", "ensemble_table"]


class TableLR(LRScheduler):
    """Set each param group's lr to ``values[..., t]`` after ``t`` calls to ``step()``.

    ``values``: shape (T,) for every group, or (G, T) with one row per param group (a NumPy
    array, a CuPy/torch tensor or anything ``np.asarray`` takes; it is copied to the host once,
    so stepping never synchronizes a device). Past the last step the last value holds.
    """

    def __init__(self, optimizer, values, last_epoch: int = -1):
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

    def get_lr(self):
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


def ensemble_table(schedule, grid, steps, *, dtype="float32", backend="auto",
                   device=None) -> torch.Tensor:
    """The (M, T) learning rates of an M-member ensemble (one config of ``grid`` each) as a
    torch tensor: ``lr[m, t]`` for member ``m`` at step ``t``. On a GPU backend the tensor
    shares the CuPy table's memory (DLPack); ``device`` moves it if needed."""
    table = to_torch(evaluate(schedule, grid, steps=steps, dtype=dtype, backend=backend))
    if table.ndim == 1:
        table = table[None, :]
    return table if device is None else table.to(device)
