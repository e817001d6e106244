"""The built-in example sweep: the seed schedules over grids of their hyperparameters."""

from __future__ import annotations

import numpy as np

from . import expr as E
from .grid import grid

DEFAULT_STEPS = 3000


def seed_sweep() -> list:
    """(label, schedule, grid) for each seed schedule; about 1.6 million pairs at 3000 steps."""
    from .compat import d2l, multiscale, torch, warmboot, yolox
    return [
        ("d2l.CosineScheduler", d2l.CosineScheduler(),
         grid(base_lr=np.geomspace(0.01, 0.5, 8), warmup_steps=[0, 50, 100, 200],
              final_lr=[0.0, 1e-3], max_update=[1000, 1500, 2000, 3000])),
        ("yolox.get_lr_scheduler", yolox.get_lr_scheduler(),
         grid(lr_decay_type=["cos", "step"], lr=np.geomspace(1e-3, 1e-1, 8),
              min_lr=[1e-5, 1e-4], total_iters=[300, 1000, 3000])),
        ("warmboot.CosineAnnealingWarmbootingLR",
         warmboot.CosineAnnealingWarmbootingLR(epochs=3000),
         grid(base_lr=[0.01, 0.1], steps=[[600, 1200], [500, 1000, 2000]],
              step_scale=[0.5, 0.8], warmup_epoch=[0, 50], epoch_scale=[0.0, 1.0])),
        ("torch.CosineAnnealingLR", torch.CosineAnnealingLR(),
         grid(base_lr=np.geomspace(1e-4, 1e-1, 16), T_max=[500, 1000, 3000],
              eta_min=[0.0, 1e-5])),
        ("torch.LambdaLR", torch.LambdaLR(lambda step, period: step % period / period),
         grid(base_lr=np.geomspace(1e-3, 1e-1, 8), period=[40, 100, 400, 1000])),
        ("torch.MultiplicativeLR", torch.MultiplicativeLR(lambda epoch, gamma: gamma),
         grid(base_lr=[0.01, 0.1], gamma=np.linspace(0.99, 0.9999, 16))),
        ("multiscale.BatchResize", multiscale.BatchResize(),
         grid(batch_resize_range=[[320, 640], [480, 800]], seed=np.arange(8))),
    ]


