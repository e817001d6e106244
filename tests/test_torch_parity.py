"""Parity of the torch twins with torch.optim.lr_scheduler itself (float64, rel <= 1e-12)."""

import warnings

import numpy as np
import pytest

import gpusched as gs

torch = pytest.importorskip("torch")

RTOL = 1e-12


def torch_lrs(make_scheduler, base_lr, n_steps):
    """optimizer.param_groups[0]["lr"] after t calls to scheduler.step(), t = 0..n_steps-1."""
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt)
    out = [opt.param_groups[0]["lr"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n_steps - 1):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
    return np.array(out, dtype=np.float64)


def assert_parity(ours, theirs, scale):
    """Relative 1e-12; exact zeros of torch (a cosine trough) must be zero to 1e-12 * lr."""
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL * scale * 1e-3)


def draws(rng, n):
    for _ in range(n):
        yield rng


@pytest.mark.parametrize("draw", range(4))
def test_cosine_annealing_lr_matches_torch_past_the_end(draw, backend):
    rng = np.random.default_rng(draw)
    T = [int(x) for x in rng.integers(1, 120, size=3)]
    base = [float(x) for x in rng.uniform(1e-4, 1.0, size=2)]
    eta = [0.0, float(rng.uniform(0, 1e-3))]
    g = gs.grid(base_lr=base, T_max=T, eta_min=eta)
    n = 3 * max(T) + 5                                  # 1.5 periods past the end at least
    ours = gs.evaluate(gs.compat.torch.CosineAnnealingLR(), g, steps=n, dtype="float64",
                       backend=backend)
    for i, cfg in enumerate(g):
        theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(
            o, T_max=cfg["T_max"], eta_min=cfg["eta_min"]), cfg["base_lr"], n)
        assert_parity(ours[i], theirs, cfg["base_lr"])


def test_cosine_annealing_lr_float32_is_the_rounding_of_float64():
    g = gs.grid(base_lr=[0.1, 0.7], T_max=[7, 100])
    s = gs.compat.torch.CosineAnnealingLR()
    f64 = gs.evaluate(s, g, steps=500, dtype="float64")
    f32 = gs.evaluate(s, g, steps=500, dtype="float32")
    np.testing.assert_array_equal(f32, f64.astype(np.float32))


LAMBDAS = {
    "modulo": (lambda step: step % 40 / 100., {}),
    "control_flow": (lambda step: max(0, 1 - step / 100), {}),        # torch's own doc example
    "exponential": (lambda step: 0.97 ** step, {}),
    "swept": (lambda step, period: step % period / period, {"period": [7, 40]}),
}


@pytest.mark.parametrize("name", LAMBDAS)
def test_lambda_lr_matches_torch(name, backend):
    lam, swept = LAMBDAS[name]
    g = gs.grid(base_lr=[0.05, 0.3], **swept)
    ours = gs.evaluate(gs.compat.torch.LambdaLR(lam), g, steps=250, dtype="float64",
                       backend=backend)
    for i, cfg in enumerate(g):
        extra = {k: cfg[k] for k in swept}
        fn = (lambda s, _e=extra: lam(s, **_e))
        theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(o, fn), cfg["base_lr"],
                           250)
        if name == "exponential":   # np.power vs Python's **: libm ulps, within the contract
            assert_parity(ours[i], theirs, cfg["base_lr"])
        else:                       # the same correctly rounded float ops: bit-equal
            np.testing.assert_array_equal(ours[i], theirs)


def test_lambda_lr_with_control_flow_uses_a_host_table():
    s = gs.compat.torch.LambdaLR(lambda step: max(0, 1 - step / 100))
    assert s.expr.op == "mul" and any(a.op == "table" for a in s.expr.args)


MULT = {
    "constant": (lambda epoch: 0.95, {}),
    "control_flow": (lambda epoch: 0.9 if epoch < 30 else 0.99, {}),
    "step_dependent": (lambda epoch: 1 - 1 / (epoch + 50), {}),
    "swept": (lambda epoch, gamma: gamma, {"gamma": [0.9, 0.999]}),
}


@pytest.mark.parametrize("name", MULT)
def test_multiplicative_lr_matches_torch(name, backend):
    lam, swept = MULT[name]
    g = gs.grid(base_lr=[0.01, 0.5], **swept)
    steps = np.array([0, 1, 2, 3, 29, 30, 31, 100, 299])
    ours = gs.evaluate(gs.compat.torch.MultiplicativeLR(lam), g, steps=steps, dtype="float64",
                       backend=backend)
    for i, cfg in enumerate(g):
        extra = {k: cfg[k] for k in swept}
        fn = (lambda s, _e=extra: lam(s, **_e))
        theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.MultiplicativeLR(o, fn),
                           cfg["base_lr"], 300)
        assert_parity(ours[i], theirs[steps], cfg["base_lr"])


def test_float32_adjacent_steps_beyond_2_24_stay_distinct():
    """optax casts the step to float32 and repeats values there; we keep int64 steps."""
    import math
    steps = 2 ** 24 + np.arange(0, 24)
    s = gs.compat.torch.CosineAnnealingLR(T_max=100, base_lr=1.0)
    f32 = gs.evaluate(s, steps=steps, dtype="float32")
    exact = np.array([(1 + math.cos(math.pi * (int(t) / 100))) / 2 for t in steps])
    np.testing.assert_array_equal(f32, exact.astype(np.float32))
    differ = exact[1:] != exact[:-1]
    assert differ.all() and (f32[1:] != f32[:-1]).all()
    # the same at 2**31 + k (past int32) for a sweepable integer period
    steps = 2 ** 31 + np.arange(0, 24)
    f32 = gs.evaluate(s, gs.grid(T_max=[50, 333]), steps=steps, dtype="float32")
    for i, T in enumerate([50, 333]):
        exact = np.array([(1 + math.cos(math.pi * (int(t) / T))) / 2 for t in steps])
        np.testing.assert_array_equal(f32[i], exact.astype(np.float32))


def test_running_product_to_a_huge_step_is_refused_clearly():
    s = gs.compat.torch.MultiplicativeLR(lambda epoch: 0.99, base_lr=0.1)
    with pytest.raises(ValueError, match=r"running product .* up to step 2147483643 needs"):
        gs.evaluate(s, steps=[0, 2 ** 31 + 7 - 12])
