"""The seed twins against step-by-step simulations of the originals' documented behaviour
(shared/reference/seed-schedules.md), written here independently of the code under test."""

import math

import numpy as np
import pytest

import gpusched as gs
from gpusched.compat import d2l, multiscale, warmboot, yolox

RTOL = 1e-12


# ---------------------------------------------------------------- d2l CosineScheduler
class D2LSimulation:
    """Called in order, as d2l's training loop does; past max_update returns the last value."""

    def __init__(self, max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr):
        self.M, self.b, self.f, self.W, self.wb = (max_update, base_lr, final_lr, warmup_steps,
                                                  warmup_begin_lr)
        self.last = None

    def __call__(self, t):
        if t < self.W:
            return self.wb + (self.b - self.wb) * float(t) / float(self.W)
        if t <= self.M:
            phase = math.pi * (t - self.W) / (self.M - self.W)
            self.last = self.f + (self.b - self.f) * (1 + math.cos(phase)) / 2
        return self.last


D2L_CONFIGS = [dict(max_update=20, base_lr=0.3, final_lr=0.01, warmup_steps=0, warmup_begin_lr=0),
               dict(max_update=50, base_lr=0.1, final_lr=0.0, warmup_steps=7, warmup_begin_lr=0.0),
               dict(max_update=13, base_lr=1.0, final_lr=0.2, warmup_steps=12, warmup_begin_lr=0.5)]


@pytest.mark.parametrize("cfg", D2L_CONFIGS)
def test_d2l_cosine_scheduler_matches_the_original_called_in_order(cfg, backend):
    n = cfg["max_update"] + 15
    sim = D2LSimulation(**cfg)
    want = [sim(t) for t in range(n)]
    got = gs.evaluate(d2l.CosineScheduler(**cfg), steps=n, dtype="float64", backend=backend)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


def test_d2l_square_root_scheduler_matches_the_original(backend):
    """d2l's ``SquareRootScheduler.__call__``: ``self.lr * pow(num_update + 1.0, -0.5)``."""
    lrs = [0.1, 0.5, 2.0]
    want = [[lr * pow(t + 1.0, -0.5) for t in range(300)] for lr in lrs]
    got = gs.evaluate(d2l.SquareRootScheduler(), gs.grid(lr=lrs), steps=300, dtype="float64",
                      backend=backend)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    assert d2l.SquareRootScheduler()(3) == pytest.approx(0.05, rel=1e-15)   # 0.1 / sqrt(4)


def test_d2l_hand_derived_values():
    s = d2l.CosineScheduler(max_update=20, base_lr=0.3, final_lr=0.01)
    v = gs.evaluate(s, steps=[0, 10, 20, 30], dtype="float64")
    assert v[0] == 0.3                            # warmup_steps == 0 gives base_lr at step 0
    assert v[1] == pytest.approx((0.3 + 0.01) / 2, rel=1e-15)   # cos(pi/2) half-way
    assert v[2] == v[3] == 0.01                   # final_lr at and past max_update


def test_d2l_grid_sweeps_integer_parameters(backend):
    g = gs.grid(max_update=[20, 35], warmup_steps=[0, 5, 19], base_lr=[0.3])
    got = gs.evaluate(d2l.CosineScheduler(final_lr=0.01), g, steps=40, dtype="float64",
                      backend=backend)
    for i, cfg in enumerate(g):
        sim = D2LSimulation(final_lr=0.01, warmup_begin_lr=0, **cfg)
        np.testing.assert_allclose(got[i], [sim(t) for t in range(40)], rtol=RTOL)


def test_d2l_rejects_warmup_not_below_max_update():
    g = gs.grid(warmup_steps=[5, 20], max_update=[20])
    with pytest.raises(ValueError, match=r"warmup_steps=20, max_update=20 at config 1"):
        gs.evaluate(d2l.CosineScheduler(), g, steps=10)


