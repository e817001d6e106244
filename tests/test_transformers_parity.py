"""Parity of the transformers twins with transformers' own schedules (float64, rel <= 1e-12)."""

import numpy as np
import pytest

import gpusched as gs

torch = pytest.importorskip("torch")
hf = pytest.importorskip("transformers.optimization")
TW = gs.compat.transformers
from test_torch_parity import torch_lrs  # noqa: E402  (the same stepping loop)

N_STEPS = 160


def hf_lrs(factory, base_lr, n, **kw):
    """The lr of each of ``n`` steps of ``factory(optimizer, **kw)``, stepped as torch does."""
    return torch_lrs(lambda opt: factory(opt, **kw), base_lr, n)


def _wn(r):
    W = int(r.integers(0, 30))
    return dict(num_warmup_steps=W, num_training_steps=W + int(r.integers(1, 80)))


FAMILIES = {   # name: (draw(rng) -> kwargs, twin kwargs fixed at construction)
    "get_linear_schedule_with_warmup": (_wn, {}),
    "get_cosine_schedule_with_warmup": (
        lambda r: dict(**_wn(r), num_cycles=float(r.choice([0.5, 1.0, 1.7]))), {}),
    "get_cosine_with_hard_restarts_schedule_with_warmup": (
        lambda r: dict(**_wn(r), num_cycles=int(r.integers(1, 5))), {}),
    "get_polynomial_decay_schedule_with_warmup": (
        lambda r: dict(**_wn(r), lr_end=float(r.uniform(0, 1e-3)),
                       power=float(r.uniform(.5, 3))), {}),
    "get_constant_schedule": (lambda r: {}, {}),
    "get_constant_schedule_with_warmup": (
        lambda r: dict(num_warmup_steps=int(r.integers(0, 40))), {}),
    "get_inverse_sqrt_schedule": (
        lambda r: dict(num_warmup_steps=int(r.integers(0, 40)),
                       timescale=int(r.integers(1, 500))), {}),
    "get_cosine_with_min_lr_schedule_with_warmup": (
        lambda r: dict(**_wn(r), num_cycles=float(r.choice([0.5, 1.5])),
                       min_lr_rate=float(r.uniform(0, .5))), {"min_lr_rate": 0.1}),
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": (
        lambda r: dict(**_wn(r), min_lr_rate=float(r.uniform(0, .5)),
                       warmup_lr_rate=float(r.uniform(0, .5))),
        {"min_lr_rate": 0.1, "warmup_lr_rate": 0.1}),
    "get_wsd_schedule": (
        lambda r: dict(num_warmup_steps=int(r.integers(0, 30)),
                       num_decay_steps=int(r.integers(0, 60)),
                       num_stable_steps=int(r.integers(0, 50)),
                       warmup_type=str(r.choice(TW.WSD_WARMUP)),
                       decay_type=str(r.choice(TW.WSD_DECAY)),
                       min_lr_ratio=float(r.uniform(0, .3)), num_cycles=0.5), {}),
}


@pytest.mark.parametrize("name", FAMILIES)
def test_schedule_matches_transformers_over_random_draws(name, backend):
    draw, fixed = FAMILIES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    configs = [dict(base_lr=float(rng.uniform(.002, .2)), **draw(rng)) for _ in range(6)]
    ours = gs.evaluate(getattr(TW, name)(**fixed), gs.trials(configs), steps=N_STEPS,
                       dtype="float64", backend=backend)
    for i, cfg in enumerate(configs):
        kw = {k: v for k, v in cfg.items() if k != "base_lr"}
        theirs = hf_lrs(getattr(hf, name), cfg["base_lr"], N_STEPS, **kw)
        np.testing.assert_allclose(ours[i], theirs, rtol=1e-12, atol=1e-18)


