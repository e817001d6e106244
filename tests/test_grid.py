"""Grids and trials: order, config lookup, ragged columns, errors."""

import itertools

import numpy as np
import pytest

import gpusched as gs
from gpusched.grid import INT_PAD


def test_grid_is_the_row_major_cartesian_product():
    axes = dict(a=[1, 2, 3], b=[0.1, 0.2], c=["x", "y"])
    g = gs.grid(**axes)
    assert len(g) == 12
    want = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    assert list(g) == want                     # itertools.product: the last axis fastest


def test_single_values_are_shared_axes_and_configs_come_back():
    g = gs.grid(base_lr=[0.1, 0.3], T_max=1000)
    assert len(g) == 2 and g[1] == {"base_lr": 0.3, "T_max": 1000} and g[-1] == g[1]
    with pytest.raises(IndexError):
        g[2]


def test_list_axes_are_padded_not_rejected():
    g = gs.grid(milestones=[[30, 60], [50], []], gamma=[0.1, 0.5])
    col = g.columns["milestones"]
    assert col.values.shape == (6, 2)
    assert col.lengths.tolist() == [2, 2, 1, 1, 0, 0]
    assert col.values[2].tolist() == [50, INT_PAD]
    assert g[2] == {"milestones": [50], "gamma": 0.1} and g[5]["milestones"] == []


def test_trials_from_dicts_and_columns_agree():
    a = gs.trials([{"base_lr": 0.1, "T_max": 500}, {"base_lr": 0.3, "T_max": 900}])
    b = gs.trials(base_lr=[0.1, 0.3], T_max=[500, 900])
    assert list(a) == list(b) == [{"base_lr": 0.1, "T_max": 500}, {"base_lr": 0.3, "T_max": 900}]
    c = gs.trials(base_lr=[0.1, 0.3], T_max=700)           # a single value is shared
    assert c[1] == {"base_lr": 0.3, "T_max": 700}


@pytest.mark.parametrize("make, exc, pattern", [
    (lambda: gs.grid(), ValueError, "at least one axis"),
    (lambda: gs.grid(a=[]), ValueError, "axis 'a' is empty"),
    (lambda: gs.grid(a=[1, None]), TypeError, r"'a' = None at config 1"),
    (lambda: gs.grid(a=[[1, 2], 3]), ValueError, "a=3 at config 1|every config needs one"),
    (lambda: gs.grid(**{"bad name": [1]}), ValueError, "invalid parameter name"),
    (lambda: gs.grid(__class__=[1]), ValueError, "invalid parameter name"),
    (lambda: gs.trials([]), ValueError, "empty list"),
    (lambda: gs.trials([{"a": 1}, {"b": 2}]), ValueError, r"trial 1 has different keys"),
    (lambda: gs.trials(a=[1, 2], b=[1, 2, 3]), ValueError, "different lengths"),
])
def test_bad_grids_are_refused_clearly(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_a_dict_of_columns_is_accepted_as_trials():
    s = gs.schedule(lambda t, a: a * t)
    got = gs.evaluate(s, {"a": [1.0, 2.0]}, steps=3, dtype="float64")
    np.testing.assert_array_equal(got, [[0, 1, 2], [0, 2, 4]])


def test_axes_and_trials_from_the_arrays_sweep_tools_hold():
    """torch tensors (grad or not, 0-d too), JAX arrays, pandas Series and DataFrames, ranges
    and NumPy scalars give the same configs as plain lists (issue 17)."""
    import numpy as np
    torch = pytest.importorskip("torch")
    jnp = pytest.importorskip("jax.numpy")
    pd = pytest.importorskip("pandas")
    lrs, ts = [0.5, 0.25], [10, 20]
    want = gs.grid(base_lr=lrs, T_max=ts)
    s = gs.compat.torch.CosineAnnealingLR()
    ref = gs.evaluate(s, want, steps=30, dtype="float64", backend="numpy")
    for g in (gs.grid(base_lr=torch.tensor(lrs, requires_grad=True), T_max=range(10, 30, 10)),
              gs.grid(base_lr=jnp.array(lrs), T_max=jnp.array(ts)),
              gs.grid(base_lr=pd.Series(lrs), T_max=pd.Index(ts)),
              gs.grid(base_lr=[np.float32(0.5), torch.tensor(0.25)], T_max=ts)):
        assert [g[i] for i in range(len(g))] == [want[i] for i in range(len(want))]
        np.testing.assert_array_equal(gs.evaluate(s, g, steps=30, dtype="float64",
                                                  backend="numpy"), ref)
    frame = pd.DataFrame({"base_lr": [0.5, 0.25, 0.5], "T_max": [10, 10, 20]})
    for t in (gs.trials(frame), gs.trials(base_lr=torch.tensor([0.5, 0.25, 0.5]),
                                           T_max=torch.tensor([10, 10, 20]))):
        assert [t[i] for i in range(3)] == frame.to_dict("records")
    assert gs.grid(base_lr=torch.tensor(0.5), T_max=10)[0] == {"base_lr": 0.5, "T_max": 10}
    with pytest.raises(TypeError, match="parameter 'base_lr' = <object .* at config 0"):
        gs.grid(base_lr=[object()], T_max=[10])


def test_select_keeps_a_schedules_own_keys_of_a_sweep_config():
    import numpy as np
    s = gs.compat.torch.CosineAnnealingLR(T_max=100)
    config = {"base_lr": 0.1, "batch_size": 256, "seed": 3, "eta_min": 1e-4}
    assert s.select(config) == {"base_lr": 0.1, "eta_min": 1e-4}
    mixed = gs.grid(base_lr=[0.1, 0.2], seed=[0, 1, 2])
    with pytest.raises(ValueError, match="unknown parameter 'seed'.*schedule.select"):
        gs.evaluate(s, mixed, steps=5)
    own = s.select(mixed)
    assert len(own) == 6 and own.names == ("base_lr",) and own.axes is None
    assert [own[i]["base_lr"] for i in range(6)] == [0.1] * 3 + [0.2] * 3
    got = gs.evaluate(s, own, steps=5, backend="numpy")
    np.testing.assert_array_equal(got[2], got[0])
    trials = [{"base_lr": 0.1, "seed": 1}, {"base_lr": 0.3, "seed": 2}]
    assert s.select(trials) == [{"base_lr": 0.1}, {"base_lr": 0.3}]
    whole = s.select(gs.grid(base_lr=[0.1, 0.2], T_max=[10, 20]))
    assert whole.axes is not None and len(whole) == 4
