"""The Docker image's promises, checked without a Docker engine: lint, pins, architectures."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gpusched.cuda_source import CUDA_ARCHS

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
CONSTRAINTS = ROOT / "docker" / "constraints-cu130.txt"
dockerfile = pytest.importorskip("dockerfile")


def commands():
    return dockerfile.parse_file(str(DOCKERFILE))


def stages():
    """(build stage commands, runtime stage commands)."""
    cs = commands()
    starts = [i for i, c in enumerate(cs) if c.cmd == "FROM"]
    assert len(starts) == 2
    return cs[starts[0]:starts[1]], cs[starts[1]:]


def arg_default(name):
    for c in commands():
        if c.cmd == "ARG" and c.value[0].startswith(f"{name}="):
            return c.value[0].split("=", 1)[1].strip('"')
    raise AssertionError(f"no ARG {name} with a default in the Dockerfile")


def test_cuda_version_equals_the_constraints_pin():
    pin = re.search(r"^cuda-toolkit==([\d.]+)$", CONSTRAINTS.read_text(), re.M).group(1)
    assert arg_default("CUDA_VERSION") == pin == "13.0.2"


def test_architecture_list_equals_the_code():
    assert tuple(arg_default("CUDA_ARCHS").split()) == CUDA_ARCHS


def test_stages_base_images_user_entrypoint_and_caches():
    froms = [c.original for c in commands() if c.cmd == "FROM"]
    assert froms == [
        "FROM nvidia/cuda:${CUDA_VERSION}-devel-ubuntu${UBUNTU_VERSION} AS build",
        "FROM nvidia/cuda:${CUDA_VERSION}-base-ubuntu${UBUNTU_VERSION} AS runtime"]
    runtime = stages()[1]
    users = [c.value[0] for c in runtime if c.cmd == "USER"]
    assert users and re.fullmatch(r"\d+:\d+", users[-1]) and not users[-1].startswith("0")
    assert [c.json for c in runtime if c.cmd == "ENTRYPOINT"] == [True]
    assert [c.value for c in runtime if c.cmd == "ENTRYPOINT"] == [("gpusched",)]
    assert [c.value for c in runtime if c.cmd == "CMD"] == [("info",)]
    env = " ".join(" ".join(c.value) for c in runtime if c.cmd == "ENV")
    for var in ("CUPY_CACHE_DIR", "NUMBA_CACHE_DIR", "GPUSCHED_CACHE_DIR"):
        assert re.search(rf"{var} /home/gpusched/", env), var


def test_build_stage_runs_the_kernel_gate_for_every_architecture():
    build = stages()[0]
    runs = [c.original for c in build if c.cmd == "RUN"]
    assert any('gpusched check-kernels --arch "${CUDA_ARCHS}"' in r for r in runs)


def test_hadolint_is_clean():
    exe = shutil.which("hadolint")
    if not exe:
        pytest.skip("hadolint is not installed")
    proc = subprocess.run([exe, str(DOCKERFILE.relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_trace_of_the_kepler_architecture_anywhere():
    needles = ("sm_" + "30", "compute_" + "30")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for f in files:
        path = ROOT / f
        if path.is_file():
            text = path.read_text(errors="ignore")
            assert not any(n in text for n in needles), f
