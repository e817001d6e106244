"""Loss laws: gs.predict_loss against direct transcriptions of each paper's formula (written
here, independently of gpusched.laws), on the backends, over the catalog; the published
multi-power fits against the reference's own data and metrics; fitting; errors."""

import json
import zlib

import numpy as np
import pytest

import gpusched as gs
from catalog_cases import build, cases
from gpusched.bench.laws import reference_lrs   # the reference curves' schedules
from gpusched.laws import LawError

REF_DATA = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "reference" \
    / "loss-curves"
# published multi-power fits, [L0, A, alpha, B, C, beta, gamma] (reference README, 2025)
PUBLISHED = {"25M": [3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013,
                     0.64142257],
             "100M": [2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199,
                      0.65523644]}
# their test-set metrics (means over the 6 held-out curves)
PUBLISHED_TEST = {"25M": dict(R2=0.9988, MAE=0.00376, RMSE=0.00465, PredE=0.00110,
                              WorstE=0.00409),
                  "100M": dict(R2=0.9983, MAE=0.00435, RMSE=0.00592, PredE=0.00142,
                               WorstE=0.00583)}
TRAIN = ["cosine_24000", "constant_24000", "wsdcon_9"]


def multipower_direct(eta, s, L0, A, alpha, B, C, beta, gamma):
    """The multi-power law at step s, as the reference code evaluates it: S1 = sum(eta[0..s]),
    LD = sum_{k=1..s} (eta_k - eta_{k-1}) (1 - (1 + C eta_k^-gamma sum(eta[k..s]))^-beta),
    a term whose suffix area is 0 counting 0."""
    lr_sum = np.cumsum(eta)
    k = np.arange(1, s + 1)
    suffix = lr_sum[s] - lr_sum[k - 1]
    gap = eta[k] - eta[k - 1]
    with np.errstate(all="ignore"):
        term = gap * (1 - (1 + C * eta[k] ** (-gamma) * suffix) ** (-beta))
    term = np.where((gap == 0) | (suffix == 0) | (C == 0), 0.0, term)
    return L0 + A * lr_sum[s] ** (-alpha) + B * term.sum()


def annealing_direct(eta, s, L0, A, alpha, C, decay):
    """L0 + A S1^-alpha - C S2, S2 = sum_{k=1..s} m_k, m_k = decay m_{k-1} + eta_{k-1} - eta_k."""
    m, s2 = 0.0, 0.0
    for k in range(1, s + 1):
        m = decay * m + (eta[k - 1] - eta[k])
        s2 += m
    return L0 + A * np.sum(eta[: s + 1]) ** (-alpha) - C * s2


def random_multipower(rng):
    return gs.laws.MultiPower(L0=rng.uniform(1, 4), A=rng.uniform(0.1, 1),
                              alpha=rng.uniform(0.2, 0.8), B=rng.uniform(10, 1000),
                              C=rng.uniform(0.1, 3), beta=rng.uniform(0.2, 1),
                              gamma=rng.uniform(0.2, 0.9))


def random_annealing(rng):
    return gs.laws.Annealing(L0=rng.uniform(1, 4), A=rng.uniform(0.1, 1),
                             alpha=rng.uniform(0.2, 0.8), C=rng.uniform(0.01, 2),
                             decay=rng.uniform(0.9, 0.9999))


def direct(law, eta, s):
    f = multipower_direct if isinstance(law, gs.laws.MultiPower) else annealing_direct
    return f(eta, s, *law.constants().values())


STEPS = 300
CATALOG = [c for c in cases(with_metrics=False)]


def _usable(sched):
    """The schedule's rates over STEPS steps when the laws apply (finite, >= 0, some > 0)."""
    eta = gs.evaluate(sched, steps=STEPS, dtype="float64", backend="numpy")
    if not (np.isfinite(eta).all() and (eta >= 0).all() and eta.sum() > 0):
        return None
    return eta


@pytest.mark.parametrize("case", CATALOG, ids=[c[0] for c in CATALOG])
def test_numpy_predictions_equal_the_formulas_over_the_catalog(case):
    label, lib, name, kw = case
    sched = build(lib, name, kw)
    eta = _usable(sched)
    if eta is None:
        pytest.skip("rates negative or all zero: the laws do not apply")
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    first = int(np.argmax(np.cumsum(eta) > 0))
    at = np.unique(np.concatenate([[STEPS - 1], rng.integers(first, STEPS, 4)]))[::-1]
    for law in (random_multipower(rng), random_annealing(rng)):
        want = np.array([direct(law, eta, int(s)) for s in at])
        got = gs.predict_loss(sched, steps=STEPS, law=law, at=at, backend="numpy")
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, err_msg=type(law).__name__)
        final = gs.predict_loss(sched, steps=STEPS, law=law, backend="numpy")
        assert final.shape == () and abs(final - want[0]) <= 1e-10 * abs(want[0])


