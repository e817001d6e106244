"""Plots of a schedule over a grid: one curve per config (matplotlib, an optional extra)."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from numpy.typing import DTypeLike

from .grid import GridLike, StepsLike, as_grid
from .outputs import parameter_columns, short_text
from .schedule import Schedule, as_schedule

if TYPE_CHECKING:          # an optional extra
    import matplotlib.axes

__all__ = ["plot", "MAX_LEGEND"]

MAX_LEGEND = 12    # more curves than this get a colour bar (or no key) instead of a legend


def _label(cols, swept, i):
    return ", ".join(f"{k}={short_text(cols[k][i])}" for k in swept) or "config 0"


def plot(schedule: Schedule | Callable, grid: GridLike = None, steps: StepsLike = 1000, *,
         ax: matplotlib.axes.Axes | None = None, log: bool = False,
         out: str | os.PathLike | None = None, title: str | None = None,
         dtype: DTypeLike = "float64", backend: str = "auto",
         ylabel: str = "learning rate") -> matplotlib.axes.Axes:
    """Draw ``schedule`` for every config of ``grid`` over ``steps`` (an int or a step array).

    The curves are keyed by the parameters that differ between configs: a legend for up to
    ``MAX_LEGEND`` curves, else a colour bar over the first swept numeric parameter. ``log``
    uses a logarithmic y axis. With ``out`` (``.png``/``.svg``/``.pdf``) the figure is saved
    there. Returns the matplotlib Axes.
    """
    try:
        import matplotlib
        if out is not None and ax is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'gpusched[plot]'") from None
    from .api import evaluate
    import gpusched as gs
    if out is not None:         # before any work, like every other output
        from .files import check_target
        out = check_target(out)
    schedule, grid = as_schedule(schedule), as_grid(grid)
    table = gs.to_numpy(evaluate(schedule, grid, steps=steps, dtype=dtype, backend=backend))
    table = np.atleast_2d(table)
    x = np.arange(steps) if np.ndim(steps) == 0 else np.asarray(steps)
    cols = parameter_columns(grid)
    swept = [k for k, v in cols.items() if len({repr(e) for e in v}) > 1]
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    n = table.shape[0]
    numeric = [k for k in swept if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                       for v in cols[k])]
    if n > MAX_LEGEND and numeric:
        key = numeric[0]
        vals = np.asarray(cols[key], dtype=float)
        positive = (vals > 0).all() and vals.max() / vals.min() > 20
        norm = (matplotlib.colors.LogNorm if positive else matplotlib.colors.Normalize)(
            vals.min(), vals.max())
        cmap = plt.get_cmap("viridis")
        for i in range(n):
            ax.plot(x, table[i], color=cmap(norm(vals[i])), lw=0.7 if n > 100 else 1.0,
                    alpha=0.7 if n > 100 else 0.9)
        sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        (fig or ax.figure).colorbar(sm, ax=ax, label=key)
    else:
        cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
        for i in range(n):
            ax.plot(x, table[i], lw=1.4, color=cmap(i % cmap.N),
                    label=_label(cols, swept, i) if n <= MAX_LEGEND else None)
        if n <= MAX_LEGEND and (swept or n > 1):
            ax.legend(fontsize=8, loc="best", frameon=False)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{schedule.name}: {n} config{'s' if n != 1 else ''}")
    ax.grid(alpha=0.3)
    ax.margins(x=0)
    if out is not None:
        from .files import replacing
        figure: Any = fig if fig is not None else ax.figure
        figure.tight_layout()
        with replacing(out) as tmp:         # whole or absent, like every other output
            figure.savefig(tmp, format=os.path.splitext(out)[1][1:] or None)
    return ax
