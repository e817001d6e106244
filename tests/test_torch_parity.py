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
        def fn(s, _e=extra):
            return lam(s, **_e)
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
        def fn(s, _e=extra):
            return lam(s, **_e)
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
    with pytest.raises(ValueError, match=r"running product .* up to step 2147483643 .*would need"):
        gs.evaluate(s, steps=[0, 2 ** 31 + 7 - 12])


# ---------------------------------------------------------------------------------------------
# every other scheduler: random draws of every parameter, swept through one grid (integer
# parameters included), several periods past the end, each config against torch stepped alone
# ---------------------------------------------------------------------------------------------
S = torch.optim.lr_scheduler
TW = gs.compat.torch


def _draw_milestones(rng):
    return sorted(int(x) for x in rng.integers(1, 60, size=int(rng.integers(1, 5))))


# name: (twin factory, torch factory(opt, **cfg), draw(rng) -> one config, uses base_lr)
FAMILIES = {
    "StepLR": (TW.StepLR, S.StepLR,
               lambda r: dict(step_size=int(r.integers(1, 20)), gamma=float(r.uniform(.05, 1)))),
    "MultiStepLR": (TW.MultiStepLR, S.MultiStepLR,
                    lambda r: dict(milestones=_draw_milestones(r),
                                   gamma=float(r.uniform(.05, 1)))),
    "ConstantLR": (TW.ConstantLR, S.ConstantLR,
                   lambda r: dict(factor=float(r.uniform(.01, 1)),
                                  total_iters=int(r.integers(0, 30)))),
    "LinearLR": (TW.LinearLR, S.LinearLR,
                 lambda r: dict(start_factor=float(r.uniform(.01, 1)),
                                end_factor=float(r.uniform(0, 1)),
                                total_iters=int(r.integers(1, 40)))),
    "ExponentialLR": (TW.ExponentialLR, S.ExponentialLR,
                      lambda r: dict(gamma=float(r.uniform(.9, 1)))),
    "PolynomialLR": (TW.PolynomialLR, S.PolynomialLR,
                     lambda r: dict(total_iters=int(r.integers(1, 60)),
                                    power=float(r.uniform(.5, 3)))),
    "CosineAnnealingWarmRestarts": (
        TW.CosineAnnealingWarmRestarts, S.CosineAnnealingWarmRestarts,
        lambda r: dict(T_0=int(r.integers(1, 15)), T_mult=int(r.integers(1, 4)),
                       eta_min=float(r.choice([0.0, 1e-4])))),
    "CyclicLR": (TW.CyclicLR, S.CyclicLR,
                 lambda r: dict(max_lr=float(r.uniform(.2, 1)),
                                step_size_up=int(r.integers(1, 15)),
                                step_size_down=int(r.integers(1, 15)),
                                mode=str(r.choice(TW.CYCLIC_MODES)),
                                gamma=float(r.uniform(.9, 1)))),
    "OneCycleLR": (TW.OneCycleLR, S.OneCycleLR,
                   lambda r: dict(max_lr=float(r.uniform(.1, 1)),
                                  total_steps=int(r.integers(20, 120)),
                                  pct_start=float(r.choice([.25, .3, .45])),
                                  anneal_strategy=str(r.choice(["cos", "linear"])),
                                  div_factor=float(r.uniform(5, 30)),
                                  final_div_factor=float(r.uniform(10, 1e4)),
                                  three_phase=bool(r.integers(0, 2)))),
}
NO_BASE_LR = {"OneCycleLR"}     # its lrs come from max_lr (torch ignores the optimizer's)


def _torch_kwargs(name, cfg):
    kw = {k: v for k, v in cfg.items() if k != "base_lr"}
    if name == "CyclicLR":
        kw.update(base_lr=cfg["base_lr"], cycle_momentum=False)
    if name == "OneCycleLR":
        kw.update(cycle_momentum=False)
    return kw


