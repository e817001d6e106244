"""Two ways kernels skip work, and the numbers they must not change: choices shared by a whole
grid folded into the kernel, and expensive values on piecewise-constant inputs remembered
between steps."""

import numpy as np
import pytest

import gpusched as gs
from gpusched import api, codegen
from gpusched import expr as E
from gpusched.grid import as_grid

CT = gs.compat.torch


def _plan(sched, grid, steps=10 ** 6):
    return api.prepare(sched, grid, steps, "float64")[-1]


@pytest.fixture
def always_fold(monkeypatch):
    monkeypatch.setattr(api, "SPECIALIZE_PAIRS", 0)


def test_small_jobs_keep_the_general_kernel():
    sched = CT.OneCycleLR(max_lr=0.1, total_steps=1000)
    small = _plan(sched, gs.grid(pct_start=[0.2, 0.3]), steps=1000)
    assert "anneal_strategy" in small.scalar_params
    assert "anneal_strategy" not in _plan(sched, gs.grid(pct_start=[0.2, 0.3])).scalar_params


def test_a_shared_choice_becomes_a_constant_and_its_branches_fold():
    sched = CT.OneCycleLR(max_lr=0.1, total_steps=1000)
    shared = _plan(sched, gs.grid(pct_start=[0.2, 0.3]))
    assert "anneal_strategy" not in shared.scalar_params
    assert "three_phase" not in shared.scalar_params
    assert not any(n.op == "where" and n.args[0].op == "eq" and n.args[0].args[0].op == "param"
                   and n.args[0].args[0].value == "anneal_strategy" for n in shared.nodes)
    mixed = _plan(sched, gs.grid(pct_start=[0.2, 0.3], anneal_strategy=["cos", "linear"]))
    assert "anneal_strategy" in mixed.scalar_params
    assert len(shared.nodes) < len(mixed.nodes)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_folded_kernels_give_the_same_numbers_as_mixed_grids(backend, always_fold):
    """Each row of a grid sharing its choices equals that config inside a grid that mixes
    them (the unfolded kernel), bit for bit, and torch's own values."""
    torch = pytest.importorskip("torch")
    steps = np.arange(0, 1001)
    base = dict(max_lr=[0.1, 1.0], pct_start=[0.25, 0.4], total_steps=[1000])
    for strategy in ("cos", "linear"):
        for three in (False, True):
            fixed = gs.grid(**base, anneal_strategy=[strategy], three_phase=[three])
            mixed = gs.grid(**base, anneal_strategy=["cos", "linear"], three_phase=[False, True])
            got = gs.evaluate(CT.OneCycleLR(), fixed, steps=steps, dtype="float64",
                              backend=backend)
            all_rows = gs.evaluate(CT.OneCycleLR(), mixed, steps=steps, dtype="float64",
                                   backend=backend)
            rows = [i for i, c in enumerate(mixed) if c["anneal_strategy"] == strategy
                    and c["three_phase"] == three]
            np.testing.assert_array_equal(got, all_rows[rows])
            c = list(fixed)[-1]
            opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            sch = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=c["max_lr"], total_steps=1000, pct_start=c["pct_start"],
                anneal_strategy=strategy, three_phase=three)
            want = []
            for _ in range(1000):
                want.append(opt.param_groups[0]["lr"])
                opt.step()
                sch.step()
            np.testing.assert_allclose(got[-1, :1000], want, rtol=1e-12)


def test_and_or_with_a_known_truth_value_fold():
    t = E.step()
    cond = t < 3
    assert (cond & True) is cond and (True & cond) is cond
    assert (cond | False) is cond
    assert (cond & False).op == "const" and (cond & False).value is False
    assert (cond | True).op == "const" and (cond | True).value is True
    three = E.param("k") == 1      # stays an expression until k is known
    assert (three & cond).op == "and"


def _step_lines(sched, grid):
    plan = _plan(sched, grid)
    layout = codegen.Layout.of(plan, api.bind(sched, as_grid(grid)).dtypes)
    return codegen.python_sections(plan, layout, "pass", remember=True)[1]


def test_only_values_on_piecewise_constant_inputs_are_remembered():
    milestones = gs.grid(milestones=[[10, 20, 30]], gamma=[0.1, 0.5], base_lr=[1.0])
    # gamma ** milestone_count is read from its table over the count's values instead
    lines = _step_lines(CT.MultiStepLR(), milestones)
    assert any("= ct0[rt0, " in ln for ln in lines)
    assert not any("mok" in ln or "**" in ln for ln in lines)
    assert any("mok" in ln for ln in _step_lines(CT.StepLR(step_size=7), gs.grid(
        gamma=[0.1, 0.5], base_lr=[1.0])))
    cosine = CT.CosineAnnealingLR(T_max=100)
    assert not any("mok" in ln for ln in _step_lines(cosine, gs.grid(base_lr=[0.1, 1.0])))
    exponential = CT.ExponentialLR(gamma=0.99)      # gamma ** t changes at every step
    assert not any("mok" in ln for ln in _step_lines(exponential, gs.grid(base_lr=[0.1, 1.0])))