# the fused Numba kernel compiles once per graph: a sample of the catalog, every kind of
# graph (lists, host scans, running products, choices)
NUMBA_SAMPLE = [c for c in CATALOG if c[2] in (
    "OneCycleLR", "MultiStepLR", "CosineAnnealingWarmRestarts", "get_wsd_schedule",
    "MultiplicativeLR", "tri_stage")][:8]


@pytest.mark.parametrize("case", NUMBA_SAMPLE, ids=[c[0] for c in NUMBA_SAMPLE])
def test_numba_kernel_equals_the_formulas(case):
    pytest.importorskip("numba")
    label, lib, name, kw = case
    sched = build(lib, name, kw)
    eta = _usable(sched)
    if eta is None:
        pytest.skip("rates negative or all zero: the laws do not apply")
    rng = np.random.default_rng(7)
    first = int(np.argmax(np.cumsum(eta) > 0))
    at = np.array([STEPS - 1, (first + STEPS) // 2, first])
    for law in (random_multipower(rng), random_annealing(rng)):
        want = np.array([direct(law, eta, int(s)) for s in at])
        got = gs.predict_loss(sched, steps=STEPS, law=law, at=at, backend="numba")
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, err_msg=type(law).__name__)


WSD = gs.compat.transformers.get_wsd_schedule(num_training_steps=2000, min_lr_ratio=0.1)
WSD_GRID = gs.grid(num_decay_steps=[100, 700, 1500], decay_type=["linear", "1-sqrt"],
                   base_lr=[1e-4, 3e-4], num_warmup_steps=[50, 300])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_grid_on_each_backend_equals_the_formulas(backend, dtype):
    if backend == "numba":
        pytest.importorskip("numba")
    table = gs.evaluate(WSD, WSD_GRID, steps=2000, dtype=dtype, backend="numpy")
    table = table.astype(np.float64)      # the rates as a float32 run holds them
    rng = np.random.default_rng(3)
    at = [1999, 250, 1000]
    for law in (random_multipower(rng), random_annealing(rng)):
        got = gs.predict_loss(WSD, WSD_GRID, steps=2000, law=law, at=at, backend=backend,
                              dtype=dtype)
        assert got.shape == (len(WSD_GRID), 3) and got.dtype == np.float64
        want = np.array([[direct(law, row, s) for s in at] for row in table])
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
        final = gs.predict_loss(WSD, WSD_GRID, steps=2000, law=law, backend=backend,
                                dtype=dtype)
        np.testing.assert_allclose(final, want[:, 0], rtol=1e-10, atol=0)


@pytest.mark.parametrize("whole_rows", [True, False])
def test_numba_law_walks_blocks_and_redoes_the_terms_fastpow_leaves(whole_rows, monkeypatch):
    """Steps over several of the kernel's blocks, prediction steps on both sides of a block
    edge (the whole row filled once, or, over ROW_LIMIT, block by block per prediction step;
    the final loss alone: blocks), a rate of exactly 0 followed by positive rates
    (0 ** -gamma: the vectorized power leaves it to ``**``) and constants at the edges of
    the fast power's domain."""
    pytest.importorskip("numba")
    from gpusched.laws import kernel
    if not whole_rows:
        monkeypatch.setattr(kernel, "ROW_LIMIT", 0)
    steps = 2 * kernel.BLOCK + 900
    sched = gs.compat.torch.CyclicLR(base_lr=0.0, max_lr=1e-3, step_size_up=500)
    eta = gs.evaluate(sched, steps=steps, dtype="float64", backend="numpy")
    assert (eta[1:] == 0).sum() >= 4            # zeros inside the walk, positive rates after
    at = np.array([steps - 1, 2 * kernel.BLOCK, 2 * kernel.BLOCK - 1, kernel.BLOCK, 1000, 7])
    rng = np.random.default_rng(11)
    laws = [random_multipower(rng),
            gs.laws.MultiPower(L0=2.6, A=0.6, alpha=0.45, B=400.0, C=2.1, beta=0.6, gamma=0.0),
            gs.laws.MultiPower(L0=2.6, A=0.6, alpha=0.45, B=400.0, C=1e300, beta=0.6,
                               gamma=0.65),
            gs.laws.MultiPower(L0=2.6, A=0.6, alpha=0.45, B=400.0, C=0.0, beta=0.6, gamma=0.65)]
    for law in laws:
        want = np.array([direct(law, eta, int(s)) for s in at])
        got = gs.predict_loss(sched, steps=steps, law=law, at=at, backend="numba")
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, err_msg=repr(law))
        final = gs.predict_loss(sched, steps=steps, law=law, backend="numba")
        assert abs(final - want[0]) <= 1e-10 * abs(want[0])


