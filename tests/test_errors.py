"""Clear one-line errors, and every budget checked before any allocation (issue 14, items 12
and 13)."""

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import gpusched as gs
from gpusched import api, cli, memory

S = gs.compat.torch.StepLR(step_size=3)


@pytest.mark.parametrize("value", [10 ** 23, -(10 ** 30)])
def test_huge_integers_name_the_parameter(value):
    with pytest.raises(ValueError, match=r"'step_size' = .*must fit in a 64-bit integer"):
        gs.evaluate(gs.compat.torch.StepLR(step_size=value, base_lr=.1), steps=3)


def test_huge_ints_and_fractions_of_float_parameters_are_numbers():
    got = gs.evaluate(S, gs.grid(base_lr=[10 ** 30, Fraction(1, 4)]), steps=4, dtype="float64")
    np.testing.assert_allclose(got[:, 0], [1e30, 0.25])
    with pytest.raises(ValueError, match="too large for a float64"):
        gs.evaluate(S, gs.grid(base_lr=[10 ** 400]), steps=4)


def test_cli_huge_values_are_one_line_errors(tmp_path, capsys):
    f = tmp_path / "h.toml"
    f.write_text('schedule = "torch.StepLR(step_size=100000000000000000000000, base_lr=0.1)"\n')
    assert cli.main(["eval", str(f)]) == 2
    assert "must fit in a 64-bit integer" in capsys.readouterr().err
    assert cli.main(["eval", "torch.StepLR(step_size=3)", "--grid",
                     "base_lr=1" + "0" * 40, "--dtype", "float64"]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "torch.StepLR(step_size=3, base_lr=0.1)", "--steps",
                     "9223372036854775807"]) == 2
    err = capsys.readouterr().err       # refused before the steps array is built
    assert "1 configs x 9,223,372,036,854,775,807 steps (the table 3.44e+10 GiB" in err


def test_a_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ValueError, match="invalid parameter name"):
        gs.schedule(lambda t, a: a * t).rename(a="b\n")
    with pytest.raises(ValueError, match="invalid parameter name"):
        gs.grid(**{"b\n": [1.0]})


def test_a_repeated_keyword_in_a_spec_is_refused():
    with pytest.raises(ValueError, match="'step_size' repeated"):
        gs.spec.loads("torch.StepLR(step_size=3, step_size=5)")