@pytest.mark.parametrize("name", FAMILIES)
def test_scheduler_matches_torch_over_random_draws(name, backend):
    make_twin, make_torch, draw = FAMILIES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2 ** 32)
    configs = [dict(base_lr=float(rng.uniform(.001, .2)), **draw(rng)) for _ in range(5)]
    n = 150
    twin_configs = [{k: v for k, v in c.items() if not (k == "base_lr" and name in NO_BASE_LR)}
                    for c in configs]
    ours = gs.evaluate(make_twin(), gs.trials(twin_configs), steps=n, dtype="float64",
                       backend=backend)
    for i, cfg in enumerate(configs):
        total = cfg.get("total_steps", n - 1)
        theirs = torch_lrs(lambda o: make_torch(o, **_torch_kwargs(name, cfg)),
                           cfg["base_lr"], min(n, total + 1))
        assert_parity(ours[i, :theirs.size], theirs, cfg["base_lr"])


def test_momentum_outputs_match_torch():
    for make_twin, make_torch, kw in [
            (TW.CyclicLR, S.CyclicLR, dict(base_lr=.01, max_lr=.1, step_size_up=4,
                                           step_size_down=6, mode="triangular2")),
            (TW.OneCycleLR, S.OneCycleLR, dict(max_lr=.1, total_steps=40, three_phase=True)),
            (TW.OneCycleLR, S.OneCycleLR, dict(max_lr=.1, total_steps=37,
                                               anneal_strategy="linear"))]:
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=.01, momentum=.9)
        sched = make_torch(opt, **kw)
        moms = [opt.param_groups[0]["momentum"]]
        for _ in range(35):
            opt.step()
            sched.step()
            moms.append(opt.param_groups[0]["momentum"])
        ours = gs.evaluate(make_twin(**kw, output="momentum"), steps=36, dtype="float64")
        np.testing.assert_allclose(ours, moms, rtol=1e-12)


def test_cyclic_custom_scale_fn_is_traced():
    def fn(x):
        return 0.5 ** x
    ours = gs.evaluate(TW.CyclicLR(.01, .1, 3, scale_fn=fn, scale_mode="iterations"),
                       steps=30, dtype="float64")
    theirs = torch_lrs(lambda o: S.CyclicLR(o, .01, .1, 3, scale_fn=fn,
                                            scale_mode="iterations", cycle_momentum=False),
                       .01, 30)
    assert_parity(ours, theirs, .1)


def test_one_cycle_extrapolates_at_total_steps_like_torch():
    theirs = torch_lrs(lambda o: S.OneCycleLR(o, max_lr=.1, total_steps=20,
                                              anneal_strategy="linear"), .1, 21)
    ours = gs.evaluate(TW.OneCycleLR(.1, 20, anneal_strategy="linear"), steps=21,
                       dtype="float64")
    assert theirs[-1] < 0 and ours[-1] == pytest.approx(theirs[-1], rel=1e-12)


def test_one_cycle_from_epochs_and_bad_phase_lengths():
    a = gs.evaluate(TW.OneCycleLR(.1, epochs=4, steps_per_epoch=25), steps=100)
    b = gs.evaluate(TW.OneCycleLR(.1, 100), steps=100)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="pct_start"):
        gs.evaluate(TW.OneCycleLR(.1, total_steps=10, pct_start=0.1), steps=5)


SEQ = {
    "linear_then_cosine": lambda T: ([T.LinearLR(start_factor=.1, total_iters=5),
                                      T.CosineAnnealingLR(T_max=20)], [5]),
    "three_parts": lambda T: ([T.ConstantLR(factor=.5, total_iters=3), T.ExponentialLR(.9),
                               T.CosineAnnealingWarmRestarts(T_0=4, T_mult=2)], [6, 20]),
}


@pytest.mark.parametrize("name", SEQ)
def test_sequential_lr_matches_torch(name):
    parts, ms = SEQ[name](TW)
    ours = gs.evaluate(TW.SequentialLR(parts, ms), gs.grid(base_lr=[.1, .03]), steps=60,
                       dtype="float64")
    for i, b in enumerate([.1, .03]):
        theirs = torch_lrs(lambda o: S.SequentialLR(o, SEQ[name](S_bound(o))[0], ms), b, 60)
        assert_parity(ours[i], theirs, b)


class S_bound:
    """torch's schedulers with the optimizer bound, so SEQ can build both kinds."""

    def __init__(self, opt):
        self.opt = opt

    def __getattr__(self, name):
        cls = getattr(S, name)
        return lambda *a, **k: cls(self.opt, *a, **k)