def test_min_lr_in_absolute_terms_and_timescale_default():
    ours = gs.evaluate(TW.get_cosine_with_min_lr_schedule_with_warmup(5, 50, min_lr=1e-3,
                                                                      base_lr=.02), steps=120,
                       dtype="float64")
    theirs = hf_lrs(hf.get_cosine_with_min_lr_schedule_with_warmup, .02, 120,
                    num_warmup_steps=5, num_training_steps=50, min_lr=1e-3)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    for W in (0, 7):
        ours = gs.evaluate(TW.get_inverse_sqrt_schedule(W, base_lr=.1), steps=50,
                           dtype="float64")
        theirs = hf_lrs(hf.get_inverse_sqrt_schedule, .1, 50, num_warmup_steps=W)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_wsd_from_num_training_steps():
    ours = gs.evaluate(TW.get_wsd_schedule(10, 30, num_training_steps=100, base_lr=.1),
                       steps=130, dtype="float64")
    theirs = hf_lrs(hf.get_wsd_schedule, .1, 130, num_warmup_steps=10, num_decay_steps=30,
                    num_training_steps=100)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("name", [n for n in TW.SCHEDULER_TYPES
                                  if n not in ("reduce_lr_on_plateau", "greedy")])
def test_get_scheduler_by_type_name(name):
    kw = {"cosine_with_min_lr": {"min_lr_rate": .05},
          "cosine_warmup_with_min_lr": {"min_lr_rate": .05},
          "warmup_stable_decay": {"num_decay_steps": 20}}.get(name, {})
    ours = gs.evaluate(TW.get_scheduler(name, 8, 60, kw, base_lr=.05), steps=90,
                       dtype="float64")
    theirs = hf_lrs(lambda o, **k: hf.get_scheduler(name, o, 8, 60, scheduler_specific_kwargs=kw),
                    .05, 90)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-18)


def test_greedy_matches_transformers(backend):
    rng = np.random.default_rng(11)
    n = 400
    configs = []
    for i in range(5):
        loss = np.cumsum(rng.normal(-0.005, 0.05, n)) + 2
        configs.append(dict(base_lr=float(rng.uniform(.01, .3)), metrics=loss,
                            patience=int(rng.integers(0, 6)), factor=float(rng.uniform(.5, .99)),
                            cooldown=int(rng.integers(0, 4)), warmup=int(rng.integers(0, 4)),
                            smooth=bool(i % 2), window_size=int(rng.integers(1, 20)),
                            reset_start=int(rng.integers(1, 30)),
                            min_lr=float(rng.choice([1e-3, .05])),
                            threshold_mode=str(rng.choice(["abs", "rel"])),
                            mode=str(rng.choice(["min", "max"]))))
    ours = gs.evaluate(TW.get_greedy_schedule(), gs.trials(configs), steps=n + 1,
                       dtype="float64", backend=backend)
    for i, cfg in enumerate(configs):
        kw = {k: v for k, v in cfg.items() if k not in ("base_lr", "metrics")}
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=cfg["base_lr"])
        sched = hf.get_greedy_schedule(opt, **kw)
        theirs = [opt.param_groups[0]["lr"]]
        for m in cfg["metrics"]:
            sched.step(m)
            theirs.append(opt.param_groups[0]["lr"])
        np.testing.assert_array_equal(ours[i], theirs)
    assert len({tuple(r) for r in np.round(ours, 12)}) == 5


def test_reduce_on_plateau_type():
    loss = [1.0, .9, .95, .96, .97, .98, .99, 1.0]
    ours = gs.evaluate(TW.get_scheduler("reduce_lr_on_plateau", scheduler_specific_kwargs=dict(
        metrics=loss, patience=2), base_lr=.1), steps=9, dtype="float64")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=.1)
    sched = hf.get_scheduler("reduce_lr_on_plateau", opt, scheduler_specific_kwargs={"patience": 2})
    theirs = [.1]
    for m in loss:
        sched.step(m)
        theirs.append(opt.param_groups[0]["lr"])
    np.testing.assert_array_equal(ours, theirs)
    assert ours[-1] < .1