# ---------------------------------------------------------------- YOLOX get_lr_scheduler
def yolox_reference(kind, lr, min_lr, N, wr=0.1, wlr=0.1, nar=0.3, step_num=10):
    if kind == "cos":
        Wt = min(max(wr * N, 1), 3)
        ws = max(wlr * lr, 1e-6)
        na = min(max(nar * N, 1), 15)

        def f(t):
            if t <= Wt:
                return (lr - ws) * pow(t / float(Wt), 2) + ws
            if t >= N - na:
                return min_lr
            return min_lr + 0.5 * (lr - min_lr) * (
                1.0 + math.cos(math.pi * (t - Wt) / (N - Wt - na)))
        return f
    rate = (min_lr / lr) ** (1 / (step_num - 1))
    size = N / step_num
    return lambda t: lr * rate ** (t // size)


@pytest.mark.parametrize("kind, lr, min_lr, N, extra", [
    ("cos", 0.01, 1e-4, 25, {}),                          # fractional warmup: Wt = 2.5
    ("cos", 0.01, 1e-4, 300, dict(warmup_iters_ratio=0.05, warmup_lr_ratio=0.05)),
    ("cos", 0.1, 0.0, 5, {}),                             # tiny N: clamps of Wt and no-aug
    ("step", 0.01, 1e-4, 100, {}),
    ("step", 0.02, 3e-4, 37, dict(step_num=4)),           # float period 9.25
])
def test_yolox_matches_the_original(kind, lr, min_lr, N, extra, backend):
    keys = dict(warmup_iters_ratio="wr", warmup_lr_ratio="wlr", no_aug_iter_ratio="nar",
                step_num="step_num")
    ref = yolox_reference(kind, lr, min_lr, N, **{keys[k]: v for k, v in extra.items()})
    n = int(N * 1.6) + 3
    got = gs.evaluate(yolox.get_lr_scheduler(kind, lr, min_lr, N, **extra), steps=n,
                      dtype="float64", backend=backend)
    np.testing.assert_allclose(got, [ref(t) for t in range(n)], rtol=RTOL, atol=0)


def test_yolox_documented_values():
    cos = yolox.get_lr_scheduler("cos", 0.01, 1e-4, 25)
    v = gs.evaluate(cos, steps=[0, 2, 3], dtype="float64")
    assert v[0] == pytest.approx(1e-3) and v[1] == pytest.approx((0.01 - 1e-3) * 0.64 + 1e-3)
    step = yolox.get_lr_scheduler("step", 0.01, 1e-4, 100)
    v = gs.evaluate(step, steps=[99, 100, 150], dtype="float64")
    assert v[0] == 1.0000000000000005e-4          # value recorded from the original
    assert v[1] == pytest.approx(5.99e-5, rel=1e-3) and v[2] == pytest.approx(4.6e-6, rel=1e-2)


def test_yolox_decay_type_is_sweepable():
    g = gs.grid(lr_decay_type=["cos", "step"], lr=[0.01, 0.05], total_iters=[50])
    got = gs.evaluate(yolox.get_lr_scheduler(min_lr=1e-4), g, steps=80, dtype="float64")
    for i, cfg in enumerate(g):
        ref = yolox_reference(cfg["lr_decay_type"], cfg["lr"], 1e-4, 50)
        np.testing.assert_allclose(got[i], [ref(t) for t in range(80)], rtol=RTOL)


def test_yolox_rejects_unknown_decay_type_and_short_step_decay():
    with pytest.raises(ValueError, match=r"lr_decay_type.*'cosine'.*one of 'cos', 'step'"):
        gs.evaluate(yolox.get_lr_scheduler("cosine", 0.01, 1e-4, 50), steps=5)
    with pytest.raises(ValueError, match=r"step_size must above 1"):
        gs.evaluate(yolox.get_lr_scheduler("step", 0.01, 1e-4, 5, step_num=10), steps=5)


# ---------------------------------------------------------------- CosineAnnealingWarmbootingLR
class WarmbootSimulation:
    """The original's protocol: step_batch() before each batch, step() after each epoch."""

    def __init__(self, base_lr, epochs, eta_min=0.05, steps=(), step_scale=0.8, batchs=0,
                 warmup_epoch=0, epoch_scale=1.0, lf=None):
        self.b, self.eta, self.scale_step, self.es, self.lf = (base_lr, eta_min, step_scale,
                                                               epoch_scale, lf)
        self.knots = [warmup_epoch] + [s for s in sorted(steps) if warmup_epoch < s < epochs] \
            + [epochs]
        self.warm = batchs * warmup_epoch
        self.epoch_calls, self.batch_calls, self.gap = -1, -1, 0
        self.lr = base_lr

    def step(self):
        self.epoch_calls += 1
        k, scale = self.epoch_calls, 1.0
        for i in range(len(self.knots) - 1):
            if k <= self.knots[i + 1]:
                self.gap = self.knots[i + 1] - self.knots[i]
                if i != len(self.knots) - 2:
                    self.gap += self.es
                k -= self.knots[i]
                break
            scale *= self.scale_step
        bracket = self.lf(k, self.gap) if self.lf else \
            ((1 + math.cos(k * math.pi / self.gap)) / 2) * (1.0 - self.eta) + self.eta
        self.lr = scale * self.b * bracket

    def step_batch(self):
        self.batch_calls += 1
        if self.batch_calls < self.warm:
            self.lr = self.b * (self.batch_calls / self.warm)


def simulate_warmboot(n_epochs, **cfg):
    sim = WarmbootSimulation(**cfg)
    out = []
    for _ in range(n_epochs):
        for _ in range(max(cfg.get("batchs", 0), 1)):
            if cfg.get("batchs", 0):
                sim.step_batch()
            out.append(sim.lr)
        sim.step()
    return np.array(out)


WARMBOOT = [
    dict(base_lr=0.1, epochs=30, steps=[10, 20], step_scale=0.5, batchs=4, warmup_epoch=2),
    dict(base_lr=0.3, epochs=25, steps=[20, 5, 10, 40], batchs=3, warmup_epoch=0),
    dict(base_lr=1.0, epochs=20, steps=[8, 8, 15], step_scale=0.7, epoch_scale=2.5, batchs=0),
    dict(base_lr=0.2, epochs=12, steps=[], eta_min=0.0, epoch_scale=0.0, batchs=5,
         warmup_epoch=3),
    dict(base_lr=0.1, epochs=16, steps=[2, 9], batchs=2, warmup_epoch=4),   # 2 <= warmup: dropped
]


@pytest.mark.parametrize("cfg", WARMBOOT)
def test_warmboot_matches_the_original_protocol_past_the_end(cfg, backend):
    n_epochs = cfg["epochs"] + 6
    want = simulate_warmboot(n_epochs, **cfg)
    s = warmboot.CosineAnnealingWarmbootingLR(**{k: v for k, v in cfg.items() if k != "base_lr"})
    got = gs.evaluate(s, gs.trials(base_lr=[cfg["base_lr"]]), steps=want.size, dtype="float64",
                      backend=backend)[0]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300)