def test_fastpow_equals_libm_pow_and_declines_outside_its_domain():
    numba = pytest.importorskip("numba")
    from gpusched.laws.fastpow import pow_positive

    @numba.njit
    def powers(x, y, out):
        for i in range(x.size):
            out[i] = pow_positive(x[i], y[i])

    rng = np.random.default_rng(5)
    x = np.exp(rng.uniform(-700, 700, 100_000))
    y = rng.uniform(-1.0, 1.0, x.size)
    out = np.empty_like(x)
    powers(x, y, out)
    want = x ** y
    # within the rounding of y * log(x), scaled by |y log x|, plus a few ulps
    bound = (np.abs(y * np.log(x)) + 4.0) * 2.0 ** -52
    assert np.all(np.abs(out - want) <= bound * want)
    edge = np.array([0.0, 5e-324, 1e-310, np.inf, np.nan, -1.0, 1e300, 1e-300, 1.0, 2.0])
    ey = np.array([-0.5, -0.5, -0.5, -0.5, -0.5, 0.5, 3.0, 3.0, -0.7, 0.0])
    got = np.empty_like(edge)
    powers(edge, ey, got)
    assert np.isnan(got[:8]).all()         # not normal, not finite, negative, |y log x| >= 708
    assert got[8] == 1.0 and got[9] == 1.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_law_constants_swept_as_grid_columns(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    law = gs.laws.MultiPower(L0="L0", A=0.6, alpha=0.45, B="B", C=2.0, beta=0.6, gamma=0.65)
    g = gs.grid(base_lr=[1e-4, 3e-4], L0=[2.5, 2.7], B=[100.0, 400.0])
    sched = gs.compat.transformers.get_cosine_schedule_with_warmup(num_warmup_steps=50,
                                                                   num_training_steps=800)
    got = gs.predict_loss(sched, g, steps=800, law=law, backend=backend)
    for i, cfg in enumerate(g):
        eta = gs.evaluate(sched, gs.trials(base_lr=[cfg["base_lr"]]), steps=800,
                          dtype="float64", backend="numpy")[0]
        want = multipower_direct(eta, 799, cfg["L0"], 0.6, 0.45, cfg["B"], 2.0, 0.6, 0.65)
        assert abs(got[i] - want) <= 1e-10 * abs(want)
    # law columns alone, the schedule fixed: one prediction per row of law constants
    fixed = gs.compat.transformers.get_cosine_schedule_with_warmup(
        num_warmup_steps=50, num_training_steps=800, base_lr=3e-4)
    only = gs.predict_loss(fixed, gs.trials(L0=[2.5, 2.7], B=[100.0, 100.0]), steps=800,
                           law=law, backend=backend)
    assert only.shape == (2,) and only[1] - only[0] == pytest.approx(0.2, abs=1e-12)


@pytest.mark.parametrize("at", [None, [299, 120, 40]])
def test_configs_sharing_a_shape_equal_the_formulas(at, monkeypatch):
    """Configs that differ only in the schedule's scale (``base_lr``) and in law constants
    the shape does not depend on walk the shape once (laws/sharing.py) and scale it; the
    law's gamma (the annealing law's decay) swept as a column splits the shapes, and a config
    whose scale is 0 walks its own rates (and is named by the error)."""
    pytest.importorskip("numba")
    from gpusched.laws import sharing
    seen = []
    real = sharing.groups

    def spy(*args):
        seen.append(real(*args))
        return seen[-1]
    monkeypatch.setattr(sharing, "groups", spy)
    sched = gs.compat.torch.MultiStepLR(milestones=[100, 200], gamma=0.5)
    shape = dict(base_lr=[1e-3, 3e-3, 2e-2], milestones=[[100, 200], [50, 150, 250]],
                 gamma=[0.5, 0.1])
    cases = [(gs.laws.MultiPower(L0=2.6, A=0.6, alpha=0.45, B="B", C=2.1, beta="bt",
                                 gamma="gm"), dict(B=[100.0, 400.0], bt=[0.6], gm=[0.4, 0.7])),
             (gs.laws.Annealing(L0="L0", A=0.6, alpha=0.45, C=30.0, decay="dk"),
              dict(L0=[2.5, 2.7], dk=[0.99, 0.999]))]
    for law, columns in cases:
        g = gs.grid(**shape, **columns)
        got = gs.predict_loss(sched, g, steps=300, law=law, at=at, backend="numba")
        order, lead = seen[-1]
        assert lead.sum() == 8 and sorted(order) == list(range(len(g)))  # 2 x 2 x 2 shapes
        ends = [299] if at is None else at
        for i, cfg in enumerate(g):
            eta = gs.evaluate(sched, gs.trials(**{k: [cfg[k]] for k in shape}), steps=300,
                              dtype="float64", backend="numpy")[0]
            consts = {k: cfg[v] if isinstance(v, str) else v
                      for k, v in law.constants().items()}
            f = multipower_direct if isinstance(law, gs.laws.MultiPower) else annealing_direct
            want = [f(eta, s, **consts) for s in ends]
            np.testing.assert_allclose(np.atleast_1d(got[i]), want, rtol=1e-10, atol=0)
    zero = gs.grid(base_lr=[1e-3, 0.0, 3e-3], milestones=[[100, 200]], gamma=[0.5])
    with pytest.raises(LawError, match=r"config 1 \(gamma=0.5, base_lr=0.0.*sum to 0"):
        gs.predict_loss(sched, zero, steps=300, law=gs.laws.MultiPower(*PUBLISHED["100M"]),
                        backend="numba")
    assert seen[-1] is not None


def test_shapes_ending_alike_reuse_the_previous_shapes_sums(monkeypatch):
    """Consecutive shapes that differ only in their warmup end alike: each config takes the
    running sum of the config at its position in the previous shape over their common
    entries (kernel.py, ``gs_tails``) when its scale, C and beta are that config's. Every
    final loss equals the transcription, and the run without reuse to 1e-13; configs
    whose scales or betas are not the previous shape's (trials in another order, beta a
    column) do not reuse."""
    pytest.importorskip("numba")
    from gpusched.laws import sharing, walks
    sched = gs.compat.transformers.get_wsd_schedule(num_training_steps=1500, min_lr_ratio=0.1)
    g = gs.grid(num_decay_steps=[200, 600], decay_type=["linear", "cosine"],
                base_lr=[1e-3, 3e-3, 1e-2], num_warmup_steps=[10, 50, 120, 300], bt=[0.5, 0.7])
    rows = list(g)
    rng = np.random.default_rng(4)
    # after the first 24: other orders within shapes, and shapes of 4 to 6 configs
    shuffled = gs.trials(rows[:24] + [rows[int(i)] for i in rng.permutation(np.arange(24, 96))
                                      if i % 7])
    law = gs.laws.MultiPower(L0=2.6, A=0.6, alpha=0.45, B=400.0, C=2.1, beta="bt", gamma=0.65)
    names = ["num_decay_steps", "decay_type", "base_lr", "num_warmup_steps"]

    def shape(decay, kind, warmup, members):
        return [dict(num_decay_steps=decay, decay_type=kind, base_lr=lr, num_warmup_steps=warmup,
                     bt=bt) for lr, bt in members]
    # a shape of 2 between two of 3 whose third configs agree (the first's sums are not the
    # previous shape's); two shapes whose configs swap betas at the same scale
    crafted = gs.trials(shape(200, "linear", 300, [(1e-3, 0.5), (3e-3, 0.5), (1e-2, 0.5)])
                        + shape(600, "linear", 10, [(1e-3, 0.5), (3e-3, 0.5)])
                        + shape(600, "linear", 50, [(1e-3, 0.5), (3e-3, 0.5), (1e-2, 0.5)])
                        + shape(600, "cosine", 10, [(1e-3, 0.5), (1e-3, 0.7)])
                        + shape(600, "cosine", 50, [(1e-3, 0.7), (1e-3, 0.5)]))
    for grid in (g, shuffled, crafted):
        got = gs.predict_loss(sched, grid, steps=1500, law=law, backend="numba")
        monkeypatch.setattr(sharing, "TAILS", False)
        alone = gs.predict_loss(sched, grid, steps=1500, law=law, backend="numba")
        monkeypatch.setattr(sharing, "TAILS", True)
        np.testing.assert_allclose(got, alone, rtol=1e-13, atol=0)
        for i, cfg in enumerate(grid):
            eta = gs.evaluate(sched, gs.trials(**{k: [cfg[k]] for k in names}), steps=1500,
                              dtype="float64", backend="numpy")[0]
            want = multipower_direct(eta, 1499, 2.6, 0.6, 0.45, 400.0, 2.1, cfg["bt"], 0.65)
            assert abs(got[i] - want) <= 1e-10 * abs(want), (i, cfg)
    # the entries two rows share: those of steps >= k + 2, k the last step where they differ
    rate = gs.evaluate(sched, gs.trials(num_decay_steps=[600, 600], decay_type=["linear"] * 2,
                                        base_lr=[1.0, 1.0], num_warmup_steps=[50, 120]),
                       steps=1500, dtype="float64", backend="numpy")
    n = 1500
    rk, ak, gk = np.empty(n), np.empty(n), np.empty(n)
    kk = np.empty(n, dtype=np.int64)
    m, _, _ = walks.gather(rate[1], 0, 0, n, 0.0, rk, ak, gk, kk, 0)
    shared = walks.tail_match(rate[1], rate[0], kk, m, n - 1)
    assert shared == int(np.sum(kk[:m] >= 121)) and 0 < shared < m
    assert walks.tail_match(rate[1], rate[1], kk, m, n - 1) == m


def test_the_table_is_never_built(monkeypatch):
    """The NumPy pass asks its backend for blocks of at most STEP_BLOCK steps."""
    from gpusched.backends.numpy_backend import NumpyBackend
    from gpusched.laws import predict
    seen = []
    real = NumpyBackend.table

    def spy(self, plan, bound, steps, dtype, **kw):
        seen.append(steps.size)
        return real(self, plan, bound, steps, dtype, **kw)
    monkeypatch.setattr(NumpyBackend, "table", spy)
    monkeypatch.setattr(predict, "STEP_BLOCK", 512)
    law = gs.laws.MultiPower(*PUBLISHED["100M"])
    gs.predict_loss(WSD, WSD_GRID, steps=2000, law=law, backend="numpy")
    assert seen and max(seen) <= 512 and sum(seen) == 2 * 2000   # two passes


def test_auto_builds_the_factorized_tables_once(monkeypatch):
    """Under auto, choosing Numba builds the grid's factorized tables (kernel_state); the law
    kernel reads those, not a second copy; tables a smaller budget refused are retried."""
    pytest.importorskip("numba")
    from gpusched.api import prepare
    from gpusched.backends import get_backend, numba_backend
    from gpusched.laws import MultiPower
    calls = []
    real = numba_backend.precompute

    def counting(plan, bound, steps, work_limit):
        calls.append(work_limit)
        return real(plan, bound, steps, work_limit)
    from gpusched.laws import kernel
    monkeypatch.setattr(numba_backend, "precompute", counting)
    monkeypatch.setattr(kernel, "precompute", counting)
    be = get_backend("numba")
    _, _, steps, dt, bound, plan = prepare(WSD, WSD_GRID, 2000, "float64")
    law = MultiPower(*PUBLISHED["100M"])
    ends = np.array([1999])
    const = law.bind({}, bound.n)
    be.kernel_state(plan, bound, steps, 1 << 26)             # what auto.choose asks
    got = be.predict_loss(plan, bound, steps, law, ends, np.arange(1), dt, const,
                          work_limit=1 << 26, table_bytes=1 << 28)
    assert calls == [1 << 26]
    want = gs.predict_loss(WSD, WSD_GRID, steps=2000, law=law, backend="numpy")
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-10)
    calls.clear()
    be.kernel_state(plan, bound, steps, 0)                   # no room: no tables
    be.predict_loss(plan, bound, steps, law, ends, np.arange(1), dt, const,
                    work_limit=1 << 26, table_bytes=1 << 28)
    assert calls == [0, 1 << 28]


