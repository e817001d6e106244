"""Results labelled by their grid: pandas DataFrames and xarray DataArrays (optional extras).

``gs.to_pandas(result, grid, steps)`` and ``gs.to_xarray(result, grid, steps)`` take what
``gs.evaluate`` (a table, configs x steps) or ``gs.reduce`` (one value per config) returned,
with the grid and steps of that call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .grid import Grid, StepsLike
from .outputs import parameter_columns

if TYPE_CHECKING:          # optional extras
    import pandas
    import xarray

__all__ = ["to_pandas", "to_xarray"]


def _checked(result, grid: Grid | None, steps):
    from .interop import to_numpy
    data = to_numpy(result)
    n = len(grid) if grid is not None else 1
    if grid is None:
        data = data[None] if data.ndim in (0, 1) else data
    if data.ndim == 0 or data.shape[0] != n or data.ndim > 2:
        raise ValueError(f"result of shape {np.shape(result)} does not match a grid of {n} "
                         f"configs: give the grid of the call that made it")
    step_values = None
    if data.ndim == 2:
        if steps is None:
            step_values = np.arange(data.shape[1])
        else:
            step_values = np.arange(steps) if np.ndim(steps) == 0 else np.asarray(steps)
            if step_values.shape != (data.shape[1],):
                raise ValueError(f"steps give {step_values.size} steps but the table has "
                                 f"{data.shape[1]} columns: give the steps of the call")
    return data, step_values


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def to_pandas(result: np.ndarray, grid: Grid | None = None, steps: StepsLike | None = None, *,
              name: str = "value") -> pandas.DataFrame:
    """A DataFrame of ``result`` labelled by ``grid``'s parameters.

    A reduction (one value per config): one row per config, a column per parameter (list
    parameters as tuples) and ``name``, so ``df.sort_values(name)`` ranks the configs. A table:
    one row per config indexed by its parameter values (a MultiIndex), one column per step
    (named by the step)."""
    import pandas as pd
    data, step_values = _checked(result, grid, steps)
    params = {k: [_hashable(v) for v in vs] for k, vs in parameter_columns(grid).items()}
    if data.ndim == 1:
        return pd.DataFrame({**params, name: data})
    index = (pd.MultiIndex.from_arrays(list(params.values()), names=list(params))
             if params else pd.RangeIndex(data.shape[0], name="config"))
    return pd.DataFrame(data, index=index, columns=pd.Index(step_values, name="step"))


def to_xarray(result: np.ndarray, grid: Grid | None = None, steps: StepsLike | None = None, *,
              name: str = "value") -> xarray.DataArray:
    """A DataArray of ``result``: over a cartesian ``gs.grid`` one dimension per axis (its
    values as coordinates), over trials a ``config`` dimension with the parameters as
    coordinates along it; a table adds a ``step`` dimension."""
    import xarray as xr
    data, step_values = _checked(result, grid, steps)
    step_dims = (["step"], {"step": step_values}) if data.ndim == 2 else ([], {})
    if grid is not None and grid.axes is not None:
        # a cartesian grid is row-major over its axes: the table reshapes onto them
        coords = {k: [_hashable(x) for x in parameter_columns(Grid({k: col}, len(col)))[k]]
                  for k, col in grid.axes.items()}
        shape = [len(col) for col in grid.axes.values()]
        return xr.DataArray(data.reshape(shape + list(data.shape[1:])),
                            dims=list(grid.axes) + step_dims[0],
                            coords={**{k: _coord(v) for k, v in coords.items()},
                                    **step_dims[1]}, name=name)
    params = parameter_columns(grid)
    columns = {k: ("config", _coord([_hashable(x) for x in v])) for k, v in params.items()}
    return xr.DataArray(data, dims=["config"] + step_dims[0],
                        coords={"config": np.arange(data.shape[0]), **columns, **step_dims[1]},
                        name=name)


def _coord(values):
    if not any(isinstance(v, tuple) for v in values):
        return np.asarray(values)
    arr: np.ndarray = np.empty(len(values), dtype=object)     # tuples stay whole
    arr[:] = values
    return arr