def test_warmboot_documented_trace():
    s = warmboot.CosineAnnealingWarmbootingLR(epochs=30, steps=[10, 20], step_scale=0.5,
                                              batchs=4, warmup_epoch=2, base_lr=0.1)
    per_epoch = gs.evaluate(s, steps=np.arange(0, 34 * 4, 4), dtype="float64")
    assert per_epoch[2] == pytest.approx(0.0971, abs=5e-5)    # first epoch after warmup
    assert per_epoch.argmax() == 3                             # peak at epoch 3
    assert per_epoch[11] == pytest.approx(0.0079, abs=5e-5)    # restart epoch: old segment
    assert per_epoch[31] == pytest.approx(0.05 * 0.25 * 0.1, rel=1e-12)   # ends at eta_min
    assert per_epoch[32] == pytest.approx(0.000916, abs=5e-7)  # past the end: oscillates
    assert per_epoch[33] == pytest.approx(0.001759, abs=5e-7)


def test_warmboot_sweeps_ragged_restart_lists_and_traces_lf(backend):
    lf = lambda x, gap: 1 - x / gap     # noqa: E731  (a linear decay per segment)
    lists = [[10, 20], [5], [], [7, 14, 21]]
    g = gs.grid(steps=lists, warmup_epoch=[0, 3], base_lr=[0.1])
    s = warmboot.CosineAnnealingWarmbootingLR(epochs=30, batchs=0, lf=lf)
    got = gs.evaluate(s, g, steps=40, dtype="float64", backend=backend)
    for i, cfg in enumerate(g):
        want = simulate_warmboot(40, epochs=30, batchs=0, lf=lf, **cfg)
        np.testing.assert_allclose(got[i], want, rtol=RTOL)


# ---------------------------------------------------------------- multiscale BatchResize
M32 = 0xFFFFFFFF


