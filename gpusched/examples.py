"""The built-in example sweep: the seed schedules over grids of their hyperparameters."""

from __future__ import annotations

import numpy as np

from . import compat
from .grid import grid

DEFAULT_STEPS = 3000


def seed_sweep() -> list:
    """(label, schedule, grid) for each seed schedule; about 1.6 million pairs at 3000 steps."""
    torch = compat.torch
    return [
        ("d2l.CosineScheduler", compat.d2l.CosineScheduler(),
         grid(base_lr=np.geomspace(0.01, 0.5, 8), warmup_steps=[0, 50, 100, 200],
              final_lr=[0.0, 1e-3], max_update=[1000, 1500, 2000, 3000])),
        ("yolox.get_lr_scheduler", compat.yolox.get_lr_scheduler(),
         grid(lr_decay_type=["cos", "step"], lr=np.geomspace(1e-3, 1e-1, 8),
              min_lr=[1e-5, 1e-4], total_iters=[300, 1000, 3000])),
        ("warmboot.CosineAnnealingWarmbootingLR",
         compat.warmboot.CosineAnnealingWarmbootingLR(epochs=3000),
         grid(base_lr=[0.01, 0.1], steps=[[600, 1200], [500, 1000, 2000]],
              step_scale=[0.5, 0.8], warmup_epoch=[0, 50], epoch_scale=[0.0, 1.0])),
        ("torch.CosineAnnealingLR", torch.CosineAnnealingLR(),
         grid(base_lr=np.geomspace(1e-4, 1e-1, 16), T_max=[500, 1000, 3000],
              eta_min=[0.0, 1e-5])),
        ("torch.LambdaLR", torch.LambdaLR(lambda step, period: step % period / period),
         grid(base_lr=np.geomspace(1e-3, 1e-1, 8), period=[40, 100, 400, 1000])),
        ("torch.MultiplicativeLR", torch.MultiplicativeLR(lambda epoch, gamma: gamma),
         grid(base_lr=[0.01, 0.1], gamma=np.linspace(0.99, 0.9999, 16))),
        ("multiscale.BatchResize", compat.multiscale.BatchResize(),
         grid(batch_resize_range=[[320, 640], [480, 800]], seed=np.arange(8))),
    ]