def test_errors_name_the_config_the_step_and_the_parameter():
    law = gs.laws.MultiPower(*PUBLISHED["100M"])
    neg = gs.schedule(lambda t, a: a - 0.001 * t)
    with pytest.raises(LawError, match=r"config 1 \(a=0.1\), step 101.*>= 0"):
        gs.predict_loss(neg, gs.trials(a=[1.0, 0.1]), steps=200, law=law, backend="numpy")
    warm = gs.compat.transformers.get_linear_schedule_with_warmup(
        num_warmup_steps=10, num_training_steps=100, base_lr=0.1)
    with pytest.raises(LawError, match=r"sum to 0 up to step 0"):
        gs.predict_loss(warm, steps=100, law=law, at=[0, 50], backend="numpy")
    with pytest.raises(ValueError, match=r"at\[1\] = 100: must be a step in 0..99"):
        gs.predict_loss(warm, steps=100, law=law, at=[5, 100])
    with pytest.raises(ValueError, match=r"steps = 0"):
        gs.predict_loss(warm, steps=0, law=law)
    with pytest.raises(TypeError, match=r"law must be"):
        gs.predict_loss(warm, steps=10, law="multipower")
    with pytest.raises(ValueError, match=r"MultiPower: B = -1.0: must be a finite number >= 0"):
        gs.laws.MultiPower(L0=2, A=1, alpha=0.5, B=-1, C=1, beta=0.5, gamma=0.5)
    with pytest.raises(ValueError, match=r"Annealing: decay = 1.0: must be in \(0, 1\)"):
        gs.laws.Annealing(L0=2, A=1, alpha=0.5, C=1, decay=1.0)
    with pytest.raises(ValueError, match=r"grid column 'LL' is not in the grid"):
        gs.predict_loss(warm, gs.grid(base_lr=[0.1]), steps=100,
                        law=gs.laws.Annealing(L0="LL", A=1, alpha=0.5, C=1))
    with pytest.raises(ValueError, match=r"A = -0.5 \(grid column 'a'\) at config 1"):
        gs.predict_loss(warm, gs.trials(a=[0.5, -0.5]), steps=100,
                        law=gs.laws.Annealing(L0=2, A="a", alpha=0.5, C=1))


