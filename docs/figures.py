"""Draw the figures under docs/ (``python docs/figures.py``); tests run it into a temporary
folder, so the committed images stay reproducible.

``w3.png``: the W3 benchmark grids (DESIGN section 6) as users would sweep them with the
twins: torch OneCycleLR over max_lr x pct_start, CosineAnnealingWarmRestarts with T_mult=2
over base_lr x T_0 x eta_min, and MultiStepLR with 8 random milestones per config.
"""

import sys
from pathlib import Path

import numpy as np

import gpusched as gs


def w3(out: Path, steps: int = 10000) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    T = gs.compat.torch
    rng = np.random.default_rng(0)
    milestones = [sorted(rng.choice(np.arange(1, steps), 8, replace=False).tolist())
                  for _ in range(16)]
    panels = [
        ("OneCycleLR (cos): max_lr x pct_start", T.OneCycleLR(total_steps=steps),
         gs.grid(max_lr=np.geomspace(1e-3, 1, 64), pct_start=[0.1, 0.25, 0.3, 0.4])),
        ("CosineAnnealingWarmRestarts, T_mult=2: base_lr x T_0 x eta_min",
         T.CosineAnnealingWarmRestarts(T_mult=2),
         gs.grid(base_lr=np.geomspace(1e-3, 1, 64), T_0=[10, 50, 100, 500],
                 eta_min=[0.0, 1e-5])),
        ("MultiStepLR, 8 milestones per config: base_lr x gamma x milestones",
         T.MultiStepLR(), gs.grid(base_lr=np.geomspace(1e-3, 1, 16), gamma=[0.1, 0.5],
                                  milestones=milestones)),
    ]
    fig, axes = plt.subplots(3, 1, figsize=(9, 11), dpi=110)
    for ax, (title, sched, grid) in zip(axes, panels):
        gs.plot(sched, grid, steps, ax=ax, log=True, title=f"{title}  ({len(grid)} configs)")
        ax.set_ylim(1e-9 if "OneCycle" in title else 1e-7, 2)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    print(w3(folder / "w3.png"))
