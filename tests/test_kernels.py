"""The GPU code gates that run without a GPU: nvcc for every architecture, host C++ numbers."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gpusched as gs
from gpusched import codegen, kernel_check
from gpusched.cli import main
from gpusched.cuda_source import CUDA_ARCHS

ROOT = Path(__file__).resolve().parents[1]
needs_gxx = pytest.mark.skipif(not shutil.which("g++"), reason="needs g++")
needs_nvcc = pytest.mark.skipif(not (shutil.which("nvcc") or Path("/usr/local/cuda/bin/nvcc")
                                     .exists()), reason="needs nvcc")


@needs_gxx
def test_check_kernels_host_numbers_match_numpy(capsys):
    assert main(["check-kernels", "--skip-nvcc"]) == 0
    out = capsys.readouterr().out
    assert "all kernels passed" in out
    n = len(kernel_check.units(__import__("gpusched.examples", fromlist=["x"]).check_catalog()))
    assert out.count("max relative difference") == n
    assert out.count("of the config's scale") == n         # precision="fast", same units


# every architecture, in groups so that no single test runs for minutes (issue 16)
ARCH_GROUPS = [CUDA_ARCHS[i:i + 3] for i in range(0, len(CUDA_ARCHS), 3)]


@needs_nvcc
@pytest.mark.parametrize("archs", ARCH_GROUPS, ids=[",".join(g) for g in ARCH_GROUPS])
def test_check_kernels_compiles_every_kernel_for_every_arch(archs, capsys):
    assert main(["check-kernels", "--skip-host", "--arch", ",".join(archs)]) == 0
    out = capsys.readouterr().out
    assert "all kernels passed" in out
    for arch in archs:
        assert f"ok   sm_{arch} " in out
    # every kernel (tables of both dtypes, reductions, both precisions) for sm_90
    assert ("ok   sm_90 all kernels, exact and fast" in out) == ("90" in archs)
    assert ("ok   sm_90 loss laws" in out) == ("90" in archs)


def test_arch_groups_cover_every_architecture():
    assert sorted(a for g in ARCH_GROUPS for a in g) == sorted(CUDA_ARCHS)


@needs_gxx
def test_host_check_catches_a_wrong_translation(monkeypatch, tmp_path):
    """If the C generator got cos wrong, the host comparison must fail."""
    original = codegen.c_sections

    def broken(plan, layout, precision="exact", precomputed=None, remember=False):
        sec = original(plan, layout, precision, precomputed, remember)
        sec.step = [ln.replace("cos((double)", "sin((double)") for ln in sec.step]
        return sec
    monkeypatch.setattr(codegen, "c_sections", broken)
    s = gs.compat.torch.CosineAnnealingLR()
    us = kernel_check.units([("cos", s, gs.grid(base_lr=[0.1], T_max=[10]))])
    (label, ok, detail), = kernel_check.check_host(us, tmp_path)
    assert not ok and label == "cos"


@needs_gxx
def test_host_kernels_count_unsorted_lists_and_read_counted_tables(tmp_path):
    """A list that only counts read reaches the CUDA kernels with sorted rows (a recount takes
    its span from the count's neighbours) and ``gamma ** count`` is read from a per-config
    table over the count's values: unsorted milestones of different lengths still give the
    NumPy backend's table, on the vector path (a range of whole vectors) and step by step."""
    s = gs.schedule(lambda t, lr, gamma, milestones: lr * gamma ** gs.count_le(milestones, t))
    g = gs.trials(lr=[0.1, 0.2, 0.3], gamma=[0.5, 0.3, 0.9],
                  milestones=[[30, 10, 20], [50, 5, 7, 6], [40]])
    us = kernel_check.units([("unsorted", s, g)])
    assert codegen.Layout.of(us[0].plan, us[0].bound.dtypes).counted     # the table is read
    assert codegen.count_only_lists(us[0].plan) == {"milestones"}
    (label, ok, detail), = kernel_check.check_host(us, tmp_path)
    assert ok, detail


def test_sm30_is_nowhere():
    assert all(int(a) >= 75 for a in CUDA_ARCHS)


@needs_gxx
def test_installed_wheel_finds_its_kernels(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True)
    wheel, = wheel_dir.glob("gpusched-*.whl")
    assert "gpusched/kernels/gpusched.cuh" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = ("import gpusched, gpusched.kernel_cache as k, gpusched.kernel_check as c; "
            "import pathlib, tempfile; d = k.kernels_dir(); "
            "assert str(d).startswith(%r), d; "
            "us = c.units([('cos', gpusched.compat.torch.CosineAnnealingLR(), "
            "gpusched.grid(base_lr=[0.1], T_max=[10]))]); "
            "r = c.check_host(us, pathlib.Path(tempfile.mkdtemp())); print(d, r)"
            ) % str(target)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "True" in proc.stdout and str(target) in proc.stdout
    # the benchmarks ship in the wheel: `gpusched bench` works away from a checkout (issue 19)
    proc = subprocess.run([sys.executable, "-m", "gpusched", "bench", "--help"], cwd=tmp_path,
                          capture_output=True, text=True,
                          env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "usage: gpusched bench" in proc.stdout, proc.stderr
    assert "default: a new temporary folder" in " ".join(proc.stdout.split())