def philox_reference(ctr, key):
    """Philox4x32-10 on Python ints (checked against Random123's known answers below)."""
    c, k = list(ctr), list(key)
    for r in range(10):
        if r:
            k = [(k[0] + 0x9E3779B9) & M32, (k[1] + 0xBB67AE85) & M32]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & M32, (p0 >> 32) ^ c[3] ^ k[1], p0 & M32]
    return c


def test_reference_philox_known_answers():
    assert philox_reference([0] * 4, [0] * 2) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox_reference([M32] * 4, [M32] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6,
                                                      0x6D5451FD]
    assert philox_reference([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
                            [0xA4093822, 0x299F31D0]) == [0xD16CFE09, 0x94FDCCEB, 0x5001E420,
                                                          0x24126EA1]


def batch_resize_reference(lower, upper, seed, t):
    if t <= 4:
        return upper
    sizes = list(range(lower, upper + 16, 16))
    w0 = philox_reference([t & M32, t >> 32, 0, 0], [seed & M32, seed >> 32])[0]
    return sizes[(w0 * len(sizes)) >> 32]


@pytest.mark.parametrize("lower, upper, seed", [(320, 640, 0), (480, 800, 7), (320, 330, 3),
                                                (512, 512, 2 ** 40 + 5)])
def test_batch_resize_matches_the_documented_behaviour(lower, upper, seed, backend):
    steps = np.concatenate([np.arange(40), [2 ** 33 + 1]])
    got = gs.evaluate(multiscale.BatchResize((lower, upper), seed=seed), steps=steps,
                      dtype="float64", backend=backend)
    assert got[:5].tolist() == [upper] * 5                     # steps 0..4 use the upper size
    assert got.tolist() == [batch_resize_reference(lower, upper, seed, int(t)) for t in steps]
    assert set(got[5:]) <= set(range(lower, upper + 16, 16))   # 336 > 330 is allowed, as in arange


def test_batch_resize_is_uniform_and_keyed_by_seed_not_grid_position():
    g = gs.grid(seed=[11, 12, 11], batch_resize_range=[[320, 640]])
    sizes = gs.evaluate(multiscale.BatchResize(), g, steps=20000, dtype="float64")
    np.testing.assert_array_equal(sizes[0], sizes[2])          # same seed, same draws
    assert (sizes[0] != sizes[1]).mean() > 0.9
    counts = np.bincount(((sizes[0, 5:] - 320) // 16).astype(int), minlength=21)
    expected = (20000 - 5) / 21
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert counts.size == 21 and chi2 < 70                     # 20 dof; p < 1e-6 above 70


def test_global_step_helper():
    assert multiscale.global_step(3, 1, 100, 7) == 207
    np.testing.assert_array_equal(multiscale.global_step([1, 2], 1, 10, [0, 5]), [0, 15])


def test_batch_resize_rejects_inverted_range():
    with pytest.raises(ValueError, match=r"batch_resize_range=\[640, 320\].*lower <= upper"):
        gs.evaluate(multiscale.BatchResize((640, 320)), steps=10)


def test_library_philox_known_answers():
    from gpusched.rng import philox4x32
    u = np.uint64
    assert [int(w) for w in philox4x32(*[u(0)] * 6)] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C,
                                                         0x9B00DBD8]
    words = philox4x32(u(0x243F6A88), u(0x85A308D3), u(0x13198A2E), u(0x03707344),
                       u(0xA4093822), u(0x299F31D0))
    assert [int(w) for w in words] == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def test_a_column_of_choice_names_is_coded_and_its_first_bad_name_is_named():
    """Strings are coded per distinct name (binding._choice_codes): the codes are each
    name's, and of two unknown names the one earlier in the column is reported."""
    from gpusched.binding import _scalar_array
    param = yolox.get_lr_scheduler().param_specs["lr_decay_type"]
    column = ["step", "cos", "step", "cos", "cos"]
    assert list(_scalar_array(param, column, False)) == [param.choices.index(v) for v in column]
    assert list(_scalar_array(param, np.array(column, dtype=object), False)) == \
        [param.choices.index(v) for v in column]
    with pytest.raises(ValueError, match=r"'zzz' at config 1: must be one of"):
        _scalar_array(param, ["cos", "zzz", "aaa", "step"], False)