def test_a_missing_spec_file_says_so(tmp_path, capsys):
    assert cli.main(["eval", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not found"):
        gs.spec.load_file(tmp_path / "missing.json")


def test_a_large_spec_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    f = tmp_path / "big.toml"
    with open(f, "wb") as fh:
        fh.truncate(11 * 2 ** 20)           # sparse: nothing to read, only its size
    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: reads.append(a) or real_open(*a, **k))
    with pytest.raises(ValueError, match="limited to 10 MiB"):
        gs.spec.load_file(f)
    assert not any(str(f) in str(a[0]) for a in reads)


def test_a_big_table_held_at_exit_prints_nothing():
    # the pool keeps at most POOL_KEEP_BYTES idle: a table above it, still held at exit, was
    # closed by its finalizer while exported (1 GiB by default; 1 MiB here, same path)
    code = ("import gpusched as gs, numpy as np\n"
            "from gpusched import interop\n"
            "interop.POOL_KEEP_BYTES = 2 ** 20\n"
            "t = gs.evaluate(gs.compat.torch.StepLR(step_size=3, base_lr=.1), "
            "gs.grid(gamma=np.linspace(.1, .9, 3000)), steps=1000, backend='numpy')\n"
            "assert t.nbytes > interop.POOL_FROM\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stderr == "", out.stderr[-2000:]


def test_deep_user_expressions_generate_flat_code():
    """A 3,000-node expression: one statement per node, no check for a constant divisor."""
    from gpusched import codegen
    from gpusched.backends.numba_backend import module_source
    from gpusched.plan import compile_plan

    def f(t, a):
        x = a * 1.0
        for k in range(1000):
            x = x * 0.999 + (t % (k + 2)) * 1e-6
        return x
    s = gs.schedule(f)
    plan = compile_plan(s.expr, {"a": "float"})
    assert len(plan.nodes) > 3000
    src = module_source(plan, codegen.Layout.of(plan, {"a": "float"}), plan.signature)
    assert "if 2 == 0" not in src and max(len(line) for line in src.splitlines()) < 200
    got = gs.evaluate(s, gs.grid(a=[1.0]), steps=5, backend="numpy", dtype="float64")
    want = [f(t, 1.0) for t in range(5)]
    np.testing.assert_allclose(got[0], want, rtol=1e-12)


# --- memory: every allocation counted, before any work ---------------------------------------

def test_a_huge_grid_is_refused_before_its_columns_exist():
    with pytest.raises(ValueError, match=r"gs.grid of 1,000,000,000 configs .* would need"):
        gs.grid(a=range(1000), b=range(1000), c=range(1000))


def test_running_products_and_scans_count_against_the_callers_limit():
    s = gs.compat.torch.MultiplicativeLR(lambda step: 0.99, base_lr=.1)
    with pytest.raises(ValueError, match="memory limit"):
        gs.evaluate(s, steps=np.array([0, 10 ** 6]), memory_limit=2 ** 20)
    got = gs.evaluate(s, steps=np.array([0, 10 ** 6]), dtype="float64")
    assert got[1] == pytest.approx(.1 * .99 ** 10 ** 6, rel=1e-9)


def test_the_table_and_its_host_tables_share_one_budget(monkeypatch):
    s = gs.compat.torch.ReduceLROnPlateau(base_lr=.1, patience=2)
    g = gs.grid(metrics=[list(np.linspace(1, 0, 5000))] * 2)
    calls = []
    monkeypatch.setattr(api, "bind", lambda *a, **k: calls.append(1) or
                        __import__("gpusched.binding").binding.bind(*a, **k))
    host = 2 * 4000 * 8 * 3                # the scan and its temporaries, per config
    with pytest.raises(ValueError, match="the table .* the steps and host tables"):
        gs.evaluate(s, g, steps=4000, memory_limit=host + 1000)     # each fits, not all
    with pytest.raises(ValueError, match="host scan .* up to step 3999"):
        gs.evaluate(s, g, steps=4000, memory_limit=host - 1000)
    assert calls == [1, 1]
    assert memory.call_limit() == memory.default_memory_limit()     # reset after the call


def test_steps_are_checked_before_they_are_built():
    # a table: the table and its steps are refused together, before either is built
    with pytest.raises(ValueError, match=r"1 configs x 1,099,511,627,776 steps \(the table"):
        gs.evaluate(S.with_values(base_lr=.1), steps=2 ** 40, memory_limit=2 ** 30)
    # a reduction has no table: the steps array alone is refused
    with pytest.raises(ValueError, match="the array of steps would need"):
        gs.reduce(S.with_values(base_lr=.1), steps=2 ** 40, memory_limit=2 ** 30)


def test_spec_rename_and_with_values_need_a_schedule():
    for text in ('rename(1, a="b")', "with_values(1, a=2)", 'with_values("x", a=2)'):
        with pytest.raises(ValueError, match="takes a schedule first"):
            gs.spec.loads(text)


def test_generated_code_with_a_string_dunder_or_escape_name_is_refused():
    """The last check before generated code is compiled: every catalog entry passes it (it
    runs inside codegen), and text that could reach beyond arithmetic does not."""
    from gpusched.codegen import check_generated_c, check_generated_python
    check_generated_python(["v1 = a_lr * math.cos(t)", "v2 = vmin(v1, 0.5)"])
    check_generated_c(["const double v1 = (p_lr * cos((double)t));"])
    for bad in (["v1 = 'x'"], ["v1 = __import__"], ["v1 = eval(t)"], ["import os"],
                ["v1 = open"]):
        with pytest.raises(ValueError, match="generated code holds"):
            check_generated_python(bad)
    for bad in (['const char* s = "x";'], ["#include <x>"], ["v1 = system(t);"],
                ["v1 = 1; // x"], ["v1 = __builtin_trap();"]):
        with pytest.raises(ValueError, match="generated code holds"):
            check_generated_c(bad)