CHAINS = {
    "constant_times_exponential": lambda T: [T.ConstantLR(factor=.1, total_iters=4),
                                             T.ExponentialLR(.9)],
    "lambda_then_exponential": lambda T: [T.StepLR(3, .5), T.LambdaLR(lambda s: 1 / (s + 1)),
                                          T.ExponentialLR(.9)],
    "linear_cosine_step": lambda T: [T.LinearLR(total_iters=6), T.CosineAnnealingLR(45),
                                     T.MultiStepLR([10, 20], .5)],
}

# chains holding a CosineAnnealingLR: torch steps it as lr <- r (lr - eta_min) + eta_min and
# adds an increment at t = T_max + 1 (mod 2 T_max); the twin runs the same recurrence
COSINE_CHAINS = {
    "linear_then_cosine_eta": lambda T: [T.LinearLR(start_factor=.1, total_iters=10),
                                         T.CosineAnnealingLR(T_max=30, eta_min=.004)],
    "cosine_then_exponential": lambda T: [T.CosineAnnealingLR(T_max=17, eta_min=.001),
                                          T.ExponentialLR(.99)],
    "lambda_then_cosine": lambda T: [T.LambdaLR(lambda s: 1 / (s + 1)),
                                     T.CosineAnnealingLR(T_max=25, eta_min=1e-4)],
    "two_cosines_and_steps": lambda T: [T.CosineAnnealingLR(T_max=40, eta_min=.002),
                                        T.MultiStepLR([50, 120, 121], .5),
                                        T.CosineAnnealingLR(T_max=7, eta_min=0.0),
                                        T.ConstantLR(factor=.5, total_iters=33)],
}


@pytest.mark.parametrize("name", COSINE_CHAINS)
def test_chains_with_a_cosine_match_torch_across_its_restarts(name, backend):
    bases = [.1, .02]
    ours = gs.evaluate(TW.ChainedScheduler(COSINE_CHAINS[name](TW)), gs.grid(base_lr=bases),
                       steps=300, dtype="float64", backend=backend)
    for i, b in enumerate(bases):
        theirs = torch_lrs(lambda o: S.ChainedScheduler(COSINE_CHAINS[name](S_bound(o))), b, 300)
        # two cosines with eta_min drive torch's lr through zero (negative values): near
        # there the recurrence cancels, so the tolerance is absolute, 1e-12 of the lr scale
        np.testing.assert_allclose(ours[i], theirs, rtol=RTOL, atol=RTOL * b)


def test_a_cosine_chain_sweeps_its_members_parameters():
    chain = TW.ChainedScheduler([TW.LinearLR(start_factor=.2, total_iters=8),
                                 TW.CosineAnnealingLR()])
    grid = gs.grid(base_lr=[.1, .3], T_max=[5, 23], eta_min=[0.0, .01])
    ours = gs.evaluate(chain, grid, steps=120, dtype="float64", backend="numba")
    for i, c in enumerate(grid):
        theirs = torch_lrs(lambda o: S.ChainedScheduler([
            S.LinearLR(o, start_factor=.2, total_iters=8),
            S.CosineAnnealingLR(o, T_max=c["T_max"], eta_min=c["eta_min"])]), c["base_lr"], 120)
        assert_parity(ours[i], theirs, c["base_lr"])


@pytest.mark.parametrize("name", CHAINS)
def test_chained_scheduler_matches_torch(name):
    ours = gs.evaluate(TW.ChainedScheduler(CHAINS[name](TW)), gs.grid(base_lr=[.1, .02]),
                       steps=40, dtype="float64")
    for i, b in enumerate([.1, .02]):
        theirs = torch_lrs(lambda o: S.ChainedScheduler(CHAINS[name](S_bound(o))), b, 40)
        assert_parity(ours[i], theirs, b)


def _plateau_torch(metrics, base_lr, **kw):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = S.ReduceLROnPlateau(opt, **kw)
    out = [opt.param_groups[0]["lr"]]
    for m in metrics:
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return np.array(out)


