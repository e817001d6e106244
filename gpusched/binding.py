"""Binding a schedule's parameters to a grid, with every check done before any evaluation.

Each parameter comes from a grid column (varies per config), else from the schedule's
values (shared by all configs), else it is missing: a ValueError. Bad values raise a
ValueError (or TypeError for a wrong type) naming the parameter, the value and the first
offending config index.
"""

from __future__ import annotations

import functools

import numbers
from dataclasses import dataclass, field

import numpy as np

from .grid import Grid, RaggedColumn
from .params import Param
from .schedule import Schedule

__all__ = ["Bound", "bind"]


@dataclass
class Bound:
    """Parameters ready for a backend.

    ``scalars``: name -> array (1, 1) or (n, 1), int64 or float64 (shape (1, 1) when shared).
    ``lists``: name -> (values (1|n, K), lengths (1|n, 1)).
    ``dtypes``: name -> "int" | "float" (element kind for lists).
    """

    n: int
    scalars: dict = field(default_factory=dict)
    lists: dict = field(default_factory=dict)
    dtypes: dict = field(default_factory=dict)
    offset: int = 0     # index of the first config in the whole grid (for messages)
    axes: tuple | None = None   # ((name, size), ...) of a cartesian grid, row-major

    def rows(self, lo: int, hi: int) -> "Bound":
        """The parameters of configs ``lo:hi`` (shared values stay shared)."""
        def cut(a):
            return a if a.shape[0] == 1 else a[lo:hi]
        return Bound(hi - lo, {k: cut(v) for k, v in self.scalars.items()},
                     {k: (cut(v), cut(n)) for k, (v, n) in self.lists.items()}, self.dtypes,
                     offset=self.offset + lo)

    def describe(self, i: int) -> str:
        """Config ``i``'s parameter values, for error messages."""
        return ", ".join(f"{k}={_value_of(self, k, i)!r}" for k in (*self.scalars, *self.lists))


def _where(i: int, shared: bool) -> str:
    return "(fixed for every config)" if shared else f"at config {i}"


def _fail(p: Param, value, i: int, shared: bool, exc=ValueError):
    raise exc(f"parameter {p.name!r} = {value!r} {_where(i, shared)}: must be {p.domain_text()}")


def _choice_codes(p: Param, strings: np.ndarray, shared: bool) -> np.ndarray:
    """A column of strings as choice codes, each distinct string checked once (a sweep's
    column repeats a few names); the first bad one in the column's order is named."""
    names, where = np.unique(strings, return_inverse=True)
    known = [c for c in p.choices if isinstance(c, str)]
    bad = [k for k, name in enumerate(names) if str(name) not in known]
    if bad:
        i = int(np.flatnonzero(np.isin(where, bad))[0])
        _fail(p, str(strings[i]), i, shared)
    return np.array([p.choices.index(str(name)) for name in names], dtype=np.int64)[where]


