"""The repository's promises: CI runs the README's test command; README examples run."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_readme_python_examples_run_each_on_its_own(tmp_path, monkeypatch):
    """Each block in a fresh namespace: a reader can paste any one of them (imports
    included)."""
    monkeypatch.chdir(tmp_path)                         # examples write their files here
    spaces = []
    for block in readme_blocks("python"):
        ns = {}
        exec(compile(block, "README.md", "exec"), ns)   # noqa: S102 - our own documentation
        spaces.append(ns)

    def having(name):
        return [ns for ns in spaces if name in ns]
    oc, = [ns for ns in spaces if "oc" in ns]           # the twins section's table
    assert oc["lr"].shape == (4, 1000)
    assert (oc["lr"][:, 0] < oc["lr"].max(axis=1)).all()      # OneCycleLR warms up
    assert (tmp_path / "onecycle.png").stat().st_size > 10000
    ens, = having("lrs")
    assert ens["lrs"].shape == (3, 200)
    assert len(having("study")[0]["study"].trials) == 64
    sp, = having("same")
    assert sp["spec"].dumps(sp["same"]) == sp["text"]
    assert float(having("fn")[0]["fn"](500)) == pytest.approx(0.05, rel=1e-6)


def test_readme_commands_run(tmp_path, monkeypatch, capsys):
    """Every `gpusched ...` line of the README's bash blocks (but the slow built-in sweep,
    which the CLI tests cover)."""
    import shlex
    from gpusched.cli import main
    monkeypatch.chdir(tmp_path)
    lines = [ln for b in readme_blocks("bash") for ln in b.splitlines()
             if ln.startswith("gpusched ") and ln.strip() != "gpusched eval"]
    assert len(lines) >= 4
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
    assert (tmp_path / "sweep.csv").exists() and (tmp_path / "onecycle.png").exists()


def test_import_does_not_pull_optional_dependencies():
    import subprocess
    import sys
    code = ("import sys, gpusched, gpusched.compat.torch; "
            "bad = [m for m in ('cupy', 'numba', 'torch', 'jax', 'dask', 'tqdm') "
            "if m in sys.modules];"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_docs_figure_script_draws_the_w3_grids(tmp_path):
    import runpy
    pytest.importorskip("matplotlib")
    figures = runpy.run_path(str(ROOT / "docs" / "figures.py"))
    out = figures["w3"](tmp_path / "w3.png", steps=2000)
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 50000
    assert (ROOT / "docs" / "w3.png").stat().st_size > 50000      # the committed figure


def test_mypy_finds_nothing_in_the_package(tmp_path):
    """pyproject.toml's [tool.mypy] (check_untyped_defs) is clean on the whole of gpusched/, from
    a cold cache."""
    pytest.importorskip("mypy", reason="mypy is not installed (it is in the dev extra)")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Success" in proc.stdout


def test_ruff_finds_nothing():
    """The tree is lint-clean under pyproject.toml's [tool.ruff] rules (E, F, W at 100)."""
    import shutil
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the dev extra)")
    proc = subprocess.run([ruff, "check", "gpusched", "tests", "bench", "examples"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_every_exported_function_is_annotated():
    """Every function a module lists in ``__all__`` (and every method of a class it lists)
    has a type for each argument and its result: what users' type checkers and editors
    read."""
    import ast
    missing, checked = [], []
    for path in sorted((ROOT / "gpusched").rglob("*.py")):
        tree = ast.parse(path.read_text())
        exported: set = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__" \
                    and isinstance(node.value, (ast.List, ast.Tuple)):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}

        def check(fn, owner=""):
            if fn.name.startswith("_") and fn.name not in ("__init__", "__call__"):
                return
            checked.append(fn.name)
            a = fn.args
            args = [x for x in a.posonlyargs + a.args + a.kwonlyargs
                    if x.arg not in ("self", "cls")] + [x for x in (a.vararg, a.kwarg) if x]
            if any(x.annotation is None for x in args) or \
                    (fn.returns is None and fn.name != "__init__"):
                missing.append(f"{path.relative_to(ROOT)}:{fn.lineno} {owner}{fn.name}")
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in exported:
                check(node)
            elif isinstance(node, ast.ClassDef) and node.name in exported:
                for m in node.body:
                    if isinstance(m, ast.FunctionDef):
                        check(m, node.name + ".")
    assert len(checked) > 200 and not missing, "\n".join(missing)
