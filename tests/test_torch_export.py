"""gs.to_torch_scheduler and schedule(t): the graph as plain Python at one step, exact at
every step (no table), with the momentum TableLR lost (issue 17)."""

import io

import numpy as np
import pytest

import gpusched as gs

from catalog_cases import build, cases
from gpusched.scalar import function_for

torch = pytest.importorskip("torch")


def _loop(make_sched, opt_cls=torch.optim.SGD, steps=200, **opt_kw):
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    opt = opt_cls([{"params": params[:1]}, {"params": params[1:], "lr": opt_kw.pop("lr2", 0.1)}],
                  **opt_kw)
    sched = make_sched(opt)
    lrs, moms = [], []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g["betas"][0] if "betas" in g else g.get("momentum", 0.0)
                     for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(moms)


@pytest.mark.parametrize("opt_cls, kw", [(torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                          (torch.optim.AdamW, {"lr": 0.1})])
def test_one_cycle_lr_and_momentum_equal_torchs_own(opt_cls, kw):
    L = torch.optim.lr_scheduler
    want = _loop(lambda o: L.OneCycleLR(o, max_lr=[0.1, 0.3], total_steps=200), opt_cls,
                 **dict(kw))
    ours = gs.compat.torch.OneCycleLR(total_steps=200)
    mom = gs.compat.torch.OneCycleLR(total_steps=200, output="momentum")
    got = _loop(lambda o: gs.to_torch_scheduler(ours, o, momentum=mom, max_lr=0.1), opt_cls,
                **dict(kw))
    # (torch's max_lr is per group; ours is one value: compare the first group)
    np.testing.assert_array_equal(got[0][:, 0], want[0][:, 0])
    np.testing.assert_array_equal(got[1], want[1])
    # momentum="auto" (the default) derives the twin's own momentum, as torch cycles it
    auto = _loop(lambda o: gs.to_torch_scheduler(ours.with_values(pct_start=0.3), o,
                                                 max_lr=0.1), opt_cls, **dict(kw))
    np.testing.assert_array_equal(auto[1], want[1])
    off = _loop(lambda o: gs.to_torch_scheduler(ours, o, momentum=None, max_lr=0.1), opt_cls,
                **dict(kw))
    assert len(set(off[1][:, 0])) == 1                    # left alone


def test_base_lr_comes_from_each_group_as_in_torch():
    L = torch.optim.lr_scheduler
    want = _loop(lambda o: L.CosineAnnealingLR(o, T_max=50, eta_min=1e-4), lr=0.1, lr2=0.01)
    got = _loop(lambda o: gs.to_torch_scheduler(
        gs.compat.torch.CosineAnnealingLR(T_max=50, eta_min=1e-4), o), lr=0.1, lr2=0.01)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)   # torch steps a recurrence


def test_no_table_end_and_checkpoints_load_with_defaults():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    s = gs.to_torch_scheduler(gs.compat.torch.StepLR(step_size=1000, gamma=0.5), opt)
    for _ in range(12_345):
        opt.step()
        s.step()
    assert opt.param_groups[0]["lr"] == 0.1 * 0.5 ** 12
    buf = io.BytesIO()
    torch.save(s.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf)                      # weights_only=True: plain values only
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    s2 = gs.to_torch_scheduler(gs.compat.torch.StepLR(step_size=1000, gamma=0.5), opt2)
    s2.load_state_dict(state)
    s.step()
    s2.step()
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"] == 0.1 * 0.5 ** 12
    with pytest.raises(ValueError, match="needs every step"):
        gs.to_torch_scheduler(gs.compat.torch.MultiplicativeLR(lambda e, g: g, g=0.9), opt)
    with pytest.raises(ValueError, match="neither momentum nor betas"):
        gs.to_torch_scheduler(gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=10),
                              torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]),
                              momentum=gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=10,
                                                                  output="momentum"))


def test_single_values_equal_the_float64_table_for_every_twin():
    steps = [0, 1, 7, 99, 250, 1499]
    done = 0
    for cid, lib, name, kw in cases(with_metrics=False):
        s = build(lib, name, kw)
        want = gs.evaluate(s, steps=np.array(steps), dtype="float64", backend="numpy")
        got = [s(t) for t in steps]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=cid)
        done += 1
    assert done >= 80
    with pytest.raises(TypeError, match="step must be an int"):
        function_for(gs.compat.torch.StepLR(step_size=3, base_lr=0.1), {})(2.5)


def test_cyclic_lr_momentum_is_derived_as_torch_cycles_it():
    L = torch.optim.lr_scheduler
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=7, mode="triangular2")
    want = _loop(lambda o: L.CyclicLR(o, **kw), lr=0.01, momentum=0.9, lr2=0.01)
    got = _loop(lambda o: gs.to_torch_scheduler(gs.compat.torch.CyclicLR(**kw), o), lr=0.01,
                momentum=0.9, lr2=0.01)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert gs.integrations.torch.momentum_twin(
        gs.compat.torch.CyclicLR(cycle_momentum=False, **kw)) is None


def test_single_values_are_cached_by_the_content_of_every_parameter():
    """schedule(t, **params) keeps its generated function per parameter values: two long
    lists whose reprs are equal (NumPy elides the middle) must not share one."""
    s = gs.schedule(lambda t, lst, a: a * gs.take(lst, gs.to_int(t)))
    a = np.arange(2000.0)
    b = a.copy()
    b[1000] = -5.0
    assert repr(a) == repr(b)
    assert s(1000, lst=a, a=1.0) == 1000.0 and s(1000, lst=b, a=1.0) == -5.0


def test_single_value_code_holds_no_user_text():
    """The generated Python holds validated identifiers and numeric literals only: a
    schedule's name (free text) never reaches it, and a parameter name must be an
    identifier before any code exists."""
    from gpusched.scalar import ScalarFunction
    s = gs.schedule(lambda t, a: a * t)
    s.name = "x'); __import__('os').system('echo pwned'); ('"
    fn = ScalarFunction(s, {"a": 2.0})
    assert fn(3) == 6.0 and "pwned" not in fn.source and "import" not in fn.source
    with pytest.raises(ValueError, match="invalid parameter name"):
        s.rename(a="a); import os; (")