def _scalar_array(p: Param, raw, shared: bool) -> np.ndarray:
    """Validate numbers and choose int64 or float64 by the parameter's kind."""
    if p.kind == "choice":
        vals = np.atleast_1d(np.asarray(raw, dtype=object))
        if vals.ndim == 1 and vals.size and set(map(type, vals)) == {str}:
            return _choice_codes(p, vals.astype(str), shared)
        codes = np.empty(vals.shape, dtype=np.int64)
        for i, v in enumerate(vals):
            if isinstance(v, np.bool_):
                v = bool(v)
            # strings name a choice; True/False pick a flag's value (1 or 1.0 do not)
            if not isinstance(v, (str, bool)) or \
                    not any(type(v) is type(c) and v == c for c in p.choices):
                _fail(p, v, i, shared)
            codes[i] = p.choices.index(v)
        return codes
    try:
        arr = np.atleast_1d(np.asarray(raw))
    except OverflowError:           # a Python int past every NumPy integer type
        arr = np.atleast_1d(np.asarray(raw, dtype=object))
    if arr.dtype == object:
        plain: list = []
        for i, v in enumerate(arr.ravel()):
            if isinstance(v, (bool, np.bool_)) or \
                    not isinstance(v, (numbers.Real, np.integer, np.floating)):
                _fail(p, v, i, shared, TypeError)
            if isinstance(v, numbers.Integral) and p.kind != "float":
                if not -2 ** 63 <= int(v) < 2 ** 63:
                    raise ValueError(f"parameter {p.name!r} = {int(v)!r} {_where(i, shared)}: "
                                     f"must fit in a 64-bit integer (|value| < 2**63)")
                plain.append(int(v))
            else:               # huge ints, Fractions, Decimals of a float parameter
                try:
                    plain.append(float(v))
                except OverflowError:
                    raise ValueError(f"parameter {p.name!r} = {v!r} {_where(i, shared)}: too "
                                     f"large for a float64") from None
        arr = np.asarray(plain).reshape(arr.shape)
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        i = 0
        _fail(p, _item(arr[i]) if arr.size else raw, i, shared, TypeError)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"parameter {p.name!r} = {arr[i].item()!r} {_where(i, shared)}: "
                             f"must be "
                             f"a finite number (NaN and infinities are refused)")
        if p.kind == "int":
            # a column mixing ints and floats arrives as floats: blame a fractional value
            # when there is one, else the first
            frac = arr != np.floor(arr)
            i = int(np.argmax(frac)) if frac.any() else 0
            raise TypeError(f"parameter {p.name!r} = {arr[i].item()!r} {_where(i, shared)}: must "
                            f"be an integer (got a float; pass int values)")
        return arr.astype(np.float64)
    if arr.dtype.kind == "u" and arr.size and arr.max() >= 2 ** 63:
        i = int(np.argmax(arr >= 2 ** 63))
        _fail(p, arr[i].item(), i, shared)
    return arr.astype(np.float64 if p.kind == "float" else np.int64)


def _item(v):
    return v.item() if hasattr(v, "item") else v


def _check_domain(p: Param, arr: np.ndarray, shared: bool, lengths=None):
    bad = np.zeros(arr.shape, dtype=bool)
    if p.gt is not None:
        bad |= ~(arr > p.gt)
    if p.ge is not None:
        bad |= ~(arr >= p.ge)
    if p.lt is not None:
        bad |= ~(arr < p.lt)
    if p.le is not None:
        bad |= ~(arr <= p.le)
    if lengths is not None:
        bad &= np.arange(arr.shape[1])[None, :] < lengths[:, None]
        if bad.any():
            i = int(np.argmax(bad.any(axis=1)))
            row = arr[i, :lengths[i]].tolist()
            raise ValueError(f"parameter {p.name!r} = {row!r} {_where(i, shared)}: every entry "
                             f"must be {p.domain_text().split('each ')[-1]}")
    elif bad.any():
        i = int(np.argmax(bad))
        _fail(p, arr[i].item(), i, shared)


def _list_column(p: Param, raw, shared: bool) -> RaggedColumn:
    if isinstance(raw, RaggedColumn):
        col = raw
    else:
        col = RaggedColumn.from_lists([raw], p.name) if shared else raw
        if not isinstance(col, RaggedColumn):
            v = raw[0].item() if isinstance(raw, np.ndarray) and raw.size else raw
            raise TypeError(f"parameter {p.name!r} = {v!r} {_where(0, shared)}: must be a list "
                            f"per config; in a grid write {p.name}=[[30, 60], [50, 80]] (one "
                            f"list per value)")
    vals, lens = col.values, col.lengths
    if not col.is_int:
        valid = np.arange(vals.shape[1])[None, :] < lens[:, None]
        bad = valid & np.isnan(vals) | valid & np.isinf(vals)
        if bad.any():
            i = int(np.argmax(bad.any(axis=1)))
            raise ValueError(f"parameter {p.name!r} = {col.row(i)!r} {_where(i, shared)}: "
                             f"entries must be finite numbers")
    if p.size is not None and (lens != p.size).any():
        i = int(np.argmax(lens != p.size))
        raise ValueError(f"parameter {p.name!r} = {col.row(i)!r} {_where(i, shared)}: must have "
                         f"exactly {p.size} entries")
    if p.sort:
        vals = np.sort(vals, axis=1)  # padding (int64 max / +inf) stays last
    elif p.sorted_required and vals.shape[1] > 1:
        valid = np.arange(1, vals.shape[1])[None, :] < lens[:, None]
        bad = valid & (vals[:, 1:] < vals[:, :-1])
        if bad.any():
            i = int(np.argmax(bad.any(axis=1)))
            raise ValueError(f"parameter {p.name!r} = {col.row(i)!r} {_where(i, shared)}: must "
                             f"be sorted in increasing order")
    _check_domain(p, vals, shared, lengths=lens)
    return RaggedColumn(vals, lens)