@pytest.mark.parametrize("case", ["multistep", "step", "staircase", "restarts"])
def test_remembered_values_hold_for_steps_in_any_order(case):
    """The Numba CPU kernels remember values between consecutive steps: shuffled, repeated
    and far-apart steps must give the NumPy backend's numbers."""
    pytest.importorskip("numba")
    sched, grid = {
        "multistep": (CT.MultiStepLR(), gs.grid(base_lr=[0.1, 1.0], gamma=[0.1, 0.5],
                                                milestones=[[5, 50, 51, 400], [1, 2]])),
        "step": (CT.StepLR(), gs.grid(base_lr=[0.1, 1.0], gamma=[0.1, 0.9],
                                      step_size=[1, 3, 100])),
        "staircase": (gs.compat.optax.exponential_decay(staircase=True),
                      gs.grid(init_value=[1.0], transition_steps=[5, 64], decay_rate=[0.5, 0.99],
                              transition_begin=[0, 10])),
        "restarts": (CT.CosineAnnealingWarmRestarts(), gs.grid(
            base_lr=[0.1, 1.0], T_0=[3, 10], T_mult=[1, 2], eta_min=[0.0, 1e-3])),
    }[case]
    rng = np.random.default_rng(3)
    steps = np.concatenate([rng.permutation(600), [7, 7, 7, 0, 599, 5, 2 ** 31 + 1, 4, 4]])
    want = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numpy")
    got = gs.evaluate(sched, grid, steps=steps, dtype="float64", backend="numba")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    for op in ("mean", "max", "argmin"):
        np.testing.assert_allclose(
            gs.reduce(sched, grid, steps=steps, op=op, dtype="float64", backend="numba"),
            gs.reduce(sched, grid, steps=steps, op=op, dtype="float64", backend="numpy"),
            rtol=1e-12)


def _enclosing(lines: list, needle: str) -> list:
    """The block headers (``if``/``else`` lines) around the first line holding ``needle``."""
    at = next(i for i, ln in enumerate(lines) if needle in ln)
    depth = len(lines[at]) - len(lines[at].lstrip())
    heads = []
    for ln in reversed(lines[:at]):
        d = len(ln) - len(ln.lstrip())
        if d < depth:
            heads.append(ln.strip())
            depth = d
    return heads


def test_a_where_computes_only_the_branch_it_takes():
    """transformers' WSD: the cosine and the square root of its decay run at decay steps
    only, each in its own branch (not at every warmup and stable step)."""
    wsd = gs.compat.transformers.get_wsd_schedule(num_training_steps=1000)
    lines = _step_lines(wsd, gs.grid(decay_type=["linear", "cosine", "1-sqrt"],
                                     num_warmup_steps=[10, 20], num_decay_steps=[100, 200],
                                     base_lr=[1.0]))
    cos, sqrt = _enclosing(lines, "math.cos("), _enclosing(lines, "math.sqrt(")
    assert len(cos) >= 4 and all(h.startswith(("if ", "else")) for h in cos)
    assert cos[0].startswith("if ") and sqrt[0] == "else:" and cos[1:] == sqrt[1:]
    assert not any(" if " in ln and " else " in ln and "math." in ln for ln in lines)


def test_a_where_whose_branch_can_fail_computes_both_and_still_fails():
    """A branch that can flag an error (an integer division by a parameter) is computed at
    every step, as NumPy computes it: the error is the same on both backends."""
    pytest.importorskip("numba")
    s = gs.schedule(lambda t, k: gs.where(t < 3, gs.cos(t * 1.0), (t // k) * 1.0))
    lines = _step_lines(s, gs.grid(k=[3, 0]))
    assert any(" if " in ln and " else " in ln for ln in lines)
    assert _enclosing(lines, "math.cos(") == []
    for backend in ("numpy", "numba"):
        with pytest.raises(ValueError, match=r"division by zero.*config 1 \(k=0\)"):
            gs.evaluate(s, gs.trials(k=[3, 0]), steps=2, backend=backend)


@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
def test_branches_taken_in_any_order_give_numpys_numbers(decay_type):
    """Steps that jump between warmup, stable, decay and after the decay, on the Numba
    kernels and the scalar function, against the NumPy backend (which computes every
    branch and selects)."""
    pytest.importorskip("numba")
    wsd = gs.compat.transformers.get_wsd_schedule(num_training_steps=1000, min_lr_ratio=0.1)
    grid = gs.grid(decay_type=[decay_type], num_warmup_steps=[0, 10, 300],
                   num_decay_steps=[1, 200, 700], base_lr=[0.5, 1.0])
    steps = np.random.default_rng(7).permutation(np.r_[np.arange(0, 1200, 3), 999, 1000])
    want = gs.evaluate(wsd, grid, steps=steps, dtype="float64", backend="numpy")
    np.testing.assert_array_equal(
        gs.evaluate(wsd, grid, steps=steps, dtype="float64", backend="numba"), want)
    for c in (1, 8, 17):
        np.testing.assert_array_equal([wsd(int(t), **grid[c]) for t in steps], want[c])


def test_a_branch_read_from_a_factorized_table_is_not_worth_an_if():
    """On a cartesian grid the warmup-cosine's cosine is a factorized table: its branch is a
    read, so the ``where`` stays a select (a loop LLVM may vectorize)."""
    from gpusched.engine.factorized import precompute
    sched = gs.schedule(lambda t, peak, warmup: gs.where(
        t < warmup, peak * t / warmup, peak * 0.5 * (1 + gs.cos(gs.pi * (t - warmup) / 1000))))
    grid = gs.grid(peak=np.geomspace(1e-4, 1e-1, 64), warmup=[100, 200, 500])
    _, _, steps, _, bound, plan = api.prepare(sched, grid, 1000, "float32")
    pre = precompute(plan, bound, steps, 2 ** 30)
    assert pre
    layout = codegen.Layout.of(plan, bound.dtypes)
    lines = codegen.python_sections(plan, layout, "pass", pre.reads(plan), remember=True)[1]
    assert not any("math.cos(" in ln for ln in lines)
    assert not any(ln.startswith("if ") for ln in lines)
    assert any(" if " in ln and " else " in ln for ln in lines)
    plain = codegen.python_sections(plan, layout, "pass", None, remember=True)[1]
    assert _enclosing(plain, "math.cos(") == ["else:"]
