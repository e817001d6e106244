"""Grids of configurations: cartesian products (gs.grid) and explicit trial lists (gs.trials).

A grid is a table of columns, one per parameter, ``len(grid)`` rows long. A column holds
numbers, strings (for choice parameters) or, for list parameters such as milestones, one list
per config; lists of different lengths are padded (see :class:`RaggedColumn`).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np

from .params import validate_name

__all__ = ["Grid", "RaggedColumn", "grid", "trials", "GridLike", "StepsLike"]

INT_PAD = np.iinfo(np.int64).max


class RaggedColumn:
    """Per-config lists, padded: ``values`` is (n, K) (int64 padded with int64-max, or float64
    padded with +inf, so padding sorts last and never counts as <= a step) and ``lengths`` (n,)."""

    __slots__ = ("values", "lengths")

    def __init__(self, values: np.ndarray, lengths: np.ndarray):
        self.values, self.lengths = values, lengths

    @classmethod
    def from_lists(cls, lists: Sequence, name: str) -> "RaggedColumn":
        rows = []
        for i, row in enumerate(lists):
            arr = np.asarray(row)
            if arr.ndim != 1:
                raise ValueError(f"parameter {name!r}: config {i} should be a list of numbers, "
                                 f"got {row!r}")
            if arr.size and not (np.issubdtype(arr.dtype, np.number) and arr.dtype.kind != "c") \
                    or arr.dtype == bool:
                raise TypeError(f"parameter {name!r}: config {i} holds non-numbers: {row!r}")
            rows.append(arr)
        n = len(rows)
        width = max([r.size for r in rows] + [1])
        is_int = all(r.dtype.kind in "iu" or r.size == 0 for r in rows)
        if is_int:
            values = np.full((n, width), INT_PAD, dtype=np.int64)
        else:
            values = np.full((n, width), np.inf, dtype=np.float64)
        lengths: np.ndarray = np.zeros(n, dtype=np.int64)
        for i, r in enumerate(rows):
            values[i, :r.size] = r
            lengths[i] = r.size
        return cls(values, lengths)

    @property
    def is_int(self) -> bool:
        return self.values.dtype == np.int64

    def __len__(self):
        return len(self.lengths)

    def row(self, i: int) -> list:
        return self.values[i, :self.lengths[i]].tolist()

    def take(self, index: Any) -> "RaggedColumn":
        return RaggedColumn(self.values[index], self.lengths[index])


def _is_list_like(v) -> bool:
    return isinstance(v, (Sequence, np.ndarray)) and not isinstance(v, (str, bytes))


def _host(values):
    """The values people hold, as NumPy or Python: torch tensors, JAX and CuPy arrays,
    pandas Series and Index, ranges; 0-d arrays and tensors become numbers. Anything else
    is returned as it is."""
    if isinstance(values, (str, bytes, np.ndarray, numbers.Number, np.generic, Sequence,
                           Mapping, RaggedColumn)) or values is None:
        return values
    if type(values).__module__.split(".")[0] == "pandas" and hasattr(values, "to_numpy"):
        return values.to_numpy()
    if hasattr(values, "detach"):               # torch: no autograd, on the host
        values = values.detach().cpu()
    if any(hasattr(values, a) for a in ("__dlpack__", "__array__",
                                        "__cuda_array_interface__")):
        from .interop import to_numpy
        try:
            arr = to_numpy(values)
        except (TypeError, BufferError, RuntimeError):
            arr = np.asarray(values)
        return arr.item() if arr.ndim == 0 else arr
    return values


def _number(v):
    """A 0-d array or tensor as its number (other values unchanged)."""
    if not isinstance(v, (numbers.Number, np.generic, str)) and getattr(v, "ndim", None) == 0 \
            and hasattr(v, "item"):
        return v.item()
    return v


def _column(name: str, values) -> np.ndarray | RaggedColumn:
    """A grid axis or trial column from user values: numbers, strings or lists."""
    if isinstance(values, RaggedColumn):
        return values
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return RaggedColumn.from_lists(list(values), name)
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iuf":
        return values.copy()         # numbers already: no walk over the elements
    seq = [_number(_host(v)) for v in values]
    if any(_is_list_like(v) for v in seq):
        if not all(_is_list_like(v) for v in seq):
            i = next(i for i, v in enumerate(seq) if not _is_list_like(v))
            j = next(i for i, v in enumerate(seq) if _is_list_like(v))
            raise ValueError(f"parameter {name!r} = {seq[i]!r} at config {i}: config {j} has a "
                             f"list, so every config needs one (e.g. [[30, 60], [50]])")
        return RaggedColumn.from_lists(seq, name)
    for i, v in enumerate(seq):
        if v is None:
            raise TypeError(f"parameter {name!r} = None at config {i}: expected a value")
    if any(isinstance(v, (str, bool, np.bool_)) for v in seq):
        # choices and flags; in a numeric column binding names the offending config
        return np.array(seq, dtype=object)
    for i, v in enumerate(seq):
        if not isinstance(v, (numbers.Number, np.generic)):
            raise TypeError(f"parameter {name!r} = {v!r} at config {i}: expected a number")
    return np.asarray(seq)


class Grid:
    """Configurations as columns; ``grid[i]`` gives config ``i`` back as a dict.

    ``axes`` is set for cartesian grids (name -> values, row-major: the last axis varies
    fastest), so backends can compute what depends on fewer axes once.
    """

    def __init__(self, columns: Mapping, n: int, axes: Mapping | None = None):
        self.columns = dict(columns)
        self.n = int(n)
        self.axes = dict(axes) if axes is not None else None

    def __len__(self):
        return self.n

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def __getitem__(self, i: int) -> dict:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"grid index must be an int, got {i!r}")
        if not -self.n <= i < self.n:
            raise IndexError(f"config {i} is out of range for a grid of {self.n}")
        i = int(i) % self.n
        return {k: (c.row(i) if isinstance(c, RaggedColumn) else c[i].item()
                    if isinstance(c[i], np.generic) else c[i])
                for k, c in self.columns.items()}

    def __iter__(self):
        for i in range(self.n):
            yield self[i]

    def __repr__(self):
        kind = "grid" if self.axes is not None else "trials"
        shape = " x ".join(f"{k}[{len(v)}]" for k, v in self.axes.items()) \
            if self.axes is not None else ", ".join(self.columns)
        return f"<gpusched {kind} of {self.n} configs: {shape}>"


def grid(**axes: Any) -> Grid:
    """The cartesian product of the given axes, row-major (the last axis varies fastest).

    Each axis is a sequence of values, or a single value shared by every config. A list
    parameter's axis is a sequence of lists: ``milestones=[[30, 60], [50, 80, 90]]``.

    >>> g = grid(base_lr=[0.1, 0.3], T_max=[500, 1000, 2000])
    >>> len(g), g[1]
    (6, {'base_lr': 0.1, 'T_max': 1000})
    """
    if not axes:
        raise ValueError("gs.grid needs at least one axis, e.g. gs.grid(base_lr=[0.1, 0.3])")
    cols, sizes = {}, {}
    for name, values in axes.items():
        validate_name(name)
        values = _host(values)
        if not _is_list_like(values) or (isinstance(values, np.ndarray) and values.ndim == 0):
            values = [values]
        col = _column(name, values)
        if len(col) == 0:
            raise ValueError(f"axis {name!r} is empty; a grid needs at least one value per axis")
        cols[name], sizes[name] = col, len(col)
    n = 1
    for s in sizes.values():
        n *= s
    from .memory import check, default_memory_limit
    per_config = 8 + sum(col.values.shape[1] * 8 + 8 if isinstance(col, RaggedColumn)
                         else col.dtype.itemsize for col in cols.values())
    check(n * per_config, f"gs.grid of {n:,} configs ({' x '.join(map(str, sizes.values()))}): "
          f"its columns", "sweep fewer values per call (split an axis over several calls)",
          limit=default_memory_limit())
    columns, stride = {}, n
    for name, col in cols.items():
        stride //= sizes[name]
        index: np.ndarray = (np.arange(n, dtype=np.int64) // stride) % sizes[name]
        columns[name] = col.take(index) if isinstance(col, RaggedColumn) else col[index]
    return Grid(columns, n, axes=cols)


def trials(configs: Sequence[Mapping] | Mapping | None = None, /, **columns: Any) -> Grid:
    """An explicit list of configurations, as sweep tools produce them.

    Either a list of dicts with the same keys, ``trials([{"base_lr": .1, "T_max": 500}, ...])``,
    or equal-length columns, ``trials(base_lr=[.1, .3], T_max=[500, 900])`` (a single value is
    shared by every trial).
    """
    if configs is not None and columns:
        raise TypeError("gs.trials takes a list of dicts or columns as keywords, not both")
    if configs is not None and type(configs).__module__.split(".")[0] == "pandas" \
            and hasattr(configs, "columns"):         # a DataFrame: one column per parameter
        configs = {str(c): configs[c] for c in configs.columns}
    if configs is not None:
        if isinstance(configs, Mapping):
            bad = [k for k in configs if not isinstance(k, str)]
            if bad:
                raise TypeError(f"gs.trials: column names must be strings, got {bad[0]!r}")
            return trials(**{str(k): v for k, v in configs.items()})
        configs = list(configs)
        if not configs:
            raise ValueError("gs.trials got an empty list; give at least one configuration")
        keys = list(configs[0])
        for i, c in enumerate(configs):
            if not isinstance(c, Mapping):
                raise TypeError(f"trial {i} is {c!r}; expected a dict of parameter values")
            if set(c) != set(keys):
                missing = sorted(set(keys) - set(c))
                extra = sorted(set(c) - set(keys))
                raise ValueError(f"trial {i} has different keys from trial 0 "
                                 f"(missing {missing}, extra {extra}); every trial needs the "
                                 f"same parameters")
        columns = {k: [c[k] for c in configs] for k in keys}
    if not columns:
        raise ValueError("gs.trials needs at least one parameter column")
    columns = {k: _host(v) for k, v in columns.items()}
    n = None
    for name, values in columns.items():
        if _is_list_like(values) and not (isinstance(values, np.ndarray) and values.ndim == 0):
            if n is not None and len(values) != n:
                lengths = {k: len(v) for k, v in columns.items() if _is_list_like(v)}
                raise ValueError(f"trial columns have different lengths: {lengths}; each "
                                 f"column needs one value per trial")
            n = len(values)
    n = 1 if n is None else n
    if n == 0:
        raise ValueError("gs.trials got empty columns; give at least one trial")
    cols = {}
    for name, values in columns.items():
        validate_name(name)
        if not _is_list_like(values) or (isinstance(values, np.ndarray) and values.ndim == 0):
            values = [values] * n
        cols[name] = _column(name, values)
    return Grid(cols, n)


def as_grid(obj) -> Grid | None:
    """Accept a Grid, a mapping of columns (treated as trials) or None."""
    if obj is None or isinstance(obj, Grid):
        return obj
    if isinstance(obj, Mapping):
        return trials(**obj)
    if isinstance(obj, Sequence) and obj and all(isinstance(c, Mapping) for c in obj):
        return trials(list(obj))
    raise TypeError(f"expected a gs.grid(...), gs.trials(...), a dict of columns or a list of "
                    f"dicts, got {type(obj).__name__}")


# what the API accepts for a sweep's configs: a Grid, a dict of columns (a cartesian
# grid), a list of config dicts (trials), or None (one config: the schedule's own values)
GridLike = Union[Grid, Mapping[str, Any], Sequence[Mapping[str, Any]], None]
# steps: an int N (steps 0 .. N-1) or the steps themselves (1-D integers)
StepsLike = Union[int, Sequence[int], np.ndarray]