def bind(sched: Schedule, grid: Grid | None) -> Bound:
    """Resolve and validate every parameter of ``sched`` for the configs of ``grid``."""
    columns = grid.columns if grid is not None else {}
    n = len(grid) if grid is not None else 1
    unknown = [k for k in columns if k not in sched.param_specs]
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} in the grid for schedule "
                         f"{sched.name!r}; its parameters are {', '.join(sched.params)} "
                         f"(schedule.select(configs) keeps only those of a sweep's configs)")
    missing = [k for k in sched.params if k not in columns and k not in sched.values]
    if missing:
        raise ValueError(f"parameter {missing[0]!r} of schedule {sched.name!r} is required: give "
                         f"it when building the schedule or as a grid column")
    bound = Bound(n)
    if grid is not None and grid.axes is not None:
        bound.axes = tuple((k, len(v)) for k, v in grid.axes.items())
    checks_in: dict = {}
    for name, p in sched.param_specs.items():
        shared = name not in columns
        raw = sched.values[name] if shared else columns[name]
        if raw is None:
            raise ValueError(f"parameter {name!r} of schedule {sched.name!r} is required: give "
                             f"it when building the schedule or as a grid column")
        if name in sched.list_params or p.kind == "list":
            col = _list_column(p, raw, shared)
            bound.lists[name] = (col.values, col.lengths[:, None])
            bound.dtypes[name] = "int" if col.is_int else "float"
            checks_in[name] = (col.values, col.lengths)
            continue
        if not shared and isinstance(raw, RaggedColumn):
            raise TypeError(f"parameter {name!r} = {raw.row(0)!r} at config 0: must be "
                            f"{p.domain_text()}, not a list")
        if shared and isinstance(raw, (list, tuple, np.ndarray)) and np.ndim(raw) > 0:
            raise TypeError(f"parameter {name!r} = {raw!r} (fixed for every config): must be a "
                            f"single value; to sweep it, put it in the grid")
        arr = _shared_scalar(p, raw) if shared else None
        if arr is None:
            arr = _scalar_array(p, raw, shared)
            if p.kind != "choice":
                _check_domain(p, arr, shared)
        bound.scalars[name] = arr[:, None]
        bound.dtypes[name] = "int" if arr.dtype == np.int64 else "float"
        checks_in[name] = arr
    for chk in sched.checks:
        ok = np.asarray(chk.ok(**{k: checks_in[k] for k in chk.names}), dtype=bool)
        ok = np.broadcast_to(ok, (n,))
        if not ok.all():
            i = int(np.argmin(ok))
            shared_all = all(k not in columns for k in chk.names)
            vals = ", ".join(f"{k}={_value_of(bound, k, i)!r}" for k in chk.names)
            raise ValueError(f"{vals} {_where(i, shared_all)}: {chk.message}")
    return bound


_SCALAR_TYPES = (int, float, str, bool)


@functools.lru_cache(maxsize=4096)
def _validated(p: Param, kind: type, text: str, raw) -> np.ndarray:
    arr = _scalar_array(p, raw, True)
    if p.kind != "choice":
        _check_domain(p, arr, True)
    arr.flags.writeable = False
    return arr


def _shared_scalar(p: Param, raw):
    """A fixed value's validated array, checked once per (parameter, value): sweep tools call
    with the same fixed values again and again. Keyed by the value's exact type and repr
    (1, 1.0, True and -0.0 stay apart); None for what is not a plain scalar."""
    if type(raw) not in _SCALAR_TYPES:
        return None
    try:
        # a fresh writeable copy: kernels type read-only arrays apart (Numba would compile a
        # second specialization for them), and nothing may write into the remembered one
        return _validated(p, type(raw), repr(raw), raw).copy()  # type: ignore[arg-type]
    except TypeError as err:        # an unhashable Param (a list default): no memo
        if "unhashable" not in str(err):
            raise
        return None


def _value_of(bound: Bound, name: str, i: int):
    if name in bound.scalars:
        v = bound.scalars[name]
        return v[0 if v.shape[0] == 1 else i, 0].item()
    v, n = bound.lists[name]
    r = 0 if v.shape[0] == 1 else i
    return v[r, :n[r, 0]].tolist()
