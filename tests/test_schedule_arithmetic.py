"""Arithmetic on schedules: ``0.5 * s``, ``s1 + s2``, ``s * gs.linear(...)`` build schedules
whose parameters stay sweepable, with a spec (so they pickle, compare and round-trip)."""

import pickle

import numpy as np
import pytest

import gpusched as gs
from gpusched import spec

COS = gs.compat.torch.CosineAnnealingLR(T_max=100, base_lr=0.1)
STEP = gs.compat.torch.StepLR(step_size=7, gamma=0.5, base_lr=0.1)


def _table(s, grid=None, steps=120):
    return gs.evaluate(s, grid, steps=steps, dtype="float64", backend="numpy")


def test_a_scaled_schedule_keeps_its_parameters_sweepable():
    half = 0.5 * COS
    grid = gs.grid(T_max=[10, 40], eta_min=[0.0, 0.01])
    assert set(half.params) == set(COS.params)
    np.testing.assert_allclose(_table(half, grid), 0.5 * _table(COS, grid), rtol=1e-15)
    np.testing.assert_allclose(_table(COS / 4 - 0.01), _table(COS) / 4 - 0.01, rtol=1e-15)
    np.testing.assert_allclose(_table(1 - COS), 1 - _table(COS), rtol=1e-15)
    np.testing.assert_allclose(_table(-COS), -_table(COS), rtol=1e-15)


def test_two_schedules_share_a_parameter_of_the_same_value_and_sweep_it():
    both = COS + STEP
    grid = gs.grid(base_lr=[0.1, 0.3], T_max=[50])
    want = _table(COS, grid) + _table(STEP, gs.grid(base_lr=[0.1, 0.3]))
    np.testing.assert_allclose(_table(both, grid), want, rtol=1e-15)
    ramp = gs.linear(init_value=0.0, end_value=1.0, transition_steps=30)
    np.testing.assert_allclose(_table(COS * ramp), _table(COS) * _table(ramp), rtol=1e-15)


def test_a_name_meaning_two_things_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"'base_lr' is in both schedules .*rename one first"):
        COS + gs.compat.torch.StepLR(step_size=7, base_lr=0.2)
    other = gs.compat.torch.StepLR(step_size=7, base_lr=0.2).rename(base_lr="step_lr")
    assert "step_lr" in (COS + other).params
    with pytest.raises(TypeError):
        COS * "x"
    with pytest.raises(TypeError):
        COS + True


def test_combined_schedules_round_trip_through_spec_and_pickle():
    for s in (0.5 * COS, COS + STEP, (COS - 0.01) / 2, -STEP, 2 * (COS * STEP)):
        text = spec.dumps(s)
        back = spec.loads(text)
        assert back == s and hash(back) == hash(s)
        np.testing.assert_array_equal(_table(back), _table(s))
        assert pickle.loads(pickle.dumps(s)) == s
    assert spec.loads("0.5 * torch.StepLR(step_size=3, base_lr=0.1) - 0.01") == \
        0.5 * gs.compat.torch.StepLR(step_size=3, base_lr=0.1) - 0.01
    with pytest.raises(spec.SpecError, match="combines schedules and numbers"):
        spec.loads("0.5 * 2")
