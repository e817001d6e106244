"""The docs pages whose code blocks are a worked example run as written (docs/run_page.py),
from a scratch copy of the repository layout, and what they print is what they claim."""

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "reference" / "loss-curves"


def test_loss_laws_page_fits_beats_the_published_fit_and_screens(tmp_path, monkeypatch):
    pytest.importorskip("scipy")
    pytest.importorskip("matplotlib")
    pytest.importorskip("numba")
    if not SHARED.is_dir():
        pytest.skip("the reference loss curves (../shared/reference/loss-curves) are absent")
    (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    (tmp_path / "repo" / "docs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo")
    run = runpy.run_path(str(ROOT / "docs" / "run_page.py"))["run"]
    ns = run(ROOT / "docs" / "loss-laws.md")
    held_out = ns["held_out"]
    # at least as good as the published 100M fit on the held-out curves
    assert held_out["R2"] >= 0.9983 and held_out["PredE"] <= 0.00142, held_out
    assert len(ns["wsd_grid"]) + len(ns["cos_grid"]) >= 10 ** 5
    assert ns["gain"] > 0 and ns["wsd_loss"].min() < ns["cos_loss"].min()
    assert (tmp_path / "repo" / "docs" / "loss-laws.png").stat().st_size > 10_000
    # the numbers the page states
    text = (ROOT / "docs" / "loss-laws.md").read_text()
    assert f"**{ns['baseline']:.4f}**" in text
    assert f"**{ns['wsd_loss'][ns['best'][0]]:.4f}: {ns['gain']:.4f} lower" in text
    assert f"{held_out['R2']:.5f} | {held_out['MAE']:.5f}" in text
