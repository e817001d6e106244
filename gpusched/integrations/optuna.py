"""Optuna: evaluate the schedules of a batch of trials in one call (ask-and-tell).

    study = optuna.create_study()
    trials, grid = ask_batch(study, 64, lambda trial: {
        "base_lr": trial.suggest_float("base_lr", 1e-4, 1e-1, log=True),
        "T_max": trial.suggest_int("T_max", 100, 2000)})
    area = gs.reduce(schedule, grid, steps=2000, op="mean")     # one call for 64 trials
    tell_batch(study, trials, area)

``suggest`` maps a trial to the schedule parameters it samples (a dict); the batch becomes
one :func:`gpusched.trials` grid, in the same order as ``trials``.

A schedule chosen per trial: pass ``schedules`` (name -> schedule) and let ``suggest`` pick
one under the key ``"schedule"``; ``ask_batch`` then returns a :class:`Batch` whose
``reduce``/``evaluate`` make one call per chosen schedule and give the values in trial order.
Multi-objective studies: ``tell_batch`` takes an ``(n_trials, n_objectives)`` array or one
array per objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..grid import Grid, StepsLike, trials as make_trials

__all__ = ["ask_batch", "tell_batch", "Batch"]


@dataclass
class Batch:
    """Trials grouped by the schedule each chose: ``parts`` is a list of (name, schedule,
    grid, trial indices)."""

    parts: list
    n: int

    def reduce(self, steps: StepsLike, op: str = "mean", **kw: Any) -> np.ndarray:
        """``gs.reduce`` of every trial's schedule (one call per schedule), in trial order."""
        from ..api import reduce
        from ..interop import to_numpy
        from ..reductions import INT_OPS
        out: np.ndarray = np.empty(self.n, dtype=np.int64 if op in INT_OPS else np.float64)
        for _, sched, grid, idx in self.parts:
            out[idx] = to_numpy(reduce(sched, grid, steps=steps, op=op, **kw))
        return out

    def evaluate(self, steps: StepsLike, **kw: Any) -> np.ndarray:
        """Every trial's table, ``(n_trials, n_steps)``, in trial order."""
        from ..api import evaluate
        from ..interop import to_numpy
        rows = None
        for _, sched, grid, idx in self.parts:
            part = to_numpy(evaluate(sched, grid, steps=steps, **kw))
            if rows is None:
                rows = np.empty((self.n, part.shape[1]), dtype=part.dtype)
            rows[idx] = part
        assert rows is not None         # a study has trials (checked when it is built)
        return rows


def ask_batch(study: Any, n: int, suggest: Callable[[Any], dict],
              schedules: dict | None = None) -> tuple[list, Grid | Batch]:
    """Ask ``n`` trials and build their grid: returns (trials, grid); with ``schedules``,
    (trials, :class:`Batch`)."""
    if n < 1:
        raise ValueError(f"n = {n}: ask at least one trial")
    asked = [study.ask() for _ in range(n)]
    configs = []
    for i, trial in enumerate(asked):
        cfg = suggest(trial)
        if not isinstance(cfg, dict) or not cfg:
            raise TypeError(f"suggest returned {cfg!r} for trial {i}; return a dict of "
                            f"schedule parameters")
        configs.append(cfg)
    if schedules is None:
        return asked, make_trials(configs)
    return asked, _group(configs, schedules)


def _group(configs: list, schedules: dict) -> Batch:
    chosen: dict = {}
    for i, cfg in enumerate(configs):
        name = cfg.get("schedule")
        if name not in schedules:
            raise ValueError(f"trial {i}: schedule = {name!r}: suggest must choose one of "
                             f"{', '.join(map(repr, schedules))} under the key 'schedule'")
        chosen.setdefault(name, []).append(i)
    parts = []
    for name, idx in chosen.items():
        rows = [{k: v for k, v in configs[i].items() if k != "schedule"} for i in idx]
        # a schedule none of whose parameters are sampled: the same config, once per trial
        grid = make_trials(rows) if any(rows) else _repeat(len(rows))
        parts.append((name, schedules[name], grid, np.asarray(idx)))
    return Batch(parts, len(configs))


def _repeat(n: int):
    from ..grid import Grid
    return Grid({}, n)


def tell_batch(study: Any, trials: list, values: Any) -> None:
    """Tell each trial its objective value(s): ``values[i]`` for ``trials[i]``. For a
    multi-objective study, ``values`` is ``(n_trials, n_objectives)`` or a list of one array
    per objective (``[area, peak]``)."""
    n_obj = len(getattr(study, "directions", [None]))
    if n_obj == 1:
        flat = _host(values).reshape(-1)
        if flat.size != len(trials):
            raise ValueError(f"{flat.size} values for {len(trials)} trials")
        for trial, v in zip(trials, flat):
            study.tell(trial, float(v))
        return
    # one array per objective, or (n_trials, n_objectives); nothing else is reshaped
    vals: np.ndarray | None
    shape: object
    if isinstance(values, (list, tuple)):
        cols = [_host(v) for v in values]
        shape = [c.shape for c in cols]
        vals = np.stack(cols, axis=1) if cols and len(set(shape)) == 1 else None
    else:
        vals = _host(values)
        shape = vals.shape
    if vals is None or vals.shape != (len(trials), n_obj):
        raise ValueError(f"values of shape {shape} for {len(trials)} trials of a study "
                         f"with {n_obj} objectives: give ({len(trials)}, {n_obj}) or one array "
                         f"per objective")
    for trial, row in zip(trials, vals):
        study.tell(trial, [float(v) for v in row])


def _host(values) -> np.ndarray:
    return np.asarray(getattr(values, "get", lambda: values)(), dtype=np.float64)
