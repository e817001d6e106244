"""Results labelled by their grid: gs.to_pandas and gs.to_xarray (issue 17)."""

import numpy as np
import pytest

import gpusched as gs

pd = pytest.importorskip("pandas")


def problem():
    s = gs.compat.torch.MultiStepLR(gamma=0.5)
    g = gs.grid(base_lr=[0.1, 0.2, 0.4], milestones=[[3, 6], [4]])
    return s, g


def test_a_reduction_becomes_a_frame_of_parameters_and_values():
    s, g = problem()
    r = gs.reduce(s, g, steps=8, op="mean", dtype="float64", backend="numpy")
    df = gs.to_pandas(r, g, name="mean_lr")
    assert list(df.columns) == ["base_lr", "milestones", "mean_lr"] and len(df) == 6
    for i in range(len(g)):       # row i is config i, whatever the grid's order
        assert df.loc[i, "base_lr"] == g[i]["base_lr"]
        assert df.loc[i, "milestones"] == tuple(g[i]["milestones"])
        assert df.loc[i, "mean_lr"] == r[i]
    best = df.sort_values("mean_lr").iloc[-1]
    assert best["base_lr"] == 0.4 and best["milestones"] == (4,)


def test_a_table_is_indexed_by_parameters_with_a_column_per_step():
    s, g = problem()
    steps = np.array([0, 3, 4, 7])
    t = gs.evaluate(s, g, steps=steps, backend="numpy")
    df = gs.to_pandas(t, g, steps)
    assert list(df.columns) == [0, 3, 4, 7] and df.columns.name == "step"
    assert df.loc[(0.2, (4,)), 4] == pytest.approx(0.1)
    assert df.loc[(0.2, (3, 6)), 7] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="steps give 8 steps but the table has 4"):
        gs.to_pandas(t, g, 8)
    with pytest.raises(ValueError, match="does not match a grid of 6 configs"):
        gs.to_pandas(t[:3], g, steps)


def test_xarray_dimensions_are_the_grid_axes():
    xr = pytest.importorskip("xarray")
    s, g = problem()
    t = gs.evaluate(s, g, steps=8, dtype="float64", backend="numpy")
    da = gs.to_xarray(t, g, 8)
    assert isinstance(da, xr.DataArray) and da.dims == ("base_lr", "milestones", "step")
    assert da.sel(base_lr=0.4, step=5).values.tolist() == [0.2, 0.2]
    for i in range(len(g)):
        row = da.sel(base_lr=g[i]["base_lr"]).isel(
            milestones=[0, 1].index(0 if len(g[i]["milestones"]) == 2 else 1))
        np.testing.assert_array_equal(row.values, t[i])
    tr = gs.trials(base_lr=[0.3, 0.1], milestones=[[2], [5]])
    r = gs.reduce(s, tr, steps=8, op="min", dtype="float64", backend="numpy")
    da = gs.to_xarray(r, tr)
    assert da.dims == ("config",) and da.coords["base_lr"].values.tolist() == [0.3, 0.1]
    assert da.values.tolist() == r.tolist()