def test_numba_flags_are_explained_like_numpy():
    pytest.importorskip("numba")
    law = gs.laws.Annealing(L0=2, A=1, alpha=0.5, C=1)
    neg = gs.schedule(lambda t, a: a - 0.001 * t)
    with pytest.raises(LawError, match=r"config 1 \(a=0.1\), step 101"):
        gs.predict_loss(neg, gs.trials(a=[1.0, 0.1]), steps=200, law=law, backend="numba")


# ---- the reference data ------------------------------------------------------------------

def reference_runs(model):
    if not REF_DATA.is_dir():
        pytest.skip("the reference loss curves (../shared/reference/loss-curves) are absent")
    curves = gs.laws.read_curves(REF_DATA / model)
    return {k: c.run(reference_lrs(k)) for k, c in curves.items()}   # checks the file's lr


@pytest.mark.parametrize("model", ["25M", "100M"])
def test_published_fits_reproduce_the_published_test_metrics(model):
    runs = reference_runs(model)
    assert len(runs) == 9
    test = {k: r for k, r in runs.items() if k not in TRAIN}
    law = gs.laws.MultiPower(*PUBLISHED[model])
    got = gs.laws.metrics(law, test)["mean"]
    for k, v in PUBLISHED_TEST[model].items():    # to the digits published
        assert got[k] == pytest.approx(v, abs=6e-5 if k == "R2" else 6e-6), k
    # each prediction is the reference formula at that step
    r = runs["wsd_20000_24000"]
    want = [multipower_direct(r.lrs, int(s), *PUBLISHED[model]) for s in r.steps[::20]]
    np.testing.assert_allclose(law.predict(r.lrs, at=r.steps[::20]), want, rtol=1e-10)


