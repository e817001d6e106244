"""The repository's promises: CI runs the README's test command; README examples run."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_ci_runs_the_readme_test_command_verbatim():
    bash = readme_blocks("bash")
    test_cmd = [b.strip() for b in bash if "pytest" in b]
    assert len(test_cmd) == 1
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd[0] in ci


def test_readme_main_job_command_is_the_eval_command():
    assert any(b.strip().endswith("gpusched eval") for b in readme_blocks("bash"))


def test_readme_python_examples_run():
    ns = {}
    for block in readme_blocks("python"):
        exec(compile(block, "README.md", "exec"), ns)   # noqa: S102 - our own documentation
    assert ns["lr"].shape == (4, 1000)                  # the last example's table
    assert (ns["lr"][:, 0] < ns["lr"].max(axis=1)).all()      # OneCycleLR warms up


def test_import_does_not_pull_optional_dependencies():
    import subprocess
    import sys
    code = ("import sys, gpusched, gpusched.compat.torch; "
            "bad = [m for m in ('cupy', 'numba', 'torch', 'jax', 'dask', 'tqdm') if m in sys.modules];"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