def test_reduce_lr_on_plateau_matches_torch_per_config_metrics(backend):
    rng = np.random.default_rng(5)
    n_cfg, n = 6, 300
    losses = np.cumsum(rng.normal(-0.01, 0.1, size=(n_cfg, n)), axis=1) + 3
    configs = [dict(base_lr=float(rng.uniform(.01, .5)), metrics=losses[i],
                    mode=str(rng.choice(["min", "max"])),
                    threshold_mode=str(rng.choice(["rel", "abs"])),
                    factor=float(rng.uniform(.1, .9)), patience=int(rng.integers(0, 8)),
                    threshold=float(rng.choice([1e-4, 1e-2])),
                    cooldown=int(rng.integers(0, 5)), min_lr=float(rng.choice([0, 1e-3])))
               for i in range(n_cfg)]
    ours = gs.evaluate(TW.ReduceLROnPlateau(), gs.trials(configs), steps=n + 1,
                       dtype="float64", backend=backend)
    for i, cfg in enumerate(configs):
        kw = {k: v for k, v in cfg.items() if k not in ("base_lr", "metrics")}
        theirs = _plateau_torch(cfg["metrics"], cfg["base_lr"], **kw)
        np.testing.assert_array_equal(ours[i], theirs)
    assert (ours[:, -1] < ours[:, 0]).any()           # the draws do reduce


def test_reduce_lr_on_plateau_needs_enough_metrics():
    s = TW.ReduceLROnPlateau(metrics=[1.0, 0.9, 0.95], base_lr=.1)
    assert gs.evaluate(s, steps=4).shape == (4,)
    with pytest.raises(ValueError, match=r"'metrics': config 0 has 3 values"):
        gs.evaluate(s, steps=5)


def test_renamed_host_scans_still_read_their_inputs():
    """Host scans (plateau rules, stepped chains) know their inputs by their own names: a
    schedule with renamed parameters still feeds them."""
    rng = np.random.default_rng(11)
    losses = [float(x) for x in 3 + np.cumsum(rng.normal(-0.01, 0.1, 80))]
    plateau = TW.ReduceLROnPlateau(patience=2, factor=0.5).rename(base_lr="lr0",
                                                                  metrics="loss")
    ours = gs.evaluate(plateau, gs.grid(lr0=[0.1], loss=[losses]), steps=81, dtype="float64")
    np.testing.assert_array_equal(ours[0], _plateau_torch(losses, 0.1, patience=2, factor=0.5))
    chain = TW.ChainedScheduler([TW.LinearLR(start_factor=.2, total_iters=8),
                                 TW.CosineAnnealingLR(T_max=20)]).rename(base_lr="lr0",
                                                                         eta_min="floor")
    ours = gs.evaluate(chain, gs.grid(lr0=[.1], floor=[.01]), steps=100, dtype="float64")
    theirs = torch_lrs(lambda o: S.ChainedScheduler([
        S.LinearLR(o, start_factor=.2, total_iters=8),
        S.CosineAnnealingLR(o, T_max=20, eta_min=.01)]), .1, 100)
    assert_parity(ours[0], theirs, .1)


