"""Every twin with a valid configuration: the reference cases, plus a few per library CI
can run (shared by the catalog, property and invalid-input tests)."""

import json
from pathlib import Path

import gpusched as gs

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests" / "reference" / "values.json").read_text())["cases"]

EXTRA = [
    ("torch", "StepLR", dict(step_size=7, base_lr=0.1)),
    ("torch", "MultiStepLR", dict(milestones=[10, 30, 31], gamma=0.5, base_lr=0.1)),
    ("torch", "ConstantLR", dict(factor=0.5, total_iters=10, base_lr=0.1)),
    ("torch", "LinearLR", dict(start_factor=0.2, total_iters=20, base_lr=0.1)),
    ("torch", "ExponentialLR", dict(gamma=0.97, base_lr=0.1)),
    ("torch", "PolynomialLR", dict(total_iters=50, power=2.0, base_lr=0.1)),
    ("torch", "CosineAnnealingLR", dict(T_max=40, eta_min=1e-4, base_lr=0.1)),
    ("torch", "CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, base_lr=0.1)),
    ("torch", "CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=7, mode="triangular2")),
    ("torch", "OneCycleLR", dict(max_lr=0.1, total_steps=100)),
    ("transformers", "get_linear_schedule_with_warmup", dict(num_warmup_steps=10,
                                                             num_training_steps=100,
                                                             base_lr=0.1)),
    ("transformers", "get_cosine_schedule_with_warmup", dict(num_warmup_steps=10,
                                                             num_training_steps=100,
                                                             base_lr=0.1)),
    ("transformers", "get_wsd_schedule", dict(num_warmup_steps=5, num_decay_steps=20,
                                              num_stable_steps=30, base_lr=0.1)),
    ("transformers", "get_inverse_sqrt_schedule", dict(num_warmup_steps=10, base_lr=0.1)),
    ("optax", "warmup_cosine_decay_schedule", dict(init_value=0.0, peak_value=1.0,
                                                   warmup_steps=10, decay_steps=100)),
    ("optax", "linear_onecycle_schedule", dict(transition_steps=100, peak_value=1.0)),
    ("optax", "piecewise_constant_schedule", dict(init_value=1.0,
                                                  boundaries_and_scales={10: 0.5, 50: 0.1})),
    ("optax", "exponential_decay", dict(init_value=1.0, transition_steps=10, decay_rate=0.9)),
    ("fairseq", "tri_stage", dict(warmup_steps=10, hold_steps=20, decay_steps=50,
                                  base_lr=0.1)),
    ("fairseq", "cosine", dict(lr_period_updates=20, t_mult=2.0, warmup_updates=5,
                               base_lr=0.1)),
    ("fairseq", "inverse_sqrt", dict(warmup_updates=10, base_lr=0.1)),
]


def cases(with_metrics=True):
    """(id, factory, kwargs) for every twin case; ``with_metrics=False`` leaves out the
    metric-driven ones (their steps are bounded by the metric series)."""
    out = []
    for i, c in enumerate(REF):
        kw = dict(c["kwargs"])
        if c["base_lr"] is not None:
            kw["base_lr"] = c["base_lr"]
        if "noise_range_t" in kw or ("metrics" in kw and not with_metrics):
            continue
        out.append((f"{c['library']}.{c['name']}-{i}", c["library"], c["name"], kw))
    for i, (lib, name, kw) in enumerate(EXTRA):
        out.append((f"{lib}.{name}-x{i}", lib, name, kw))
    return out


def build(lib, name, kw):
    return getattr(getattr(gs.compat, lib), name)(**kw)
