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
    # auto chooses per schedule: NumPy, or Numba where its kernel is already compiled
    assert re.search(r"backend  (numba, numpy|numba|numpy) \(--backend auto\)", out)
    assert "560 configs x 500 steps = 280,000 values" in out
    assert re.search(r"time .* s in all: compiling [0-9.]+ s, computing [0-9.]+ s \(.*values/s",
                     out)
    assert "mean@last: the mean over configs" in out          # the columns are explained
    assert out.rstrip().splitlines()[-1].startswith("Save the tables with --out")
    for label, _, _ in seed_sweep():
        assert re.search(re.escape(label) + r" .* (numpy|numba) +[0-9.]+ +[0-9.]+$", out,
                         re.M)


def test_eval_reports_compile_time_apart(tmp_path, monkeypatch, capsys):
    pytest.importorskip("numba")
    monkeypatch.setenv("GPUSCHED_CACHE_DIR", str(tmp_path))
    from gpusched import examples
    monkeypatch.setattr(examples, "seed_sweep", lambda: [
        ("fresh", gs.schedule(lambda t, a: a * t + 0.123456), gs.grid(a=[1.0, 2.0]))])
    assert main(["eval", "--steps", "50", "--backend", "numba"]) == 0
    out = capsys.readouterr().out
    compile_s = float(re.search(r"compiling ([0-9.]+) s", out).group(1))
    row = re.search(r"^fresh .* numba +([0-9.]+) +([0-9.]+)$", out, re.M)
    assert float(row.group(2)) == pytest.approx(compile_s, abs=2e-3) and compile_s > 0.05
    assert float(row.group(1)) >= float(row.group(2))


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
    assert main(["eval", "--out", "table.csv"]) == 2
    assert "writes .npy or .npz" in capsys.readouterr().err
    assert main(["eval", "--backend", "nope"]) == 2
    assert "unknown backend" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reduce"])                        # the spec is required
    assert e.value.code == 2


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


def test_bench_quick_smoke(tmp_path, capsys, monkeypatch):
    """The benchmark harness runs (one workload, NumPy peer) and writes its JSON and table;
    without --out, into a new temporary folder, never the source tree."""
    import json
    import tempfile
    from pathlib import Path
    results = Path(__file__).resolve().parents[1] / "bench" / "results"
    before = sorted(p.name for p in results.iterdir())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["bench", "--quick", "--workloads", "W4,W2", "--peers", "numpy",
                 "--backends", "numpy", "--repeat", "1"]) == 0
    assert sorted(p.name for p in results.iterdir()) == before
    folder, = tmp_path.glob("gpusched-bench-*")
    printed = capsys.readouterr()
    assert f"wrote {folder}" in printed.err
    data = json.loads(next(folder.glob("*-quick.json")).read_text())
    runners = {(r["workload"], r["runner"]) for r in data["rows"]}
    assert ("W2", "peer numpy") in runners and ("W4", "gpusched numpy") in runners
    assert data["write_bandwidth_bytes_per_s"] > 0 and "numpy" in data["startup"]
    assert "| W2 reduce (mean)" in printed.out


ONE_CYCLE = "torch.OneCycleLR(max_lr=0.1, total_steps=300)"


