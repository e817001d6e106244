"""gpusched on the other Python versions it declares (3.10 .. 3.13): when this machine has
another interpreter (on PATH or under pyenv), a fresh virtual environment with only the
runtime dependencies (numpy; tomli before 3.11) evaluates schedules, reads a TOML spec file and
runs the CLI, and the numbers equal this interpreter's."""

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gpusched as gs

ROOT = Path(__file__).resolve().parents[1]
OTHER_VERSIONS = ("3.10", "3.12", "3.13")

SCRIPT = r"""
import json, sys, tempfile, pathlib
import gpusched as gs
from gpusched import spec
from gpusched.cli import main
out = {"version": list(sys.version_info[:2])}
s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=400)
out["onecycle"] = gs.evaluate(s, gs.grid(pct_start=[0.2, 0.3]), steps=400, dtype="float64",
                              backend="numpy").tolist()
out["restarts"] = gs.reduce(gs.compat.torch.CosineAnnealingWarmRestarts(base_lr=0.1, T_0=7,
                                                                        T_mult=2),
                            steps=1000, op="mean", dtype="float64", backend="numpy").tolist()
d = pathlib.Path(tempfile.mkdtemp())
f = d / "sweep.toml"
f.write_text('schedule = "torch.StepLR(step_size=7, base_lr=0.1)"\nsteps = 50\n'
             '[grid]\ngamma = [0.5, 0.9]\n')
sched, grid, opts = spec.load_file(f)
out["toml"] = gs.evaluate(sched, grid, steps=opts["steps"], dtype="float64",
                          backend="numpy").tolist()
out["cli"] = main(["reduce", str(f), "--op", "min", "--out", str(d / "r.csv")])
print(json.dumps(out))
"""


def _other_interpreter():
    """The first other declared Python that runs: pyenv's installs (also under /root when CI
    sets HOME elsewhere), then PATH (a pyenv shim of an inactive version fails: checked)."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for v in (v for v in OTHER_VERSIONS if v != here):
        candidates = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{v}.*/bin/python")))
        candidates += sorted(glob.glob(f"/root/.pyenv/versions/{v}.*/bin/python"))
        candidates += [c for c in [shutil.which(f"python{v}")] if c]
        for c in candidates:
            ok = subprocess.run([c, "-c", "import venv"], capture_output=True).returncode == 0
            if ok:
                return c
    return None


def test_another_python_evaluates_reads_toml_and_runs_the_cli(tmp_path):
    python = _other_interpreter()
    if python is None:
        pytest.skip("no other Python (3.10, 3.12, 3.13) on this machine")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    py = str(venv / "bin" / "python")
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "numpy>=1.26",
                          "tomli>=1.1; python_version < '3.11'"], capture_output=True, text=True)
    if pip.returncode:
        pytest.skip(f"cannot install numpy for {python}: {pip.stderr[-500:]}")
    proc = subprocess.run([py, "-c", SCRIPT], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT),
                               "GPUSCHED_BACKEND": "numpy",
                               "GPUSCHED_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert tuple(got["version"]) != sys.version_info[:2]
    s = gs.compat.torch.OneCycleLR(max_lr=0.1, total_steps=400)
    np.testing.assert_array_equal(got["onecycle"], gs.evaluate(
        s, gs.grid(pct_start=[0.2, 0.3]), steps=400, dtype="float64", backend="numpy"))
    np.testing.assert_allclose(got["restarts"], gs.reduce(
        gs.compat.torch.CosineAnnealingWarmRestarts(base_lr=0.1, T_0=7, T_mult=2), steps=1000,
        op="mean", dtype="float64", backend="numpy"), rtol=1e-15)
    step = gs.compat.torch.StepLR(step_size=7, base_lr=0.1)
    np.testing.assert_array_equal(got["toml"], gs.evaluate(
        step, gs.grid(gamma=[0.5, 0.9]), steps=50, dtype="float64", backend="numpy"))
    assert got["cli"] == 0
