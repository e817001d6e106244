"""Optuna: evaluate the schedules of a batch of trials in one call (ask-and-tell).

    study = optuna.create_study()
    trials, grid = ask_batch(study, 64, lambda trial: {
        "base_lr": trial.suggest_float("base_lr", 1e-4, 1e-1, log=True),
        "T_max": trial.suggest_int("T_max", 100, 2000)})
    area = gs.reduce(schedule, grid, steps=2000, op="mean")     # one call for 64 trials
    tell_batch(study, trials, area)

``suggest`` maps a trial to the schedule parameters it samples (a dict); the batch becomes
one :func:`gpusched.trials` grid, in the same order as ``trials``.
"""

from __future__ import annotations

import numpy as np

from ..grid import trials as make_trials

__all__ = ["ask_batch", "tell_batch"]


def ask_batch(study, n: int, suggest):
    """Ask ``n`` trials and build their grid: returns (trials, grid)."""
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
    return asked, make_trials(configs)


def tell_batch(study, trials, values) -> None:
    """Tell each trial its objective value (``values[i]`` for ``trials[i]``)."""
    vals = np.asarray(getattr(values, "get", lambda: values)(), dtype=np.float64).reshape(-1)
    if vals.size != len(trials):
        raise ValueError(f"{vals.size} values for {len(trials)} trials")
    for trial, v in zip(trials, vals):
        study.tell(trial, float(v))
