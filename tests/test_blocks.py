"""The core vocabulary against its documented formulas, computed here with Python math."""

import math

import numpy as np
import pytest

import gpusched as gs

STEPS = np.arange(0, 130)


def ev(s, grid=None, steps=STEPS, backend="numpy"):
    return gs.evaluate(s, grid, steps=steps, dtype="float64", backend=backend)


def test_constant(backend):
    np.testing.assert_array_equal(ev(gs.constant(0.25), backend=backend), np.full(130, 0.25))


def test_linear_holds_outside_its_window(backend):
    got = ev(gs.linear(init_value=1.0, end_value=0.2, transition_steps=40, transition_begin=10),
             backend=backend)
    want = [1.0 + (0.2 - 1.0) * min(max(t - 10, 0), 40) / 40 for t in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert got[0] == 1.0 and got[50] == pytest.approx(0.2) and got[-1] == pytest.approx(0.2)


def test_cosine_decays_then_holds(backend):
    got = ev(gs.cosine(init_value=0.5, decay_steps=100, end_value=0.01), backend=backend)
    want = [0.01 + (0.5 - 0.01) * (1 + math.cos(math.pi * min(t, 100) / 100)) / 2 for t in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert got[100] == pytest.approx(0.01, rel=1e-15) and (got[100:] == got[100]).all()


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_with_begin_staircase_and_floor(staircase, backend):
    s = gs.exponential(init_value=1.0, decay_rate=0.5, transition_steps=10,
                       transition_begin=5, staircase=staircase, end_value=0.05)
    got = ev(s, backend=backend)

    def f(t):
        d = t - 5
        if d <= 0:
            return 1.0
        p = math.floor(d / 10) if staircase else d / 10
        return max(1.0 * 0.5 ** p, 0.05)
    np.testing.assert_allclose(got, [f(t) for t in STEPS], rtol=1e-14)


def test_polynomial(backend):
    got = ev(gs.polynomial(init_value=1.0, end_value=0.1, transition_steps=80, power=2.0),
             backend=backend)
    want = [(1.0 - 0.1) * (1 - min(t, 80) / 80) ** 2 + 0.1 for t in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-14)


def test_piecewise_constant_switches_at_the_boundary_and_sweeps_ragged_lists(backend):
    g = gs.trials(values=[[1.0, 0.1, 0.01], [0.5, 0.05]], boundaries=[[30, 60], [45]])
    got = ev(gs.piecewise_constant(), g, backend=backend)
    np.testing.assert_array_equal(got[0], [1.0 if t < 30 else 0.1 if t < 60 else 0.01
                                           for t in STEPS])
    np.testing.assert_array_equal(got[1], [0.5 if t < 45 else 0.05 for t in STEPS])
    with pytest.raises(ValueError, match="one more entry"):
        ev(gs.piecewise_constant(), gs.trials(values=[[1.0, 0.1]], boundaries=[[3, 6]]))


def test_join_gives_each_piece_its_local_step_and_sweeps_boundaries(backend):
    ramp = gs.linear(init_value=0.0, end_value=1.0, transition_steps=20)
    ramp = ramp.rename(init_value="start", end_value="peak")
    s = gs.join([ramp, gs.cosine(init_value=1.0, decay_steps=50, end_value=0.1)],
                boundaries=["warmup"])
    assert set(s.params) == {"start", "peak", "transition_steps", "transition_begin",
                             "init_value", "decay_steps", "end_value", "warmup"}
    g = gs.grid(warmup=[0, 20, 35])
    got = ev(s, g, backend=backend)
    for i, w in enumerate([0, 20, 35]):
        want = [min(t, 20) / 20 if t < w else
                0.1 + 0.9 * (1 + math.cos(math.pi * min(t - w, 50) / 50)) / 2 for t in STEPS]
        np.testing.assert_allclose(got[i], want, rtol=1e-14)


def test_warmup_prefix_ramps_to_the_value_at_step_zero(backend):
    s = gs.warmup(gs.cosine(init_value=0.3, decay_steps=60, end_value=0.0), warmup_steps=10,
                  warmup_init=0.03)
    got = ev(s, backend=backend)
    want = [0.03 + (0.3 - 0.03) * t / 10 if t < 10 else
            0.3 * (1 + math.cos(math.pi * min(t - 10, 60) / 60)) / 2 for t in STEPS]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-18)
    g = gs.grid(warmup_steps=[0, 5], init_value=[0.1, 0.3])     # sweep the wrapped schedule too
    assert ev(s, g, backend=backend).shape == (4, 130)


def test_pieces_share_parameters_by_name():
    a = gs.linear(init_value=0.0, end_value=1.0, transition_steps=10)
    b = gs.linear(init_value=1.0, end_value=0.0, transition_steps=5)
    with pytest.raises(ValueError, match=r"different values in two pieces.*rename"):
        gs.join([a, b], [10])
    a = a.rename(end_value="peak", transition_steps="warm")
    b = b.rename(init_value="peak", end_value="floor", transition_steps="decay")
    tied = gs.join([a, b], ["warm"])
    got = ev(tied, gs.grid(peak=[1.0, 2.0]), steps=np.arange(16))
    np.testing.assert_allclose(got[1, [0, 5, 10, 15]], [0.0, 1.0, 2.0, 0.0])   # one knob
    assert tied.values["warm"] == 10 and "warm" in tied.params


def test_schedules_compose_inside_traced_functions():
    cos = gs.cosine(end_value=0.0)
    s = gs.schedule(lambda t, peak, W, D: gs.where(t < W, peak * t / W,
                                                   cos(t - W, init_value=peak, decay_steps=D)))
    got = ev(s, gs.trials(peak=[0.2], W=[10], D=[40]), steps=np.arange(60))[0]
    want = [0.2 * t / 10 if t < 10 else 0.2 * (1 + math.cos(math.pi * min(t - 10, 40) / 40)) / 2
            for t in range(60)]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-18)
