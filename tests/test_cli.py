"""The command line: the main job and its outputs."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gpusched as gs
from gpusched.cli import main
from gpusched.examples import seed_sweep


def test_eval_prints_backend_shape_time_throughput_and_summary(capsys):
    assert main(["eval", "--steps", "500"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"backend  (numpy|numba) \(cpu\)", out)
    assert "560 configs x 500 steps = 280,000 values" in out
    assert "values/s" in out and "first calls, compiling" in out
    for label, _, _ in seed_sweep():
        assert label in out


def test_default_sweep_has_at_least_a_million_pairs():
    from gpusched.examples import DEFAULT_STEPS
    assert sum(len(g) for _, _, g in seed_sweep()) * DEFAULT_STEPS >= 10 ** 6


def test_eval_out_npy_is_the_stacked_table(tmp_path):
    path = tmp_path / "table.npy"
    assert main(["eval", "--steps", "64", "--dtype", "float64", "--out", str(path)]) == 0
    saved = np.load(path)
    want = np.concatenate([gs.evaluate(s, g, steps=64, dtype="float64")
                           for _, s, g in seed_sweep()])
    np.testing.assert_array_equal(saved, want)


def test_eval_out_npz_has_tables_and_grid_columns(tmp_path):
    path = tmp_path / "tables.npz"
    assert main(["eval", "--steps", "16", "--out", str(path)]) == 0
    z = np.load(path)
    assert z["torch_CosineAnnealingLR"].shape == (96, 16)
    assert z["torch_CosineAnnealingLR__T_max"].shape == (96,)
    assert z["warmboot_CosineAnnealingWarmbootingLR__steps__lengths"].shape == (32,)


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--out", "table.csv"])
    assert e.value.code == 2
    assert main(["eval", "--backend", "nope"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def test_info_lists_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "available" in out


def test_console_script_and_module_entry_points():
    exe = shutil.which("gpusched")
    assert exe, "the gpusched console script is not installed"
    out = subprocess.run([exe, "eval", "--steps", "100"], capture_output=True, text=True,
                         check=True).stdout
    assert "560 configs x 100 steps" in out
    out = subprocess.run([sys.executable, "-m", "gpusched", "info"], capture_output=True,
                         text=True, check=True).stdout
    assert "backends:" in out


def test_bench_quick_smoke(tmp_path, capsys):
    """The benchmark harness runs (one workload, NumPy peer) and writes its JSON and table."""
    import json
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    import sys
    sys.path.insert(0, root)
    try:
        assert main(["bench", "--quick", "--workloads", "W4,W2", "--peers", "numpy",
                     "--repeat", "1", "--out", str(tmp_path)]) == 0
    finally:
        sys.path.remove(root)
    data = json.loads(next(tmp_path.glob("*-quick.json")).read_text())
    runners = {(r["workload"], r["runner"]) for r in data["rows"]}
    assert ("W2", "peer numpy") in runners and ("W4", "gpusched numpy") in runners
    assert data["write_bandwidth_bytes_per_s"] > 0 and "numpy" in data["startup"]
    assert "| W2 reduce (mean)" in capsys.readouterr().out