def test_predict_loss_on_the_reference_schedules_built_by_gpusched():
    """cosine_24000 written with gpusched's blocks gives the rates of the reference file and
    the same prediction as the array."""
    runs = reference_runs("100M")
    peak, W, T = 3e-4, 2160, 24000
    sched = gs.schedule(lambda t: gs.where(
        t < W, peak * t / (W - 1),
        3e-5 + 0.5 * (peak - 3e-5) * (1 + gs.cos(gs.pi * (t - W) / (T - W)))))
    law = gs.laws.MultiPower(*PUBLISHED["100M"])
    r = runs["cosine_24000"]
    got = gs.predict_loss(sched, steps=T, law=law, at=r.steps, backend="numpy")
    np.testing.assert_allclose(got, law.predict(r.lrs, at=r.steps), rtol=1e-10)


def test_read_curves_refuses_what_it_cannot_read(tmp_path):
    (tmp_path / "a.csv").write_text("step,loss\n1,2\n")
    with pytest.raises(ValueError, match="first line must be 'step,lr,loss'"):
        gs.laws.read_curves(tmp_path)
    (tmp_path / "a.csv").write_text("step,lr,loss\n5,0.1,3.0\n4,0.1,2.9\n")
    with pytest.raises(ValueError, match="increasing integers"):
        gs.laws.read_curves(tmp_path)
    (tmp_path / "a.csv").write_text("step,lr,loss\n1,0.1,3.0\n2,0.1,2.9\n")
    curve = gs.laws.read_curves(tmp_path)["a"]
    with pytest.raises(ValueError, match="differ from the file's at step 2"):
        curve.run([0.1, 0.1, 0.2])