# compositions whose members read or reset the optimizer's initial lr (issue 14.3): a
# CyclicLR's own base_lr is its lower bound, not the optimizer's lr (unless it comes first:
# then torch sets the optimizer's lr to it); a OneCycleLR sets the group's initial_lr to
# max_lr / div_factor, which the schedulers constructed after it, and SequentialLR's first
# scheduler, start from
CYC = dict(base_lr=.01, max_lr=.1, step_size_up=4, cycle_momentum=False)
SEQ_QUIRKS = {
    "constant_then_cyclic": lambda T: ([T.ConstantLR(factor=.5, total_iters=3),
                                        T.CyclicLR(**CYC)], [5]),
    "cyclic_then_constant": lambda T: ([T.CyclicLR(**CYC),
                                        T.ConstantLR(factor=.5, total_iters=3)], [9]),
    "linear_then_onecycle": lambda T: ([T.LinearLR(start_factor=.1, total_iters=10),
                                        T.OneCycleLR(max_lr=1.0, total_steps=50)], [10]),
    "onecycle_then_constant": lambda T: ([T.OneCycleLR(max_lr=1.0, total_steps=30),
                                          T.ConstantLR(factor=.5, total_iters=3)], [25]),
    "lambda_then_onecycle": lambda T: ([T.LambdaLR(lambda s: 1 / (s + 1)),
                                        T.OneCycleLR(max_lr=.5, total_steps=55)], [10]),
    "step_cyclic_onecycle": lambda T: ([T.StepLR(3, .5), T.CyclicLR(**CYC),
                                        T.OneCycleLR(max_lr=.5, total_steps=45)], [7, 20]),
}
CHAIN_QUIRKS = {
    "constant_cyclic_exponential": lambda T: [T.ConstantLR(factor=.5, total_iters=3),
                                              T.CyclicLR(**CYC), T.ExponentialLR(.95)],
    "cyclic_then_linear": lambda T: [T.CyclicLR(**CYC), T.LinearLR(start_factor=.5,
                                                                   total_iters=6)],
    "onecycle_then_lambda": lambda T: [T.OneCycleLR(max_lr=1.0, total_steps=60),
                                       T.LambdaLR(lambda s: 1 / (s + 1))],
    "onecycle_and_exponential": lambda T: [T.OneCycleLR(max_lr=.5, total_steps=60),
                                           T.ExponentialLR(.97)],
    "onecycle_then_cosine": lambda T: [T.OneCycleLR(max_lr=.5, total_steps=60),
                                       T.CosineAnnealingLR(T_max=10, eta_min=.001)],
}


def _with_optimizer_lr(s, b):
    """The twin for an optimizer whose lr is ``b``: a parameter ``base_lr`` that no member
    fixed (a CyclicLR first fixes it: torch sets the optimizer's lr to its base_lr), none
    when the composition ignores the optimizer's lr (a OneCycleLR overwrote it)."""
    return s.with_values(base_lr=b) if "base_lr" in s.params and "base_lr" not in s.values \
        else s


@pytest.mark.parametrize("name", SEQ_QUIRKS)
def test_sequential_lr_reproduces_torch_initial_lr_quirks(name):
    parts, ms = SEQ_QUIRKS[name](TW)
    seq = TW.SequentialLR(parts, ms)
    for b in (.3, .07):
        ours = gs.evaluate(_with_optimizer_lr(seq, b), steps=60, dtype="float64")
        theirs = torch_lrs(lambda o: S.SequentialLR(o, SEQ_QUIRKS[name](S_bound(o))[0], ms),
                           b, 60)
        assert_parity(ours, theirs, 1.0)


@pytest.mark.parametrize("name", CHAIN_QUIRKS)
def test_chained_scheduler_reproduces_torch_initial_lr_quirks(name):
    chain = TW.ChainedScheduler(CHAIN_QUIRKS[name](TW))
    for b in (.3, .07):
        ours = gs.evaluate(_with_optimizer_lr(chain, b), steps=60, dtype="float64")
        theirs = torch_lrs(lambda o: S.ChainedScheduler(CHAIN_QUIRKS[name](S_bound(o))), b, 60)
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL)


def test_a_grid_base_lr_is_the_optimizers_lr_not_a_later_cyclic_bound():
    seq = TW.SequentialLR([TW.ConstantLR(factor=.5, total_iters=3), TW.CyclicLR(**CYC)], [5])
    assert seq.values["base_lr_1"] == .01 and "base_lr" not in seq.values
    ours = gs.evaluate(seq, gs.grid(base_lr=[.3, .07]), steps=30, dtype="float64")
    for i, b in enumerate([.3, .07]):
        theirs = torch_lrs(lambda o: S.SequentialLR(o, [
            S.ConstantLR(o, factor=.5, total_iters=3), S.CyclicLR(o, **CYC)], [5]), b, 30)
        assert_parity(ours[i], theirs, 1.0)


def test_compositions_torch_cannot_reproduce_are_refused():
    with pytest.raises(ValueError, match="two OneCycleLR"):
        TW.SequentialLR([TW.OneCycleLR(max_lr=.5, total_steps=40),
                         TW.OneCycleLR(max_lr=.1, total_steps=40)], [10])
    with pytest.raises(ValueError, match="MultiplicativeLR"):
        TW.SequentialLR([TW.ConstantLR(), TW.MultiplicativeLR(lambda s: .9)], [10])
