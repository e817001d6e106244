"""gs.plot: one curve per config, for every form of schedule and grid the API accepts."""

import numpy as np
import pytest

import gpusched as gs

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plot_takes_a_dict_grid_and_a_plain_function(tmp_path):
    def decay(t, base_lr):
        return base_lr * 0.99 ** t
    ax = gs.plot(decay, {"base_lr": [0.1, 0.2, 0.3]}, steps=50, out=str(tmp_path / "p.png"))
    assert len(ax.lines) == 3 and ax.get_title() == "decay: 3 configs"
    np.testing.assert_allclose(ax.lines[2].get_ydata(), 0.3 * 0.99 ** np.arange(50))
    assert (tmp_path / "p.png").stat().st_size > 5000


def test_plot_takes_a_list_of_configs():
    ax = gs.plot(gs.compat.torch.StepLR(step_size=10), [{"base_lr": 0.1}, {"base_lr": 0.5}],
                 steps=np.arange(0, 40, 2))
    assert [line.get_ydata()[-1] for line in ax.lines] == pytest.approx([0.1 * 0.1 ** 3,
                                                                         0.5 * 0.1 ** 3])
