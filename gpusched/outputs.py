"""Writing tables and reductions with the grid's parameters beside them.

``.npy`` holds the table alone; ``.npz`` the table (``table``) and one array per parameter
column (``param__<name>``; list columns padded, with ``param__<name>__lengths``); ``.csv`` one
row per config: the parameter columns, then either the reduced value or a summary of the
table (first, last, min, max, mean); ``.parquet`` (needs pyarrow) the same columns plus the
whole row of values as a list column. Sweep tools can join these back to their trials by the
parameter columns (or the ``config`` index).
"""

from __future__ import annotations

from typing import Any, Sequence

import csv
from pathlib import Path

import numpy as np

from .files import replacing
from .grid import Grid, RaggedColumn

__all__ = ["save", "check_output", "FORMATS", "parameter_columns", "short_text"]

FORMATS = (".npy", ".npz", ".csv", ".parquet")


def check_output(path: str, formats: Sequence[str] = FORMATS, what: str = "--out") -> str:
    """Before any work: ``path`` has a supported suffix, what writes it is installed, and its
    folder can take it."""
    from .files import check_target
    path = str(path)
    if Path(path).suffix not in formats:
        raise ValueError(f"{what} {path}: use one of {', '.join(formats)}")
    if Path(path).suffix == ".parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError:
            raise ValueError(f"{what} {path}: writing .parquet needs pyarrow: "
                             f"pip install 'gpusched[parquet]'") from None
    return check_target(path, what)


def parameter_columns(grid: Grid | None) -> dict:
    """name -> list of per-config values (lists for list parameters, strings for choices)."""
    if grid is None:
        return {}
    out = {}
    for name, col in grid.columns.items():
        if isinstance(col, RaggedColumn):
            out[name] = [col.row(i) for i in range(len(col))]
        else:
            out[name] = [v.item() if hasattr(v, "item") else v for v in np.asarray(col)]
    return out


def _summary(table: np.ndarray) -> dict:
    t = np.asarray(table, dtype=np.float64)
    return {"first": t[:, 0], "last": t[:, -1], "min": t.min(axis=1), "max": t.max(axis=1),
            "mean": t.mean(axis=1)}


def save(path: str, grid: Grid | None, table: np.ndarray | None = None,
         reduced: np.ndarray | None = None, op: str | None = None) -> str:
    """Write ``table`` (configs x steps) or ``reduced`` (configs,) to ``path``; returns a
    one-line description of what was written."""
    path = check_output(path)
    suffix = Path(path).suffix
    data = np.asarray(table if table is not None else reduced)
    if data.ndim == 1 and table is not None:
        data = data[None, :]
    n = data.shape[0]
    cols = parameter_columns(grid)
    if suffix == ".npy":
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.save(f, data)
        return f"{path}: array {data.shape} {data.dtype}"
    if suffix == ".npz":
        arrays = {"table" if table is not None else (op or "value"): data}
        for name, col in (grid.columns.items() if grid is not None else ()):
            if isinstance(col, RaggedColumn):
                arrays[f"param__{name}"] = col.values
                arrays[f"param__{name}__lengths"] = col.lengths
            else:
                arrays[f"param__{name}"] = np.asarray(col).astype(str) \
                    if np.asarray(col).dtype == object else np.asarray(col)
        with replacing(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
        return f"{path}: {', '.join(arrays)}"
    stats = _summary(data) if table is not None else {op or "value": data}
    header = ["config", *cols, *stats]
    rows = [[i, *(_cell(cols[c][i]) for c in cols), *(float(stats[s][i]) for s in stats)]
            for i in range(n)]
    if suffix == ".csv":
        with replacing(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        return f"{path}: {n} rows, columns {', '.join(header)}"
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError("writing .parquet needs pyarrow: pip install 'gpusched[parquet]'") \
            from None
    columns = {"config": list(range(n)), **cols, **{s: stats[s].tolist() for s in stats}}
    if table is not None:
        columns["values"] = [row.tolist() for row in np.asarray(data)]
    with replacing(path) as tmp:
        pq.write_table(pa.table(columns), tmp)
    return f"{path}: {n} rows, columns {', '.join(columns)}"


def _cell(v):
    return " ".join(str(x) for x in v) if isinstance(v, list) else v


def short_text(v: Any) -> str:
    """A parameter value for a legend or a printed table: ``0.1``, ``[30,60]``, ``cos``."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ",".join(short_text(x) for x in v) + "]"
    return str(v)