def test_eval_a_spec_over_a_command_line_grid(tmp_path, capsys):
    import csv
    out = tmp_path / "t.csv"
    assert main(["eval", ONE_CYCLE, "--grid", "pct_start=0.1,0.3", "--grid",
                 "anneal_strategy=cos,linear", "--steps", "300", "--dtype", "float64",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OneCycleLR: 4 configs x 300 steps" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["anneal_strategy"] for r in rows] == ["cos", "linear", "cos", "linear"]
    import gpusched as gs
    want = gs.evaluate(gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=300, pct_start=0.3,
                                                  anneal_strategy="linear"), steps=300,
                       dtype="float64")
    assert float(rows[3]["mean"]) == pytest.approx(want.mean(), rel=1e-12)


def test_eval_outputs_join_back_to_the_grid(tmp_path):
    npz, pq = tmp_path / "t.npz", tmp_path / "t.parquet"
    spec = "torch.MultiStepLR(gamma=0.5)"
    args = ["--grid", "milestones=[10,20],[15]", "--grid", "base_lr=0.1,0.2", "--steps", "30",
            "--dtype", "float64"]
    assert main(["eval", spec, *args, "--out", str(npz)]) == 0
    z = np.load(npz)
    assert z["table"].shape == (4, 30)
    assert z["param__milestones__lengths"].tolist() == [2, 2, 1, 1]
    assert z["param__base_lr"].tolist() == [0.1, 0.2, 0.1, 0.2]
    assert z["table"][1, 25] == pytest.approx(0.2 * 0.25)
    assert main(["eval", spec, *args, "--out", str(pq)]) == 0
    import pyarrow.parquet as papq
    t = papq.read_table(pq).to_pydict()
    assert t["milestones"] == [[10, 20], [10, 20], [15], [15]]
    assert t["values"][3][16] == pytest.approx(0.1)


def test_reduce_and_a_spec_file(tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text(f'schedule = "{ONE_CYCLE}"\nsteps = 300\n[grid]\npct_start = [0.1, 0.3]\n')
    out = tmp_path / "r.csv"
    assert main(["reduce", str(f), "--op", "count_above", "--threshold", "0.05",
                 "--out", str(out)]) == 0
    text = out.read_text().splitlines()
    assert text[0] == "config,pct_start,count_above" and len(text) == 3
    assert main(["reduce", str(f), "--op", "bogus"]) == 2
    assert "hint:" in capsys.readouterr().err


def test_plot_writes_an_image(tmp_path):
    png = tmp_path / "p.png"
    assert main(["plot", ONE_CYCLE, "--grid", "pct_start=0.1,0.3", "--steps", "300",
                 "--out", str(png), "--log"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000
    svg = tmp_path / "p.svg"
    assert main(["plot", "torch.CosineAnnealingLR(T_max=50)", "--grid",
                 "base_lr=" + ",".join(str(x) for x in np.geomspace(1e-3, 1, 20)),
                 "--out", str(svg)]) == 0          # 20 curves: a colour bar, not a legend
    assert "<svg" in svg.read_text()[:400]


def test_list_shows_the_catalog(capsys):
    assert main(["list", "optax"]) == 0
    out = capsys.readouterr().out
    assert "optax.warmup_cosine_decay_schedule(init_value=None" in out
    assert main(["list", "--names"]) == 0
    names = capsys.readouterr().out.split()
    assert "torch.OneCycleLR" in names and "cosine" in names and len(names) > 80
    assert main(["list", "nope"]) == 2


def test_bad_specs_exit_2_with_a_hint(capsys):
    assert main(["eval", 'open("/etc/passwd")']) == 2
    err = capsys.readouterr().err
    assert "not a schedule in the catalog" in err and "hint:" in err


@pytest.mark.parametrize("command", ["eval", "reduce", "plot", "list", "info",
                                     "check-kernels"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: gpusched" in out
    if command not in ("info",):
        assert "examples:" in out


def test_command_line_grid_extends_the_spec_files_grid(tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text(f'schedule = "{ONE_CYCLE}"\nsteps = 300\n[grid]\npct_start = [0.1, 0.3]\n')
    assert main(["eval", str(f), "--grid", "anneal_strategy=cos,linear"]) == 0
    assert "OneCycleLR: 4 configs x 300 steps" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["gpusched", "gpusched.catalog", "gpusched.bench",
                                    "gpusched.bench.compile", "gpusched.bench.memory"])
def test_every_entry_point_honours_help(module, tmp_path):
    """`--help` prints usage and does nothing else (issue 19: the catalog printed itself)."""
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr[-2000:]
    assert "# Schedule reference" not in proc.stdout and list(tmp_path.iterdir()) == []


def test_every_subcommand_honours_help(capsys):
    from gpusched.cli import build_parser
    names = [a for a in build_parser()._subparsers._group_actions[0].choices]
    assert {"eval", "reduce", "plot", "list", "info", "check-kernels", "bench"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as stop:
            main([name, "--help"])
        assert stop.value.code == 0
        assert capsys.readouterr().out.startswith("usage:"), name


def test_catalog_out_writes_the_reference(tmp_path):
    from gpusched import catalog
    assert catalog.main(["--out", str(tmp_path / "s.md")]) == 0
    assert (tmp_path / "s.md").read_text() == catalog.markdown()


def test_a_closed_pipe_ends_the_command_quietly():
    """`gpusched list --names | head -1` printed `Broken pipe` and exited 2 (issue 17)."""
    proc = subprocess.run(f"{sys.executable} -m gpusched list --names | head -1; "
                          f"exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert len(proc.stdout.splitlines()) == 1


def test_package_metadata_is_single_sourced():
    from importlib.metadata import metadata, version
    assert version("gpusched") == gs.__version__
    meta = metadata("gpusched")
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert any("3.13" in c for c in meta.get_all("Classifier"))