def check_catalog() -> list:
    """Small grids over every schedule family, compositions and traced lambdas: what the
    kernel gates (``gpusched check-kernels``, the simulator tests) compile and compare."""
    from . import blocks
    from .schedule import schedule

    entries = [(label, s, g) for label, s, g in seed_sweep()]
    small = []
    for label, s, g in entries:       # a few configs of each sweep, spread over the grid
        idx = np.unique(np.linspace(0, len(g) - 1, 6).astype(int))
        small.append((label, s, _subset(g, idx)))
    ramp = blocks.linear(init_value=0.0, transition_steps=50).rename(end_value="peak")
    decay = blocks.cosine(decay_steps=300, end_value=1e-4).rename(init_value="peak")
    small += [
        ("core.linear", blocks.linear(init_value=1.0, end_value=0.1, transition_steps=100),
         grid(transition_begin=[0, 25])),
        ("core.cosine", blocks.cosine(), grid(init_value=[0.1, 1.0], decay_steps=[7, 250])),
        ("core.exponential staircase", blocks.exponential(
            init_value=1.0, transition_steps=30, staircase=True, end_value=0.01),
         grid(decay_rate=[0.5, 0.9], transition_begin=[0, 10])),
        ("core.polynomial", blocks.polynomial(init_value=1.0, end_value=0.0),
         grid(transition_steps=[100, 350], power=[0.5, 2.0])),
        ("core.piecewise_constant", blocks.piecewise_constant(),
         _trials(values=[[1.0, 0.1, 0.01], [0.5, 0.05]], boundaries=[[30, 60], [45]])),
        ("core.join warmup+cosine", blocks.join([ramp, decay], ["warmup"]),
         grid(peak=[0.1, 0.3], warmup=[0, 50])),
        ("core.warmup(exponential)", blocks.warmup(
            blocks.exponential(init_value=0.2, decay_rate=0.97, transition_steps=10)),
         grid(warmup_steps=[0, 20, 100])),
        ("lambda floor/mod/where", schedule(
            lambda t, T, lr: E.where(t % T < T // 2, lr * (1 - (t % T) / T),
                                      lr * E.floor(t / T) / (1 + t // T))),
         grid(T=[7, 40], lr=[0.1])),
        ("lambda float // and %", schedule(lambda t, p: (t / 3.0) // p + (t * 0.7) % p),
         grid(p=[2.5, -1.75])),
        ("lambda exp/log/tanh/sqrt", schedule(
            lambda t, a: E.exp(-t / a) + E.log1p(t) * E.tanh(t / a) + E.sqrt(t) / (1 + t)),
         grid(a=[50.0, 333.0])),
        # a milestone count and gamma ** count per config: what a GPU thread remembers
        # over its steps and recomputes when it passes a milestone (codegen.c_sections)
        ("lambda gamma ** milestone count", schedule(
            lambda t, lr, gamma, milestones: lr * gamma ** E.count_le(milestones, t)),
         _trials(lr=[0.1, 0.5, 1.0], gamma=[0.5, 0.1, 0.9],
                 milestones=[[30, 80, 150], [10, 200], [3, 3, 397]])),
        ("lambda atan/sign", schedule(
            lambda t, a, s: a * E.atan((t - s) / 7.0) + E.sign(t - s) + 0.1 * E.sign(a - 1.0)),
         grid(a=[0.5, 1.0, 2.0], s=[0, 50])),
        ("lambda random uniform", schedule(
            lambda t, seed: E.random_uniform(seed, t, 3) * 0.01 + 0.001), grid(seed=[0, 9])),
    ]
    small += _twin_catalog()
    return small


def _twin_catalog() -> list:
    """Twins that use the rarer operations: list products and sums, exact and float-log
    restart cycles, host scans (reduce on plateau), choice and flag parameters."""
    from .compat import deepspeed, mmengine, optax, timm, torch
    rng = np.random.default_rng(0)
    loss = [list(np.cumsum(rng.normal(-0.01, 0.1, 12400)) + 3) for _ in range(2)]   # > 12345
    return [
        ("torch.OneCycleLR", torch.OneCycleLR(max_lr=0.1),
         grid(total_steps=[500, 3000], three_phase=[False, True],
              anneal_strategy=["cos", "linear"])),
        ("torch.CosineAnnealingWarmRestarts", torch.CosineAnnealingWarmRestarts(
            base_lr=0.1), grid(T_0=[1, 7], T_mult=[1, 3])),
        ("torch.ReduceLROnPlateau", torch.ReduceLROnPlateau(base_lr=0.1),
         _trials(metrics=loss, patience=[3, 10], mode=["min", "max"])),
        ("optax.piecewise_interpolate_schedule",
         optax.piecewise_interpolate_schedule(init_value=1.0),
         _trials(interpolate_type=["linear", "cosine"], boundaries=[[100, 900], [50]],
                 scales=[[0.5, 0.1], [2.0]])),
        ("timm.CosineLRScheduler", timm.CosineLRScheduler(base_lr=0.1, cycle_limit=20),
         grid(t_initial=[1, 50], cycle_mul=[1.0, 3.0], warmup_t=[0, 5])),
        ("mmengine.CosineRestartLR", mmengine.CosineRestartLR(base_lr=0.1, eta_min=1e-4),
         _trials(periods=[[100, 300, 900], [700]], restart_weights=[[1, .5, .25], [1]])),
        ("deepspeed.OneCycle", deepspeed.OneCycle(0.01, 0.1, decay_lr_rate=0.5,
                                                          decay_step_size=100),
         grid(cycle_first_step_size=[200, 600], cycle_first_stair_count=[0, 4])),
    ]


def _subset(g, idx):
    from .grid import Grid
    return Grid({k: (c.take(idx) if hasattr(c, "take") and not isinstance(c, np.ndarray)
                     else c[idx]) for k, c in g.columns.items()}, len(idx))


def _trials(**cols):
    from .grid import trials
    return trials(**cols)