def test_annealing_fit_recovers_its_constants():
    """Losses made by a known annealing law are fitted back (L-BFGS-B from the starts)."""
    pytest.importorskip("scipy")
    true = gs.laws.Annealing(L0=2.7, A=0.6, alpha=0.45, C=0.5)
    runs = {}
    for name in ("cosine_24000", "constant_24000", "wsdcon_9"):
        lrs = reference_lrs(name)
        steps = np.arange(2160, lrs.size, 256)
        runs[name] = (lrs, steps, true.predict(lrs, at=steps))
    got = gs.laws.fit(gs.laws.Annealing, runs)
    for k in ("L0", "A", "alpha", "C"):
        assert getattr(got, k) == pytest.approx(getattr(true, k), rel=1e-3), k


def test_runs_from_a_schedule_and_values():
    law = gs.laws.Annealing(L0=2.7, A=0.6, alpha=0.45, C=0.5)
    sched = gs.compat.transformers.get_cosine_schedule_with_warmup(num_warmup_steps=10,
                                                                   num_training_steps=500)
    steps = np.arange(20, 500, 20)
    lrs = gs.evaluate(sched, gs.trials(base_lr=[0.01]), steps=500, dtype="float64")[0]
    loss = law.predict(lrs, at=steps)
    run = gs.laws.run_of(((sched, {"base_lr": 0.01}, 500), steps, loss))
    np.testing.assert_array_equal(run.lrs, lrs)
    m = gs.laws.metrics(law, [run])
    assert m["0"]["R2"] == 1.0 and m["mean"]["WorstE"] == 0.0


def test_predict_loss_on_numba_cuda_in_the_simulator(cuda_simulator_run):
    """tests/test_gpu.py's loss-law check, run on the Numba CUDA simulator."""
    from conftest import simulated
    run = cuda_simulator_run
    assert simulated(run, "test_gpu_predict_loss_matches_numpy"), \
        run.stdout[-3000:] + run.stderr[-3000:]


def test_cli_fit_law_then_predict_loss(tmp_path, capsys):
    """fit-law writes a law file that predict-loss reads; the printed best configs and the
    written predictions equal gs.predict_loss."""
    pytest.importorskip("scipy")
    from gpusched.cli import main
    true = gs.laws.Annealing(L0=2.7, A=0.6, alpha=0.45, C=0.5)
    rates = {"a": 'expr("where(t < 100, 0.01 * t / 99, 0.01 * 0.9995 ** (t - 100))")',
             "b": 'expr("where(t < 100, 0.01 * t / 99, 0.01)")'}
    for name, text in rates.items():
        lrs = gs.evaluate(gs.spec.loads(text), steps=3000, dtype="float64")
        steps = np.arange(100, 3000, 50)
        loss = true.predict(lrs, at=steps)
        rows = "\n".join(f"{s},{float(lrs[s])!r},{float(v)!r}" for s, v in zip(steps, loss))
        (tmp_path / f"{name}.csv").write_text("step,lr,loss\n" + rows + "\n")
    args = ["fit-law", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--law", "annealing",
            "--out", str(tmp_path / "law.json")]
    assert main(args) == 2                               # sampled steps need --rates
    assert "--rates a=SPEC" in capsys.readouterr().err
    args += [f"--rates=a={rates['a']}", f"--rates=b={rates['b']}", "--train", "a.csv"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "b                            test" in out
    law = gs.laws.fit(gs.laws.Annealing, {"a": gs.laws.read_curves(tmp_path)["a"].run(
        gs.evaluate(gs.spec.loads(rates["a"]), steps=3000, dtype="float64"))})
    assert f"{law.L0:.10g}" in out
    spec = "transformers.get_cosine_schedule_with_warmup(num_training_steps=3000, base_lr=0.01)"
    assert main(["predict-loss", spec, "--grid", "num_warmup_steps=10,100,400", "--steps",
                 "3000", "--law", str(tmp_path / "law.json"), "--top", "2", "--out",
                 str(tmp_path / "p.npy")]) == 0
    out = capsys.readouterr().out
    want = gs.predict_loss(gs.spec.loads(spec), gs.grid(num_warmup_steps=[10, 100, 400]),
                           steps=3000, law=gs.laws.Annealing(**json.loads(
                               (tmp_path / "law.json").read_text())["constants"]))
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), want)
    best = int(np.argmin(want))
    assert f"rows of the grid: {best}, " in out and "the best 2" in out
    assert main(["predict-loss", spec, "--steps", "3000", "--law", "multipower",
                 "--law-param", "L0=2"]) == 2
    assert "multipower needs --law-param for A, alpha, B, C, beta, gamma" in \
        capsys.readouterr().err


