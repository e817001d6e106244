"""The standard benchmark workloads (W1 .. W4, README "Speed"), as (schedule, grid, steps,
kind) for gpusched."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import gpusched as gs
from gpusched.compat import torch as torch_twins


@dataclass
class Workload:
    name: str
    title: str
    schedule: object
    grid: object
    steps: int
    kind: str           # "table" or "reduce"
    params: dict        # the axes, for the peers
    gpu_only: bool = False   # sized for a GPU: GPU backends and peers on the GPU only


def warmup_cosine():
    """Linear warmup from 0 to `peak`, then cosine decay to `end_value` over the remaining
    steps of `total` (optax's warmup_cosine_decay_schedule with init 0, decay_steps=total)."""
    return gs.schedule(lambda t, peak, warmup_steps, end_value, total:
                       gs.where(t < warmup_steps, peak * t / warmup_steps,
                                end_value + (peak - end_value) * 0.5 * (1 + gs.cos(
                                    gs.pi * gs.minimum(t - warmup_steps, total - warmup_steps)
                                    / (total - warmup_steps)))))


def custom():
    """A user lambda: step decay with a periodic ripple."""
    return gs.schedule(lambda t, base_lr, gamma, period:
                       base_lr * gamma ** (t // period)
                       * (1 + 0.1 * gs.cos(2 * gs.pi * t / period)))


def workloads(quick: bool, gpu: bool = False) -> list:
    """The standard workloads at full or quick sizes; with a GPU, also W1 with 100 times the
    configs (a 4 GiB float32 table: W1's 41 MB is written in about 15 us at 3 TB/s, less
    than the host's part of a call, so only a larger table shows the bandwidth limit)."""
    steps = 2_000 if quick else 10_000
    peaks = np.geomspace(1e-4, 1e-1, 16 if quick else 64)
    w1 = dict(peak=peaks, warmup_steps=[100, 200, 500, 1000], end_value=[0, 1e-5, 1e-4, 1e-3],
              total=[steps])
    n2 = 10_000 if quick else 100_000
    w2 = dict(peak=np.geomspace(1e-4, 1e-1, n2 // 100), warmup_steps=[100, 200, 500, 1000, 1500],
              end_value=np.linspace(0, 1e-3, 20), total=[steps])
    rng = np.random.default_rng(0)
    milestones = [sorted(rng.choice(np.arange(1, steps), 8, replace=False).tolist())
                  for _ in range(16)]
    out = [
        Workload("W1", "table: warmup + cosine", warmup_cosine(), gs.grid(**w1), steps, "table",
                 w1),
        Workload("W2", "reduce (mean): warmup + cosine", warmup_cosine(), gs.grid(**w2), steps,
                 "reduce", w2),
        Workload("W3a", "table: OneCycle (cos)", torch_twins.OneCycleLR(),
                 gs.grid(max_lr=np.geomspace(1e-3, 1, 64), pct_start=[0.1, 0.25, 0.3, 0.4],
                         total_steps=[steps]), steps, "table", {}),
        Workload("W3b", "table: warm restarts T_mult=2",
                 torch_twins.CosineAnnealingWarmRestarts(T_mult=2),
                 gs.grid(base_lr=np.geomspace(1e-3, 1, 64), T_0=[10, 50, 100, 500],
                         eta_min=[0.0, 1e-5]), steps, "table", {}),
        Workload("W3c", "table: MultiStep, 8 milestones", torch_twins.MultiStepLR(),
                 gs.grid(base_lr=np.geomspace(1e-3, 1, 16), gamma=[0.1, 0.5],
                         milestones=milestones), steps, "table", {}),
        Workload("W4", "table: user lambda", custom(),
                 gs.grid(base_lr=np.geomspace(1e-3, 1, 64), gamma=[0.5, 0.9],
                         period=[100, 300, 1000]), steps, "table", {}),
    ]
    if gpu:
        w1l = dict(w1, peak=np.geomspace(1e-4, 1e-1, 160 if quick else 6400))
        out.insert(1, Workload("W1L", "table: warmup + cosine, 100x W1's configs",
                               warmup_cosine(), gs.grid(**w1l), steps, "table", w1l,
                               gpu_only=True))
    return out