def test_dask_blocks_equal_one_call_and_keys_follow_the_law():
    pytest.importorskip("dask")
    law = gs.laws.MultiPower(L0="L0", A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6, gamma=0.65)
    g = gs.grid(num_decay_steps=[100, 400, 700], base_lr=[1e-4, 3e-4], num_warmup_steps=[30],
                L0=[2.6, 2.7])
    sched = gs.compat.transformers.get_wsd_schedule(num_training_steps=1000, min_lr_ratio=0.1)
    lazy = gs.dask.predict_loss(sched, g, steps=1000, law=law, at=[999, 500], config_chunks=5,
                                backend="numpy")
    want = gs.predict_loss(sched, g, steps=1000, law=law, at=[999, 500], backend="numpy")
    assert lazy.chunks == ((5, 5, 2), (2,))
    np.testing.assert_allclose(lazy.compute(), want, rtol=1e-13)
    other = gs.laws.MultiPower(L0="L0", A=0.6, alpha=0.45, B=438.0, C=2.1, beta=0.6,
                               gamma=0.66)
    g2 = gs.grid(num_decay_steps=[100, 400, 700], base_lr=[1e-4, 3e-4], num_warmup_steps=[30],
                 L0=[2.6, 2.8])
    names = {gs.dask.predict_loss(sched, gg, steps=1000, law=lw, config_chunks=5,
                                  backend="numpy").name
             for lw, gg in [(law, g), (other, g), (law, g2)]}
    assert len(names) == 3      # another constant, another law column: other blocks


@pytest.mark.parametrize("beta", [0.3, 0.6, 2.5, 5.0])
def test_the_binomial_series_of_a_shared_shape_equals_the_power(beta):
    """``walks.shared_sum``: ``(1 + c u) ** -beta`` as ``(c u) ** -beta`` times the binomial
    series of ``(1 + x) ** -beta``, ``x = 1 / (c u)``, on the entries from the first after
    which every ``x`` is small (not monotone here: a large ``x`` among small ones keeps the
    entries before it on the power), each term within 4e-15 of its gap of NumPy's power, the
    running sums of its four lanes NumPy's cumulative sums; beta 5 (beyond the series' bound)
    takes the power. A sum resumed from an entry equals the whole sum bit for bit."""
    pytest.importorskip("numba")
    from gpusched.laws import walks
    rng = np.random.default_rng(11)
    m = 4000
    u = np.geomspace(0.05, 1e5, m)
    u[[2500, 3100]] = 0.2                       # two entries with a large x late
    gap = rng.normal(size=m) * 1e-3
    ser = np.empty((3, m))
    walks.series_tables(u, ser, 0, m, beta)
    np.testing.assert_array_equal(ser[2], np.maximum.accumulate((1 / u)[::-1])[::-1])
    odd, odd_ser = np.array([1.0, 2.0, np.nan, 4.0, 0.5]), np.empty((3, 5))
    walks.series_tables(odd, odd_ser, 0, 5, beta)   # a NaN keeps the entries before it out
    np.testing.assert_array_equal(odd_ser[2], [np.nan, np.nan, np.nan, 2.0, 2.0])
    for cs in (0.01, 0.5, 40.0):
        want = gap * (1.0 - (1.0 + cs * u) ** -beta)
        tk, running = np.empty(m), np.empty(m)
        total = walks.shared_sum(u, gap, tk, 0, m, cs, beta, False, running, ser, beta)
        # 1 - (1 + c u) ** -beta to 4e-15 (where it nears 0, relative to the gap)
        assert np.all(np.abs(tk - want) <= 4e-15 * np.abs(gap))
        for lane in range(4):       # entry i summed in lane i % 4
            np.testing.assert_allclose(running[lane::4], np.cumsum(want[lane::4]), rtol=0,
                                       atol=1e-14 * np.abs(want).sum())
        assert total == (running[-4] + running[-3]) + (running[-2] + running[-1])
        np.testing.assert_allclose(total, want.sum(), rtol=0, atol=1e-14 * np.abs(want).sum())
        # from an entry on (lanes not aligned with it), resuming from the sums before it
        for start in (1000, 1001, 3):
            rerun = running.copy()
            rerun[start:] = np.nan
            again = walks.shared_sum(u, gap, tk, start, m, cs, beta, True, rerun, ser, beta)
            assert again == total and np.array_equal(rerun, running)


def test_walks_names_the_fastpow_it_was_compiled_with():
    """walks.py's Numba cache is keyed by walks.py alone but holds fastpow's code: the digest
    it carries must be fastpow.py's, so that changing fastpow.py changes walks.py (and its
    cache is recompiled, not reused with the old powers)."""
    import hashlib
    from pathlib import Path
    from gpusched.laws import fastpow, walks
    digest = hashlib.sha256(Path(str(fastpow.__file__)).read_bytes()).hexdigest()
    assert walks.FASTPOW_SHA256 == digest, "fastpow.py changed: update walks.FASTPOW_SHA256"
